"""Every notebook in notebooks/ runs top to bottom, headless (no outputs are committed).

Notebooks write their work under the folder named by the ANNOTATE_WORK environment variable
(default ``work/`` beside the notebook); here it is a fresh temporary folder per notebook.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9]*.ipynb"))


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_run_headless(path: Path, tmp_path: Path, monkeypatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert all(not c.get("outputs") for c in raw["cells"] if c["cell_type"] == "code"), (
        f"{path.name} was committed with outputs: clear them"
    )
    monkeypatch.setenv("ANNOTATE_WORK", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    # the notebook wrote its work where it was told, not into the repository
    assert any(tmp_path.iterdir()) or not any("WORK" in c.source for c in nb.cells)
