"""REFI-QDA codebook exchange (.qdc): structure, lossless round trip, foreign codebooks."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from annotate.codebook import Codebook, load_codebook, parse_codebook
from annotate.codebook.refi import MARKER, NS, from_qdc, read_qdc_data, to_qdc, write_qdc
from annotate.errors import CodebookError

Q = f"{{{NS}}}"


def _root(codebook: Codebook) -> ET.Element:
    return ET.fromstring(to_qdc(codebook))


@pytest.mark.parametrize("modules", [None, "all", []])
def test_refi_round_trip_is_lossless(toy_path: Path, tmp_path: Path, modules: object) -> None:
    cb = load_codebook(toy_path, modules=modules)  # type: ignore[arg-type]
    back = from_qdc(write_qdc(cb, tmp_path / "toy.qdc"))
    assert back.hash == cb.hash
    assert back.document == cb.document
    assert back.codes == cb.codes and back.groups == cb.groups and back.modules == cb.modules
    assert back.version == cb.version


def test_refi_round_trip_with_awkward_text(tmp_path: Path) -> None:
    text = """\
id: awk
version: 2.1.0
title: "A & B <c> \\"quoted\\""
codes:
  - id: x
    label: "Label <with> & ampersand"
    unit: turn
    applies_to: [user]
    level: binary
    definition: "Line one\\nline two ] ]]> {json: true}"
