"""Streaming readers for JSON Lines and JSON arrays (plain or gzip), never the whole file at once.

A malformed JSONL line is skipped and counted (``malformed_json``); a cut-off last line or a JSON
array that stops before its ``]`` yields every complete record plus one warning saying where the
file was cut (W102). A JSON array that turns invalid in the middle cannot be resynchronised
safely, so the records before that point are kept and a warning says so (W104).

Records are decoded by the standard library's C decoder; a record nested too deeply for it
(RecursionError, from about 1000 levels on) is decoded again by :func:`raw_decode_deep`, which
keeps its own stack, so a valid record is never lost to its nesting (the importers then drop
over-deep meta values, counted: see :meth:`annotate.importers._base.Context.bounded_meta`).
"""

from __future__ import annotations

import codecs
import gzip
import json
import math
import re
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from annotate.corpus import Tally
from annotate.errors import CorpusError, Errors, Warnings
from annotate.importers._parquet import is_parquet, iter_rows

_CHUNK = 1 << 20
#: a single record may be at most this many characters before we give up on it
_MAX_RECORD = 256 << 20
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"  # "" is in it too: at the end of the text the match below is a no-op
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]
_NUMBER = re.compile(r"(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?")  # as json.scanner
_CONSTANTS: tuple[tuple[str, Any], ...] = (
    ("null", None),
    ("true", True),
    ("false", False),
    ("NaN", math.nan),
    ("Infinity", math.inf),
    ("-Infinity", -math.inf),
)


def loads(data: str | bytes) -> Any:
    """:func:`json.loads`, also for a document nested deeper than the C decoder's stack allows."""
    try:
        return json.loads(data)
    except RecursionError:
        pass
    text = (
        data.decode(json.detect_encoding(data), "surrogatepass")
        if isinstance(data, bytes)
        else data
    )
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    obj, end = raw_decode_deep(text, _WS.match(text, 0).end())  # type: ignore[union-attr]
    end = _WS.match(text, end).end()  # type: ignore[union-attr]
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return obj


def raw_decode(text: str, pos: int) -> tuple[Any, int]:
    """:meth:`json.JSONDecoder.raw_decode`, also for deeply nested values."""
    try:
        return _DECODER.raw_decode(text, pos)
    except RecursionError:
        return raw_decode_deep(text, pos)


def raw_decode_deep(s: str, idx: int) -> tuple[Any, int]:
    """Decode one JSON value at ``s[idx]`` like :meth:`json.JSONDecoder.raw_decode` (the same
    values, NaN and Infinity included, and :class:`json.JSONDecodeError` on invalid or cut-off
    text), with an explicit stack instead of recursion: any depth, in linear time."""
    stack: list[tuple[dict[str, Any] | list[Any], str | None]] = []
    ws = _WS.match
    while True:
        value, idx = _value(s, idx, stack)
        if value is _OPENED:
            continue
        # the value is complete: put it into its container, then close what is complete
        while True:
            if not stack:
                return value, idx
            container, key = stack[-1]
            if key is None:
                container.append(value)  # type: ignore[union-attr]
            else:
                container[key] = value  # type: ignore[call-overload,index,unused-ignore]
            c = s[idx : idx + 1]
            if c in _SPACE:
                idx = ws(s, idx).end()  # type: ignore[union-attr]
                c = s[idx : idx + 1]
            if c == ",":
                idx += 1
                if s[idx : idx + 1] in _SPACE:
                    idx = ws(s, idx).end()  # type: ignore[union-attr]
                if key is not None:
                    key, idx = _key(s, idx)
                    stack[-1] = (container, key)
                break
            if c != ("]" if key is None else "}"):
                raise json.JSONDecodeError("Expecting ',' delimiter", s, idx)
            stack.pop()
            value, idx = container, idx + 1


#: what :func:`_value` returns for a container it opened (its items follow)
_OPENED = object()


def _value(s: str, idx: int, stack: list[Any]) -> tuple[Any, int]:
    """The value at ``s[idx]``; for a non-empty container, push it and return ``_OPENED``."""
    c = s[idx : idx + 1]
    if c == '"':
        return _scanstring(s, idx + 1, True)
    if c != "{" and c != "[":
        return _scalar(s, idx)
    idx += 1
    if s[idx : idx + 1] in _SPACE:
        idx = _WS.match(s, idx).end()  # type: ignore[union-attr]
    if s[idx : idx + 1] == ("}" if c == "{" else "]"):
        return ({} if c == "{" else []), idx + 1
    if c == "{":
        key, idx = _key(s, idx)
        stack.append(({}, key))
    else:
        stack.append(([], None))
    return _OPENED, idx


