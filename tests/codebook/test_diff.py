"""diff_codebooks: what changed and the semver bump it needs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from annotate.codebook import Codebook, codebook_from_data, toy_codebook_path
from annotate.codebook.diff import diff_codebooks

Edit = Callable[[dict], None]


@pytest.fixture(scope="module")
def toy_data() -> dict:
    return yaml.safe_load(toy_codebook_path().read_text(encoding="utf-8"))


def _load(data: dict) -> Codebook:
    return codebook_from_data(data, modules="all")


def _code(data: dict, code_id: str) -> dict:
    return next(c for c in data["codes"] if c["id"] == code_id)


def _changed(toy_data: dict, edit: Edit, version: str | None = None) -> tuple[Codebook, Codebook]:
    import copy

    new = copy.deepcopy(toy_data)
    edit(new)
    if version:
        new["version"] = version
    return _load(toy_data), _load(new)


def test_diff_identical_needs_nothing(toy_data: dict) -> None:
    d = diff_codebooks(_load(toy_data), _load(toy_data))
    assert d.changes == () and d.required_bump == "none" and d.version_ok
    assert d.minimum_version == "1.0.0"


def _rename(data: dict) -> None:
    _code(data, "ai_empathy")["id"] = "ai_empathic"


def _remove(data: dict) -> None:
    data["codes"] = [c for c in data["codes"] if c["id"] != "user_defers"]


def _add(data: dict) -> None:
    data["codes"].append(
        {
            "id": "ai_new",
            "label": "New",
            "unit": "turn",
            "applies_to": ["assistant"],
            "level": "binary",
            "definition": "A brand new behaviour.",
        }
    )


def _reword(data: dict) -> None:
    _code(data, "ai_pressure")["definition"] += " (clarified)"


def _drop_value(data: dict) -> None:
    _code(data, "ai_move")["values"].pop()


def _add_value(data: dict) -> None:
    _code(data, "ai_move")["values"].append({"value": "refer", "label": "Refer"})


def _relabel_value(data: dict) -> None:
    _code(data, "ai_move")["values"][0]["label"] = "Reflect"


def _level(data: dict) -> None:
    _code(data, "ai_move")["level"] = "set"


def _role_added(data: dict) -> None:
    _code(data, "ai_empathy")["applies_to"] = ["assistant", "user"]


def _key(data: dict) -> None:
    _code(data, "ai_empathy")["key"] = "x"


def _evidence_on(data: dict) -> None:
    _code(data, "ai_empathy")["evidence"] = "optional"


def _evidence_required(data: dict) -> None:
    _code(data, "ai_autonomy_support")["evidence"] = "required"


def _evidence_off(data: dict) -> None:
    _code(data, "user_defers")["evidence"] = "none"


@pytest.mark.parametrize(
    ("edit", "bump", "kind"),
    [
        (_evidence_on, "minor", "evidence_changed"),
        (_evidence_required, "minor", "evidence_changed"),
        (_evidence_off, "major", "evidence_changed"),
        (_rename, "major", "code_renamed"),
        (_remove, "major", "code_removed"),
        (_add, "minor", "code_added"),
        (_reword, "patch", "wording_changed"),
        (_drop_value, "major", "values_removed"),
        (_add_value, "minor", "values_added"),
        (_relabel_value, "patch", "values_reworded"),
        (_level, "major", "level_changed"),
        (_role_added, "minor", "roles_changed"),
        (_key, "patch", "key_changed"),
    ],
)
def test_diff_bump_per_kind_of_change(toy_data: dict, edit: Edit, bump: str, kind: str) -> None:
    d = diff_codebooks(*_changed(toy_data, edit))
    assert d.required_bump == bump
    assert kind in {c.kind for c in d.changes}
    assert not d.version_ok  # the version was not bumped


def test_diff_reports_rename_not_add_and_remove(toy_data: dict) -> None:
    d = diff_codebooks(*_changed(toy_data, _rename))
    assert d.renamed == (("ai_empathy", "ai_empathic"),)
    assert d.added == () and d.removed == ()


def test_diff_rename_by_label_when_definition_also_changed(toy_data: dict) -> None:
    def edit(data: dict) -> None:
        code = _code(data, "user_defers")
        code["id"], code["definition"] = "user_hands_over", "Reworded definition."

    d = diff_codebooks(*_changed(toy_data, edit))
    assert d.renamed == (("user_defers", "user_hands_over"),)
    assert d.definitions_changed == ("user_hands_over",)


def test_diff_lists(toy_data: dict) -> None:
    def edit(data: dict) -> None:
        _add(data)
        _remove(data)
        _reword(data)
        _add_value(data)

    d = diff_codebooks(*_changed(toy_data, edit))
    assert d.added == ("ai_new",) and d.removed == ("user_defers",)
    assert d.definitions_changed == ("ai_pressure",)
    assert d.values_changed == ("ai_move",)
    doc = d.to_dict()
    assert doc["required_bump"] == "major" and doc["minimum_version"] == "2.0.0"


@pytest.mark.parametrize(
    ("edit", "version", "ok"),
    [
        (_reword, "1.0.1", True),
        (_reword, "1.0.0", False),
        (_add, "1.0.1", False),
        (_add, "1.1.0", True),
        (_add, "2.0.0", True),
        (_remove, "1.9.0", False),
        (_remove, "2.0.0", True),
        (_remove, "2.0.0-rc.1", True),
    ],
)
def test_diff_version_ok(toy_data: dict, edit: Edit, version: str, ok: bool) -> None:
    d = diff_codebooks(*_changed(toy_data, edit, version))
    assert d.version_ok is ok
    assert d.new_version == version


def test_diff_group_removed_is_major(toy_data: dict) -> None:
    def edit(data: dict) -> None:
        data["groups"] = [g for g in data["groups"] if g["id"] != "affect"]
        for c in data["codes"]:
            c["group"] = [t for t in c.get("group", []) if t != "affect"]

    d = diff_codebooks(*_changed(toy_data, edit))
    assert d.required_bump == "major"
    assert ("group_removed", "affect") in {(c.kind, c.target) for c in d.changes}


def test_diff_ordinal_reordered_is_major(toy_data: dict) -> None:
    import copy

    old = copy.deepcopy(toy_data)
    values = [{"value": v, "label": v.title()} for v in ("low", "mid", "high")]
    _code(old, "conv_autonomy_support")["values"] = values
    new = copy.deepcopy(old)
    _code(new, "conv_autonomy_support")["values"] = [values[0], values[2], values[1]]
    d = diff_codebooks(_load(old), _load(new))
    assert d.required_bump == "major"
    assert [c.kind for c in d.changes] == ["values_reordered"]
