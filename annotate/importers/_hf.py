"""Hugging Face chat datasets, read column by column: ``hf-chat`` and ``arena``.

``hf-chat`` reads rows that hold a list of messages (parquet shards or JSON Lines), as
published for WildChat-1M / WildChat-4.8M (allenai; dataset cards), LMSYS-Chat-1M (lmsys) and
the many datasets in their layout. Per row: the message list (``conversation``, ``messages``
or ``conversations``; option ``message_column``) of structs with the role (``role`` or
``from``) and the text (``content``, ``value`` or ``text``); the id (``conversation_hash``,
``conversation_id``, ``id``), ``model`` (given to the assistant turns), ``language``,
``timestamp``. Everything else is kept:

* per message fields (WildChat: ``language``, ``redacted``, ``toxic``, ``turn_identifier``;
  on user turns ``country``, ``state``, ``hashed_ip``, ``header``; 4.8M adds
  ``system_fingerprint``, ``temperature``, ``top_p``, ``usage``...) go to the corpus's
  ``turn_fields.parquet``, typed as in the source, row for row like ``turns.parquet``
  (``corpus.turn_fields``);
* ``openai_moderation`` and ``detoxify_moderation``, lists with one result per message, are
  split onto the turns there too (flags and scores per turn, as structs); a list whose length
  differs from the messages' is dropped for that row (``repaired.moderation_length_mismatch``).
  Conversations with flagged turns get ``meta.content_note`` naming the categories (the
  widget shows it before the conversation);
* other columns (``turn``, ``toxic``, ``redacted``, ``country``, ``hashed_ip``, ``header``...)
  go to the conversation's meta (JSON).

Counted: redacted and toxic turns (``observed.redacted_turn``, ``observed.toxic_turn``),
flagged turns (``observed.moderation_flagged_turn``), naive timestamps read as UTC
(``observed.naive_timestamp_read_as_utc``, WildChat-4.8M), besides the usual skips.

Option ``users`` (who is the ``user_id``): ``column`` (default: a ``user_id`` column when
there is one), ``hashed_ip`` or ``hashed_ip+header`` (WildChat: the hashed IP address, plus
user-agent and accept-language). WildChat's authors group a user's conversations by these
for longitudinal analyses; it is **noisy**: several people behind one address (a campus, a
VPN, a mobile carrier) become one user, one person on two networks becomes two; the header
variant splits people who changed browser. Say so when you report per-user results.

A row whose message column holds a plain string (prompt-only datasets, e.g. ``{"prompt"}``)
is one user turn (``observed.prompt_only_row``).

``arena`` reads Chatbot Arena rows (``question_id``, ``model_a``, ``model_b``, ``winner``,
``judge``, ``conversation_a``, ``conversation_b``, ``turn``, ``anony``, ``language``,
``tstamp``, ``openai_moderation``, ``toxic_chat_tag``): two conversations per row,
``<question_id>-a`` and ``-b``, each with its model, ``meta.pair_id``, ``meta.side``,
``meta.opponent_model``, ``meta.winner``, ``meta.won`` (true, false, or null for a tie) and the
row's moderation in its meta.

Rows are processed a batch at a time with Arrow compute; the turns go to the builder's sorted
runs, which spill to disk (memory stays bounded whatever the number of shards).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotate.corpus import CONVERSATIONS_SCHEMA, TURNS_SCHEMA, content_hash
from annotate.errors import CorpusError, Errors
from annotate.importers._arrow_json import encode, object_of  # conversation meta
from annotate.importers._base import Context, Importer, Option
from annotate.importers._jsonio import iter_records
from annotate.importers._parquet import is_parquet, iter_batches

MESSAGE_COLUMNS = ("conversation", "messages", "conversations")
PROMPT_COLUMNS = ("prompt", "instruction", "question")
ID_COLUMNS = ("conversation_hash", "conversation_id", "id", "question_id")
ROLE_FIELDS = ("role", "from")
TEXT_FIELDS = ("content", "value", "text")
TIME_FIELDS = ("timestamp", "created_at")
#: top-level lists with one entry per message
ALIGNED = ("openai_moderation", "detoxify_moderation")
_JSONL_CHUNK = 4096
_US = pa.timestamp("us", tz="UTC")


class Batch:
    """One batch of rows, with where it came from (for examples in the manifest)."""

    def __init__(self, table: pa.Table, name: str, first: int) -> None:
        self.table, self.name, self.first = table, name, first

    def where(self, row: int) -> str:
        return f"{self.name} row {self.first + row + 1}"


def batches(paths: Sequence[Path], ctx: Context) -> Iterator[Batch]:
    """Parquet row groups, or JSON Lines records in chunks, as Arrow tables."""
    for path in paths:
        if is_parquet(path):
            for first, batch in iter_batches(path):
                yield Batch(pa.Table.from_batches([batch]), path.name, first)
            continue
        chunk: list[Any] = []
        first = 0
        for _, rec in iter_records(path, ctx.tally):
            if not isinstance(rec, dict):
                ctx.tally.skip("invalid_record", f"{path.name} record {first + len(chunk) + 1}")
                continue
            chunk.append(rec)
            if len(chunk) >= _JSONL_CHUNK:
                yield Batch(_from_records(chunk, ctx, path.name), path.name, first)
                first += len(chunk)
                chunk = []
        if chunk:
            yield Batch(_from_records(chunk, ctx, path.name), path.name, first)


def _from_records(records: list[dict[str, Any]], ctx: Context, name: str) -> pa.Table:
    """JSON records as a table; values whose types disagree across rows become JSON text."""
    try:
        return pa.Table.from_pylist(records)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    import json

    keys = list(dict.fromkeys(k for r in records for k in r))
    cols = {}
    for k in keys:
        values = [r.get(k) for r in records]
        try:
            cols[k] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            ctx.tally.repair("mixed_types_kept_as_json", f"{name}: column {k!r}")
            cols[k] = pa.array([None if v is None else json.dumps(v, default=str) for v in values])
    return pa.table(cols)


# --- shared steps -----------------------------------------------------------------------------


def _pick(names: Sequence[str], candidates: Sequence[str]) -> str | None:
    return next((c for c in candidates if c in names), None)


def _as_strings(col: Any) -> pa.Array:
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_string(col.type):
        return col
    if pa.types.is_integer(col.type) or pa.types.is_large_string(col.type):
        return pc.cast(col, pa.string())
    if pa.types.is_dictionary(col.type):
        return _as_strings(pc.cast(col, col.type.value_type))
    return pa.nulls(len(col), pa.string())


def _times(col: Any, ctx: Context, where: str) -> pa.Array:
    """A timestamp column (any unit, naive = UTC) or unix seconds as timestamp[us, UTC]."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    t = col.type
    if pa.types.is_timestamp(t):
        if t.tz is None:
            n = len(col) - col.null_count
            if n:
                ctx.tally.observe("naive_timestamp_read_as_utc", where, n=n)
            col = pc.cast(col, pa.timestamp(t.unit))
            return pc.assume_timezone(col, "UTC").cast(_US)
        return col.cast(_US)
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        micros = pc.multiply(pc.cast(col, pa.float64()), 1e6)
        return pc.cast(pc.cast(micros, pa.int64(), safe=False), _US)
    if pa.types.is_string(t):
        try:
            return pc.cast(col, _US)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            ctx.tally.repair("invalid_timestamp", where, n=len(col) - col.null_count)
    return pa.nulls(len(col), _US)


