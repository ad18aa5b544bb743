"""The default codebook (codebooks/sdt-socioaffective.yaml) meets the content requirements."""

from __future__ import annotations

import pytest

from annotate.codebook import Code, Codebook, default_codebook_path, load_codebook
from annotate.errors import CodebookError


@pytest.fixture(scope="module")
def sdt() -> Codebook:
    try:
        path = default_codebook_path()
    except CodebookError as err:  # pragma: no cover - the file ships with the repository
        pytest.fail(f"the default codebook is missing: {err}")
    return load_codebook(path, modules="all")


def _codes(cb: Codebook) -> list[Code]:
    return list(cb.codes)


def test_default_codebook_loads_with_and_without_modules(sdt: Codebook) -> None:
    core = load_codebook(default_codebook_path(), modules=[])
    assert sdt.id == "sdt-socioaffective"
    assert len(core.codes) < len(sdt.codes)
    assert all(c.module is None for c in core.codes)


def test_default_codebook_every_code_has_guidance(sdt: Codebook) -> None:
    missing = [
        c.id for c in sdt.codes if not (c.definition and c.when_to_use and c.when_not_to_use)
    ]
    assert missing == []


def test_default_codebook_when_not_to_use_names_a_neighbour(sdt: Codebook) -> None:
    lonely = []
    for code in sdt.codes:
        text = (code.when_not_to_use or "").lower()
        others = [c for c in sdt.codes if c.id != code.id]
        if not any(o.id.lower() in text or o.label.lower() in text for o in others):
            lonely.append(code.id)
    assert lonely == [], "when_not_to_use should name the neighbouring code to use instead"


def test_default_codebook_examples_and_near_misses(sdt: Codebook) -> None:
    few = [c.id for c in sdt.codes if len(c.examples) < 2 or len(c.near_misses) < 1]
    assert few == []


def test_default_codebook_scope_level_and_groups(sdt: Codebook) -> None:
    for code in sdt.codes:
        assert code.applies_to, code.id
        assert code.level in ("binary", "nominal", "ordinal", "interval", "set"), code.id
        assert code.groups, f"{code.id} has no group tags"


def test_default_codebook_keys_unique_per_unit(sdt: Codebook) -> None:
    for unit in ("turn", "conversation"):
        keys = [c.key for c in sdt.codes_for(unit) if c.key]
        assert len(keys) == len(set(keys)), unit


@pytest.mark.parametrize("role", ["user", "assistant"])
def test_default_codebook_primary_move_per_speaker(sdt: Codebook, role: str) -> None:
    moves = [
        c
        for c in sdt.codes_for("turn", role)
        if c.level == "nominal"
        and c.applies_to == (role,)
        and c.module is None
        and ("move" in c.id or any("move" in g for g in c.groups))
    ]
    assert len(moves) == 1, [c.id for c in moves]
    assert len(moves[0].values) >= 4


def test_default_codebook_ordinal_rating_per_dilemma(sdt: Codebook) -> None:
    dilemmas = [g.id for g in sdt.groups if g.kind == "dilemma"]
    assert len(dilemmas) == 3
    for dilemma in dilemmas:
        ratings = [
            c
            for c in sdt.codes_in_group(dilemma)
            if c.unit == "conversation" and c.level == "ordinal" and c.module is None
        ]
        assert ratings, f"no core conversation-level ordinal rating for dilemma {dilemma}"


def test_default_codebook_core_and_optional_modules(sdt: Codebook) -> None:
    assert sdt.modules, "the default codebook declares optional modules"
    in_modules = {c.module for c in sdt.codes if c.module}
    assert in_modules == {m.id for m in sdt.modules}, "every module has codes"
    core = [c for c in sdt.codes if c.module is None]
    assert any(c.unit == "turn" for c in core) and any(c.unit == "conversation" for c in core)
    needs = {g.id for g in sdt.groups if g.kind == "need"}
    assert needs >= {"autonomy", "competence", "relatedness"}
    for need in needs:
        assert any(need in c.groups and "assistant" in c.applies_to for c in core), need
        assert any(need in c.groups and "user" in c.applies_to for c in core), need


def test_default_codebook_has_no_content_notes(sdt: Codebook) -> None:
    from annotate.codebook.lint import lint_codebook

    assert [str(n) for n in lint_codebook(sdt)] == []
