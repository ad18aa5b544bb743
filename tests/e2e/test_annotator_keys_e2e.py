"""Coding with the keyboard in a real JupyterLab (headless Chromium): focus stays with the widget
after any click, every code has a key (choice codes two), a key that cannot act says why, and a
whole conversation is coded, marked done and left with keys only. The layout at 1000 and 1400 px
(one-line header, wide bubbles, Done and Skip in view, the codebook over the widget), the content
note and the coder picker.

Every assertion about saving is made on the label events on disk (``Project.labels``), after the
widget said ``saved``.
"""

from __future__ import annotations

import re
import shutil

import nbformat
import pytest
from jlab import JS_CELL_COUNT, console_errors, open_notebook, run_all
from playwright.sync_api import expect
from test_annotator_e2e import HARMLESS, real_errors, saved, turn, write_notebook
from widget_data import SDT, make_project

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def focused_turn(root, i: int) -> None:
    expect(turn(root, i)).to_have_class(re.compile("aa-focused"))


def keys(page, root, *presses: str) -> None:
    """Press keys one by one, each time checking that the widget still has the keyboard."""
    for k in presses:
        page.keyboard.press(k)
        expect(root).to_be_focused()


def events(folder, cid: str) -> list[tuple]:
    """alice's label events of one conversation on disk: (turn or None, code, op, value, note)."""
    from annotate.project import Project

    hist = Project.open(folder / "project").labels(history=True)
    hist = hist[(hist["annotator_id"] == "alice") & (hist["conversation_id"] == cid)]
    out = []
    for r in hist.itertuples():
        ti = None if r.unit == "conversation" else int(r.turn_index)
        value = None if r.op == "clear" else r.value
        note = r.note if isinstance(r.note, str) else None
        out.append((ti, r.code_id, r.op, value, note))
    return out


