"""load_codebook: every validation rule, all problems at once with paths and lines."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from annotate.codebook import load_codebook, parse_codebook
from annotate.errors import CodebookError

WriteYaml = Callable[..., Path]

HEADER = """\
id: mini
version: 1.0.0
title: Mini
groups:
  - {id: autonomy, label: Autonomy, kind: need}
  - {id: support, label: Supportive, kind: valence}
modules:
  - {id: trust, label: Trust}
  - {id: extra, label: Extra, default: true}
codes:
"""

GOOD_CODE = """\
  - id: {id}
    label: A code
    unit: turn
    applies_to: [assistant]
    level: binary
    group: [autonomy]
    definition: Something the assistant does.
"""


def mini(*codes: str) -> str:
    body = "".join(codes) if codes else GOOD_CODE.format(id="a1")
    return HEADER + body


def problems_of(text: str) -> list[str]:
    """The problem lines of the error for YAML text (without the header line)."""
    with pytest.raises(CodebookError) as info:
        parse_codebook(text, source="cb.yaml")
    message = str(info.value)
    assert message.startswith("[E201]"), message
    return [line for line in message.splitlines()[1:]]


def test_loader_minimal_codebook_loads() -> None:
    cb = parse_codebook(mini())
    assert cb.code_ids == ("a1",)
    assert cb.code("a1").applies_to == ("assistant",)
    assert cb.code("a1").groups == ("autonomy",)


def test_loader_reports_every_problem_at_once_with_paths_and_lines() -> None:
    text = mini(
        GOOD_CODE.format(id="a1"),
        """\
  - id: a2
    label: Second
    unit: turn
    applies_to: [assistant]
    level: ordinal
    definition: d
    colour: red
    values:
      - {value: low, label: Low}
      - {value: high}
