"""Companion-app logs: PIPPA (``pippa``) and SillyTavern chat files (``sillytavern``).

PIPPA (Gosling, Dale & Zheng 2023; the dataset card of PygmalionAI/PIPPA): one record per
conversation with a Character.AI bot: ``bot_id``, ``bot_name``, ``bot_greeting``,
``bot_definitions``, ``bot_description``, ``categories``, ``submission_timestamp`` (unix
milliseconds, or a timestamp in the parquet copies) and ``conversation`` of
``{message, is_human}``. Human turns are ``user``, bot turns ``assistant`` with the bot's
name as ``speaker`` and ``model``. The persona (name, greeting, definitions, description,
categories, bot id) is recorded in the conversation's ``meta.persona``. The submission time is
when the log was donated, not when it was written: it goes to ``meta.submitted_at`` and
``started_at`` stays null. Counted: a first bot turn that repeats the greeting
(``observed.greeting_is_first_turn``), ``{{user}}``/``{{char}}`` placeholders left in turns
(``observed.template_placeholder``).

SillyTavern (its chat ``.jsonl`` files, one chat per file): a header line
(``user_name``, ``character_name``, ``create_date``, ``chat_metadata``), then one message per
line: ``name``, ``is_user``, ``is_system``, ``send_date``, ``mes``, ``swipes``, ``swipe_id``,
``extra``. ``mes`` is the text shown; the other swipes (alternative replies the person
flicked through) are kept in ``meta.swipes`` with ``meta.swipe_id`` (option ``swipes=drop``
leaves them out); ``is_system`` messages (narration, hidden notes) are ``system`` turns with
``meta.hidden``. ``send_date`` is read in each form SillyTavern has written (ISO 8601, unix
milliseconds, ``June 1, 2024 3:04pm``, ``2024-6-1 @15h 04m 12s 345ms``); the human forms are
the user's local time without a zone and are read as UTC (``observed.local_time_read_as_utc``).
``extra.model`` (the LLM behind the character) becomes the turn's ``model``, ``extra.reasoning``
goes to meta.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from annotate.importers._base import Context, Importer, Option, text_id
from annotate.importers._jsonio import iter_records

_PLACEHOLDER = re.compile(r"\{\{(user|char)\}\}|<(USER|BOT)>", re.I)


def read_pippa(paths: Sequence[Path], ctx: Context) -> None:
    """Import PIPPA records (JSONL or parquet)."""
    for path in paths:
        for where, rec in iter_records(path, ctx.tally):
            conv = rec.get("conversation") if isinstance(rec, dict) else None
            if isinstance(conv, dict) and isinstance(conv.get("message"), list):
                conv = [  # the columnar form of some parquet copies
                    {"message": m, "is_human": h}
                    for m, h in zip(conv["message"], conv.get("is_human") or [], strict=False)
                ]
            if not isinstance(conv, list):
                ctx.tally.skip("invalid_record", f"{where}: no 'conversation' list")
                continue
            bot = rec.get("bot_name") if isinstance(rec.get("bot_name"), str) else None
            greeting = rec.get("bot_greeting")
            turns = []
            for i, m in enumerate(conv):
                w = f"{where} turn {i}"
                if not isinstance(m, dict) or not isinstance(m.get("is_human"), bool):
                    ctx.tally.skip("invalid_turn", f"{w}: no is_human flag")
                    continue
                human = m["is_human"]
                text = m.get("message")
                if isinstance(text, str) and _PLACEHOLDER.search(text):
                    ctx.tally.observe("template_placeholder", w)
                t = ctx.turn(
                    "user" if human else "assistant",
                    text,
                    w,
                    speaker="user" if human else (bot or "bot"),
                    model=None if human else bot,
                )
                if t is not None:
                    turns.append(t)
            if (
                turns
                and turns[0]["role"] == "assistant"
                and isinstance(greeting, str)
                and turns[0]["text"].strip() == greeting.strip()
            ):
                ctx.tally.observe("greeting_is_first_turn", where)
            persona = {
                "name": bot,
                "bot_id": rec.get("bot_id"),
                "greeting": greeting,
                "definitions": rec.get("bot_definitions"),
                "description": rec.get("bot_description"),
                "categories": rec.get("categories"),
            }
            submitted = _pippa_time(rec.get("submission_timestamp"), ctx, where)
            meta = {
                "persona": {k: v for k, v in persona.items() if v not in (None, "", [])},
                "submitted_at": submitted.isoformat() if submitted else None,
            }
            ctx.add(turns, where, model=bot, meta=meta)


def _pippa_time(value: Any, ctx: Context, where: str) -> datetime | None:
    """Unix milliseconds (the JSONL) or a timestamp (parquet copies)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = value / 1000
    return ctx.time(value, where)


# --- SillyTavern ----------------------------------------------------------------------------

