"""The default codebook (codebooks/sdt-socioaffective.yaml) meets the content requirements."""

from __future__ import annotations

import pytest

from annotate.codebook import Code, Codebook, default_codebook_path, load_codebook
from annotate.errors import CodebookError


@pytest.fixture(scope="module", params=[None, "2.0.0", "1.0.0"], ids=["2.1.0", "2.0.0", "1.0.0"])
def sdt(request) -> Codebook:
    """The default codebook (2.1.0) and the 2.0.0 and 1.0.0 files kept for old projects: all
    complete."""
    try:
        path = default_codebook_path(request.param)
    except CodebookError as err:  # pragma: no cover - the files ship with the repository
        pytest.fail(f"the default codebook is missing: {err}")
    return load_codebook(path, modules="all")


@pytest.fixture(scope="module")
def v2() -> Codebook:
    """Version 2.0.0 (the file kept for projects coded with it)."""
    return load_codebook(default_codebook_path("2.0.0"), modules="all")


@pytest.fixture(scope="module")
def v21() -> Codebook:
    """The default codebook, 2.1.0."""
    return load_codebook(default_codebook_path(), modules="all")


def _codes(cb: Codebook) -> list[Code]:
    return list(cb.codes)


def test_default_codebook_loads_with_and_without_modules(sdt: Codebook) -> None:
    core = load_codebook(sdt.path, modules=[])
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


def test_default_codebook_examples_differ_from_near_misses(sdt: Codebook) -> None:
    for code in sdt.codes:
        examples = {e.text for e in code.examples}
        assert len(examples) == len(code.examples), code.id
        assert not examples & {n.text for n in code.near_misses}, code.id
        assert all(n.why.strip() for n in code.near_misses), code.id


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


# --- 2.0.0: the audit of 1.0.0 -----------------------------------------------------------------


def test_versions_are_kept_side_by_side(v2: Codebook) -> None:
    old = load_codebook(default_codebook_path("1.0.0"), modules="all")
    assert (str(old.version), str(v2.version)) == ("1.0.0", "2.0.0")
    assert old.id == v2.id
    # no code id of 1.0.0 is reused with another meaning: every 1.0.0 id is still there
    assert set(old.code_ids) <= set(v2.code_ids)


@pytest.mark.parametrize("dilemma", ["wellbeing", "autonomy", "bonds"])
def test_dilemmas_separate_not_at_stake_from_balanced(v2: Codebook, dilemma: str) -> None:
    rating = v2.code(f"conv_dilemma_{dilemma}")
    stake = v2.code(f"conv_dilemma_{dilemma}_stake")
    assert stake.level == "binary" and stake.module is None
    assert [v.label.lower() for v in stake.values] == ["not at stake", "at stake"]
    assert f"dilemma_{dilemma}" in stake.groups
    middle = rating.value("3")
    assert middle.label == "Balanced" and "not at stake" not in (middle.definition or "").lower()
    assert stake.id in (rating.when_to_use or "")


def test_dilemma_autonomy_no_longer_duplicates_support_and_control(v2: Codebook) -> None:
    old = load_codebook(default_codebook_path("1.0.0"))
    code = v2.code("conv_dilemma_autonomy")
    assert code.definition != old.code("conv_dilemma_autonomy").definition
    assert "self-direction" in code.definition
    for other in ("conv_autonomy_support", "conv_control"):
        assert other in (code.when_not_to_use or "")
    assert "choice-giving or pressuring moves" in code.definition  # rated elsewhere


def test_disclosure_split_and_positive_feelings_are_not_vulnerability(v2: Codebook) -> None:
    feelings = v2.code("user_emotional_disclosure")
    vulnerable = v2.code("user_vulnerable_disclosure")
    assert vulnerable.module is None and vulnerable.level == "binary"
    assert "user_vulnerable_disclosure" in (feelings.when_not_to_use or "")
    assert "positive" in (vulnerable.when_not_to_use or "")
    assert any("excited" in n.text or "happy" in n.text for n in vulnerable.near_misses)


