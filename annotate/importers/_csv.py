"""Any CSV/TSV table of turns, with a user-given column mapping.

Mapping fields (``mapping={"field": "column"}``; CLI ``--map field=column``): ``conversation_id``,
``role`` and ``text`` are required; ``turn_index`` (or ``order``) sorts the turns of a
conversation (numerically when every value is a number, else as text; file order without it);
``speaker``, ``created_at``, ``user_id``, ``model``, ``turn_id`` are optional. A field without a
mapping uses the column of the same name when the file has one. Role labels go through the usual
normalisation plus the ``roles`` option.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annotate.errors import CorpusError, Errors
from annotate.importers._base import Context, Importer, Option

FIELDS = (
    "conversation_id",
    "turn_index",
    "order",
    "role",
    "text",
    "speaker",
    "created_at",
    "user_id",
    "model",
    "turn_id",
)
REQUIRED = ("conversation_id", "role", "text")


def _mapping(header: list[str], ctx: Context, path: Path) -> dict[str, str]:
    given = ctx.options["mapping"]
    unknown = [f for f in given if f not in FIELDS]
    if unknown:
        raise CorpusError(
            Errors.E104.format(
                option="mapping",
                format="csv",
                value=", ".join(unknown),
                problem=f"not a mapping field; fields: {', '.join(FIELDS)}",
            )
        )
    mapping = {f: c for f, c in given.items()}
    for f in FIELDS:
        if f not in mapping and f in header:
            mapping[f] = f
    missing = [c for c in mapping.values() if c not in header]
    if missing:
        raise CorpusError(
            Errors.E109.format(
                path=path,
                missing=", ".join(repr(m) for m in missing),
                available=", ".join(repr(h) for h in header) or "none",
            )
        )
    absent = [f for f in REQUIRED if f not in mapping]
    if absent:
        raise CorpusError(
            Errors.E110.format(
                path=path,
                missing=", ".join(absent),
                fields=", ".join(FIELDS),
                available=", ".join(repr(h) for h in header) or "none",
            )
        )
    return mapping


def _sort_key(values: list[str]):
    try:
        nums = [float(v) for v in values]
    except ValueError:
        return values
    return nums


def read_csv(paths: Sequence[Path], ctx: Context) -> None:
    """Group rows by conversation, order them, and add each conversation."""
    csv.field_size_limit(sys.maxsize)
    convs: dict[str, list[tuple[str, dict[str, str], str]]] = {}
    mapping: dict[str, str] = {}
    for path in paths:
        delim = ctx.options["delimiter"] or (
            "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","
        )
        with open(path, newline="", encoding="utf-8-sig", errors="strict") as f:
            reader = csv.reader(f, delimiter=delim)
            header = next(reader, None)
            if header is None:
                continue
            mapping = _mapping([h.strip() for h in header], ctx, path)
            col = {h.strip(): i for i, h in enumerate(header)}
            for line_no, row in enumerate(reader, start=2):
                where = f"{path.name} line {line_no}"
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    ctx.tally.skip("wrong_number_of_cells", where)
                    continue
                rec = {f: row[col[c]] for f, c in mapping.items()}
                cid = rec["conversation_id"].strip()
                if not cid:
                    ctx.tally.skip("missing_conversation_id", where)
                    continue
                convs.setdefault(cid, []).append((where, rec, cid))
    order_field = (
        "turn_index" if "turn_index" in mapping else "order" if "order" in mapping else None
    )
    for cid, rows in convs.items():
        if order_field:
            keys = _sort_key([r[order_field].strip() for _, r, _ in rows])
            if len(set(keys)) < len(keys):
                ctx.tally.observe("duplicate_turn_order", rows[0][0])
            rows = [r for _, r in sorted(zip(keys, rows, strict=True), key=lambda kr: kr[0])]
        _add(cid, rows, ctx)


def _add(cid: str, rows: list[tuple[str, dict[str, str], str]], ctx: Context) -> None:
    turns = []
    user_id = None
    for where, rec, _ in rows:
        opt: dict[str, Any] = {}
        for f in ("speaker", "model", "turn_id"):
            if rec.get(f, "").strip():
                opt[f] = rec[f]
        opt.setdefault("speaker", rec["role"])
        if "created_at" in rec:
            opt["created_at"] = ctx.time(rec["created_at"].strip() or None, where)
        user_id = user_id or (rec.get("user_id") or "").strip() or None
        t = ctx.turn(rec["role"], rec["text"], where, **opt)
        if t is not None:
            turns.append(t)
    ctx.add(turns, rows[0][0], conversation_id=cid, source_id=cid, user_id=user_id)


CSV = Importer(
    name="csv.v1",
    format="csv",
    reader=read_csv,
    description="CSV/TSV of turns with a column mapping (conversation_id, role, text, ...)",
    options={
        "mapping": Option({}, "mapping", "field=column pairs, e.g. text=message,role=sender"),
        "delimiter": Option(
            "", "char", "cell separator, one character or tab (default: tab for .tsv, else comma)"
        ),
    },
)