"""
    cb = parse_codebook(text)
    assert from_qdc(write_qdc(cb, tmp_path / "a.qdc")).hash == cb.hash


def test_refi_root_namespace_and_origin(codebook: Codebook) -> None:
    root = _root(codebook)
    assert root.tag == f"{Q}CodeBook"
    assert root.get("origin", "").startswith("annotate (toy 1.0.0")
    assert [c.tag for c in root] == [f"{Q}Codes", f"{Q}Sets"]
    assert to_qdc(codebook).startswith('<?xml version="1.0" encoding="utf-8"?>\n<CodeBook xmlns=')


def test_refi_groups_become_code_hierarchy_and_sets(codebook: Codebook) -> None:
    root = _root(codebook)
    top = root.find(f"{Q}Codes")
    assert top is not None
    folders = {el.get("name"): el for el in top.findall(f"{Q}Code")}
    assert folders["Autonomy"].get("isCodable") == "false"
    inside = [el.get("name") for el in folders["Autonomy"].findall(f"{Q}Code")]
    assert inside == [
        "Supports autonomy",
        "Pressures the user",
        "Defers the decision",
        "Autonomy support (global)",
    ]
    sets = {s.get("name"): s for s in root.iter(f"{Q}Set")}
    guids = {el.get("guid"): el.get("name") for el in root.iter(f"{Q}Code")}
    members = [guids[m.get("guid")] for m in sets["Need-thwarting"].findall(f"{Q}MemberCode")]
    assert members == ["Pressures the user", "Defers the decision"]


def test_refi_binary_codable_valued_codes_have_value_children(codebook: Codebook) -> None:
    codes = {el.get("name"): el for el in _root(codebook).iter(f"{Q}Code")}
    assert codes["Expresses empathy"].get("isCodable") == "true"
    assert codes["Expresses empathy"].findall(f"{Q}Code") == []
    move = codes["Assistant primary move"]
    assert move.get("isCodable") == "false"
    assert [c.get("name") for c in move.findall(f"{Q}Code")] == [
        "Listen",
        "Ask",
        "Inform",
        "Advise",
        "Direct",
        "Other",
    ]
    assert all(c.get("isCodable") == "true" for c in move.findall(f"{Q}Code"))


def test_refi_descriptions_readable_then_metadata(codebook: Codebook) -> None:
    codes = {el.get("name"): el for el in _root(codebook).iter(f"{Q}Code")}
    desc = codes["Expresses empathy"].findtext(f"{Q}Description") or ""
    readable, marker, block = desc.partition(MARKER)
    assert marker and readable.startswith(codebook.code("ai_empathy").definition)
    assert "When not to use:" in readable and '"level": "binary"' in block


def test_refi_guids_are_stable_and_valid(codebook: Codebook) -> None:
    import uuid

    assert to_qdc(codebook) == to_qdc(codebook)
    root = _root(codebook)
    guids = [el.get("guid") for el in root.iter(f"{Q}Code")]
    assert len(guids) == len(set(guids))  # unique among codes
    for g in guids:
        uuid.UUID(str(g))  # a GUID as REFI requires


def test_refi_import_foreign_codebook(foreign_qdc: Path) -> None:
    path = foreign_qdc
    with pytest.warns(UserWarning, match=r"W201.*3 code\(s\)"):
        cb = from_qdc(path)
    assert cb.id == "nvivo" and cb.version == "1.0.0"
    assert cb.code_ids == ("sadness", "fear_worry", "advice_giving")
    assert cb.code("sadness").definition == "Sad, low, grieving."
    assert cb.code("sadness").groups == ("emotions", "negative")
    assert cb.code("fear_worry").label == "Fear & worry"
    assert cb.code("advice_giving").level == "binary" and cb.code("advice_giving").groups == ()
    assert {g.id: g.kind for g in cb.groups} == {"emotions": "other", "negative": "other"}


def test_refi_name_edited_in_qda_tool_becomes_label(codebook: Codebook, tmp_path: Path) -> None:
    text = to_qdc(codebook).replace('name="Expresses empathy"', 'name="Shows empathy"')
    path = tmp_path / "edited.qdc"
    path.write_text(text, encoding="utf-8")
    back = from_qdc(path)
    assert back.code("ai_empathy").label == "Shows empathy"
    assert back.hash != codebook.hash


def test_refi_code_added_in_qda_tool_under_a_group(codebook: Codebook, tmp_path: Path) -> None:
    root = _root(codebook)
    folder = next(el for el in root.iter(f"{Q}Code") if el.get("name") == "Relatedness")
    ET.SubElement(
        folder,
        f"{Q}Code",
        {"guid": "9" * 8 + "-9999-9999-9999-" + "9" * 12, "name": "Humour", "isCodable": "true"},
    )
    path = tmp_path / "added.qdc"
    path.write_text(ET.tostring(root, encoding="unicode"), encoding="utf-8")
    with pytest.warns(UserWarning, match="W201"):
        back = from_qdc(path)
    assert back.code_ids[: len(codebook.codes)] == codebook.code_ids
    assert back.code("humour").groups == ("relatedness",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<CodeBook><Codes>", r"E208.*broken XML at line 1"),
        ("<Project xmlns='urn:QDA-XML:project:1.0'/>", r"E208.*root element is <Project>"),
        ("not xml at all", r"E208.*broken XML"),
    ],
)
def test_refi_bad_files_are_one_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.qdc"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CodebookError, match=expected):
        from_qdc(path)


def test_refi_project_file_with_codebook_inside(codebook: Codebook, tmp_path: Path) -> None:
    inner = to_qdc(codebook).split("\n", 1)[1]
    path = tmp_path / "project.qde"
    path.write_text(f"<Project xmlns:x='urn:x' name='p'>{inner}</Project>", encoding="utf-8")
    assert from_qdc(path).hash == codebook.hash


def test_refi_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CodebookError, match="E206"):
        read_qdc_data(tmp_path / "none.qdc")


def test_refi_invalid_metadata_reports_problems(codebook: Codebook, tmp_path: Path) -> None:
    text = to_qdc(codebook).replace('"level": "binary"', '"level": "binaryy"', 1)
    path = tmp_path / "broken_meta.qdc"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CodebookError, match=r"E201.*\n.*broken_meta\.qdc: codes\[0\]\.level"):
        from_qdc(path)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"groups": [', '"groups": 5, "x": ['),
        ('"groups": [', '"groups": ["oops", '),
        ('"active_modules": []', '"active_modules": 7'),
        ('"active_modules": []', '"active_modules": ["nope"]'),
        ('{"code": {', '{"code": {"group": "str", '),
        ('{"code": {', '{"position": "x", "code": {'),
        ('{"codebook": {', '{"codebook": {"codes": 1, '),
        ('"level": "binary"', '"level": null'),
    ],
)
def test_refi_garbage_metadata_is_a_clean_error(
    codebook: Codebook, tmp_path: Path, old: str, new: str
) -> None:
    text = to_qdc(codebook)
    assert old in text
    path = tmp_path / "garbage.qdc"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    try:
        back = from_qdc(path)
    except CodebookError as err:
        assert str(err).startswith(("[E201]", "[E207]"))
    else:
        assert isinstance(back, Codebook)