def test_pressure_says_who_pressures(v2: Codebook) -> None:
    source = v2.code("user_pressure_source")
    assert source.level == "set" and source.module is None
    assert {"ai", "people", "circumstances"} <= set(source.value_ids)
    assert "user_pressure_source" in (v2.code("user_pressured").when_not_to_use or "")


def test_emotional_validation_sycophancy_is_its_own_code(v2: Codebook) -> None:
    over = v2.code("ai_over_validation")
    assert over.module is None and "sycophancy" in over.groups
    assert "ai_over_validation" in (v2.code("ai_empathy").when_not_to_use or "")
    assert "ai_empathy" in (over.when_not_to_use or "")
    assert any("ai_empathy" in n.why for n in over.near_misses)


def test_social_reward_hacking_in_the_core(v2: Codebook) -> None:
    tactic = v2.code("ai_retention_tactic")
    kinds = v2.code("ai_retention_tactic_type")
    assert tactic.module is None and kinds.module is None
    assert kinds.level == "set"
    assert {"exit_guilt", "love_bombing", "possessiveness", "reengagement_hook",
            "paywalled_intimacy"} <= set(kinds.value_ids)  # fmt: skip
    text = tactic.definition.lower()
    for word in ("guilt", "love-bombing", "jealousy", "possessiveness", "re-engagement", "paying"):
        assert word in text, word


def test_mistakes_false_claims_and_trust_on_both_sides(v2: Codebook) -> None:
    assert v2.code("ai_mistake").module is None
    false = v2.code("ai_false_claim")
    assert "transparency" in false.groups and "ai_transparency" in false.definition
    for claim in ("remember", "e-mail", "human"):
        assert claim in false.definition
    assert "ai_false_claim" in (v2.code("ai_transparency").when_not_to_use or "")
    attitude, behaviour = v2.code("user_trust"), v2.code("user_follows_advice")
    assert attitude.module == behaviour.module == "trust"
    assert "attitude" in attitude.label and "behaviour" in behaviour.label


def test_attunement_rates_the_fit_of_leading_and_listening(v2: Codebook) -> None:
    code = v2.code("conv_attunement")
    assert code.level == "ordinal" and code.module is None
    assert "conv_directiveness" in (code.when_not_to_use or "")
    assert "conv_attunement" in (v2.code("conv_directiveness").when_not_to_use or "")


def test_connection_with_the_ai_without_presuming_harm(v2: Codebook) -> None:
    code = v2.code("user_ai_connection")
    assert code.module is None and "relatedness" in code.groups
    assert not {"frustration", "thwarting", "satisfaction"} & set(code.groups)
    assert "user_attachment" in (code.when_not_to_use or "")


def test_factual_fixes(v2: Codebook) -> None:
    humanlike = v2.code("ai_humanlike")
    assert "thwarting" not in humanlike.groups and "relatedness" not in humanlike.groups
    mild = v2.code("conv_user_dependence").value("2").definition or ""
    assert "more than anything" not in mild and "leaning on the AI" in mild
    thwarting = v2.group("thwarting").description or ""
    assert "IBQ" in thwarting and "Bartholomew" not in thwarting


def test_shipped_map_covers_every_change() -> None:
    from annotate.codebook import load_map, migration_map_path

    m = load_map(migration_map_path("1.0.0", "2.0.0"))
    old = load_codebook(default_codebook_path("1.0.0"), modules="all")
    new = load_codebook(default_codebook_path("2.0.0"), modules="all")
    resolved = m.resolve(old, new)
    changed = {"user_emotional_disclosure", "conv_dilemma_wellbeing", "conv_dilemma_bonds",
               "conv_dilemma_autonomy", "user_trust"}  # fmt: skip
    assert {c for c, r in resolved.rules.items() if r.action != "keep"} == changed
    added = set(new.code_ids) - set(old.code_ids)
    derived = resolved.targets() - set(old.code_ids)
    assert added == set(resolved.added) | derived


