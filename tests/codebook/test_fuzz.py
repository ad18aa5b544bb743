"""Bad input never crashes the loader: it gives a Codebook or a CodebookError, nothing else."""

from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotate.codebook import Codebook, codebook_from_data, parse_codebook, toy_codebook_path
from annotate.errors import CodebookError

KEYS = [
    "id",
    "version",
    "title",
    "description",
    "groups",
    "modules",
    "codes",
    "label",
    "kind",
    "unit",
    "applies_to",
    "level",
    "group",
    "module",
    "definition",
    "when_to_use",
    "when_not_to_use",
    "examples",
    "near_misses",
    "cues",
    "key",
    "values",
    "value",
    "text",
    "context",
    "why",
    "default",
    "turn",
    "user",
    "binary",
    "j",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=True),
    st.sampled_from(KEYS),
    st.text(max_size=5),
)
data = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)
    ),
    max_leaves=25,
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _outcome(fn: object, *args: object) -> None:
    try:
        result = fn(*args)  # type: ignore[operator]
    except CodebookError as err:
        assert str(err).startswith("[E2")
    else:
        assert isinstance(result, Codebook)


@FUZZ
@given(data)
def test_fuzz_random_data(value: object) -> None:
    _outcome(codebook_from_data, value)


@FUZZ
@given(data)
def test_fuzz_random_yaml_text(value: object) -> None:
    _outcome(parse_codebook, yaml.safe_dump(value))


@FUZZ
@given(st.text(max_size=200))
def test_fuzz_random_text(text: str) -> None:
    _outcome(parse_codebook, text)


TOY = yaml.safe_load(toy_codebook_path().read_text(encoding="utf-8"))


@FUZZ
@given(st.integers(0, len(TOY["codes"]) - 1), st.sampled_from(KEYS), data)
def test_fuzz_one_field_of_a_real_code(index: int, key: str, value: object) -> None:
    broken = copy.deepcopy(TOY)
    broken["codes"][index][key] = value
    _outcome(codebook_from_data, broken)


TOKENS = [
    "!!int ",
    "!!float ",
    "!!timestamp ",
    "!!binary ",
    "!!bool ",
    "!!null ",
    "!!set ",
    "!!omap ",
    "!!python/object:os.system ",
    "!custom ",
    "&a ",
    "*a ",
    "&b ",
    "*b ",
    "- ",
    "? ",
    ": ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "\n",
    "  ",
    "id",
    "codes",
    "version",
    "values",
    "value",
    "key",
    "x",
    "1",
    "1.0.0",
    "2001-01-01",
    '"',
    "'",
    "# c",
    "|",
    ">",
    "---\n",
    "...\n",
    "\t",
    "\\u0000",
    "%YAML 1.1\n",
]


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_fuzz_yaml_token_soup(tokens: list[str]) -> None:
    _outcome(parse_codebook, "".join(tokens))
