"""Migration maps: reading, checking against two codebooks, translating labels, proposals."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from annotate.cli import main
from annotate.codebook import (
    Recode,
    codebook_from_data,
    load_codebook,
    map_yaml,
    parse_map,
    propose_map,
)
from annotate.errors import CodebookError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "project"))
from migrate_helpers import MAP_TEXT, TOY, toy_v2_data, write_toy_v2


@pytest.fixture(scope="module")
def books(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("v2")
    path, _ = write_toy_v2(folder)
    return load_codebook(TOY, modules="all"), load_codebook(path, modules="all"), path


def test_translate_each_action(books) -> None:
    old, new, _ = books
    m = parse_map(MAP_TEXT).resolve(old, new)
    assert m.translate("ai_pressure", "1") == [("ai_control", "1")]
    assert m.translate("ai_pressure", "0") == [("ai_control", "0")]
    assert m.translate("user_seeks_support", "0") == [
        ("user_seeks_support", "0"),
        ("user_vents", "0"),
    ]
    split = m.translate("user_seeks_support", "1")
    assert [type(o) for o in split] == [Recode, Recode]
    assert {o.code_id for o in split} == {"user_seeks_support", "user_vents"}
    assert m.translate("ai_empathy", "0") == [("ai_empathy", "0")]
    assert m.translate("ai_empathy", "1") == [
        Recode("ai_empathy", "definition of ai_empathy changed")
    ]
    assert m.translate("conv_human_bonds", "2") == [
        ("conv_human_bonds", "2"),
        ("conv_bonds_at_stake", "1"),
    ]
    ambiguous = m.translate("conv_human_bonds", "0")
    assert all(isinstance(o, Recode) for o in ambiguous) and len(ambiguous) == 2
    # kept codes (not in the map) carry their values as they are, set codes included
    assert m.translate("ai_move", "offer") == [("ai_move", "offer")]
    assert m.translate("user_emotions", '["anger","joy"]') == [("user_emotions", '["anger","joy"]')]
    assert m.not_coded() == ("ai_mistake",)
    assert set(m.added) == {"ai_mistake", "ai_flattery"}
    assert m.recode_where() == {"ai_empathy": [("ai_flattery", ("1",))]}


def test_set_values_map_item_by_item(books) -> None:
    old, new, _ = books
    entry = "  user_emotions: {action: recode, values: {loneliness: sadness, anger: null}}\n"
    text = MAP_TEXT.replace("codes:\n", "codes:\n" + entry, 1)
    m = parse_map(text).resolve(old, new)
    assert m.translate("user_emotions", '["joy","loneliness"]') == [
        ("user_emotions", '["joy","sadness"]')
    ]
    assert isinstance(m.translate("user_emotions", '["anger"]')[0], Recode)


def test_merge_of_binary_codes_is_their_union(books, tmp_path) -> None:
    from annotate.project._migrate import plan_events

    old, new, _ = books
    text = MAP_TEXT.replace(
        "  ai_pressure: {action: rename, into: ai_control}",
        "  ai_pressure: {action: merge, into: ai_control}\n"
        "  ai_autonomy_support: {action: merge, into: ai_control}",
    )
    m = parse_map(text).resolve(old, new)
    at = pd.Timestamp("2026-01-01", tz="UTC")
    rows = [
        ("ann", "turn", "c0", 1, "ai_pressure", "1"),
        ("ann", "turn", "c0", 1, "ai_autonomy_support", "0"),
        ("ann", "turn", "c0", 3, "ai_pressure", "0"),
        ("ann", "turn", "c0", 3, "ai_autonomy_support", "0"),
    ]
    cur = pd.DataFrame(rows, columns=["annotator_id", "unit", "conversation_id", "turn_index",
                                      "code_id", "value"])  # fmt: skip
    cur = cur.assign(created_at=at, context="full", note=None, session_id="s")
    events, recode, _ = plan_events(cur, cur.iloc[0:0], pd.DataFrame(), m, new, "m000009")
    got = {(e["turn_index"], e["code_id"]): e["value"] for e in events}
    assert got == {(1, "ai_control"): "1", (3, "ai_control"): "0"}
    assert recode.empty


def test_map_checks_against_both_codebooks(books) -> None:
    old, new, _ = books
    wrong = MAP_TEXT.replace("into: ai_control}", "into: ai_controls}").replace(
        '"0": null, "1": "1", "2": "2"}', '"0": null, "1": "1", "2": "7"}'
    )
    with pytest.raises(CodebookError) as err:
        parse_map(wrong).resolve(old, new)
    text = str(err.value)
    assert "target 'ai_controls' is not a code of the new version" in text
    assert "codes.ai_pressure: not in toy 2.0.0" not in text  # it has an entry
    assert "2: 7: not values of conv_human_bonds" in text
    for_other = MAP_TEXT.replace("version: 2.0.0", "version: 3.0.0")
    with pytest.raises(CodebookError, match=r"the map is for toy 3\.0\.0"):
        parse_map(for_other).resolve(old, new)


def test_binary_absence_cannot_become_a_value(books) -> None:
    old, new, _ = books
    text = MAP_TEXT.replace(
        "  ai_empathy: {action: redefine}",
        '  ai_empathy: {action: recode, values: {"0": "1", "1": "1"}}',
    )
    with pytest.raises(CodebookError, match=r"absence .* is implicit"):
        parse_map(text).resolve(old, new)


def test_proposal_finds_renames_and_redefinitions(books) -> None:
    old, new, _ = books
    proposal, why = propose_map(old, new)
    doc = proposal.to_dict()
    assert doc["codes"]["ai_pressure"] == {"action": "rename", "into": "ai_control"}
    assert doc["codes"]["ai_empathy"] == {"action": "redefine", "recode": "labelled"}
    assert doc["codes"]["user_seeks_support"]["action"] == "redefine"
    assert set(doc["added"]) == {"user_vents", "conv_bonds_at_stake", "ai_mistake", "ai_flattery"}
    text = map_yaml(proposal, why)
    again = parse_map(text).resolve(old, new)  # the written proposal reads back and fits
    assert again.hash == proposal.resolve(old, new).hash
    assert "# renamed: ai_control has the same definition or label" in text


def test_proposal_marks_removed_codes_for_checking(tmp_path) -> None:
    data = toy_v2_data()
    data["codes"] = [c for c in data["codes"] if c["id"] != "user_defers"]
    new = codebook_from_data(data)
    proposal, why = propose_map(load_codebook(TOY, modules="all"), new)
    assert proposal.rules["user_defers"].action == "drop"
    assert why["codes.user_defers"].startswith("CHECK: removed")


def test_cli_diff_writes_a_proposed_map(books, tmp_path) -> None:
    _, _, new_path = books
    out = tmp_path / "map.yaml"
    res = CliRunner().invoke(main, ["codebook", "diff", str(TOY), str(new_path), "--map", str(out)])
    assert res.exit_code == 0, res.output
    assert "proposed migration map written" in res.output
    m = parse_map(out.read_text(encoding="utf-8"))
    assert m.rules["ai_pressure"].into == ("ai_control",)
    again = CliRunner().invoke(
        main, ["codebook", "diff", str(TOY), str(new_path), "--map", str(out)]
    )
    assert again.exit_code == 1 and "--force" in again.output
