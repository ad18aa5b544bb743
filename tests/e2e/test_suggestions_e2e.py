"""An LLM coder's suggestions in the annotation widget, in a real JupyterLab and Chromium.

The LLM coder is declared (llm/<id>/coder.json) and its labels are appended through the real
store as a run appends them (tests/widgets/widget_data.py). The project's setting is changed on
disk between conversations, as a lead would with ``annotate project set``; the session reads it
again when a conversation opens. What the coder saw is asserted twice: in the page (the DOM and
the page's text, where no hidden suggestion or reason appears) and in the label events on disk
(column ``exposure``). The kernel never sends a hidden suggestion to the browser
(tests/widgets/test_annotator_modes.py checks the synced trait).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from jlab import JS_CELL_COUNT, console_errors, open_notebook, run_all
from playwright.sync_api import expect
from test_annotator_e2e import jump, real_errors, saved, turn, write_notebook
from widget_data import LLM, add_llm_coder, make_project

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = (
    REPO / "docs" / "widget-suggestions.png"
    if os.environ.get("ANNOTATE_UPDATE_SCREENSHOT") == "1"
    else Path(tempfile.gettempdir()) / "annotate-widget-suggestions.png"
)


def _sug(root, code_id: str):
    return root.locator(f'[data-unit="turn"] [data-sug-for="{code_id}"]')


def test_suggestions_e2e_blind_on_reliability_then_after_and_before(lab, page):
    from annotate.project import Project

    folder = lab.root / "sug"
    shutil.rmtree(folder, ignore_errors=True)
    project = make_project(folder, reliability=0.5)
    add_llm_coder(project)
    project.set_suggestions("before", LLM)
    queue = project.queue("alice")
    rel = [c for c in queue if project.is_reliability(c)]
    other = [c for c in queue if not project.is_reliability(c)]
    assert "c5" in rel and {"c1", "c4"} <= set(other)
    write_notebook(lab.root / "sug.ipynb", "sug/project")
    errors = console_errors(page)
    open_notebook(page, lab, "sug.ipynb")
    run_all(page)
    root = page.locator(".annotate-annotator")
    expect(root).to_be_visible(timeout=60_000)
    cells_before = page.evaluate(JS_CELL_COUNT)

    # --- a reliability conversation, setting "before": nothing before the coder's own label ---
    jump(page, root, project, "c5")
    turn(root, 1).click()
    expect(root.locator(".aa-sug-status")).to_contain_text("reliability sample")
    expect(root.locator(".aa-sug-status")).to_contain_text("hidden")
    expect(root.locator("[data-sug-for]")).to_have_count(0)
    expect(root.locator(".aa-sug-val")).to_have_count(0)
    page.keyboard.press("=")  # nothing to accept: hints are never shown here
    expect(root.locator("[data-say]")).to_contain_text("only after you saved your own label")
    # no hidden suggestion or reason is anywhere in the page
    assert "invites the user to talk" not in page.content()
    page.keyboard.press("c")  # ai_pressure: a code the LLM did not label
    saved(root)
    expect(root.locator("[data-sug-for]")).to_have_count(0)
    page.keyboard.press("e")  # ai_empathy: the coder's own label, saved...
    saved(root)
    line = _sug(root, "ai_empathy")  # ...then the LLM's label on it is revealed
    expect(line).to_have_attribute("data-shown", "after")
    expect(line).to_contain_text(LLM)
    expect(line).to_contain_text("same as yours")
    expect(_sug(root, "ai_move")).to_have_count(0)  # still hidden: not labelled yet
    expect(line.locator(".aa-sug-accept")).to_have_count(0)  # after: nothing to accept
    page.keyboard.press("/")  # its reason, by key
    expect(line.locator(".aa-sug-rationale")).to_have_text("names the feeling")
    page.keyboard.press("/")
    expect(line.locator(".aa-sug-rationale")).to_have_count(0)

    # --- the lead switches to "after": a non-reliability conversation follows the setting ---
    project.set_suggestions("after", LLM)
    jump(page, root, project, "c1")
    turn(root, 0).click()
    expect(root.locator(".aa-sug-status")).to_contain_text("show after you save your own")
    expect(root.locator("[data-sug-for]")).to_have_count(0)
    page.keyboard.press("v")  # user_move waits for its value
    page.keyboard.press("1")  # 'task': the coder's own value
    saved(root)
    line = _sug(root, "user_move")
    expect(line).to_have_attribute("data-shown", "after")
    expect(line).to_contain_text("differs from yours")
    expect(_sug(root, "user_seeks_support")).to_have_count(0)

    # --- "before": hints from the start, accepted with = (and by a click) ---
    project.set_suggestions("before", LLM)
    jump(page, root, project, "c4")
    turn(root, 0).click()
    expect(root.locator(".aa-sug-status")).to_contain_text("= accepts them")
    hint = _sug(root, "user_move")
    expect(hint).to_have_attribute("data-shown", "before")
    expect(hint).to_contain_text("Support")
    expect(
        root.locator('[data-unit="turn"] [data-code-id="user_move"] [data-value="support"]')
    ).to_have_class(re.compile("aa-sug-val"))
    page.keyboard.press("=")  # accepts the hints of the turn the coder has not set
    saved(root)
    panel = root.locator('[data-unit="turn"]')
    expect(panel.locator('[data-code-id="user_move"] [data-value="support"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(panel.locator('[data-code-id="user_seeks_support"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    page.keyboard.press("j")  # turn 1 (assistant): change one hint, accept another by click
    page.keyboard.press("m")
    page.keyboard.press("3")  # ai_move 'inform', not the suggested 'listen'
    saved(root)
    _sug(root, "ai_empathy").locator(".aa-sug-accept").click()
    saved(root)
    expect(panel.locator('[data-code-id="ai_empathy"]')).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("m")
    page.keyboard.press("=")  # while the code waits for its value: its hint
    saved(root)
    expect(panel.locator('[data-code-id="ai_move"] [data-value="listen"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    _sug(root, "ai_move").locator(".aa-sug-why").click()
    expect(_sug(root, "ai_move").locator(".aa-sug-rationale")).to_have_text(
        "invites the user to talk"
    )
    _sug(root, "ai_move").locator(".aa-sug-rationale").scroll_into_view_if_needed()
    _screenshot(root)
    assert page.evaluate(JS_CELL_COUNT) == cells_before  # no key reached the notebook
    expect(page.locator(".jupyter-widgets-error-widget")).to_have_count(0)

    # --- the events on disk say what the coder saw ---
    hist = Project.open(folder / "project").labels(history=True, annotator="alice")
    seen = {
        (r.conversation_id, r.code_id, r.value): r.exposure
        for r in hist.itertuples()
        if not r.code_id.startswith("_")
    }
    assert seen[("c5", "ai_pressure", "1")] == "none"  # no suggestion on that code
    assert seen[("c5", "ai_empathy", "1")] == "none"  # reliability: saved before any reveal
    assert seen[("c1", "user_move", "task")] == "none"  # after: own label first
    assert seen[("c4", "user_move", "support")] == "before"  # accepted hints
    assert seen[("c4", "user_seeks_support", "1")] == "before"
    assert seen[("c4", "ai_move", "inform")] == "before"  # changed, with the hint in view
    assert seen[("c4", "ai_move", "listen")] == "before"
    assert seen[("c4", "ai_empathy", "1")] == "before"
    assert set(hist["exposure"]) <= {"none", "before", "after"}
    assert not real_errors(errors), real_errors(errors)


def _screenshot(root) -> None:
    """docs/widget-suggestions.png (on request, `make screenshot`), else a temporary file."""
    SCREENSHOT.parent.mkdir(exist_ok=True)
    root.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size < 250_000
