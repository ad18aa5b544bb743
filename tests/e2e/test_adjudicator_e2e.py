"""The adjudication widget in a real JupyterLab driven by headless Chromium.

The demo project (demo corpus, default codebook, alice/bob/carol's illustrative labels) is made
under the lab root; every assertion about saving is made on the gold events on disk
(``Project.labels(history=True)``), after the widget said ``saved``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
from jlab import JS_CELL_COUNT, console_errors, open_notebook, run_all
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
# The README's picture of the adjudicator, rewritten only on request (`make screenshot`)
SCREENSHOT = (
    REPO / "docs" / "adjudicator.png"
    if os.environ.get("ANNOTATE_UPDATE_SCREENSHOT") == "1"
    else Path(tempfile.gettempdir()) / "annotate-adjudicator.png"
)

# Console errors we accept, each with the reason. Nothing of annotate's is allowed.
HARMLESS = (
    # JupyterLab logs this when a kernel request is cancelled under an open page (not ours).
    re.compile(r"Canceled future for \w+ message before replies were done"),
)


def write_notebook(path: Path, project_dir: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cells = [
        f"import annotate\nproject = annotate.Project.open({project_dir!r})",
        'from annotate.widgets import Adjudicator\nAdjudicator(project, adjudicator="dana")',
    ]
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, path)


def key(item) -> str:
    return "|".join(
        str(k) for k in (item.unit, item.conversation_id, item.turn_index, item.code_id)
    )


def test_adjudicator_e2e_jupyterlab(lab, page):
    from annotate.adjudication import Adjudication
    from annotate.demo import demo_project

    work = lab.root / "adj"
    shutil.rmtree(work, ignore_errors=True)
    project = demo_project(work)  # corpus and project under the lab root
    items = Adjudication(project, adjudicator="dana").items
    write_notebook(lab.root / "adjudicate_lab.ipynb", "adj/project")
    errors = console_errors(page)

    open_notebook(page, lab, "adjudicate_lab.ipynb")
    run_all(page)
    root = page.locator(".annotate-adjudicator")
    expect(root).to_be_visible(timeout=60_000)
    expect(root).to_have_attribute("data-lm-suppress-shortcuts", "true")
    expect(page.locator(".jupyter-widgets-error-widget")).to_have_count(0)
    expect(root.locator("[data-progress]")).to_have_text(f"0 / {len(items)}")
    cells_before = page.evaluate(JS_CELL_COUNT)

    # --- item 1 (first in the queue): every coder side by side, pick bob's value by click ---
    first = items[0]
    expect(root).to_have_attribute("data-item-key", key(first))
    code = project.codebook.code(first.code_id)
    for coder, value in first.values.items():
        card = root.locator(f'[data-coder="{coder}"]')
        expect(card.locator("[data-coder-value]")).to_have_attribute("data-coder-value", value)
        expect(card).to_contain_text(code.value(value).label)
    if first.turn_index is None:  # conversation-level: the conversation panel is highlighted
        expect(root.locator(".aa-chat")).to_have_class(re.compile("ad-conv-highlight"))
    expect(root.locator("[data-value]")).to_have_count(len(code.value_ids))  # all offered
    expect(root.locator("[data-help]")).to_contain_text(code.definition.split()[0])
    odd = next(v for v in first.values.values() if list(first.values.values()).count(v) == 1)
    root.locator(f'[data-value="{odd}"]').click()
    expect(root.locator(f'[data-value="{odd}"]')).to_have_attribute("aria-pressed", "true")
    root.click(position={"x": 5, "y": 5})  # the keyboard belongs to the widget root
    page.keyboard.press("Enter")  # no kind yet: refused in the form, nothing sent
    expect(root.locator("[data-form-msg]")).to_contain_text("kind of disagreement")
    root.locator('[data-kind="coder_error"]').click()
    memo = root.locator("[data-memo]")
    memo.click()
    page.keyboard.type("n1p: the scale anchors fit bob's reading")  # no shortcut fires here
    root.locator("[data-codebook-change]").fill("1.0.1: clarified conv anchors")
    expect(root).to_have_attribute("data-item-key", key(first))
    expect(root.locator(f'[data-value="{odd}"]')).to_have_attribute("aria-pressed", "true")
    root.locator('[data-action="save"]').click()
    expect(root).to_have_attribute("data-acks", "1")
    expect(root.locator("[data-save-status]")).to_have_text("saved")
    expect(root.locator("[data-gold]")).to_have_attribute("data-gold", odd)
    expect(root.locator("[data-progress]")).to_have_text(f"1 / {len(items)}")

    # --- next (n), then jump to a turn item with memos: pick by key, save with Enter ---
    page.keyboard.press("n")
    expect(root).to_have_attribute("data-item-key", key(items[1]))
    i, second = next((n, it) for n, it in enumerate(items) if it.memos and it.turn_index)
    root.locator(".ad-jump").select_option(str(i))
    expect(root).to_have_attribute("data-item-key", key(second))
    coder, text = next(iter(second.memos.items()))
    expect(root.locator(f'[data-coder="{coder}"] [data-coder-memo]')).to_have_text(text)
    turn = root.locator(f'.aa-chat [data-turn-index="{second.turn_index}"]')
    expect(turn).to_have_class(re.compile("ad-highlight"))
    expect(turn).to_be_in_viewport()
    code2 = project.codebook.code(second.code_id)
    expect(root).to_be_focused()  # the jump list gave the keyboard back
    page.keyboard.press("2")
    expect(root.locator(f'[data-value="{code2.value_ids[1]}"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    root.locator('[data-kind="ambiguous_text"]').click()
    expect(root).to_be_focused()  # a click on a kind leaves the keyboard with the widget
    page.keyboard.press("Enter")
    expect(root).to_have_attribute("data-acks", "2")
    expect(root.locator("[data-save-status]")).to_have_text("saved")
    page.keyboard.press("n")
    expect(root).to_have_attribute("data-item-key", key(items[i + 1]))

    # --- on disk: two gold events with their notes; no key reached the notebook ---
    ev = project.labels(history=True)
    gold = ev[ev["annotator_id"] == "gold"].sort_values("event_id")
    assert list(gold["code_id"]) == [first.code_id, second.code_id]
    assert list(gold["value"]) == [odd, code2.value_ids[1]]
    notes = [json.loads(n) for n in gold["note"]]
    assert notes[0] == {
        "adjudicator": "dana",
        "kind": "coder_error",
        "memo": "n1p: the scale anchors fit bob's reading",
        "codebook_change": "1.0.1: clarified conv anchors",
    }
    assert notes[1] == {"adjudicator": "dana", "kind": "ambiguous_text", "memo": ""}
    assert page.evaluate(JS_CELL_COUNT) == cells_before
    expect(root.locator("[data-save-status]")).to_have_text("saved")
    root.screenshot(path=str(SCREENSHOT))  # an open item: coders side by side, the turn marked
    assert SCREENSHOT.stat().st_size < 250_000
    assert [e for e in errors if not any(rx.search(e) for rx in HARMLESS)] == []