class Flat:
    """The messages of a batch, flattened: one element per message, ``parent`` its row."""

    def __init__(self, msgs: pa.ListArray) -> None:
        self.msgs = msgs
        self.values = msgs.flatten()
        self.parent = pc.list_parent_indices(msgs).to_numpy()
        lengths = pc.fill_null(pc.list_value_length(msgs), 0).to_numpy()
        self.lengths = lengths
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        self.within = np.arange(len(self.parent)) - np.repeat(starts, lengths)


def aligned(flat: Flat, col: Any, ctx: Context, batch: Batch, name: str) -> pa.Array | None:
    """A per-message list column put onto the flat messages (null where lengths differ)."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type)):
        return None
    lengths = pc.fill_null(pc.list_value_length(col), -1).to_numpy()
    bad = (lengths != flat.lengths) & (lengths >= 0)
    for r in np.flatnonzero(bad)[:5]:
        ctx.tally.repair("moderation_length_mismatch", f"{batch.where(int(r))}: {name}")
    if bad.sum() > 5:
        ctx.tally.repair("moderation_length_mismatch", n=int(bad.sum()) - 5)
    values = col.flatten()
    if not bad.any() and not col.null_count and len(values) == len(flat.parent):
        # one entry per message, row for row (the usual case): the entries are the messages'
        return values
    ok = (lengths == flat.lengths)[flat.parent]
    offsets = pc.subtract(col.offsets, col.offsets[0]).to_numpy()
    idx = offsets[:-1][flat.parent] + flat.within
    take = pa.array(np.where(ok, idx, 0), mask=~ok)
    return values.take(take)


def normalise_roles(labels: pa.Array, texts: pa.Array, ctx: Context, batch: Batch, parent):
    """Normalised roles and the keep mask, counting skips as :meth:`Context.turn` does."""
    labels = _as_strings(labels)
    enc = pc.dictionary_encode(labels)
    mapped = [ctx.roles(v) for v in enc.dictionary.to_pylist()]
    roles = pa.array(mapped, pa.string()).take(enc.indices)
    unknown = pc.is_null(roles).to_numpy(zero_copy_only=False)
    if unknown.any():
        raw = labels.filter(pa.array(unknown))
        first = int(np.flatnonzero(unknown)[0])
        for item in pc.value_counts(raw).to_pylist():
            label, n = item["values"], item["counts"]
            ctx.tally.skip("unknown_role", f"{batch.where(int(parent[first]))}: {label!r}", n=n)
            if isinstance(label, str) and 0 < len(label.strip()) <= 100:
                ctx.unknown[label.strip()] += n
            else:
                ctx.unknown_other[repr(label)] += n
    texts = _as_strings(texts)
    invalid = (pc.is_null(texts).to_numpy(zero_copy_only=False)) & ~unknown
    blank = pc.or_(pc.equal(pc.binary_length(texts), 0), pc.utf8_is_space(texts))
    empty = pc.fill_null(blank, False).to_numpy(zero_copy_only=False) & ~unknown & ~invalid
    role_np = None
    for mask, reason in ((invalid, "invalid_turn"), (empty, "empty_turn")):
        if mask.any():
            if role_np is None:  # rare: only batches with skipped turns pay for it
                role_np = np.asarray(roles.to_pylist(), dtype=object)
            for role in set(role_np[mask]):
                sel = mask & (role_np == role)
                count = int(sel.sum())
                at = batch.where(int(parent[int(np.flatnonzero(sel)[0])]))
                ctx.tally.skip(reason, at, n=count)
                ctx.dropped.setdefault(str(role), Counter())[reason] += count
                ctx.dropped_at.setdefault(str(role), at)
    keep = ~(unknown | invalid | empty)
    return roles, texts, keep


def emit(
    ctx: Context,
    batch: Batch,
    ids: pa.Array,
    parent: np.ndarray,
    keep: np.ndarray,
    turn_cols: dict[str, pa.Array],
    conv_cols: dict[str, pa.Array],
    extras: list[tuple[str, pa.Array]] = (),  # type: ignore[assignment]
) -> None:
    """Hand the kept turns (and their per-turn source fields) and conversations to the
    builder."""
    n_rows = len(ids)
    kept_parent = parent[keep]
    counts = np.bincount(kept_parent, minlength=n_rows)
    has = counts > 0
    for r in np.flatnonzero(~has)[:5]:
        ctx.tally.skip("empty_conversation", batch.where(int(r)))
    if (~has).sum() > 5:
        ctx.tally.skip("empty_conversation", n=int((~has).sum()) - 5)
    if not has.any():
        return
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    turn_index = np.arange(len(kept_parent)) - np.repeat(starts, counts)
    every = bool(keep.all())
    mask = pa.array(keep)
    cols = turn_cols if every else {k: v.filter(mask) for k, v in turn_cols.items()}
    role = cols["role"]
    codes = pc.dictionary_encode(role).indices.to_numpy()
    same = (kept_parent[1:] == kept_parent[:-1]) & (codes[1:] == codes[:-1])
    if same.any():
        rows = kept_parent[1:][same]
        n_same = int(np.count_nonzero(np.diff(rows)) + 1)
        ctx.tally.observe("consecutive_same_role", batch.where(int(rows[0])), n=n_same)
    for item in pc.value_counts(role).to_pylist():
        ctx.kept[str(item["values"])] += int(item["counts"])
    conv_ids = ids.take(pa.array(kept_parent))
    turns = pa.table(
        {
            "conversation_id": conv_ids,
            "turn_index": pa.array(turn_index, pa.int32()),
            "turn_id": pa.nulls(len(kept_parent), pa.string()),
            "role": role,
            "speaker": cols["speaker"],
            "text": cols["text"],
            "created_at": cols.get("created_at", pa.nulls(len(kept_parent), _US)),
            "model": cols.get("model", pa.nulls(len(kept_parent), pa.string())),
            "meta": cols.get("meta", pa.nulls(len(kept_parent), pa.string())),
        },
        schema=TURNS_SCHEMA,
    )
    sel = pa.array(has)
    conv = {k: v.filter(sel) for k, v in conv_cols.items()}
    n = int(has.sum())
    convs = pa.table(
        {
            "conversation_id": ids.filter(sel),
            "source": pa.array([ctx.importer.name] * n, pa.string()),
            "source_id": conv.get("source_id", pa.nulls(n, pa.string())),
            "user_id": conv.get("user_id", pa.nulls(n, pa.string())),
            "started_at": conv.get("started_at", pa.nulls(n, _US)),
            "n_turns": pa.array(counts[has], pa.int32()),
            "language": conv.get("language", pa.nulls(n, pa.string())),
            "model": conv.get("model", pa.nulls(n, pa.string())),
            "meta": conv.get("meta", pa.nulls(n, pa.string())),
        },
        schema=CONVERSATIONS_SCHEMA,
    )
    if ctx.user_id is not None:
        convs = convs.set_column(3, "user_id", pa.array([ctx.user_id] * n, pa.string()))
    if ctx.pseudo is not None:
        turns = turns.set_column(
            5,
            "text",
            pa.array([ctx.pseudo.text(t) for t in turns["text"].to_pylist()], pa.string()),
        )
    fields = None
    if extras:
        fields = pa.table({name: col if every else col.filter(mask) for name, col in extras})
    ctx.builder.add_table(turns, convs, fields)


def fill_ids(ids: pa.Array, texts_by_row: Any) -> pa.Array:
    """Missing ids (null or empty) become content hashes of the row's turns."""
    missing = pc.fill_null(pc.or_kleene(pc.is_null(ids), pc.equal(ids, "")), True)
    missing = missing.to_numpy(zero_copy_only=False)
    if not missing.any():
        return ids
    values = ids.to_pylist()
    for r in np.flatnonzero(missing):
        values[r] = content_hash(texts_by_row(int(r)))
    return pa.array(values, pa.string())