def test_keyboard_only_after_clicks(lab, page):
    folder = lab.root / "keys"
    shutil.rmtree(folder, ignore_errors=True)
    # ai_repair is a module code (key r); user_defers (key d) without selecting words
    project = make_project(folder, modules=["trust"], spans_required=False)
    queue = project.queue("alice")
    assert queue[0] == "c5" and "c1" in queue
    write_notebook(lab.root / "keys.ipynb", "keys/project")
    errors = console_errors(page)
    open_notebook(page, lab, "keys.ipynb")
    run_all(page)
    root = page.locator(".annotate-annotator")
    expect(root).to_have_attribute("data-conversation-id", "c5")
    cells_before = page.evaluate(JS_CELL_COUNT)
    panel = root.locator('[data-unit="turn"]')
    conv = root.locator('[data-unit="conversation"]')
    say = root.locator("[data-say]")

    # --- clicks, each followed by keys that must still act ---
    turn(root, 1).click()  # a turn
    focused_turn(root, 1)
    keys(page, root, "j")
    focused_turn(root, 2)
    keys(page, root, "j")  # a second move: focus did not fall to the page after the first
    focused_turn(root, 3)
    panel.locator('[data-code-id="ai_move"] [data-value="ask"]').click()  # a value chip
    saved(root)
    expect(root).to_be_focused()
    keys(page, root, "k", "k")
    focused_turn(root, 1)
    keys(page, root, "e")  # a code's key right after: the turn panel was re-rendered twice
    saved(root)
    expect(panel.locator('[data-code-id="ai_empathy"]')).to_have_attribute("aria-pressed", "true")
    panel.locator('[data-code-id="ai_empathy"]').click()  # a code: off again
    saved(root)
    keys(page, root, "j")
    focused_turn(root, 2)
    conv.locator(".aa-flag").click()  # the flag: its "why" field takes the keys...
    why = conv.locator(".aa-flag-why")
    expect(why).to_be_focused()
    page.keyboard.press("Escape")  # ...until Esc gives them back
    expect(why).to_be_hidden()
    expect(root).to_be_focused()
    keys(page, root, "k")
    focused_turn(root, 1)
    jump = root.locator(".aa-jump")
    jump.click()  # the jump list
    jump.select_option(str(queue.index("c1")))
    expect(root).to_have_attribute("data-conversation-id", "c1")
    expect(root).to_be_focused()

    # --- from here on, keys only: code c1, mark it done, move on ---
    focused_turn(root, 0)
    expect(root).to_have_attribute("data-panel", "turn")
    keys(page, root, "s")  # turn 0 (user): seeks support
    keys(page, root, "v")  # user primary move: waits for its value
    expect(panel.locator('[data-code-id="user_move"]')).to_have_class(re.compile("aa-picking"))
    support = panel.locator('[data-code-id="user_move"] [data-value="support"]')
    expect(support.locator(".aa-vkey")).to_have_text("2")
    expect(say).to_contain_text("User primary move: 1–6 chooses a value")
    keys(page, root, "2")
    expect(panel.locator('[data-code-id="user_move"]')).not_to_have_class(re.compile("aa-picking"))
    keys(page, root, "f", "1", "4", "1", "4", "2", "Enter")  # emotions: a set, several values
    saved(root)
    anxiety = panel.locator('[data-code-id="user_emotions"] [data-value="anxiety"]')
    expect(anxiety).to_have_attribute("aria-pressed", "true")
    # a key that cannot act says why, in the widget
    keys(page, root, "e")
    expect(say).to_contain_text("“e” is Expresses empathy, for assistant turns")
    keys(page, root, "x")
    expect(say).to_contain_text("“x” is not a key of this turn")
    keys(page, root, "j")  # turn 1 (assistant)
    focused_turn(root, 1)
    expect(say).not_to_contain_text("“x”")
    keys(page, root, "e", "m", "1")  # empathy; primary move: listen
    keys(page, root, "m", "7")
    expect(say).to_contain_text("“7” is not a value of Assistant primary move: 1–6")
    keys(page, root, "Escape")
    keys(page, root, "j", "d", "v", "1")  # turn 2 (user): defers; move: task
    keys(page, root, "j", "c", "m", "5", "r", "r")  # turn 3: pressure; direct; repair on and off
    saved(root)
    expect(turn(root, 1).locator(".aa-chip")).to_have_text(["Expresses empathy", "Listen"])
    expect(turn(root, 3).locator(".aa-chip")).to_have_text(["Pressures the user", "Direct"])
    page.keyboard.press("!")  # flag turn 3: type why, Enter
    expect(panel.locator(".aa-flag-why")).to_be_focused()
    page.keyboard.type("markup turn")
    page.keyboard.press("Enter")
    expect(root).to_be_focused()
    page.keyboard.press(".")  # a memo on turn 3: Esc leaves the field and saves it
    expect(panel.locator("textarea[data-memo]")).to_be_focused()
    page.keyboard.type("jn p? u")  # keys typed in a field stay there
    page.keyboard.press("Escape")
    expect(root).to_be_focused()
    saved(root)
    focused_turn(root, 3)
    keys(page, root, "Enter")  # done only from the conversation panel: it says so
    expect(say).to_contain_text("Tab goes there")
    keys(page, root, "Tab")
    expect(root).to_have_attribute("data-panel", "conversation")
    expect(conv).to_have_attribute("data-active", "true")
    expect(conv.locator('[data-code-id="conv_warmth"]')).to_have_attribute("data-key", "3")
    keys(page, root, "1", "4", "2", "5", "3", "6")  # autonomy 4; human bonds +2; warmth 6
    saved(root)
    keys(page, root, "e")
    expect(say).to_contain_text("a code of this assistant turn: Tab goes to the turn panel")
    page.keyboard.press("!")
    page.keyboard.type("discuss the rating")
    page.keyboard.press("Enter")
    saved(root)
    expect(conv.locator(".aa-flag")).to_have_attribute("aria-pressed", "true")
    keys(page, root, "Enter")  # done: the next conversation opens
    expect(root.locator("[data-progress]")).to_have_text(f"1 / {len(queue)}")
    expect(root).not_to_have_attribute("data-conversation-id", "c1")
    expect(root).to_have_attribute("data-panel", "turn")
    expect(root).to_be_focused()
    keys(page, root, "j")  # and the keys go on in the next one
    focused_turn(root, 1)
    assert page.evaluate(JS_CELL_COUNT) == cells_before  # no key reached the notebook

    # --- the events on disk ---
    assert events(folder, "c1") == [
        (0, "user_seeks_support", "set", "1", None),
        (0, "user_move", "set", "support", None),
        (0, "user_emotions", "set", '["sadness"]', None),
        (0, "user_emotions", "set", '["loneliness","sadness"]', None),
        (0, "user_emotions", "set", '["loneliness"]', None),
        (0, "user_emotions", "clear", None, None),
        (0, "user_emotions", "set", '["anxiety"]', None),
        (1, "ai_empathy", "set", "1", None),
        (1, "ai_move", "set", "listen", None),
        (2, "user_defers", "set", "1", None),
        (2, "user_move", "set", "task", None),
        (3, "ai_pressure", "set", "1", None),
        (3, "ai_move", "set", "direct", None),
        (3, "ai_repair", "set", "1", None),
        (3, "ai_repair", "clear", None, None),
        (3, "_flag", "set", "1", "markup turn"),
        (3, "_memo", "set", "jn p? u", None),
        (None, "conv_autonomy_support", "set", "4", None),
        (None, "conv_human_bonds", "set", "2", None),
        (None, "conv_warmth", "set", "6", None),
        (None, "_flag", "set", "1", "discuss the rating"),
        (None, "_status", "set", "done", None),
    ]
    # the clicks on c5 before: a chip, a code on and off
    assert [e[:4] for e in events(folder, "c5")] == [
        (3, "ai_move", "set", "ask"),
        (1, "ai_empathy", "set", "1"),
        (1, "ai_empathy", "clear", None),
    ]
    assert not real_errors(errors, HARMLESS), errors


