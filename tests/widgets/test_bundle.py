"""The committed front-end bundles (annotate/widgets/static/) are what esbuild makes from the
sources (annotate/widgets/js/) with the version pinned in package-lock.json.

A stale bundle means the widgets run other code than the sources say: rebuild with
``make bundle`` and commit annotate/widgets/static/.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = REPO / "annotate" / "widgets" / "js"
STATIC = REPO / "annotate" / "widgets" / "static"
BUNDLES = ["adjudicator.css", "adjudicator.js", "annotator.css", "annotator.js"]


def _pinned() -> str:
    lock = json.loads((REPO / "package-lock.json").read_text(encoding="utf-8"))
    return lock["packages"]["node_modules/esbuild"]["version"]


def _installed(root: Path) -> str | None:
    meta = root / "node_modules" / "esbuild" / "package.json"
    return json.loads(meta.read_text(encoding="utf-8"))["version"] if meta.exists() else None


@pytest.fixture(scope="module")
def build_root(tmp_path_factory) -> Path:
    """A folder whose node_modules holds the pinned esbuild and whose annotate/widgets/js/ are
    the sources: the repository after `npm ci` (as `make test` leaves it), or else a copy of
    the sources with its own `npm ci` (the npm registry is reachable where the tests run)."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are not installed (apt-get install nodejs npm): cannot rebuild")
    if _installed(REPO) == _pinned():
        return REPO
    root = tmp_path_factory.mktemp("frontend")
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(REPO / name, root / name)
    shutil.copytree(SOURCES, root / "annotate" / "widgets" / "js")
    subprocess.run(
        ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=root,
        check=True,
        capture_output=True,
        timeout=600,
    )
    assert _installed(root) == _pinned()
    return root


def test_bundle_is_fresh(build_root, tmp_path):
    out = tmp_path / "static"
    subprocess.run(
        ["node", str(build_root / "annotate/widgets/js/build.mjs"), "--outdir", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert sorted(p.name for p in out.iterdir()) == BUNDLES
    assert sorted(p.name for p in STATIC.iterdir()) == BUNDLES, "unexpected files in static/"
    stale = [n for n in BUNDLES if (out / n).read_bytes() != (STATIC / n).read_bytes()]
    assert not stale, f"annotate/widgets/static/{stale} are stale: run `make bundle` and commit"


def test_bundle_is_what_the_widgets_load():
    from annotate.widgets.adjudicator import Adjudicator
    from annotate.widgets.annotator import Annotator

    for widget, name in ((Annotator, "annotator"), (Adjudicator, "adjudicator")):
        # anywidget turns a path into live file contents (reloaded with ANYWIDGET_HMR=1)
        assert Path(str(widget._esm._path)) == STATIC / f"{name}.js"
        assert Path(str(widget._css._path)) == STATIC / f"{name}.css"
        bundle = (STATIC / f"{name}.js").read_text(encoding="utf-8")
        # one self-contained module: its parts are inlined, nothing is fetched at run time
        assert re.search(r"export \{\s*\w+ as default\s*\};\s*$", bundle)
        assert "\nimport " not in bundle and "require(" not in bundle
        for part in ("dom.js", "markdown.js", "chat.js", "keys.js", "state.js"):
            assert f"// annotate/widgets/js/{part}" in bundle