def content_note(flagged_by: dict[str, np.ndarray], n_rows: int) -> pa.Array:
    """Per row, the moderation categories flagged on any of its turns (None: none)."""
    notes: list[Any] = [None] * n_rows
    for cat, rows in flagged_by.items():
        for r in np.flatnonzero(rows):
            notes[r] = cat if notes[r] is None else f"{notes[r]}, {cat}"
    return pa.array(
        [None if x is None else f"flagged by moderation: {x}" for x in notes], pa.string()
    )


# --- hf-chat ----------------------------------------------------------------------------------


def _message_column(table: pa.Table, ctx: Context, batch: Batch) -> str:
    names = table.column_names
    given = ctx.options["message_column"]
    col = given or next(
        (c for c in (*MESSAGE_COLUMNS, *PROMPT_COLUMNS) if c in names and _usable(table[c].type)),
        None,
    )
    if col is None or col not in names or not _usable(table[col].type):
        raise CorpusError(
            Errors.E121.format(
                sources=batch.name,
                looked=", ".join(([given] if given else []) + [*MESSAGE_COLUMNS, *PROMPT_COLUMNS]),
                columns=", ".join(f"{n} ({table[n].type})" for n in names)[:600],
            )
        )
    return col


def _usable(t: pa.DataType) -> bool:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return True
    return (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_struct(t.value_type)


def read_hf(paths: Sequence[Path], ctx: Context) -> None:
    """Import rows holding a list of messages (WildChat, LMSYS-Chat-1M and their kin)."""
    for batch in batches(paths, ctx):
        t = batch.table
        col = _message_column(t, ctx, batch)
        names = t.column_names
        id_col = _pick(names, ID_COLUMNS)
        ids = _as_strings(t[id_col]) if id_col else pa.nulls(t.num_rows, pa.string())
        time_col = _pick(names, ("timestamp", "tstamp", "created_at"))
        used = {col, id_col, time_col, "model", "language", *ALIGNED}
        users = _user_ids(t, ctx, col)
        if users is not None and "user_id" in names:
            used.add("user_id")
        conv_meta = [(n, t[n]) for n in names if n not in used]
        _chat(
            ctx,
            batch,
            messages=t[col],
            ids=ids,
            model=_as_strings(t["model"]) if "model" in names else None,
            started=_times(t[time_col], ctx, batch.where(0)) if time_col else None,
            language=_as_strings(t["language"]) if "language" in names else None,
            users=users,
            conv_meta=conv_meta,
            per_turn={n: t[n] for n in ALIGNED if n in names},
        )


def _user_ids(t: pa.Table, ctx: Context, col: str) -> pa.Array | None:
    how = ctx.options["users"]
    names = t.column_names
    if how == "none":
        return None
    if how == "column":
        return _as_strings(t["user_id"]) if "user_id" in names else None
    ip = _first_user_field(t, col, "hashed_ip") if "hashed_ip" not in names else t["hashed_ip"]
    ip = _as_strings(ip)
    if how == "hashed_ip":
        key = ip
    else:
        header = t["header"] if "header" in names else _first_user_field(t, col, "header")
        header = header.combine_chunks() if isinstance(header, pa.ChunkedArray) else header
        parts = [ip]
        for f in ("user-agent", "accept-language"):
            ok = pa.types.is_struct(header.type) and header.type.get_field_index(f) >= 0
            parts.append(
                _as_strings(header.field(f)).fill_null("") if ok else pa.array([""] * len(ip))
            )
        key = pc.if_else(
            pc.is_null(ip),
            pa.scalar(None, pa.string()),
            pc.binary_join_element_wise(*parts, "\x1f"),
        )
    enc = pc.dictionary_encode(key)
    hashed = [
        None if v is None else "u" + hashlib.sha256(v.encode()).hexdigest()[:16]
        for v in enc.dictionary.to_pylist()
    ]
    return pa.array(hashed, pa.string()).take(enc.indices)


def _first_user_field(t: pa.Table, col: str, field: str) -> pa.Array:
    """Per row, ``field`` of the first message that has it (WildChat puts the hashed IP and
    headers on user turns)."""
    msgs = t[col].combine_chunks()
    values = msgs.flatten()
    if not pa.types.is_struct(values.type) or values.type.get_field_index(field) < 0:
        return pa.nulls(t.num_rows, pa.string())
    f = values.field(field)
    parent = pc.list_parent_indices(msgs).to_numpy()
    valid = ~pc.is_null(f).to_numpy(zero_copy_only=False)
    first = np.full(t.num_rows, -1, dtype=np.int64)
    rows = parent[valid][::-1]
    first[rows] = np.flatnonzero(valid)[::-1]
    return f.take(pa.array(np.where(first >= 0, first, 0), mask=first < 0))


def _chat(
    ctx: Context,
    batch: Batch,
    *,
    messages: Any,
    ids: pa.Array,
    model: pa.Array | None,
    started: pa.Array | None,
    language: pa.Array | None,
    users: pa.Array | None,
    conv_meta: list[tuple[str, Any]],
    per_turn: dict[str, Any],
    note_from: pa.Array | None = None,
) -> None:
    """The common path: flatten, normalise, meta, hand to the builder."""
    msgs = messages.combine_chunks() if isinstance(messages, pa.ChunkedArray) else messages
    n_rows = len(msgs)
    if pa.types.is_string(msgs.type) or pa.types.is_large_string(msgs.type):
        ctx.tally.observe("prompt_only_row", batch.where(0), n=n_rows)
        offsets = pa.array(np.arange(n_rows + 1, dtype=np.int32))
        structs = pa.StructArray.from_arrays(
            [pa.array(["user"] * n_rows), _as_strings(msgs)], names=["role", "content"]
        )
        msgs = pa.ListArray.from_arrays(offsets, structs)
    flat = Flat(msgs)
    values = flat.values
    fields = [values.type.field(i).name for i in range(values.type.num_fields)]
    role_f, text_f = _pick(fields, ROLE_FIELDS), _pick(fields, TEXT_FIELDS)
    if role_f is None or text_f is None:
        raise CorpusError(
            Errors.E121.format(
                sources=batch.name,
                looked="messages with a role (role, from) and a text (content, value, text)",
                columns="message fields " + ", ".join(fields),
            )
        )
    roles, texts, keep = normalise_roles(
        values.field(role_f), values.field(text_f), ctx, batch, flat.parent
    )
    time_f = _pick(fields, ("timestamp", "created_at"))
    extras = [(f, values.field(f)) for f in fields if f not in (role_f, text_f, time_f)]
    _observe_flags(values, fields, keep, ctx, batch, flat.parent)
    flagged_by: dict[str, np.ndarray] = {}
    for name, col in per_turn.items():
        a = aligned(flat, col, ctx, batch, name)
        if a is None:
            continue
        extras.append((name, a))
        if name == "openai_moderation" and pa.types.is_struct(a.type):
            flagged_by = _flags(a, keep, flat.parent, n_rows, ctx, batch)
    if note_from is not None:
        flagged_by = _row_flags(note_from)
    parent = flat.parent
    source_ids = ids
    ids = fill_ids(
        ids,
        lambda r: [
            {"role": roles[int(j)].as_py(), "text": texts[int(j)].as_py()}
            for j in np.flatnonzero((parent == r) & keep)
        ],
    )
    turn_cols: dict[str, pa.Array] = {
        "role": roles,
        "speaker": _as_strings(values.field(role_f)),
        "text": texts,
    }
    if time_f:
        turn_cols["created_at"] = _times(values.field(time_f), ctx, batch.where(0))
    if model is not None:
        turn_cols["model"] = pc.if_else(
            pc.equal(roles, "assistant"), model.take(pa.array(parent)), pa.scalar(None, pa.string())
        )
    conv_cols: dict[str, pa.Array] = {"source_id": source_ids}
    if started is not None:
        conv_cols["started_at"] = started
    if language is not None:
        conv_cols["language"] = language
    if model is not None:
        conv_cols["model"] = model
    if users is not None:
        conv_cols["user_id"] = users
    encoded = [(n, encode(c)) for n, c in conv_meta]
    if flagged_by:
        encoded.append(("content_note", encode(content_note(flagged_by, n_rows))))
    conv_cols["meta"] = object_of(encoded, n_rows)
    emit(ctx, batch, ids, parent, keep, turn_cols, conv_cols, extras)


def _observe_flags(values, fields, keep, ctx: Context, batch: Batch, parent) -> None:
    for f, reason in (("redacted", "redacted_turn"), ("toxic", "toxic_turn")):
        if f in fields and pa.types.is_boolean(values.type.field(f).type):
            hit = pc.fill_null(values.field(f), False).to_numpy(zero_copy_only=False) & keep
            if hit.any():
                ctx.tally.observe(
                    reason, batch.where(int(parent[np.flatnonzero(hit)[0]])), n=int(hit.sum())
                )


def _categories(struct: pa.StructArray) -> dict[str, pa.Array]:
    """Category name -> flag, ``a_b`` merged into ``a/b`` where both spellings exist."""
    out: dict[str, pa.Array] = {}
    names = [struct.type.field(i).name for i in range(struct.type.num_fields)]
    for name in names:
        if not pa.types.is_boolean(struct.type.field(name).type):
            continue  # a spelling never used in this batch (all null)
        label = name.replace("_", "/") if name.replace("_", "/") in names else name
        flag = pc.fill_null(struct.field(name), False)
        out[label] = pc.or_(out[label], flag) if label in out else flag
    return out


def _flags(a, keep, parent, n_rows, ctx: Context, batch: Batch) -> dict[str, np.ndarray]:
    """Count flagged turns; per row, which categories were flagged."""
    fields = [a.type.field(i).name for i in range(a.type.num_fields)]
    if "flagged" in fields:
        flagged = a.field("flagged")
        hit = pc.fill_null(flagged, False).to_numpy(zero_copy_only=False) & keep
        if hit.any():
            ctx.tally.observe(
                "moderation_flagged_turn",
                batch.where(int(parent[np.flatnonzero(hit)[0]])),
                n=int(hit.sum()),
            )
    out: dict[str, np.ndarray] = {}
    if "categories" in fields and pa.types.is_struct(a.type.field("categories").type):
        for name, flag in _categories(a.field("categories")).items():
            on = flag.to_numpy(zero_copy_only=False) & keep
            if on.any():
                out[name] = np.bincount(parent[on], minlength=n_rows) > 0
    return out


def _row_flags(struct: Any) -> dict[str, np.ndarray]:
    """Arena: one moderation result per row."""
    struct = struct.combine_chunks() if isinstance(struct, pa.ChunkedArray) else struct
    if not pa.types.is_struct(struct.type) or struct.type.get_field_index("categories") < 0:
        return {}
    cats = struct.field("categories")
    if not pa.types.is_struct(cats.type):
        return {}
    return {
        name: flag.to_numpy(zero_copy_only=False)
        for name, flag in _categories(cats).items()
        if pc.any(flag).as_py()
    }


# --- arena ------------------------------------------------------------------------------------

_ARENA_USED = (
    "question_id",
    "model_a",
    "model_b",
    "conversation_a",
    "conversation_b",
    "tstamp",
    "language",
)


def read_arena(paths: Sequence[Path], ctx: Context) -> None:
    """Import Chatbot Arena battles: two conversations per row."""
    for batch in batches(paths, ctx):
        t = batch.table
        names = t.column_names
        missing = [c for c in ("conversation_a", "conversation_b") if c not in names]
        if missing:
            raise CorpusError(
                Errors.E121.format(
                    sources=batch.name,
                    looked="conversation_a and conversation_b",
                    columns=", ".join(names),
                )
            )
        qid = (
            _as_strings(t["question_id"])
            if "question_id" in names
            else pa.nulls(t.num_rows, pa.string())
        )
        winner = (
            _as_strings(t["winner"]) if "winner" in names else pa.nulls(t.num_rows, pa.string())
        )
        rest = [(n, t[n]) for n in names if n not in _ARENA_USED]
        for side, other in (("a", "b"), ("b", "a")):
            model = _as_strings(t[f"model_{side}"]) if f"model_{side}" in names else None
            opponent = _as_strings(t[f"model_{other}"]) if f"model_{other}" in names else None
            won = pc.if_else(
                pc.equal(winner, f"model_{side}"),
                True,
                pc.if_else(pc.equal(winner, f"model_{other}"), False, pa.scalar(None, pa.bool_())),
            )
            meta = [
                ("pair_id", qid),
                ("side", pa.array([side] * t.num_rows)),
                ("won", won),
                *([("opponent_model", opponent)] if opponent is not None else []),
                *rest,
            ]
            _chat(
                ctx,
                batch,
                messages=t[f"conversation_{side}"],
                ids=pc.if_else(pc.is_null(qid), qid, pc.binary_join_element_wise(qid, side, "-")),
                model=model,
                started=_times(t["tstamp"], ctx, batch.where(0)) if "tstamp" in names else None,
                language=_as_strings(t["language"]) if "language" in names else None,
                users=None,
                conv_meta=meta,
                per_turn={},
                note_from=t["openai_moderation"] if "openai_moderation" in names else None,
            )


HF_CHAT = Importer(
    name="hf-chat.v1",
    format="hf-chat",
    reader=read_hf,
    description="Hugging Face chat rows (parquet shards or JSONL) holding a list of "
    "{role, content} messages: WildChat, LMSYS-Chat-1M; moderation kept per turn",
    options={
        "message_column": Option("", "str", "the column holding the messages (default: auto)"),
        "users": Option(
            "column",
            "choice",
            "column: a user_id column if any (default); hashed_ip or hashed_ip+header "
            "(WildChat; noisy: an address is not a person); none",
            ("column", "hashed_ip", "hashed_ip+header", "none"),
        ),
    },
)

ARENA = Importer(
    name="arena.v1",
    format="arena",
    reader=read_arena,
    description="Chatbot Arena battles (parquet or JSONL): conversation_a/b, model_a/b, "
    "winner, judge; two conversations per row",
)
