"""Calibration mode of the annotation widget in a real JupyterLab and Chromium: a coder codes
the calibration set with keys, sees after each conversation where they differed from gold and
why, asks for the score so far, and is certified at the end; the calibration labels stay in the
attempt's own store and never enter the study's labels.

The gold set (tests/widgets/widget_data.add_gold) is c1, c4 and c5 with explanations; the pass
rule is alpha >= .8 on every code with at least 4 units. The coder agrees with gold everywhere
except Warmth on c1 (3 units in the set: not assessable), so the attempt passes.
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
from test_annotator_e2e import real_errors, saved
from widget_data import GOLD_SET, add_gold, make_project

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = (
    REPO / "docs" / "widget-calibration.png"
    if os.environ.get("ANNOTATE_UPDATE_SCREENSHOT") == "1"
    else Path(tempfile.gettempdir()) / "annotate-widget-calibration.png"
)


def _write_notebook(path: Path, project_dir: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(
            f"import annotate\nproject = annotate.Project.open({project_dir!r})"
        ),
        nbformat.v4.new_code_cell(
            'annotate.Annotator(project, annotator="alice", mode="calibration")'
        ),
    ]
    nbformat.write(nb, path)


def _opened(page, root, cid: str) -> None:
    expect(root).to_have_attribute("data-conversation-id", cid)
    page.wait_for_function(
        "(cid) => (document.querySelector('.annotate-annotator').dataset.ready || '')"
        ".startsWith(cid + '#')",
        arg=cid,
    )


def test_calibration_e2e_coder_is_calibrated_and_certified(lab, page):
    from annotate.project import Attempt, Calibration, Project

    folder = lab.root / "cal"
    shutil.rmtree(folder, ignore_errors=True)
    project = make_project(folder)
    add_gold(project)
    _write_notebook(lab.root / "cal.ipynb", "cal/project")
    errors = console_errors(page)
    open_notebook(page, lab, "cal.ipynb")
    run_all(page)
    root = page.locator(".annotate-annotator")
    expect(root).to_be_visible(timeout=60_000)
    expect(root.locator(".aa-mode")).to_have_text("calibration · attempt 1")
    expect(root.locator("[data-progress]")).to_have_text(f"0 / {len(GOLD_SET)}")
    cells_before = page.evaluate(JS_CELL_COUNT)
    queue = sorted(GOLD_SET)

    for n, cid in enumerate(queue, start=1):
        _opened(page, root, cid)
        expect(root.locator("[data-feedback]")).to_have_count(0)  # gold only after coding
        root.locator('.aa-chat [data-turn-index="0"]').click()  # the first user turn
        # as gold: seeks support, move 'support' (value key 2); empathy on turn 1; Warmth 3
        # (gold says 6 on c1)
        for key in ("s", "v", "2", "j", "e", "Tab", "3", "3"):
            page.keyboard.press(key)
        saved(root)
        page.keyboard.press("Enter")  # conversation panel: done; the widget stays on it
        fb = root.locator(f'[data-feedback="{cid}"]')
        expect(fb).to_be_visible()
        differ = fb.locator('tr[data-agree="false"]')
        if cid == "c1":
            expect(fb.locator("h4")).to_have_text("Compared with gold: 1 difference")
            expect(differ).to_have_count(1)
            expect(differ).to_have_attribute("data-fb-row", "conv_warmth")
            expect(differ).to_contain_text("gold: 6")
            expect(differ).to_contain_text("yours: 3")
            expect(differ).to_contain_text("warm throughout, offers to listen")  # explanation
            agreed = fb.locator('tr[data-fb-row="user_seeks_support"]')
            expect(agreed).to_have_attribute("data-agree", "true")
            expect(agreed).to_contain_text(f"asks for help ({cid})")
            # done and compared: the conversation cannot change any more
            for key in ("Tab", "j", "e"):  # the turn panel, the assistant turn, empathy
                page.keyboard.press(key)
            expect(root.locator("[data-say]")).to_contain_text("cannot change")
            expect(root.locator('[data-unit="turn"] [data-code-id="ai_empathy"]')).to_be_disabled()
            page.keyboard.press("#")  # the score so far
            expect(root.locator("[data-score-so-far]")).to_be_visible()
            expect(root.locator('[data-score-code="ai_empathy"]')).to_be_visible()
        else:
            expect(differ).to_have_count(0)
        expect(root.locator("[data-progress]")).to_have_text(f"{n} / {len(queue)}")
        if n < len(queue):
            page.keyboard.press("Enter")  # go on

    # --- the end of the set: the score per code and the certification ---
    result = root.locator("[data-result]")
    expect(result).to_have_attribute("data-passed", "true")
    expect(result.locator("h4")).to_contain_text("Certified: attempt 1 passed for codebook toy")
    expect(result).to_contain_text("alpha ≥ 0.8")
    for code in ("ai_empathy", "user_seeks_support"):
        row = result.locator(f'[data-score-code="{code}"]')
        expect(row).to_have_attribute("data-state", "pass")
        expect(row).to_contain_text(re.compile(r"1\.00 \[1\.00, 1\.00\]"))
    expect(result.locator('[data-score-code="conv_warmth"]')).to_have_attribute("data-state", "na")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1500})  # the whole widget in view
    root.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size < 250_000
    assert page.evaluate(JS_CELL_COUNT) == cells_before  # no key reached the notebook
    expect(page.locator(".jupyter-widgets-error-widget")).to_have_count(0)

    # --- on disk: certified; the calibration labels are not the study's ---
    study = Project.open(folder / "project")
    cal = Calibration(study)
    certified = cal.certified()
    assert certified.to_dict("records")[0] | {"at": None} == {
        "annotator_id": "alice",
        "codebook_version": "toy 1.0.0",
        "attempt": 1,
        "certified": True,
        "lowest": 1.0,
        "codes_assessed": 2,
        "at": None,
    }
    assert len(study.labels(history=True)) == 0  # nothing entered the study's labels
    attempt = Attempt(cal, "alice", 1)  # cal.attempt() would open a new one: this is scored
    assert cal.attempts("alice") == [1]
    events = attempt.labels(history=True)
    assert set(events["annotator_id"]) == {"alice"}
    done = events[events["code_id"] == "_status"]
    assert sorted(done["conversation_id"]) == queue  # one done per conversation, no more
    warm = events[(events["code_id"] == "conv_warmth") & (events["conversation_id"] == "c1")]
    assert list(warm["value"]) == ["3"]  # the locked conversation kept the coder's value
    assert not real_errors(errors), real_errors(errors)
