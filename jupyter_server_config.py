"""JupyterLab for this repository, loaded by `make lab` (JUPYTER_CONFIG_PATH=<repository>).

* The lab is rooted at the repository, so codebooks/ and corpora/ can be browsed next to the
  notebooks (`make lab` opens notebooks/00_quickstart.ipynb in it).
* The notebooks of notebooks/ are tracked by git without outputs: whenever JupyterLab saves one
  (also by autosave) the saved file gets no outputs, execution counts or widget state. The
  open notebook keeps showing its outputs until it is closed. Work you want to keep with its
  outputs: *File → Save Notebook As…* under notebooks/work/ (ignored by git), where nothing
  is stripped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent
TRACKED = REPO / "notebooks"
UNTRACKED = TRACKED / "work"


def is_tracked_notebook(path: Path) -> bool:
    """A notebook of notebooks/ (at any depth) outside notebooks/work/."""
    path = path.resolve()
    return (
        path.suffix == ".ipynb"
        and path.is_relative_to(TRACKED)
        and not path.is_relative_to(UNTRACKED)
        and ".ipynb_checkpoints" not in path.parts
    )


def strip_outputs(content: dict[str, Any]) -> None:
    """Remove outputs, execution counts and saved widget state from a notebook (in place)."""
    for cell in content.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    content.get("metadata", {}).pop("widgets", None)


def strip_tracked_outputs(
    model: dict[str, Any], path: str, contents_manager: Any, **_: Any
) -> None:
    """ContentsManager pre-save hook: strip a tracked notebook before it is written."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    target = Path(contents_manager.root_dir) / path.lstrip("/")
    if is_tracked_notebook(target):
        strip_outputs(model["content"])


c = get_config()  # noqa: F821 (provided by the Jupyter config loader)
c.ContentsManager.pre_save_hook = strip_tracked_outputs
c.ServerApp.root_dir = str(REPO)
