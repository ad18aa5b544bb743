"""The vectorised JSON encoder of per-row meta agrees with the standard library's json."""

from __future__ import annotations

import json
import math
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from annotate.importers._arrow_json import encode, quote


def _expected(value: Any) -> Any:
    """What the encoder promises: null members left out, empty objects null, NaN null."""
    if isinstance(value, dict):
        out = {k: _expected(v) for k, v in value.items()}
        out = {k: v for k, v in out.items() if v is not None}
        return out or None
    if isinstance(value, list):
        return [_expected(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
record = st.fixed_dictionaries(
    {
        "s": st.none() | texts,
        "i": st.none() | st.integers(-(2**62), 2**62),
        "f": st.none() | st.floats(allow_nan=True, allow_infinity=True, width=64),
        "b": st.none() | st.booleans(),
        "l": st.none() | st.lists(st.none() | st.floats(-1e9, 1e9), max_size=4),
        "d": st.none()
        | st.fixed_dictionaries({"x": st.none() | texts, "y": st.none() | st.booleans()}),
    }
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.none() | record, min_size=1, max_size=8))
def test_arrow_json_matches_json_loads(rows: list[Any]) -> None:
    arr = pa.array(rows, pa.struct([
        ("s", pa.string()), ("i", pa.int64()), ("f", pa.float64()), ("b", pa.bool_()),
        ("l", pa.list_(pa.float64())), ("d", pa.struct([("x", pa.string()), ("y", pa.bool_())])),
    ]))  # fmt: skip
    got = [None if x is None else json.loads(x) for x in encode(arr).to_pylist()]
    assert got == [None if r is None else _expected(r) for r in rows]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.none() | st.sampled_from(['a"b', "c\\d", "e\nf", "\x01", "plain", ""]) | texts,
             min_size=1, max_size=10),
    st.data(),
)  # fmt: skip
def test_quote_of_a_sliced_array_matches_json_dumps(values: list[Any], data: Any) -> None:
    """The escaping check reads the array's bytes: a slice (offset into shared buffers) must
    still escape what is in it, whatever lies outside."""
    lo = data.draw(st.integers(0, len(values) - 1))
    hi = data.draw(st.integers(lo, len(values)))
    arr = pa.array(values, pa.string()).slice(lo, hi - lo)
    want = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values[lo:hi]]
    assert quote(arr).to_pylist() == want
