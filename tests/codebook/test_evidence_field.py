"""The codebook field ``evidence: required | optional | none`` (evidence spans of a turn code)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from annotate.codebook import Codebook, load_codebook, parse_codebook
from annotate.codebook.refi import from_qdc, write_qdc
from annotate.codebook.render import render_html, render_markdown
from annotate.codebook.schema import json_schema
from annotate.errors import CodebookError

BASE = """
id: ev
version: 1.0.0
title: Evidence test
codes:
  - id: ai_pressure
    label: Pressures
    unit: turn
    applies_to: [assistant]
    level: binary
    definition: Controlling language.{extra}
  - id: conv_warmth
    label: Warmth
    unit: conversation
    level: ordinal
    definition: How warm.{conv_extra}
    values: [{{value: "1", label: low}}, {{value: "2", label: high}}]
"""


def _text(extra: str = "", conv_extra: str = "") -> str:
    return BASE.format(extra=extra, conv_extra=conv_extra)


def test_evidence_defaults_to_none_and_keeps_old_hashes() -> None:
    """Writing the default out does not change the hash: projects created before the field
    existed check their codebook's hash on open (E317) and must keep opening."""
    plain = parse_codebook(_text())
    explicit = parse_codebook(_text("\n    evidence: none"))
    assert plain.code("ai_pressure").evidence == "none"
    assert explicit.hash == plain.hash
    assert "evidence" not in json.dumps(plain.document)
    required = parse_codebook(_text("\n    evidence: required"))
    assert required.code("ai_pressure").evidence == "required"
    assert required.hash != plain.hash  # a real change of content changes the hash


def test_toy_codebook_marks_evidence(codebook: Codebook) -> None:
    got = {c.id: c.evidence for c in codebook.codes if c.evidence != "none"}
    assert got == {
        "ai_autonomy_support": "optional",
        "user_defers": "required",
        "ai_move": "optional",
        "user_emotions": "optional",
    }


def test_evidence_on_a_conversation_code_is_refused_with_its_line(
    write_yaml: Callable[[str, str], Path],
) -> None:
    path = write_yaml(_text(conv_extra="\n    evidence: optional"), "cb.yaml")
    with pytest.raises(CodebookError) as err:
        load_codebook(path)
    text = str(err.value)
    assert "codes[1].evidence" in text and "needs a turn code" in text
    assert "(line 16)" in text  # the line of `evidence:`


def test_evidence_unknown_word_is_refused() -> None:
    with pytest.raises(CodebookError, match=r"codes\[0\]\.evidence: 'always' is not allowed"):
        parse_codebook(_text("\n    evidence: always"))


@pytest.mark.parametrize(
    ("level", "value", "needed"),
    [("binary", "1", True), ("binary", "0", False), ("binary", None, False)],
)
def test_requires_evidence_binary(level: str, value: str | None, needed: bool) -> None:
    code = parse_codebook(_text("\n    evidence: required")).code("ai_pressure")
    assert code.level == level
    assert code.requires_evidence(value) is needed


def test_requires_evidence_set_and_optional(codebook: Codebook) -> None:
    emotions = codebook.code("user_emotions")  # optional: never required
    assert not emotions.requires_evidence('["sadness"]')
    cb = parse_codebook(
        _text()
        + """  - id: feelings
    label: Feelings
    unit: turn
    applies_to: [user]
    level: set
    definition: Feelings shown.
    evidence: required
    values: [{value: sad, label: Sad}, {value: glad, label: Glad}]
"""
    )
    feelings = cb.code("feelings")
    assert feelings.requires_evidence('["sad"]')
    assert not feelings.requires_evidence("[]")  # "none of them" needs no words


def test_manual_and_schema_show_evidence(codebook: Codebook) -> None:
    html = render_html(codebook)
    md = render_markdown(codebook)
    assert "Evidence" in html and "required (mark the words that justify the code)" in html
    assert "required (mark the words that justify the code)" in md
    prop = json_schema()["$defs"]["CodeSpec"]["properties"]["evidence"]
    assert prop["enum"] == ["required", "optional", "none"] and prop["default"] == "none"


def test_refi_round_trip_keeps_evidence(toy_path: Path, tmp_path: Path) -> None:
    cb = load_codebook(toy_path, modules="all")
    back = from_qdc(write_qdc(cb, tmp_path / "toy.qdc"))
    assert {c.id: c.evidence for c in back.codes} == {c.id: c.evidence for c in cb.codes}
    assert back.hash == cb.hash