""",
    )
    lines = problems_of(text)
    assert lines[0].startswith("cb.yaml: codes[1].colour: unknown key 'colour'; allowed keys:")
    assert lines[0].endswith("(line 24)")
    assert any(
        re.search(r"^cb\.yaml: codes\[1\]\.values\[1\]\.label: field required", x) for x in lines
    )
    assert all(x.startswith("cb.yaml: ") for x in lines)
    assert len(lines) == 2
    missing = next(x for x in lines if "values[1].label" in x)
    assert missing.endswith("(line 27)")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            "  - {id: x, label: X, unit: turn, applies_to: [user], level: binary}\n",
            r"codes\[0\]\.definition: field required",
        ),
        (
            "  - {id: X Y, label: X, unit: turn, applies_to: [user], level: binary,"
            " definition: d}\n",
            r"codes\[0\]\.id: 'X Y' is not a valid id",
        ),
        (
            "  - {id: x, label: X, unit: turns, applies_to: [user], level: binary,"
            " definition: d}\n",
            r"codes\[0\]\.unit: 'turns' is not allowed; use one of 'turn' or 'conversation'",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [users], level: binary,"
            " definition: d}\n",
            r"codes\[0\]\.applies_to\[0\]: 'users' is not allowed",
        ),
        (
            "  - {id: x, label: X, unit: turn, level: binary, definition: d}\n",
            r"codes\[0\]\.applies_to: field required for turn codes",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [], level: binary, definition: d}\n",
            r"codes\[0\]\.applies_to: must name at least one role",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [user, user], level: binary,"
            " definition: d}\n",
            r"codes\[0\]\.applies_to: duplicate role 'user'",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [user], level: scale, definition: d}\n",
            r"codes\[0\]\.level: 'scale' is not allowed",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [user], level: binary, definition: d,"
            " group: [relatedness]}\n",
            r"codes\[0\]\.group\[0\]: group 'relatedness' is not declared; declared groups: "
            r"autonomy, support",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [user], level: binary, definition: d,"
            " group: autonomy}\n",
            r"codes\[0\]\.group: must be a list",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [user], level: binary, definition: d,"
            " module: truth}\n",
            r"codes\[0\]\.module: module 'truth' is not declared; declared modules: extra, trust",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [user], level: binary, definition: d,"
            " key: j}\n",
            r"codes\[0\]\.key: key 'j' is reserved",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [user], level: binary, definition: d,"
            " key: 3}\n",
            r"codes\[0\]\.key: key '3' is reserved",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [user], level: binary, definition: d,"
            " key: ab}\n",
            r"codes\[0\]\.key: 'ab' is too long",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [user], level: binary, definition: d,"
            " examples: []}\n",
            r"codes\[0\]\.examples: must be a non-empty list",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [user], level: binary, definition: d,"
            " examples: [just text]}\n",
            r"codes\[0\]\.examples\[0\]: must be a mapping",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [user], level: binary, definition: d,"
            " examples: [{context: c}]}\n",
            r"codes\[0\]\.examples\[0\]\.text: field required",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [user], level: binary, definition: d,"
            " near_misses: [{text: t}]}\n",
            r"codes\[0\]\.near_misses\[0\]\.why: field required",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [user], level: binary, definition: d,"
            " cues: [[]]}\n",
            r"codes\[0\]\.cues\[0\]: a cue is a phrase",
        ),
        (
            "  - {id: x, label: X, unit: turn, applies_to: [user], level: binary,"
            " definition: '  '}\n",
            r"codes\[0\]\.definition: must not be empty",
        ),
    ],
)
def test_loader_code_shape_rules(code: str, expected: str) -> None:
    lines = problems_of(mini(code))
    assert any(re.search(expected, x) for x in lines), lines


def _valued(level: str, values: list[str]) -> str:
    vals = "".join(f"      - {{value: '{v}', label: L{v}}}\n" for v in values)
    return (
        f"  - id: v\n    label: V\n    unit: conversation\n    level: {level}\n"
        f"    definition: d\n    values:\n{vals}"
    )


@pytest.mark.parametrize(
    ("level", "values", "expected"),
    [
        ("binary", ["0", "1", "2"], "a binary code needs exactly 2 values, got 3"),
        ("binary", ["yes"], "a binary code needs exactly 2 values, got 1"),
        ("nominal", ["a"], "a nominal code needs at least 2 values, got 1"),
        ("ordinal", ["low"], "an? ordinal code needs at least 2 values"),
        ("ordinal", ["3", "2", "1"], "ordinal values must be listed from low to high, got 3, 2, 1"),
        ("interval", ["1", "two", "3"], r"values\[1\]\.value: interval values must be numbers"),
        ("interval", ["1", "1.0"], "interval values must be listed from low to high"),
        ("nominal", ["a", "b", "a"], "duplicate value 'a'"),
    ],
)
def test_loader_values_consistent_with_level(level: str, values: list[str], expected: str) -> None:
    lines = problems_of(mini(_valued(level, values)))
    assert any(re.search(expected, x) for x in lines), lines


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "set"])
def test_loader_values_required_except_binary(level: str) -> None:
    code = "  - {id: x, label: X, unit: conversation, level: LEVEL, definition: d}\n"
    code = code.replace("LEVEL", level)
    lines = problems_of(mini(code))
    assert any(f"codes[0].values: field required for {level} codes" in x for x in lines), lines


def test_loader_set_with_one_value_and_numbers_become_strings() -> None:
    cb = parse_codebook(
        mini(
            _valued("set", ["only"]),
            _valued("interval", []).replace("id: v", "id: w") + "      - {value: 1, label: one}\n"
            "      - {value: 2.5, label: two and a half}\n",
        )
    )
    assert cb.code("v").value_ids == ("only",)
    assert cb.code("w").value_ids == ("1", "2.5")


def test_loader_yaml_booleans_stay_text_in_text_fields() -> None:
    code = (
        "  - id: yn\n    label: Yes/no\n    unit: turn\n    applies_to: [user]\n"
        "    level: binary\n    definition: d\n    key: y\n    values:\n"
        "      - {value: no, label: No}\n      - {value: yes, label: Yes}\n"
    )
    cb = parse_codebook(mini(code))
    assert cb.code("yn").key == "y"
    assert cb.code("yn").value_ids == ("no", "yes")
    assert cb.code("yn").values[1].label == "Yes"


def test_loader_duplicate_ids_everywhere() -> None:
    text = HEADER.replace(
        "  - {id: support, label: Supportive, kind: valence}",
        "  - {id: autonomy, label: Again, kind: valence}",
    ).replace("  - {id: extra, label: Extra, default: true}", "  - {id: trust, label: T2}")
    text += GOOD_CODE.format(id="a1") + GOOD_CODE.format(id="a1")
    lines = problems_of(text)
    assert any("groups[1].id: duplicate id 'autonomy' (first at groups[0])" in x for x in lines)
    assert any("modules[1].id: duplicate id 'trust'" in x for x in lines)
    assert any("codes[1].id: duplicate id 'a1' (first at codes[0])" in x for x in lines)


def test_loader_duplicate_yaml_key_is_a_problem() -> None:
    text = mini(GOOD_CODE.format(id="a1") + "    label: Again\n")
    lines = problems_of(text)
    assert any("codes[0].label: duplicate key 'label'" in x for x in lines), lines


def test_loader_keys_unique_within_unit_only() -> None:
    turn = GOOD_CODE.format(id="a1") + "    key: a\n"
    turn2 = GOOD_CODE.format(id="a2") + "    key: a\n"
    conv = "  - {id: c1, label: C, unit: conversation, level: binary, definition: d, key: a}\n"
    lines = problems_of(mini(turn, turn2, conv))
    assert len(lines) == 1
    assert "codes[1].key: key 'a' is already used by turn code 'a1'" in lines[0]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("version: 1.0\n", r"version: '1\.0' is not a semantic version"),
        ("version: v1.0.0\n", "is not a semantic version"),
        ("title: ''\n", "title: must not be empty"),
        ("extra_key: 1\n", "unknown key 'extra_key'; allowed keys: id, version, title"),
    ],
)
def test_loader_top_level_rules(header: str, expected: str) -> None:
    key = header.split(":")[0]
    text = "\n".join(x for x in mini().splitlines() if not x.startswith(key + ":")) + "\n"
    lines = problems_of(header + text)
    assert any(re.search(expected, x) for x in lines), lines


def test_loader_no_codes_is_a_problem() -> None:
    lines = problems_of(HEADER + "  []\n".replace("  []", "") + "")
    assert any(
        "codes: must be a non-empty list" in x or "codes: must be a list" in x for x in lines
    ), lines


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "it holds a list"),
        ("", "it holds an empty document"),
        ('{"conversations": [{"id": 1}]}', "neither 'codes' nor 'version'"),
        ("just a sentence", "it holds a single string"),
    ],
)
def test_loader_not_a_codebook_is_one_clear_error(text: str, expected: str) -> None:
    with pytest.raises(CodebookError, match="E202") as info:
        parse_codebook(text, source="x.yaml")
    assert expected in str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_loader_broken_yaml_reports_line_and_column(write_yaml: WriteYaml) -> None:
    path = write_yaml("id: x\ncodes:\n  - id: a\n   label: b\n")
    with pytest.raises(CodebookError, match=r"E205.*line 4, column 4") as info:
        load_codebook(path)
    assert str(path) in str(info.value)


def test_loader_unclosed_quote_reports_line(write_yaml: WriteYaml) -> None:
    path = write_yaml('id: x\ntitle: "open\nversion: 1.0.0\n')
    with pytest.raises(CodebookError, match=r"E205.*line \d+, column \d+"):
        load_codebook(path)


def test_loader_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(CodebookError, match=r"E206.*nope.yaml"):
        load_codebook(tmp_path / "nope.yaml")
    with pytest.raises(CodebookError, match=r"E206.*folder"):
        load_codebook(tmp_path)


def test_loader_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes("title: caf\xe9\n".encode("latin-1"))
    with pytest.raises(CodebookError, match=r"E202.*UTF-8"):
        load_codebook(path)


def test_loader_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_codebook("- 1")


@pytest.mark.parametrize(
    ("modules", "expected"),
    [
        (None, ("a1", "m_extra")),
        ("all", ("a1", "m_trust", "m_extra")),
        ([], ("a1",)),
        ("trust", ("a1", "m_trust")),
        (["trust", "extra"], ("a1", "m_trust", "m_extra")),
    ],
)
def test_loader_modules_select_codes(modules: object, expected: tuple[str, ...]) -> None:
    text = mini(
        GOOD_CODE.format(id="a1"),
        GOOD_CODE.format(id="m_trust") + "    module: trust\n",
        GOOD_CODE.format(id="m_extra") + "    module: extra\n",
    )
    cb = parse_codebook(text, modules=modules)  # type: ignore[arg-type]
    assert cb.code_ids == expected
    assert set(cb.active_modules) == {c.module for c in cb.codes if c.module}
    assert [m.id for m in cb.modules] == ["trust", "extra"]


def test_loader_unknown_module_lists_declared() -> None:
    with pytest.raises(CodebookError, match=r"E207.*'?nope'?.*trust, extra"):
        parse_codebook(mini(), modules=["nope"])


def test_loader_conversation_codes_default_to_both_roles() -> None:
    code = "  - {id: c1, label: C, unit: conversation, level: binary, definition: d}\n"
    cb = parse_codebook(mini(code))
    assert cb.code("c1").applies_to == ("user", "assistant")
    assert cb.codes_for("conversation", "user") == cb.codes_for("conversation", "assistant")


def test_loader_toy_uses_every_field(toy_path: Path) -> None:
    cb = load_codebook(toy_path, modules="all")
    levels = {c.level for c in cb.codes}
    assert levels == {"binary", "nominal", "ordinal", "interval", "set"}
    assert {g.kind for g in cb.groups} == {"need", "valence", "dilemma", "function", "other"}
    for code in cb.codes:
        assert code.definition and code.when_to_use and code.when_not_to_use, code.id
        assert len(code.examples) >= 2 and code.near_misses, code.id
    assert any(c.module for c in cb.codes) and any(c.key for c in cb.codes)
    assert any(e.context for c in cb.codes for e in c.examples)
    assert any(not isinstance(q, str) for c in cb.codes for q in c.cues)


BOMB = (
    "a: &a [x, x]\n"
    + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
        for p, n in zip("abcdefg", "bcdefgh", strict=True)
    )
    + "codes: *h\n"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &a [*a]\ncodes: *a\n", "an alias refers to itself"),
        (BOMB, "expands to more than"),
        ("codes: " + "[" * 60 + "]" * 60 + "\n", "nesting"),
        ("codes: " + "[" * 5000 + "]" * 5000 + "\n", "nesting too deep"),
        ("id: !!python/name:os.system x\ncodes: !custom {}\n", None),
        ("version: !!timestamp not-a-date\n", r"timestamp|constructor|E201"),
    ],
)
def test_loader_hostile_yaml_is_a_clean_error(text: str, expected: str | None) -> None:
    with pytest.raises(CodebookError) as info:
        parse_codebook(text, source="evil.yaml")
    if expected:
        assert re.search(expected, str(info.value)), str(info.value)


def test_loader_very_deep_block_nesting_does_not_crash_the_process(tmp_path: Path) -> None:
    """libyaml overflows the C stack on ``- - - … x``: the loader must not hand it such text."""
    import subprocess
    import sys

    path = tmp_path / "deep.yaml"
    path.write_text("codes:\n" + "- " * 30_000 + "x\n", encoding="utf-8")
    code = (
        "from annotate.codebook import load_codebook\n"
        "from annotate.errors import CodebookError\n"
        f"try:\n    load_codebook({str(path)!r})\nexcept CodebookError as e:\n    print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert "E205" in done.stdout and "nesting too deep" in done.stdout


def test_loader_jsonl_file_is_not_a_codebook(tmp_path: Path) -> None:
    path = tmp_path / "turns.jsonl"
    path.write_text('{"role": "user"}\n{"role": "assistant"}\n', encoding="utf-8")
    with pytest.raises(CodebookError, match=r"E20[25]"):
        load_codebook(path)
