"""The Codebook / Code API of docs/internals.md, on the toy codebook."""

from __future__ import annotations

import dataclasses

import pytest

from annotate.codebook import Codebook, Version
from annotate.errors import CodebookError


def test_model_toy_codebook_header(codebook: Codebook) -> None:
    assert codebook.id == "toy"
    assert codebook.version == "1.0.0"
    assert (codebook.version.major, codebook.version.minor, codebook.version.patch) == (1, 0, 0)
    assert codebook.title == "Toy SDT codebook"
    assert len(codebook.hash) == 64 and int(codebook.hash, 16) >= 0


def test_model_codes_in_file_order_without_optional_modules(codebook: Codebook) -> None:
    assert codebook.code_ids[:3] == ("ai_autonomy_support", "ai_pressure", "ai_empathy")
    assert "ai_repair" not in codebook.code_ids  # module trust is not default
    assert codebook.active_modules == ()


def test_model_code_lookup_unknown_lists_available(codebook: Codebook) -> None:
    assert codebook.code("ai_empathy").label == "Expresses empathy"
    with pytest.raises(CodebookError, match=r"E203.*'ai_empaty'.*ai_autonomy_support"):
        codebook.code("ai_empaty")


def test_model_codes_for_unit_and_role(codebook: Codebook) -> None:
    user_turn = [c.id for c in codebook.codes_for("turn", "user")]
    assert user_turn == ["user_seeks_support", "user_defers", "user_move", "user_emotions"]
    conv = [c.id for c in codebook.codes_for("conversation")]
    assert conv == ["conv_autonomy_support", "conv_human_bonds", "conv_warmth"]
    with pytest.raises(CodebookError, match="E209"):
        codebook.codes_for("turns")


def test_model_codes_in_group(codebook: Codebook) -> None:
    ids = [c.id for c in codebook.codes_in_group("thwarting")]
    assert ids == ["ai_pressure", "user_defers"]
    with pytest.raises(CodebookError, match=r"E209.*autonomy"):
        codebook.codes_in_group("autonomyy")


def test_model_binary_defaults_absent_present(codebook: Codebook) -> None:
    code = codebook.code("ai_empathy")
    assert code.value_ids == ("0", "1")
    assert (code.absent_value, code.present_value) == ("0", "1")
    with pytest.raises(CodebookError, match=r"E210.*'ai_move' is nominal: absent_value"):
        _ = codebook.code("ai_move").absent_value


def test_model_ordinal_values_in_order(codebook: Codebook) -> None:
    assert codebook.code("conv_human_bonds").value_ids == ("-2", "-1", "0", "1", "2")
    assert codebook.code("conv_warmth").value_ids == tuple("1234567")


@pytest.mark.parametrize(
    ("code_id", "value", "ok"),
    [
        ("ai_empathy", "1", True),
        ("ai_empathy", "2", False),
        ("ai_empathy", 1, False),
        ("ai_move", "listen", True),
        ("ai_move", "Listen", False),
        ("conv_warmth", "7", True),
        ("conv_warmth", "7.0", False),
        ("user_emotions", "[]", True),
        ("user_emotions", '["anxiety","sadness"]', True),
        ("user_emotions", '["sadness","anxiety"]', False),  # not sorted
        ("user_emotions", '["anxiety", "sadness"]', False),  # not canonical spacing
        ("user_emotions", '["anxiety","anxiety"]', False),
        ("user_emotions", '["boredom"]', False),
        ("user_emotions", "sadness", False),
    ],
)
def test_model_check_value(codebook: Codebook, code_id: str, value: object, ok: bool) -> None:
    code = codebook.code(code_id)
    if ok:
        code.check_value(value)  # type: ignore[arg-type]
    else:
        with pytest.raises(CodebookError, match=f"E204.*{code_id}"):
            code.check_value(value)  # type: ignore[arg-type]


def test_model_encode_set_is_canonical(codebook: Codebook) -> None:
    code = codebook.code("user_emotions")
    assert code.encode_set(["sadness", "anxiety", "sadness"]) == '["anxiety","sadness"]'
    assert code.encode_set([]) == "[]"
    with pytest.raises(CodebookError):
        code.encode_set(["boredom"])


def test_model_is_immutable(codebook: Codebook) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        codebook.id = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        codebook.codes[0].label = "x"  # type: ignore[misc]
    assert isinstance(codebook.codes, tuple)


def test_model_version_precedence() -> None:
    assert Version("1.0.0-rc.1").key < Version("1.0.0").key < Version("1.10.0").key
    assert Version("2.0.0").key > Version("1.99.99").key
    with pytest.raises(ValueError, match="semantic version"):
        Version("1.0")


def test_model_codes_and_codebook_are_hashable(codebook: Codebook) -> None:
    pressure = codebook.code("ai_pressure")
    assert any(not isinstance(q, str) for q in pressure.cues)  # a token pattern
    assert len(set(codebook.codes)) == len(codebook.codes)
    assert {codebook: 1}[codebook] == 1
