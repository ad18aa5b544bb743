"""Markdown in the chat view, in a real JupyterLab driven by headless Chromium.

A turn with a table, nested and numbered lists, a heading, links, code and hostile markup is
parsed by markdown-it-py in the kernel and built by the bundled front end with textContent only:
the browser shows real tables and nested lists, and nothing from the text ever runs.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from jlab import console_errors, open_notebook, run_all
from playwright.sync_api import expect
from widget_data import make_project

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# JupyterLab logs this when a kernel request is cancelled under an open page (not ours)
HARMLESS = re.compile(r"Canceled future for \w+ message before replies were done")

RICH = """## Options compared

| option | cost | note |
|:--|--:|:-:|
| stay | 0 | you need to decide |
| move | 1200 | **bold** `code` |

3. First step
4. Second step
   - a nested point
     1. deeper still
   - another point

> a quote with [a link](https://example.org/path?q=1) and <https://example.org>

<script>window.__annotate_pwned = 3</script>

<img src=x onerror="window.__annotate_pwned=4">

[click](javascript:window.__annotate_pwned=5) <b onmouseover="window.__annotate_pwned=6">hover</b>

    indented code <b>not bold</b>
"""


def write_notebook(path: Path, project_dir: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cells = [
        f"import annotate\nproject = annotate.Project.open({project_dir!r})",
        'annotate.Annotator(project, annotator="alice", cues=True)',
    ]
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, path)


def test_markdown_renders_as_html_structure_never_as_markup(lab, page):
    folder = lab.root / "md1"
    shutil.rmtree(folder, ignore_errors=True)
    convs = {"m1": ([("user", "Which option should I take?"), ("assistant", RICH)], {})}
    make_project(folder, coders=("alice",), convs=convs)
    write_notebook(lab.root / "markdown.ipynb", "md1/project")
    errors = console_errors(page)

    open_notebook(page, lab, "markdown.ipynb")
    run_all(page)
    root = page.locator(".annotate-annotator")
    expect(root).to_have_attribute("data-conversation-id", "m1", timeout=60_000)
    bubble = root.locator('[data-turn-index="1"] .aa-bubble')
    expect(bubble).to_be_visible()

    # a heading with its level
    expect(bubble.locator('[role="heading"][aria-level="2"]')).to_have_text("Options compared")

    # the table: a real <table> with a header row, two body rows, alignment and inline markdown
    table = bubble.locator("table")
    expect(table).to_have_count(1)
    expect(table.locator("thead th")).to_have_text(["option", "cost", "note"])
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").nth(1).locator("td")).to_have_text(
        ["move", "1200", "bold code"]
    )
    expect(table.locator("th").nth(1)).to_have_attribute("data-align", "right")
    align = table.locator("tbody td").nth(1).evaluate("td => getComputedStyle(td).textAlign")
    assert align == "right"
    expect(table.locator("td strong")).to_have_text("bold")
    expect(table.locator("td code")).to_have_text("code")
    # cue highlighting works inside the rendered table
    expect(table.locator("mark.aa-cue")).to_have_text("you need to")

    # numbered list keeps its start number; lists nest three deep
    ol = bubble.locator("ol[start='3']")
    expect(ol).to_have_count(1)
    expect(ol.locator(":scope > li")).to_have_count(2)
    nested = ol.locator(":scope > li").nth(1).locator(":scope > ul > li")
    expect(nested).to_have_count(2)
    expect(nested.first.locator(":scope > ol > li")).to_have_text("deeper still")
    first_number = ol.evaluate("ol => ol.start")
    assert first_number == 3

    # links are text with their URL, not live links
    quote = bubble.locator("blockquote")
    expect(quote.locator(".aa-link").first).to_have_text("a link")
    expect(quote.locator(".aa-url").first).to_contain_text("https://example.org/path?q=1")
    expect(quote.locator(".aa-link")).to_have_count(2)
    expect(quote.locator(".aa-url")).to_have_count(1)  # the autolink shows its URL once
    assert root.locator(".aa-chat a, .aa-chat [href]").count() == 0

    # code blocks are literal; raw HTML and script URLs stay text and never run
    expect(bubble.locator("pre")).to_have_text("indented code <b>not bold</b>")
    expect(bubble).to_contain_text("<script>window.__annotate_pwned = 3</script>")
    expect(bubble).to_contain_text('<img src=x onerror="window.__annotate_pwned=4">')
    expect(bubble).to_contain_text("[click](javascript:window.__annotate_pwned=5)")
    bubble.get_by_text("hover", exact=False).hover()
    assert bubble.locator("script, img, iframe, b, [onerror], [onmouseover]").count() == 0
    assert page.evaluate("() => window.__annotate_pwned") is None
    assert not [e for e in errors if not HARMLESS.search(e)], errors