# the widget's geometry as the coder sees it (CSS pixels, viewport coordinates)
GEOMETRY = """(root) => {
  const r = (n) => n.getBoundingClientRect();
  const box = (n) => { const b = r(n); return {top: b.top, bottom: b.bottom, left: b.left,
    right: b.right, width: b.width, height: b.height}; };
  const header = root.querySelector('.aa-header');
  const kids = [...header.children].filter((n) => n.getClientRects().length && r(n).width > 0);
  const mid = kids.map((n) => r(n).top + r(n).height / 2);
  const chat = root.querySelector('.aa-chat');
  // is the element at the centre of a box the node itself (not covered, not clipped away)?
  const onTop = (n) => { const b = r(n);
    return n.contains(document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2)); };
  const done = root.querySelector('.aa-done'), skip = root.querySelector('.aa-skip');
  const conv = root.querySelector('[data-unit="conversation"]');
  return {
    header: box(header), kids: kids.map(box), tallest: Math.max(...kids.map((n) => r(n).height)),
    spread: Math.max(...mid) - Math.min(...mid), root: box(root),
    chatWidth: chat.clientWidth,
    bubbles: [...chat.querySelectorAll('.aa-bubble')].map((n) => r(n).width),
    done: box(done), skip: box(skip), conv: box(conv), convHead: box(conv.querySelector('h4')),
    onTop: [done, skip, conv.querySelector('h4')].map(onTop), vw: innerWidth, vh: innerHeight,
  };
}"""


# the help overlay lies within the widget's box and the viewport, and nothing covers it
IN_VIEW = """(h) => {
  const b = h.getBoundingClientRect(), r = h.parentNode.getBoundingClientRect();
  const at = document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2);
  return b.top >= r.top - 1 && b.bottom <= r.bottom + 1 && b.left >= r.left - 1 &&
    b.right <= r.right + 1 && b.top >= 0 && b.bottom <= innerHeight && h.contains(at);
}"""


def check_layout(page, root, width: int) -> dict:
    root.evaluate("(n) => n.scrollIntoView({block: 'start'})")
    g = root.evaluate(GEOMETRY)

    def within(b: dict) -> bool:
        return 0 <= b["top"] and b["bottom"] <= g["vh"] and 0 <= b["left"] and b["right"] <= g["vw"]

    # the header is one line: every item on the same middle line, the bar one item high
    assert g["spread"] <= 3, (width, g["spread"])
    assert g["header"]["height"] <= g["tallest"] + 14, (width, g["header"], g["tallest"])
    assert all(k["right"] <= g["header"]["right"] + 0.5 for k in g["kids"]), (width, g["kids"])
    # bubbles keep most of the chat column
    assert g["bubbles"] and min(g["bubbles"]) >= 0.6 * g["chatWidth"], (width, g)
    # Done, Skip and the conversation panel in view with the widget, nothing covering them
    for name in ("done", "skip", "convHead"):
        assert within(g[name]), (width, name, g[name], g["vh"])
    assert all(g["onTop"]), (width, g["onTop"])
    assert g["conv"]["height"] >= 90, (width, g["conv"])
    assert g["root"]["height"] <= g["vh"] - 100, (width, g["root"], g["vh"])
    return g


