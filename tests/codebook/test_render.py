"""The printable coding manual: every code present, TOC, grouping, escaping."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from annotate.codebook import Codebook, load_codebook, parse_codebook
from annotate.codebook.render import render_html, render_markdown, sections, write_manual
from annotate.errors import CodebookError

NASTY = """\
id: nasty
version: 0.1.0
title: "Tags <b>bold</b> & co"
groups:
  - {id: autonomy, label: "Autonomy & <i>choice</i>", kind: need}
codes:
  - id: evil
    label: "<script>alert('x')</script>"
    unit: turn
    applies_to: [assistant]
    level: nominal
    group: [autonomy]
    definition: "Uses <script>alert(1)</script> & \\"quotes\\" | pipes *stars* _under_"
    when_to_use: "When R&D <img src=x onerror=alert(2)> happens"
    when_not_to_use: "Not for plain text; use other instead"
    examples:
      - {text: "a <b>bold</b> & claim", context: "<context> & more"}
    near_misses:
      - {text: "</article><script>", why: "because & <why>"}
    cues: ["<cue>&"]
    values:
      - {value: "<v1>", label: "L & 1", definition: "<def>"}
      - {value: "v2", label: "L2"}
  - id: other
    label: Other
    unit: turn
    applies_to: [assistant]
    level: binary
    definition: plain
"""


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        d = dict(attrs)
        if d.get("id"):
            self.ids.append(str(d["id"]))
        if d.get("href"):
            self.hrefs.append(str(d["href"]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html_text: str) -> _Collector:
    c = _Collector()
    c.feed(html_text)
    return c


@pytest.fixture(scope="module")
def nasty() -> Codebook:
    return parse_codebook(NASTY)


def test_render_html_escapes_every_text(nasty: Codebook) -> None:
    page = render_html(nasty)
    parsed = _parse(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert "Autonomy &amp; &lt;i&gt;choice&lt;/i&gt;" in page
    assert "<script>" not in page and "<img" not in page and "</article><script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "R&amp;D" in page and "&lt;v1&gt;" in page and "&lt;cue&gt;&amp;" in page
    text = "".join(parsed.text)
    assert 'Uses <script>alert(1)</script> & "quotes"' in text
    assert "a <b>bold</b> & claim" in text and "<context> & more" in text


def test_render_html_is_self_contained_and_printable(nasty: Codebook) -> None:
    page = render_html(nasty)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "@media print" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    assert "<link" not in page


def test_render_html_links_code_ids_in_guidance(nasty: Codebook) -> None:
    parsed = _parse(render_html(nasty))
    assert "#code-other" in parsed.hrefs  # "use other instead" links to the code
    assert all(h.startswith("#") for h in parsed.hrefs)
    targets = {h[1:] for h in parsed.hrefs}
    assert targets <= set(parsed.ids), targets - set(parsed.ids)


def test_render_html_every_code_and_toc(codebook: Codebook) -> None:
    page = render_html(codebook)
    parsed = _parse(page)
    text = "".join(parsed.text)
    for code in codebook.codes:
        assert f"code-{code.id}" in parsed.ids
        assert f"#code-{code.id}" in parsed.hrefs  # in the table of contents
        for part in (code.definition, code.when_to_use, code.when_not_to_use):
            assert part and part in text
        for ex in code.examples:
            assert ex.text in text
        for nm in code.near_misses:
            assert nm.text in text and nm.why in text
    assert "Contents" in page
    assert parsed.ids.count("code-ai_empathy") == 1


def test_render_sections_by_speaker_then_need(codebook: Codebook) -> None:
    found = {anchor: needs for anchor, _, needs in sections(codebook)}
    assert list(found) == ["turn-assistant", "turn-user", "conversation"]
    assistant = dict(found["turn-assistant"])
    assert [c.id for c in assistant["Autonomy"]] == ["ai_autonomy_support", "ai_pressure"]
    assert [c.id for c in assistant["Relatedness"]] == ["ai_empathy"]
    assert [c.id for c in assistant["Other codes"]] == ["ai_move"]
    listed = [c.id for _, needs in found.items() for _, cs in needs for c in cs]
    assert sorted(listed) == sorted(codebook.code_ids)  # each code exactly once


def test_render_markdown_escapes_and_lists_every_code(nasty: Codebook, codebook: Codebook) -> None:
    md = render_markdown(nasty)
    assert "<script>" not in md and "<img" not in md
    assert "&lt;script&gt;" in md and "R&amp;D" in md and r"\|" in md
    full = render_markdown(codebook)
    for code in codebook.codes:
        assert f'<a id="code-{code.id}"></a>' in full
        assert f"(#code-{code.id})" in full
    assert "## Contents" in full


def test_render_write_manual_by_suffix(codebook: Codebook, tmp_path: Path) -> None:
    assert write_manual(codebook, tmp_path / "m.html").read_text().startswith("<!DOCTYPE")
    assert write_manual(codebook, tmp_path / "m.md").read_text().startswith("# Toy")
    with pytest.raises(CodebookError, match=r"E209.*\.pdf.*\.html, \.md"):
        write_manual(codebook, tmp_path / "m.pdf")


def test_render_modules_shown_when_loaded(toy_path: Path) -> None:
    page = render_html(load_codebook(toy_path, modules="all"))
    assert 'id="code-ai_repair"' in page
    core = render_html(load_codebook(toy_path))
    assert 'id="code-ai_repair"' not in core
    assert 'href="#code-ai_repair"' not in core  # no link to a code that is not loaded
