"""Evidence spans in the annotation widget, in a real JupyterLab driven by headless Chromium.

A coder selects words with the mouse (a drag across markdown formatting, a double click on a
right-to-left word) and with the keyboard (word by word over an emoji), attaches them to codes,
removes and restores a span, reloads, and finds every span highlighted again. The label events
on disk must hold the right offsets: ``text[start:end]`` in Python is the text the coder
selected (with the markdown markers the selection spans, where it crosses formatting) and the
sha256 is that slice's.
"""

from __future__ import annotations

import hashlib
import re
import shutil

import pytest
from jlab import console_errors, open_notebook, run_all
from playwright.sync_api import expect
from test_annotator_e2e import real_errors, saved, turn, write_notebook
from widget_data import make_project

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FORMATTED = "Honestly, **just tell me what to do**, you decide."
EMOJI = "Sure 😀 it's your call: *which fits you* better, Priya or the club?"
RTL = "אני לא יודע מה לעשות, you decide for me"
MOVES = "A few ideas:\n\n- **Say yes** to one small invitation.\n- Ask &amp; listen."
TURNS = [("user", FORMATTED), ("assistant", EMOJI), ("user", RTL), ("assistant", MOVES)]
CONVS = {"e1": (TURNS, {})}

# the shown text of a turn's marks of one code (a span crossing formatting is several marks)
JS_MARKED = """([ti, code]) => [...document.querySelectorAll(
  `.annotate-annotator .aa-turn[data-turn-index="${ti}"] mark.aa-ev`)]
  .filter((m) => m.dataset.codes.split(" ").includes(code)).map((m) => m.textContent).join("")"""

# the screen rectangle of characters [a, b) of the text of the first node holding `needle`
JS_RECT = """([ti, needle, a, b]) => {
  const bubble = document.querySelector(`.aa-turn[data-turn-index="${ti}"] .aa-bubble`);
  const walk = document.createTreeWalker(bubble, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const at = n.data.indexOf(needle);
    if (at < 0) continue;
    const r = document.createRange();
    r.setStart(n, at + a); r.setEnd(n, at + b);
    const box = r.getClientRects()[0];
    return {x: box.left, y: box.top + box.height / 2, right: box.right};
  }
  return null;
}"""


def events(folder, code: str):
    from annotate.project import Project

    hist = Project.open(folder / "project").labels(history=True)
    return hist[(hist["annotator_id"] == "alice") & (hist["code_id"] == code)]


def spans_on_disk(folder, code: str, text: str) -> list[str]:
    """The quoted text of the latest event's spans, after checking each span's hash."""
    last = events(folder, code).iloc[-1]
    out = []
    for span in last["evidence"]:
        quoted = text[span["start"] : span["end"]]
        assert span["sha256"] == hashlib.sha256(quoted.encode("utf-8")).hexdigest()
        out.append(quoted)
    return out


def marked(page, ti: int, code: str) -> str:
    return page.evaluate(JS_MARKED, [ti, code])


def drag(page, ti: int, start: tuple[str, int], end: tuple[str, int]) -> None:
    """A mouse drag from before character start[1] of start[0] to after end[1] of end[0]."""
    a = page.evaluate(JS_RECT, [ti, start[0], start[1], start[1] + 1])
    b = page.evaluate(JS_RECT, [ti, end[0], end[1] - 1, end[1]])
    page.mouse.move(a["x"] + 1, a["y"])
    page.mouse.down()
    page.mouse.move((a["x"] + b["right"]) / 2, b["y"], steps=4)
    page.mouse.move(b["right"] - 1, b["y"], steps=4)
    page.mouse.up()