def test_layout_help_content_note_and_picker(lab, page):
    from annotate.project import Project

    folder = lab.root / "layout"
    shutil.rmtree(folder, ignore_errors=True)
    # the full SDT codebook (2.1.0) with every module: 26 codes on an assistant turn
    project = make_project(folder, codebook=SDT, modules="all")
    asst = [c.id for c in project.codebook.codes_for("turn", "assistant")]
    n = len(asst)
    assert n == 26 and "ai_primary_move" in asst
    nb = lab.root / "layout.ipynb"
    write_notebook(nb, "layout/project")
    book = nbformat.read(nb, as_version=4)
    book.cells.append(nbformat.v4.new_code_cell("annotate.Annotator(project)"))  # the picker
    nbformat.write(book, nb)
    errors = console_errors(page)
    page.set_viewport_size({"width": 1000, "height": 800})
    open_notebook(page, lab, "layout.ipynb")
    run_all(page)
    root = page.locator(".annotate-annotator").first
    picker = page.locator(".annotate-annotator").nth(1)
    expect(root).to_have_attribute("data-conversation-id", "c5")

    # --- the coder picker shows only the picker, then the widget once a coder is picked ---
    expect(picker.locator(".aa-picker")).to_be_visible()
    expect(picker.locator("[data-coder]")).to_have_count(2)
    for part in (".aa-header", ".aa-main", ".aa-help", "[data-unit]"):
        expect(picker.locator(part).first).to_be_hidden()
    picker.locator(".aa-picker p").first.click()
    expect(picker).to_be_focused()
    page.keyboard.press("j")  # a key before a coder is picked: says why it does nothing
    expect(picker.locator(".aa-picker .aa-say")).to_have_text("Pick your name first.")
    picker.locator('[data-coder="bob"]').click()
    expect(picker.locator(".aa-who")).to_have_text("coder: bob")
    expect(picker.locator(".aa-picker")).to_be_hidden()
    expect(picker.locator('[data-unit="conversation"]')).to_be_visible()

    # --- the chosen value's label on the turn; every code of the turn has a key, shown ---
    turn(root, 1).click()
    panel = root.locator('[data-unit="turn"]')
    codes = panel.locator("[data-code-id]")
    expect(codes).to_have_count(n)
    shown = [
        k.strip()
        for k in panel.locator(
            "[data-code-id] > .aa-key, .aa-code-label > .aa-key"
        ).all_text_contents()
    ]
    assert len(shown) == n and len(set(shown)) == n, shown
    move = panel.locator('[data-code-id="ai_primary_move"]')
    move_key = move.get_attribute("data-key")
    assert move_key and move.locator(".aa-code-label .aa-key").text_content() == move_key
    first = project.codebook.code("ai_primary_move").values[0]
    keys(page, root, move_key, "1")
    saved(root)
    expect(turn(root, 1).locator(".aa-chip")).to_have_text([first.label])
    expect(turn(root, 1).locator(".aa-chip")).to_have_attribute(
        "title", f"Assistant primary move: {first.label}"
    )
    # a module code (companionship) by key, on the same turn
    human = panel.locator('[data-code-id="ai_humanlike"]')
    keys(page, root, human.get_attribute("data-key"))
    saved(root)
    expect(human).to_have_attribute("aria-pressed", "true")

    # --- the layout at 1000 and 1400 px ---
    narrow = check_layout(page, root, 1000)
    page.set_viewport_size({"width": 1400, "height": 1000})
    wide = check_layout(page, root, 1400)
    assert wide["root"]["width"] > narrow["root"]["width"]

    # --- ? opens the keys and the codebook over the widget, in view; Esc or ? closes it ---
    for close in ("Escape", "?"):
        page.keyboard.press("?")
        help_ = root.locator(".aa-help")
        expect(help_).to_be_visible()
        expect(help_.locator("[data-help-keys]")).to_contain_text("switch the keys between")
        expect(help_.locator('[data-help-code="ai_primary_move"] .aa-key')).to_have_text(move_key)
        inside = help_.evaluate(IN_VIEW)
        assert inside, close
        page.keyboard.press("j")  # scrolls the help, codes nothing
        page.keyboard.press(close)
        expect(help_).to_be_hidden()
        expect(root).to_be_focused()

    # --- behind a content note the conversation codes cannot change until the text is shown ---
    root.locator(".aa-jump").select_option(str(project.queue("alice").index("c3")))
    expect(root).to_have_attribute("data-conversation-id", "c3")
    conv = root.locator('[data-unit="conversation"]')
    warmth = conv.locator('[data-code-id="conv_warmth"]')
    expect(warmth.locator("[data-value]").first).to_be_disabled()
    expect(conv.locator("textarea[data-memo]")).to_be_disabled()
    expect(root.locator(".aa-done")).to_be_disabled()
    expect(root.locator(".aa-skip")).to_be_enabled()
    keys(page, root, "Tab", warmth.get_attribute("data-key"))
    expect(root.locator("[data-say]")).to_contain_text("behind its content note")
    keys(page, root, "Enter")  # shows the conversation
    expect(root.locator(".aa-chat [data-turn-index]")).to_have_count(2)
    expect(warmth.locator("[data-value]").first).to_be_enabled()
    keys(page, root, warmth.get_attribute("data-key"), "4")
    saved(root)
    hist = Project.open(folder / "project").labels(history=True)
    c3 = hist[(hist["conversation_id"] == "c3") & (hist["annotator_id"] == "alice")]
    assert list(zip(c3["code_id"], c3["value"], strict=True)) == [("conv_warmth", "4")]
    c5 = hist[(hist["conversation_id"] == "c5") & (hist["annotator_id"] == "alice")]
    assert sorted(zip(c5["code_id"], c5["value"], strict=True)) == [
        ("ai_humanlike", "1"),
        ("ai_primary_move", first.value),
    ]
    assert not real_errors(errors, HARMLESS), errors
