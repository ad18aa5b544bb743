"""Every notebook in notebooks/ runs top to bottom, headless, twice in a row in the same work
folder (a researcher re-runs a notebook; the second run must not trip over the first one's
files), and is committed without outputs.

Notebooks write their work under the folder named by the ANNOTATE_WORK environment variable
(default ``work/`` beside the notebook); here it is a fresh temporary folder per notebook,
shared by its two runs. A notebook that runs the real test model asks it on its first run; the
second run re-creates the project and gets the same answers from the response cache (the first
run's audit logs, through ANNOTATE_LLM_CACHE_FROM), as a researcher who keeps them would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9]*.ipynb"))


def _run(path: Path) -> list[dict]:
    """Execute the notebook in a fresh kernel; the error outputs of its cells."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    return [
        {"cell": c.source[:80], "error": f"{o.get('ename')}: {o.get('evalue')}"}
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]


def _need_test_model() -> None:
    """Skip a notebook that runs the real test model without the llm and llm-demo extras
    (``make test`` installs them)."""
    pytest.importorskip("llama_cpp", reason="needs the llm extra (uv sync --extra llm)")
    from annotate.errors import LLMError
    from annotate.llm.models import smollm2_path

    try:
        smollm2_path()
    except LLMError:
        pytest.skip("needs the llm-demo extra (uv sync --extra llm-demo)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_hold_no_saved_widget_state(path: Path) -> None:
    """Outputs and execution counts: tests/test_docs.py; widget state is an output too."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in raw.get("metadata", {}), f"{path.name} holds saved widget state"
    assert not [c for c in raw["cells"] if "execution" in c.get("metadata", {})]


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_run_twice_in_the_same_work_folder(
    path: Path, tmp_path: Path, monkeypatch, llm_answers
) -> None:
    pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    if "smollm2_path" in path.read_text(encoding="utf-8"):
        _need_test_model()
    monkeypatch.setenv("ANNOTATE_WORK", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("ANNOTATE_LLM_CACHE_FROM", str(llm_answers.path))
    first = _run(path)
    assert first == [], f"first run: {first}"
    # the notebook wrote its work where it was told, not into the repository
    assert any(tmp_path.iterdir())
    llm_answers.keep(tmp_path)
    second = _run(path)
    assert second == [], f"second run in the same folder: {second}"
