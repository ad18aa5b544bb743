"""The quickstart notebook, run top to bottom in a real JupyterLab (headless Chromium), twice in
a row in the same kernel (a researcher runs it again: the second run must not trip over the
first one's files or state).

The notebook, the corpora it reads (the demo corpus and the donation fixture) and the codebooks
are copied into the lab's root in the layout of the repository, so the notebook's relative paths
(``../corpora/demo/demo.jsonl``) work as they do for a researcher after ``make lab``; its work
folder is ``work/`` beside the notebook.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from jlab import open_notebook, run_all
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = "00_quickstart.ipynb"

# Every code cell's outputs, from the notebook model the browser holds (errors show up there
# even when their rendering differs between JupyterLab versions).
JS_OUTPUTS = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  return nb.widgets.filter(c => c.model.type === 'code').map(c => ({
    count: c.model.executionCount,
    source: c.model.sharedModel.getSource().slice(0, 80),
    outputs: c.model.outputs.toJSON(),
  }));
}"""


def copy_repo_layout(root: Path) -> Path:
    """Copy what the quickstart reads into ``root`` (repo layout); return the notebook folder."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "notebooks").mkdir(parents=True)
    shutil.copy2(REPO / "notebooks" / NOTEBOOK, root / "notebooks" / NOTEBOOK)
    for corpus in ("demo", "donation"):
        shutil.copytree(REPO / "corpora" / corpus, root / "corpora" / corpus)
    shutil.copytree(REPO / "codebooks", root / "codebooks")
    return root / "notebooks"


def _check_run(page, folder: Path, counts_above: int) -> int:
    """Every code cell ran (execution count above ``counts_above``) without an error; the
    widget is shown once and the data card was written. Returns the highest count."""
    cells = page.evaluate(JS_OUTPUTS)
    errors = [
        (c["source"], o.get("ename"), o.get("evalue"))
        for c in cells
        for o in c["outputs"]
        if o.get("output_type") == "error"
    ]
    assert not errors, f"cells with errors: {errors}"
    not_run = [c["source"] for c in cells if not c["count"] or c["count"] <= counts_above]
    assert not not_run, f"cells that did not run: {not_run}"
    tracebacks = page.locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]',
        has_text="Traceback",
    )
    expect(tracebacks).to_have_count(0)
    expect(page.locator(".jupyter-widgets-error-widget")).to_have_count(0)

    root = page.locator(".annotate-annotator")
    expect(root).to_have_count(1, timeout=60_000)
    expect(root).to_be_visible()
    expect(root.locator("[data-turn-index]").first).to_be_visible()

    card = folder / "work" / "quickstart" / "export" / "README.md"
    assert card.exists(), f"no data card at {card}"
    text = card.read_text(encoding="utf-8")
    assert "sdt-socioaffective" in text and "stratified by `model`" in text
    donations = folder / "work" / "quickstart" / "donations" / "consent.json"
    assert "P001" in donations.read_text(encoding="utf-8")
    return max(c["count"] for c in cells)


def test_quickstart_runs_twice_in_jupyterlab(lab, page, llm_answers):
    folder = copy_repo_layout(lab.root / "qs")
    open_notebook(page, lab, f"qs/notebooks/{NOTEBOOK}")
    run_all(page, timeout_ms=600_000)
    first = _check_run(page, folder, 0)
    # the second run re-creates the project: the model's answers come from the cache
    llm_answers.keep(folder / "work")
    run_all(page, timeout_ms=600_000)  # again, in the same kernel and work folder
    _check_run(page, folder, first)