def _key(s: str, idx: int) -> tuple[str, int]:
    """An object key and its colon at ``s[idx]``; returns the key and where its value starts."""
    if s[idx : idx + 1] != '"':
        raise json.JSONDecodeError("Expecting property name enclosed in double quotes", s, idx)
    key, idx = _scanstring(s, idx + 1, True)
    if s[idx : idx + 1] in _SPACE:
        idx = _WS.match(s, idx).end()  # type: ignore[union-attr]
    if s[idx : idx + 1] != ":":
        raise json.JSONDecodeError("Expecting ':' delimiter", s, idx)
    idx += 1
    if s[idx : idx + 1] in _SPACE:
        idx = _WS.match(s, idx).end()  # type: ignore[union-attr]
    return key, idx


def _scalar(s: str, idx: int) -> tuple[Any, int]:
    """A number or constant at ``s[idx]`` (the order of :mod:`json.scanner`)."""
    for word, value in _CONSTANTS[:3]:
        if s.startswith(word, idx):
            return value, idx + len(word)
    m = _NUMBER.match(s, idx)
    if m is not None:
        integer, frac, exp = m.groups()
        if frac or exp:
            return float(integer + (frac or "") + (exp or "")), m.end()
        return int(integer), m.end()
    for word, value in _CONSTANTS[3:]:
        if s.startswith(word, idx):
            return value, idx + len(word)
    raise json.JSONDecodeError("Expecting value", s, idx)


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for reading bytes, transparently un-gzipping it (by its magic number).

    A zip archive (an account export as downloaded) opens its ``conversations.json`` member,
    or its only JSON member; E106 when there is no such member.
    """
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if head == b"PK\x03\x04":
        return _zip_member(path)
    return open(path, "rb")


def _zip_member(path: Path) -> IO[bytes]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorpusError(
            Errors.E106.format(
                path=path,
                problem="is not a readable zip archive",
                where=exc,
                hint="Download the export again, or unzip it and pass conversations.json.",
            )
        ) from exc
    names = [n for n in archive.namelist() if not n.endswith("/")]
    wanted = [n for n in names if n.rsplit("/", 1)[-1] == "conversations.json"]
    if not wanted:
        wanted = [n for n in names if n.lower().endswith((".json", ".jsonl"))]
    if len(wanted) != 1:
        archive.close()
        found = ", ".join(names[:8]) or "nothing"
        raise CorpusError(
            Errors.E106.format(
                path=path,
                problem="holds no single conversations.json",
                where=f"found {found}",
                hint="Unzip it and pass the conversations file.",
            )
        )
    return archive.open(wanted[0])  # closing the member leaves the archive to the GC


def first_char(path: Path) -> str:
    """The first non-whitespace character of a (possibly gzipped) file, '' when empty."""
    with open_binary(path) as f:
        while True:
            chunk = f.read(4096)
            if not chunk:
                return ""
            text = chunk.decode("utf-8", "replace").lstrip(" \t\r\n\ufeff")
            if text:
                return text[0]


def iter_records(path: Path, tally: Tally) -> Iterator[tuple[str, Any]]:
    """Yield ``(where, record)`` from a JSON array, a JSON Lines or a parquet file (by content).

    Parquet rows come as dicts (one row group in memory at a time, see
    :mod:`annotate.importers._parquet`).
    """
    if is_parquet(path):
        yield from iter_rows(path)
        return
    try:
        kind = first_char(path)
    except (OSError, EOFError) as exc:
        raise CorpusError(
            Errors.E106.format(
                path=path,
                problem="is not a readable text or gzip file",
                where=exc,
                hint="Check that the download is complete, or decompress it first.",
            )
        ) from exc
    if kind == "[":
        yield from iter_array(path, tally)
    else:
        yield from iter_jsonl(path, tally)


def iter_jsonl(path: Path, tally: Tally) -> Iterator[tuple[str, Any]]:
    """Yield ``(where, record)`` for each parseable line; count the others."""
    name = path.name
    n_ok = 0
    line_no = 0
    with open_binary(path) as f:
        lines = _Lines(f, path, tally)
        for line_no, raw in lines:
            if not raw.strip():
                continue
            try:
                obj = loads(raw)
            except ValueError as exc:
                if not raw.endswith(b"\n") and lines.at_end:
                    _warn_cut(path, line_no, str(exc), n_ok)
                    tally.skip("truncated_record", f"{name} line {line_no}")
                else:
                    tally.skip("malformed_json", f"{name} line {line_no}")
                continue
            n_ok += 1
            yield f"{name} line {line_no}", obj


class _Lines:
    """Numbered lines of a binary stream; knows whether more follow; survives a cut gzip."""

    def __init__(self, f: IO[bytes], path: Path, tally: Tally) -> None:
        self._it = iter(f)
        self.path, self.tally = path, tally
        self._next: bytes | None = None
        self.n = 0
        self._advance()

    def _advance(self) -> None:
        try:
            self._next = next(self._it)
        except StopIteration:
            self._next = None
        except EOFError:  # a gzip stream cut before its end marker
            self._next = None
            warnings.warn(
                Warnings.W102.format(
                    path=self.path, problem="compressed stream cut", line=self.n + 1, n="all"
                ),
                stacklevel=4,
            )
            self.tally.skip("truncated_file", self.path.name)
        except (OSError, gzip.BadGzipFile) as exc:
            raise CorpusError(
                Errors.E106.format(
                    path=self.path,
                    problem="is not a readable gzip file",
                    where=f"after line {self.n}: {exc}",
                    hint="Check the download or decompress it first.",
                )
            ) from exc

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> tuple[int, bytes]:
        if self._next is None:
            raise StopIteration
        line = self._next
        self.n += 1
        self._advance()
        return self.n, line

    @property
    def at_end(self) -> bool:
        return self._next is None


def _warn_cut(path: Path, line: int, problem: str, n: int) -> None:
    warnings.warn(Warnings.W102.format(path=path, problem=problem, line=line, n=n), stacklevel=4)


def iter_array(path: Path, tally: Tally) -> Iterator[tuple[str, Any]]:
    """Yield ``(where, record)`` from a top-level JSON array, reading 1 MiB chunks."""
    name = path.name
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    with open_binary(path) as f:
        state = _ArrayState(f, decoder)
        state.buf = state.buf.lstrip("\ufeff")
        pos = state.skip_ws(0) + 1  # past the "[" that iter_records saw
        n = 0
        expect_value = True
        while True:
            pos = state.skip_ws(pos)
            if pos >= len(state.buf):
                _warn_cut(path, state.line_at(pos), "the array is not closed with ']'", n)
                tally.skip("truncated_file", name)
                return
            c = state.buf[pos]
            if c == "]" and (not expect_value or n == 0):
                return
            if not expect_value:
                if c != ",":
                    _stop(path, state, pos, f"expected ',' or ']' but found {c!r}", n, tally)
                    return
                pos += 1
                expect_value = True
                continue
            try:
                obj, end = raw_decode(state.buf, pos)
            except json.JSONDecodeError as exc:
                if not state.eof and len(state.buf) - pos < _MAX_RECORD:
                    pos = state.more(pos)
                    continue
                _stop(path, state, exc.pos, exc.msg, n, tally)
                return
            if end >= len(state.buf) and not state.eof:
                pos = state.more(pos)  # a number or literal may continue in the next chunk
                continue
            n += 1
            yield f"{name} record {n} (line {state.line_at(pos)})", obj
            pos = end
            expect_value = False


def _stop(path: Path, state: _ArrayState, pos: int, problem: str, n: int, tally: Tally) -> None:
    """The array cannot be read on from ``pos``: a cut (W102) or invalid JSON (W104)."""
    line = state.line_at(pos)
    rest = state.buf[pos:].rstrip()
    if state.eof and not rest.endswith("]"):
        _warn_cut(path, line, problem, n)
        tally.skip("truncated_file", path.name)
    else:
        warnings.warn(
            Warnings.W104.format(path=path, line=line, problem=problem, n=n), stacklevel=4
        )
        tally.skip("unreadable_rest_of_file", f"{path.name} line {line}")


class _ArrayState:
    """A sliding text buffer over the file with line accounting."""

    def __init__(self, f: IO[bytes], decoder: codecs.IncrementalDecoder) -> None:
        self.f, self.decoder = f, decoder
        self.buf = ""
        self.eof = False
        self.lines_before = 0  # newlines in text already dropped from the buffer
        self._cursor = 0  # newlines in buf[:_cursor] are counted in _cursor_line
        self._cursor_line = 0
        self._read()

    def _read(self, size: int = _CHUNK) -> None:
        try:
            chunk = self.f.read(size)
        except EOFError:  # cut gzip
            chunk = b""
        except (OSError, gzip.BadGzipFile) as exc:
            raise CorpusError(
                Errors.E106.format(
                    path=getattr(self.f, "name", "?"),
                    problem="is not a readable gzip file",
                    where=str(exc),
                    hint="Check the download or decompress it first.",
                )
            ) from exc
        if not chunk:
            self.eof = True
        self.buf += self.decoder.decode(chunk, final=self.eof)

    def more(self, pos: int) -> int:
        """Drop ``buf[:pos]``, read the next chunk; return the position of the old ``pos``.

        The chunk is at least as large as what is kept, so a record that spans many chunks is
        decoded again only a logarithmic number of times (linear time in its size).
        """
        self.lines_before = self.line_at(pos) - 1
        self._cursor = self._cursor_line = 0
        self.buf = self.buf[pos:]
        self._read(max(_CHUNK, len(self.buf)))
        return 0

    def skip_ws(self, pos: int) -> int:
        while True:
            pos = _WS.match(self.buf, pos).end()  # type: ignore[union-attr]
            if pos < len(self.buf) or self.eof:
                return pos
            pos = self.more(pos)

    def line_at(self, pos: int) -> int:
        """1-based line of ``buf[pos]``, counting newlines incrementally (positions only grow)."""
        if pos < self._cursor:
            return self.lines_before + self.buf.count("\n", 0, pos) + 1
        self._cursor_line += self.buf.count("\n", self._cursor, pos)
        self._cursor = pos
        return self.lines_before + self._cursor_line + 1
