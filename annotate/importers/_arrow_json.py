"""Arrow arrays to JSON text, vectorised (one JSON value per element), for per-turn meta.

A million WildChat turns carry a million moderation results (about 40 flags and scores each);
building a dict per turn and ``json.dumps`` would cost more than reading the parquet file. Here
each column is encoded with Arrow compute kernels: booleans and numbers cast to text, strings
escaped (backslash, quote, control characters as ``\\u00XX``), structs joined from their
fields, lists joined from their elements. Null values (and empty objects) are left out of the
objects that hold them, so ``{"a": null}`` never appears: WildChat's duplicated category names
(``harassment/threatening`` and ``harassment_threatening``, one of them always null) come out
once. Floats are written as Arrow's shortest round-trip text; NaN and infinities (not JSON)
become null. Types without a kernel path (decimals, binary, maps) fall back to ``json.dumps``
per element. The result parses with :func:`json.loads` to what ``to_pylist`` gives.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_CONTROL = [chr(i) for i in range(32)]
#: bytes that need escaping in a JSON string (UTF-8 continuation bytes are all >= 0x80)
_QUOTE = np.zeros(256, bool)
_QUOTE[[ord('"'), ord("\\")]] = True
_CONTROL_BYTE = np.zeros(256, bool)
_CONTROL_BYTE[:32] = True
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def quote(arr: pa.Array) -> pa.Array:
    """JSON string literals of a string array (nulls stay null)."""
    if arr.type != pa.string():
        arr = pc.cast(arr, pa.string())
    s = arr
    data = _bytes(s)
    if _QUOTE[data].any():  # rare: pay only when present
        s = pc.replace_substring(s, "\\", "\\\\")
        s = pc.replace_substring(s, '"', '\\"')
    if _CONTROL_BYTE[data].any():
        for c in _CONTROL:
            s = pc.replace_substring(s, c, _ESCAPES.get(c, f"\\u{ord(c):04x}"))
    return pc.binary_join_element_wise('"', s, '"', "")


def _bytes(arr: pa.Array) -> np.ndarray:
    """The UTF-8 bytes of a string array's values (those under null slots too: a byte found
    there only costs the escaping pass, which leaves such a value as it is)."""
    _, offsets, data = arr.buffers()
    if data is None or len(arr) == 0:
        return np.zeros(0, np.uint8)
    ends = np.frombuffer(offsets, np.int32, count=len(arr) + 1, offset=arr.offset * 4)
    first, last = int(ends[0]), int(ends[-1])
    return np.frombuffer(data, np.uint8, count=last - first, offset=first)


def encode(arr: pa.Array) -> pa.Array:
    """One JSON text per element (null where the element is null)."""
    t = arr.type
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(t):
        return encode(pc.cast(arr, t.value_type))
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_boolean(t):
        return pc.if_else(arr, "true", "false")
    if pa.types.is_integer(t):
        return pc.cast(arr, pa.string())
    if pa.types.is_floating(t):
        finite = pc.is_finite(arr)
        return pc.if_else(finite, pc.cast(arr, pa.string()), pa.scalar(None, pa.string()))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return quote(arr)
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return quote(pc.cast(arr, pa.string()))
    if pa.types.is_struct(t):
        return _struct(arr)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _list(arr)
    return pa.array(
        [
            None if v is None else json.dumps(v, default=str, ensure_ascii=False)
            for v in arr.to_pylist()
        ],
        pa.string(),
    )


def object_of(fields: list[tuple[str, pa.Array]], n: int) -> pa.Array:
    """``{"name": value, ...}`` per row from already encoded JSON columns, null values left
    out; rows with no value at all are null."""
    pieces = []
    always = False  # some member is never null: no row is empty
    for name, values in fields:
        key = json.dumps(name, ensure_ascii=False) + ":"
        piece = pc.binary_join_element_wise(key, values, ",", "")
        if values.null_count:
            piece = piece.fill_null("")
        else:
            always = True
        pieces.append(piece)
    if not pieces:
        return pa.nulls(n, pa.string())
    body = pc.binary_join_element_wise(*pieces, "")
    body = pc.utf8_rtrim(body, characters=",")
    out = pc.binary_join_element_wise("{", body, "}", "")
    if always:
        return out
    return pc.if_else(pc.equal(body, ""), pa.scalar(None, pa.string()), out)


def _struct(arr: pa.StructArray) -> pa.Array:
    fields = [(arr.type.field(i).name, encode(arr.field(i))) for i in range(arr.type.num_fields)]
    out = object_of(fields, len(arr))
    if arr.null_count:
        out = pc.if_else(pc.is_null(arr), pa.scalar(None, pa.string()), out)
    return out


def _list(arr: Any) -> pa.Array:
    values = encode(arr.flatten()).fill_null("null")
    offsets = pc.subtract(arr.offsets, arr.offsets[0])
    rebuilt = pa.ListArray.from_arrays(offsets.cast(pa.int32()), values)
    joined = pc.binary_join(rebuilt, ",")
    out = pc.binary_join_element_wise("[", joined, "]", "")
    if arr.null_count:
        out = pc.if_else(pc.is_null(arr), pa.scalar(None, pa.string()), out)
    return out
