"""Chat-message formats: OpenAI messages JSONL (``openai``) and ShareGPT (``sharegpt``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annotate.importers._base import Context, Importer
from annotate.importers._base import text_id as _id
from annotate.importers._jsonio import iter_records

_OPENAI_TOP = {"id", "conversation_id", "messages", "user_id", "created_at", "model", "meta"}
_OPENAI_MSG = {"role", "content", "created_at", "name", "model"}


def _content_text(content: Any, ctx: Context, where: str) -> Any:
    """OpenAI ``content``: a string, or a list of parts whose text parts are joined."""
    if not isinstance(content, list):
        return content
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
        else:
            ctx.tally.repair("non_text_content_part_dropped", where)
    return "\n".join(texts)


def read_openai(paths: Sequence[Path], ctx: Context) -> None:
    """JSONL (or a JSON array) of ``{"messages": [{"role", "content"}, ...], ...}``."""
    for path in paths:
        for where, rec in iter_records(path, ctx.tally):
            msgs = rec.get("messages") if isinstance(rec, dict) else None
            if not isinstance(msgs, list):
                ctx.tally.skip("invalid_record", f"{where}: no 'messages' list")
                continue
            turns = []
            for i, m in enumerate(msgs):
                w = f"{where} message {i}"
                if not isinstance(m, dict):
                    ctx.tally.skip("invalid_turn", f"{w}: not an object")
                    continue
                extra = {k: v for k, v in m.items() if k not in _OPENAI_MSG}
                name = m.get("name") if isinstance(m.get("name"), str) else None
                t = ctx.turn(
                    m.get("role"),
                    _content_text(m.get("content"), ctx, w),
                    w,
                    speaker=name or m.get("role"),
                    created_at=ctx.time(m.get("created_at"), w),
                    model=m.get("model") if isinstance(m.get("model"), str) else None,
                    meta=extra or None,
                )
                if t is not None:
                    turns.append(t)
            meta = rec.get("meta")
            if meta is not None and not isinstance(meta, dict):
                meta = {"meta": meta}
            meta = {**(meta or {}), **{k: v for k, v in rec.items() if k not in _OPENAI_TOP}}
            cid = _id(rec.get("id")) or _id(rec.get("conversation_id"))
            ctx.add(
                turns,
                where,
                conversation_id=cid,
                source_id=cid,
                user_id=_id(rec.get("user_id")),
                started_at=ctx.time(rec.get("created_at"), where),
                model=rec.get("model") if isinstance(rec.get("model"), str) else None,
                meta=meta,
            )


_SHAREGPT_TURNS = ("conversations", "conversation", "items", "messages")
_SHAREGPT_TOP = {"id", "conversation_id", "model", "language", *_SHAREGPT_TURNS}


def read_sharegpt(paths: Sequence[Path], ctx: Context) -> None:
    """JSON array or JSONL of ``{"id", "conversations": [{"from", "value"}, ...]}`` (streamed)."""
    turn_fn = ctx.turn
    for path in paths:
        for where, rec in iter_records(path, ctx.tally):
            msgs = None
            if isinstance(rec, dict):
                for key in _SHAREGPT_TURNS:
                    if key in rec:
                        msgs = rec[key]
                        break
            if not isinstance(msgs, list):
                ctx.tally.skip("invalid_record", f"{where}: no 'conversations' list")
                continue
            turns = []
            for i, m in enumerate(msgs):
                if not isinstance(m, dict):
                    ctx.tally.skip("invalid_turn", f"{where} turn {i}: not an object")
                    continue
                label = m.get("from", m.get("role"))
                text = m.get("value", m.get("content"))
                t = turn_fn(label, text, (where, i))
                if t is not None:
                    turns.append(t)
            cid = _id(rec.get("id")) or _id(rec.get("conversation_id"))
            meta = {k: v for k, v in rec.items() if k not in _SHAREGPT_TOP}
            lang, model = rec.get("language"), rec.get("model")
            ctx.add(
                turns,
                where,
                conversation_id=cid,
                source_id=cid,
                language=lang if isinstance(lang, str) else None,
                model=model if isinstance(model, str) else None,
                meta=meta or None,
            )


OPENAI = Importer(
    name="openai.v1",
    format="openai",
    reader=read_openai,
    description="JSONL of {messages: [{role, content}]} (+ id, user_id, created_at, model, meta)",
)

SHAREGPT = Importer(
    name="sharegpt.v1",
    format="sharegpt",
    reader=read_sharegpt,
    description="JSON array or JSONL of {id, conversations: [{from, value}]}, streamed",
)