def test_evidence_select_save_reload(lab, page):
    folder = lab.root / "evid"
    shutil.rmtree(folder, ignore_errors=True)
    project = make_project(folder, coders=("alice",), convs=CONVS)
    assert project.codebook.code("user_defers").evidence == "required"
    write_notebook(lab.root / "evid.ipynb", "evid/project")
    errors = console_errors(page)
    open_notebook(page, lab, "evid.ipynb")
    run_all(page)
    root = page.locator(".annotate-annotator")
    expect(root).to_have_attribute("data-conversation-id", "e1", timeout=60_000)
    say = root.locator("[data-say]")

    # --- a code that needs evidence is not saved without it ---
    turn(root, 0).click()
    page.keyboard.press("d")  # user_defers: required
    expect(say).to_contain_text("needs evidence")
    expect(root.locator('[data-unit="turn"] [data-code-id="user_defers"]')).to_have_attribute(
        "aria-pressed", "false"
    )
    assert events(folder, "user_defers").empty

    # --- turn 0: a mouse drag from plain text into bold text ---
    drag(page, 0, ("Honestly", 0), ("just tell", 9))
    expect(root.locator('.aa-turn[data-turn-index="0"] mark.aa-sel')).to_have_count(2)
    expect(say).to_contain_text("Selected “Honestly, just tell”")
    page.keyboard.press("d")
    saved(root)
    assert marked(page, 0, "user_defers") == "Honestly, just tell"
    (quoted,) = spans_on_disk(folder, "user_defers", FORMATTED)
    assert quoted == "Honestly, **just tell"  # the source, markers included
    assert quoted.replace("**", "") == "Honestly, just tell"  # = what was selected

    # --- turn 1: word by word with the keyboard, over an emoji (two UTF-16 units) ---
    page.keyboard.press("j")
    page.keyboard.press("ArrowRight")  # "Sure"
    page.keyboard.press("ArrowRight")  # "😀" alone
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowLeft")  # one word less: "😀 it's your"
    expect(say).to_contain_text("Selected “😀 it's your”")
    page.keyboard.press("a")  # ai_autonomy_support: optional
    saved(root)
    assert marked(page, 1, "ai_autonomy_support") == "😀 it's your"
    (quoted,) = spans_on_disk(folder, "ai_autonomy_support", EMOJI)
    assert quoted == "😀 it's your"
    start = events(folder, "ai_autonomy_support").iloc[-1]["evidence"][0]["start"]
    assert start == EMOJI.index("😀") == 5  # code points, as Python counts

    # a second span across the italic words, then the × of the first removes it, u restores it
    drag(page, 1, ("which", 0), ("fits you", 8))
    page.keyboard.press("a")
    saved(root)
    assert spans_on_disk(folder, "ai_autonomy_support", EMOJI) == ["😀 it's your", "which fits you"]
    spans = root.locator('[data-spans-for="ai_autonomy_support"] .aa-span')
    expect(spans).to_have_count(2)
    expect(spans.first).to_contain_text("😀 it's your")
    spans.first.locator(".aa-span-x").click()
    saved(root)
    assert spans_on_disk(folder, "ai_autonomy_support", EMOJI) == ["which fits you"]
    assert marked(page, 1, "ai_autonomy_support") == "which fits you"
    expect(root).to_be_focused()
    page.keyboard.press("u")
    saved(root)
    assert spans_on_disk(folder, "ai_autonomy_support", EMOJI) == ["😀 it's your", "which fits you"]

    # --- turn 2: right-to-left words, a double click then one more word with Shift+→ ---
    box = page.evaluate(JS_RECT, [2, "יודע", 0, 4])
    page.mouse.dblclick((box["x"] + box["right"]) / 2, box["y"])
    expect(say).to_contain_text("Selected “יודע”")
    page.keyboard.press("Shift+ArrowRight")
    expect(say).to_contain_text("Selected “יודע מה”")
    page.keyboard.press("d")
    saved(root)
    assert spans_on_disk(folder, "user_defers", RTL) == ["יודע מה"]
    assert marked(page, 2, "user_defers") == "יודע מה"
    direction = root.locator('.aa-turn[data-turn-index="2"] p').evaluate(
        "p => getComputedStyle(p).unicodeBidi"
    )
    assert direction == "plaintext"

    # --- turn 3: a choice code's value with its evidence; an entity in the selection ---
    page.keyboard.press("j")
    drag(page, 3, ("Ask", 0), ("listen", 6))
    page.keyboard.press("m")  # ai_move: waits for its value
    expect(say).to_contain_text("chooses a value for the selected words")
    page.keyboard.press("4")  # advise
    saved(root)
    last = events(folder, "ai_move").iloc[-1]
    assert last["value"] == "advise"
    assert spans_on_disk(folder, "ai_move", MOVES) == ["Ask &amp; listen"]
    assert marked(page, 3, "ai_move") == "Ask & listen"

    # --- Delete removes the evidence under a selection; u brings it back ---
    drag(page, 3, ("listen", 0), ("listen", 6))
    page.keyboard.press("Delete")
    saved(root)
    expect(say).to_contain_text("Evidence removed from Assistant primary move")
    assert events(folder, "ai_move").iloc[-1]["evidence"] is None
    assert events(folder, "ai_move").iloc[-1]["value"] == "advise"  # the code stays
    page.keyboard.press("u")
    saved(root)
    assert spans_on_disk(folder, "ai_move", MOVES) == ["Ask &amp; listen"]

    # --- stop the kernel, reload the page, run again: every span is highlighted again ---
    lab.shutdown_kernels()
    page.reload()
    open_notebook(page, lab, "evid.ipynb")
    run_all(page)
    root = page.locator(".annotate-annotator")
    expect(root).to_have_attribute("data-conversation-id", "e1", timeout=60_000)
    expect(root.locator('.aa-turn[data-turn-index="0"] mark.aa-ev').first).to_be_visible()
    assert marked(page, 0, "user_defers") == "Honestly, just tell"
    assert marked(page, 1, "ai_autonomy_support") == "😀 it's yourwhich fits you"
    assert marked(page, 2, "user_defers") == "יודע מה"
    assert marked(page, 3, "ai_move") == "Ask & listen"
    mark = root.locator('.aa-turn[data-turn-index="2"] mark.aa-ev').first
    expect(mark).to_have_attribute("title", re.compile("Defers the decision"))
    turn(root, 1).click()
    expect(root.locator('[data-spans-for="ai_autonomy_support"] .aa-span')).to_have_count(2)
    assert not real_errors(errors), real_errors(errors)