_HUMAN_FORMS = ("%B %d, %Y %I:%M%p", "%B %d, %Y %I:%M %p", "%b %d, %Y %I:%M%p")
_AT_FORM = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2}) ?@(\d{1,2})h ?(\d{1,2})m ?(\d{1,2})s(?: ?(\d{1,3})ms)?$"
)


def st_time(value: Any, ctx: Context, where: str) -> datetime | None:
    """A SillyTavern ``send_date``/``create_date`` in any of its forms (UTC)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 1e11:
        return ctx.time(value / 1000, where)  # unix milliseconds
    if isinstance(value, str):
        text = value.strip()
        m = _AT_FORM.match(text)
        if m:
            y, mo, d, h, mi, s, ms = (int(x) if x else 0 for x in m.groups())
            ctx.tally.observe("local_time_read_as_utc", where)
            try:
                return datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=UTC)
            except ValueError:
                ctx.tally.repair("invalid_timestamp", where)
                return None
        for form in _HUMAN_FORMS:  # month names and am/pm match in any case
            try:
                dt = datetime.strptime(text, form)
            except ValueError:
                continue
            ctx.tally.observe("local_time_read_as_utc", where)
            return dt.replace(tzinfo=UTC)
    return ctx.time(value, where)


def read_sillytavern(paths: Sequence[Path], ctx: Context) -> None:
    """Import SillyTavern chat files (one conversation per file)."""
    keep_swipes = ctx.options["swipes"] == "meta"
    for path in paths:
        header: dict[str, Any] = {}
        turns: list[dict[str, Any]] = []
        for where, rec in iter_records(path, ctx.tally):
            if not isinstance(rec, dict):
                ctx.tally.skip("invalid_turn", f"{where}: not an object")
                continue
            if "mes" not in rec and ("user_name" in rec or "character_name" in rec):
                header = rec
                continue
            t = _st_turn(rec, ctx, where, keep_swipes)
            if t is not None:
                turns.append(t)
        if turns and turns[0]["role"] == "assistant":
            ctx.tally.observe("greeting_is_first_turn", path.name)
        meta = {
            k: header[k] for k in ("user_name", "character_name", "chat_metadata") if header.get(k)
        }
        meta["file"] = path.name
        character = header.get("character_name")
        ctx.add(
            turns,
            path.name,
            source_id=path.stem,
            started_at=st_time(header.get("create_date"), ctx, f"{path.name} header"),
            model=character if isinstance(character, str) else None,
            meta=meta,
        )


def _st_turn(rec: dict[str, Any], ctx: Context, where: str, keep_swipes: bool):
    extra: dict[str, Any] = rec["extra"] if isinstance(rec.get("extra"), dict) else {}
    meta: dict[str, Any] = {}
    if rec.get("is_user") is True:
        role = "user"
    elif rec.get("is_system") is True:
        role = "system"
        meta["hidden"] = True
    elif rec.get("is_user") is False or "is_user" not in rec:
        role = "assistant"
    else:
        ctx.tally.skip("invalid_turn", f"{where}: is_user is {rec.get('is_user')!r}")
        return None
    swipes = rec.get("swipes")
    if isinstance(swipes, list) and len(swipes) > 1:
        ctx.tally.observe("message_with_swipes", where)
        sid = rec.get("swipe_id")
        if (
            isinstance(sid, int)
            and 0 <= sid < len(swipes)
            and isinstance(rec.get("mes"), str)
            and swipes[sid] != rec["mes"]
        ):
            ctx.tally.observe("shown_text_differs_from_swipe", where)
        if keep_swipes:
            meta["swipes"] = swipes
            meta["swipe_id"] = sid
    for key in ("reasoning", "api", "display_text", "token_count"):
        if extra.get(key) not in (None, ""):
            meta[key] = extra[key]
    if rec.get("is_group"):
        meta["group"] = True
    model = extra.get("model") if isinstance(extra.get("model"), str) else None
    name = text_id(rec.get("name"))
    return ctx.turn(
        role,
        rec.get("mes"),
        where,
        speaker=name or role,
        created_at=st_time(rec.get("send_date"), ctx, where),
        model=model if role == "assistant" else None,
        meta=meta,
    )


PIPPA = Importer(
    name="pippa.v1",
    format="pippa",
    reader=read_pippa,
    description="PIPPA (Character.AI logs): {bot_name, bot_definitions, bot_greeting, "
    "conversation: [{message, is_human}]}, JSONL or parquet; persona in meta",
)

SILLYTAVERN = Importer(
    name="sillytavern.v1",
    format="sillytavern",
    reader=read_sillytavern,
    description="SillyTavern chat .jsonl files (header line, then {name, is_user, send_date, "
    "mes, swipes}); one conversation per file",
    options={
        "swipes": Option(
            "meta",
            "choice",
            "meta: keep the other swipes in the turn's meta (default); drop: leave them out",
            ("meta", "drop"),
        )
    },
)
