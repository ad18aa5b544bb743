"""The README and the user guide (docs/) are tested: they name what exists, the command table is
current, every link resolves, every python example type-checks.

As datasette does in its tests/test_docs.py: every registered importer and every CLI command
appears in the README; the command table is generated from ``--help`` (``make docs``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from annotate.cli._readme import command_names, readme_table, render_block
from annotate.importers import FORMATS

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
#: the user guide, in the order of the flow (its python examples build on README's demo project)
GUIDE = [
    "corpora", "codebook", "projects", "annotating", "agreement", "llm-coders", "llm",
    "analysis", "adjudication-export",
]  # fmt: skip
DOCS = sorted((REPO / "docs").glob("*.md"))
GUIDE_TEXT = {n: (REPO / "docs" / f"{n}.md").read_text(encoding="utf-8") for n in GUIDE}
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@pytest.mark.parametrize("command", ["make lab", "make test"])
def test_readme_names_the_two_commands(command: str) -> None:
    assert f"{command}" in README


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_readme_names_every_importer(fmt: str) -> None:
    """Each registered importer's CLI name (``annotate import FORMAT``) is documented."""
    corpora = GUIDE_TEXT["corpora"]
    assert f"`{fmt}`" in corpora, f"importer {fmt!r} is not in docs/corpora.md"


@pytest.mark.parametrize("command", command_names())
def test_readme_names_every_cli_command(command: str) -> None:
    assert command in README, f"`{command}` is not in README.md: run `make docs`"


def test_cli_table_is_current() -> None:
    found = readme_table(README)
    assert found is not None, "README.md lacks the <!-- cli-table --> block"
    assert found == render_block(), "README.md's command table is stale: run `make docs`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_readme_names_every_notebook(path: Path) -> None:
    assert f"(notebooks/{path.name})" in README, f"README.md does not link {path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_have_no_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [
        i
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} have outputs; clear them "
        "(jupyter nbconvert --clear-output --inplace)"
    )


def test_quickstart_is_what_make_lab_opens() -> None:
    assert (REPO / "notebooks" / "00_quickstart.ipynb").exists()
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^lab:.*\n\t.*jupyter lab .*notebooks/00_quickstart\.ipynb", makefile, re.M)
    assert re.search(r"^docs:.*\n\t.*annotate\.cli\._readme --write README\.md", makefile, re.M)


def test_ci_runs_make_test() -> None:
    run = REPO / ".ci" / "run"
    lines = [ln.strip() for ln in run.read_text(encoding="utf-8").splitlines()]
    assert "make test" in lines
    assert os.access(run, os.X_OK), ".ci/run must be executable"


LAYOUT = [
    "pyproject.toml",
    "README.md",
    "Makefile",
    ".ci/run",
    "annotate/",
    "corpora/",
    "codebooks/",
    "notebooks/",
    "tests/",
    "bench/",
]


@pytest.mark.parametrize("entry", LAYOUT)
def test_design_top_level_layout(entry: str) -> None:
    """docs/internals.md's required top level exists and the README's layout names it."""
    path = REPO / entry.rstrip("/")
    assert path.is_dir() if entry.endswith("/") else path.is_file(), f"{entry} is missing"
    layout = README[README.index("## Layout") :]
    assert re.search(rf"^{re.escape(entry)}\s", layout, re.MULTILINE), (
        f"{entry} is not in the README's layout"
    )


def _anchors(path: Path) -> set[str]:
    prose = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slug(m) for m in re.findall(r"^#{1,6} (.+)$", prose, re.MULTILINE)}


def _links(path: Path) -> list[str]:
    return sorted(set(LINK.findall(FENCE.sub("", path.read_text(encoding="utf-8")))))


@pytest.mark.parametrize(
    ("page", "target"),
    [(p, t) for p in [REPO / "README.md", *DOCS] for t in _links(p)],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_links_resolve(page: Path, target: str) -> None:
    """In README.md and docs/*.md: anchors name a heading of their page; relative links name a
    file of the repository (relative to the page)."""
    if target.startswith(("http://", "https://", "mailto:")):
        return
    path, _, anchor = target.partition("#")
    file = (page.parent / path).resolve() if path else page
    assert file.exists(), f"{page.name}: {target} does not exist"
    assert REPO in file.parents or file == REPO, f"{page.name}: {target} leaves the repository"
    if anchor and file.suffix == ".md":
        assert anchor in _anchors(file), f"{page.name}: no heading for {target}"


@pytest.mark.parametrize("name", GUIDE)
def test_readme_maps_every_guide_page(name: str) -> None:
    assert f"(docs/{name}.md)" in README, f"README's documentation map lacks docs/{name}.md"


PYTHON_BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.DOTALL | re.MULTILINE)
#: a call every README example must not make: the packages are modules, not functions
NEGATIVE = "annotate.agreement(project.unit_labels(), project.codebook)  # negative control\n"


def readme_python() -> str:
    """The python code blocks of README.md, then of the guide's pages in the flow's order, as
    one module (later blocks use earlier names, as a reader going through them would)."""
    texts = [("README", README), *((f"docs/{n}.md", GUIDE_TEXT[n]) for n in GUIDE)]
    blocks = [(name, textwrap.dedent(code)) for name, text in texts
              for _, code in PYTHON_BLOCK.findall(text)]  # fmt: skip
    return "\n".join(
        f"# --- README block {i} ({name})\n{code}" for i, (name, code) in enumerate(blocks, 1)
    )


def test_readme_examples_type_check(tmp_path: Path) -> None:
    """Every python example of the README and the guide type-checks (mypy, the project's
    configuration), and the check is live: a call of the module ``annotate.agreement`` appended
    to them is caught."""
    code = readme_python()
    assert code.count("# --- README block") >= 8 and "annotate.agreement.report(" in code
    src = tmp_path / "readme_examples.py"
    src.write_text(code + NEGATIVE, encoding="utf-8")
    negative_line = len((code + NEGATIVE).splitlines())
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"),
         "--cache-dir", str(REPO / ".mypy_cache"), "--follow-imports", "silent",
         "--show-error-codes", "--no-error-summary", str(src)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    # (mypy's cache may replay an unchanged file's errors under the path it had before)
    errors = re.findall(r"^.*?readme_examples\.py:(\d+): error: (.*)$", result.stdout, re.M)
    assert (str(negative_line), "Module not callable  [operator]") in errors, result.stdout
    stray = [f"line {n}: {msg}" for n, msg in errors if n != str(negative_line)]
    assert not stray, "README examples do not type-check:\n" + "\n".join(stray) + "\n" + code