# --- 2.1.0: evidence spans ---------------------------------------------------------------------

#: the codes of 2.1.0 whose words coders may mark (codebooks/README.md, changelog 2.1.0)
EVIDENCE_CODES = {
    "ai_false_claim", "ai_retention_tactic", "user_loneliness", "user_attachment",
    "user_ai_connection", "ai_humanlike", "user_deference",
}  # fmt: skip


def test_2_1_0_adds_optional_evidence_on_seven_turn_codes(v21: Codebook) -> None:
    takes = {c.id: c for c in v21.codes if c.evidence != "none"}
    assert str(v21.version) == "2.1.0" and set(takes) == EVIDENCE_CODES
    # optional, not required: keyboard-only coding saves them without selecting words
    assert {c.evidence for c in takes.values()} == {"optional"}
    assert all(c.unit == "turn" for c in takes.values())
    assert all(not c.requires_evidence(c.present_value) for c in takes.values())


def test_2_1_0_differs_from_2_0_0_only_in_evidence(v2: Codebook, v21: Codebook) -> None:
    import dataclasses

    from annotate.codebook.diff import diff_codebooks

    assert v21.code_ids == v2.code_ids and v21.id == v2.id
    assert (v21.groups, v21.modules, v21.title, v21.description) == (
        v2.groups, v2.modules, v2.title, v2.description,
    )  # fmt: skip
    for old, new in zip(v2.codes, v21.codes, strict=True):
        assert old.evidence == "none"
        assert dataclasses.replace(new, evidence="none") == old, new.id
    d = diff_codebooks(v2, v21)
    assert {(c.kind, c.target, c.detail) for c in d.changes} == {
        ("evidence_changed", c, "evidence none -> optional") for c in EVIDENCE_CODES
    }
    assert (d.required_bump, d.minimum_version, d.version_ok) == ("minor", "2.1.0", True)
    # taking evidence away again would need a major version: spans could not be carried
    back = diff_codebooks(v21, v2)
    assert back.required_bump == "major"


def test_2_0_0_file_keeps_the_hash_2_0_0_projects_recorded() -> None:
    """Projects created with 2.0.0 while it was the default recorded its hash (so did the demo's
    LLM coder, corpora/demo/llm/coders.json): the kept file has the same content."""
    import json
    from pathlib import Path

    record = Path(__file__).resolve().parents[2] / "corpora/demo/llm/coders.json"
    recorded = json.loads(record.read_text("utf-8"))["coders"][0]["codebook"]
    kept = load_codebook(default_codebook_path("2.0.0"))
    assert (kept.id, str(kept.version), kept.hash) == (
        recorded["id"], recorded["version"], recorded["hash"],
    )  # fmt: skip
    assert load_codebook(default_codebook_path()).hash != kept.hash


def test_shipped_map_2_0_0_to_2_1_0_carries_every_code() -> None:
    from annotate.codebook import load_map, migration_map_path

    m = load_map(migration_map_path("2.0.0", "2.1.0"))
    for modules in ("all", None, []):
        old = load_codebook(default_codebook_path("2.0.0"), modules=modules)
        new = load_codebook(default_codebook_path(), modules=modules)
        resolved = m.resolve(old, new)
        assert {r.action for r in resolved.rules.values()} == {"keep"}
        assert set(resolved.rules) == set(old.code_ids)
        assert not resolved.added and not resolved.not_coded()
        assert not resolved.recode_everywhere() and not resolved.recode_where()
        for code in old.codes:
            for value in code.value_ids:
                if code.level == "set":
                    value = code.encode_set([value])
                assert resolved.translate(code.id, value) == [(code.id, value)], code.id
