"""PRISM (Kirk et al. 2024, "The PRISM Alignment Project"; layout of its dataset card and code
book): ``conversations.jsonl`` and ``survey.jsonl`` (pass both, or the folder holding them).

A conversation record has ``conversation_id``, ``user_id``, ``conversation_type`` (unguided,
values guided, controversy guided), ``generated_datetime`` and ``conversation_history``: turns
of ``{turn, role, content, model_name, model_provider, score, if_chosen, within_turn_id}``.
Each user turn got several model responses (rated by ``score``); ``if_chosen`` marks the one the
conversation continued from. Policy (option ``responses``):

* ``chosen`` (default): the user turn, then the chosen response; the responses not chosen are
  kept in that turn's ``meta.alternatives`` (model, provider, score, text). A turn where no
  response is marked chosen keeps the best-scored one (``repaired.no_chosen_response``).
* ``all``: every response as its own assistant turn, in ``within_turn_id`` order, with
  ``meta.if_chosen`` (consecutive assistant turns, ``observed.consecutive_same_role``).

The survey (one row per participant: demographics, stated preferences, LLM familiarity) is the
corpus's **user table** (``users.parquet``, one row per ``user_id``; nested answers flattened to
``location.reside_country`` etc.), so analyses can group conversations by who had them. Other
PRISM files (``utterances.jsonl``, ``metadata.jsonl``) repeat what these two hold and are not
read (``observed.file_not_read``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annotate.importers._base import Context, Importer, Option, text_id
from annotate.importers._jsonio import iter_records

_CONV_META = (
    "conversation_type",
    "conversation_turns",
    "timing_duration_s",
    "included_in_balanced_subset",
    "performance_attributes",
    "choice_attributes",
    "open_feedback",
)


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    for kind in ("survey", "conversations"):
        if name.startswith(kind):
            return kind
    return None


def read_prism(paths: Sequence[Path], ctx: Context) -> None:
    """Import PRISM conversations, with the survey as the user table."""
    kinds = {p: _kind(p) for p in paths}
    if len(paths) == 1 and kinds[paths[0]] is None:
        kinds[paths[0]] = "conversations"
    for path in paths:
        if kinds[path] is None:
            ctx.tally.observe("file_not_read", path.name)
    for path in (p for p in paths if kinds[p] == "survey"):
        for where, rec in iter_records(path, ctx.tally):
            uid = text_id(rec.get("user_id")) if isinstance(rec, dict) else None
            if uid is None:
                ctx.tally.skip("survey_row_without_user_id", where)
                continue
            if uid in ctx.users:
                ctx.tally.skip("duplicate_survey_row", where)
                continue
            ctx.users[uid] = flatten(rec)
    seen_users: set[str] = set()
    for path in (p for p in paths if kinds[p] == "conversations"):
        for where, rec in iter_records(path, ctx.tally):
            _conversation(rec, ctx, where, seen_users)
    if ctx.users:
        missing = seen_users - set(ctx.users)
        if missing:
            ctx.tally.observe("user_without_survey", n=len(missing))


def _conversation(rec: Any, ctx: Context, where: str, seen_users: set[str]) -> None:
    history = rec.get("conversation_history") if isinstance(rec, dict) else None
    if not isinstance(history, list):
        ctx.tally.skip("invalid_record", f"{where}: no 'conversation_history' list")
        return
    groups: dict[Any, list[tuple[int, dict[str, Any]]]] = {}
    order: list[Any] = []
    for i, m in enumerate(history):
        if not isinstance(m, dict):
            ctx.tally.skip("invalid_turn", f"{where} turn {i}: not an object")
            continue
        key = (m.get("turn"), m.get("role") == "user")
        if key not in groups:
            order.append(key)
            groups[key] = []
        groups[key].append((i, m))
    every = ctx.options["responses"] == "all"
    turns = []
    for key in order:
        turns += _group_turns(groups[key], key, every, ctx, where)
    uid = text_id(rec.get("user_id"))
    if uid:
        seen_users.add(uid)
    cid = text_id(rec.get("conversation_id"))
    ctx.add(
        turns,
        where,
        conversation_id=cid,
        source_id=cid,
        user_id=uid,
        started_at=ctx.time(rec.get("generated_datetime"), where),
        meta={k: rec[k] for k in _CONV_META if rec.get(k) is not None},
    )


def _group_turns(items, key, every: bool, ctx: Context, where: str) -> list[dict[str, Any]]:
    """The kept turns of one group: a user turn, or the responses to it (by ``responses``)."""
    out = []
    if key[1] or every:
        if not key[1]:
            items = sorted(items, key=lambda im: str(im[1].get("within_turn_id")))
        for i, m in items:
            extra = None if key[1] else {"if_chosen": m.get("if_chosen") is True}
            t = _turn(m, ctx, (where, i), extra)
            if t is not None:
                out.append(t)
        return out
    chosen = [im for im in items if im[1].get("if_chosen") is True]
    if not chosen:
        ctx.tally.repair("no_chosen_response", f"{where} turn {key[0]}")
        chosen = [max(items, key=lambda im: _score(im[1]))]
    i, pick = chosen[0]
    others = [_alternative(m) for j, m in items if j != i]
    t = _turn(pick, ctx, (where, i), {"alternatives": others} if others else None)
    return [t] if t is not None else []


def _score(m: dict[str, Any]) -> float:
    s = m.get("score")
    return float(s) if isinstance(s, int | float) and not isinstance(s, bool) else float("-inf")


def _alternative(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("model_name", "model_provider", "score", "within_turn_id", "content")
    return {k: m.get(k) for k in keys}


def _turn(m: dict[str, Any], ctx: Context, where: tuple[str, int], meta=None):
    extra = {k: m[k] for k in ("score", "model_provider", "within_turn_id") if m.get(k) is not None}
    model = m.get("model_name") if isinstance(m.get("model_name"), str) else None
    return ctx.turn(
        m.get("role"),
        m.get("content"),
        where,
        model=model,
        meta={**extra, **(meta or {})} or None,
    )


def flatten(rec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted keys (``location.reside_country``); lists stay values."""
    out: dict[str, Any] = {}
    for key, value in rec.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


PRISM = Importer(
    name="prism.v1",
    format="prism",
    reader=read_prism,
    description="PRISM conversations.jsonl (+ survey.jsonl as the user table); the chosen "
    "response per turn, the others in meta",
    options={
        "responses": Option(
            "chosen",
            "choice",
            "chosen: the response the conversation continued from (default); all: every one",
            ("chosen", "all"),
        )
    },
)
