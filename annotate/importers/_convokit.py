"""ConvoKit corpus folders (``utterances.jsonl`` with ``reply-to``, ``speakers.json``, ...).

ConvoKit corpora are usually human-human. Roles: an utterance's ``meta.role`` (or its speaker's
``meta.role``) when present, normalised like any other role label; else ``assistant`` for the
speakers listed in the ``assistant_speakers`` option; else ``user``. The speaker id is kept in
``speaker``. Trees (``reply-to``) become conversations by the ``paths`` option: ``thread``
(default: every utterance of a ConvoKit conversation, in time order), ``best`` (the root and, at
each step, the earliest reply) or ``all`` (every root-to-leaf path). Meta values are kept as in
the source (``-1`` missing-value sentinels included, counted in ``observed``). An utterance
whose ``reply-to`` is neither null nor an id (e.g. a list) is skipped
(``skipped.invalid_reply_to``); a conversation id or speaker that is not text or a number is
left empty (``repaired.invalid_conversation_id`` / ``repaired.invalid_speaker``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annotate.errors import CorpusError, Errors
from annotate.importers._base import Context, Importer, Option, show
from annotate.importers._jsonio import iter_jsonl, loads
from annotate.importers._trees import all_paths, best_path, children_index, unreachable

_PLACEHOLDERS = ("[deleted]", "[removed]")


def _read_json(path: Path, folder: Path) -> Any:
    if not path.is_file():
        return {}
    try:
        return loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise CorpusError(Errors.E108.format(path=folder, problem=f"{path.name}: {exc}")) from exc


def _utterance(rec: Any, where: str, ctx: Context) -> dict[str, Any] | None:
    if not isinstance(rec, dict) or not isinstance(rec.get("id"), str | int):
        ctx.tally.skip("invalid_record", f"{where}: no utterance id")
        return None
    reply = rec.get("reply-to", rec.get("reply_to"))
    if reply is not None and not _scalar_id(reply):
        ctx.tally.skip("invalid_reply_to", f"{where}: reply-to is {show(reply)}")
        return None
    meta: dict[str, Any] = rec["meta"] if isinstance(rec.get("meta"), dict) else {}
    n_sentinel = sum(1 for v in meta.values() if v == -1 and not isinstance(v, bool))
    if n_sentinel:
        ctx.tally.observe("meta_minus_one_sentinel", where, n=n_sentinel)
    return {
        "id": str(rec["id"]),
        "conversation_id": _text_or_none(
            rec.get("conversation_id", rec.get("root")), "invalid_conversation_id", where, ctx
        ),
        "reply_to": None if reply is None else str(reply),
        "speaker": _text_or_none(
            rec.get("speaker", rec.get("user")), "invalid_speaker", where, ctx
        ),
        "text": rec.get("text"),
        "timestamp": rec.get("timestamp"),
        "meta": meta,
        "_where": where,
    }


def _scalar_id(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _text_or_none(value: Any, reason: str, where: str, ctx: Context) -> str | None:
    """An id or a name as text (numbers too); None, counted, for a list, an object, ..."""
    if value is None or value == "":
        return None
    if _scalar_id(value):
        return str(value)
    ctx.tally.repair(reason, f"{where}: {show(value)}")
    return None


def read_convokit(paths: Sequence[Path], ctx: Context) -> None:
    """Import one or more ConvoKit corpus folders."""
    for folder in paths:
        _read_folder(folder, ctx)


def _read_folder(folder: Path, ctx: Context) -> None:
    if not (folder / "utterances.jsonl").is_file():
        found = ", ".join(sorted(p.name for p in folder.iterdir())[:10]) or "nothing"
        raise CorpusError(
            Errors.E108.format(path=folder, problem=f"no utterances.jsonl (found: {found})")
        )
    speakers = _read_json(folder / "speakers.json", folder)
    convs = _read_json(folder / "conversations.json", folder)
    corpus_meta = _read_json(folder / "corpus.json", folder)
    if not isinstance(speakers, dict) or not isinstance(convs, dict):
        raise CorpusError(
            Errors.E108.format(path=folder, problem="speakers/conversations.json are not objects")
        )
    ctx.source_meta[folder.name] = ctx.bounded_meta(
        {"corpus.json": corpus_meta}, f"{folder.name}/corpus.json"
    )
    utts = _load_utterances(folder, ctx)
    if not utts:
        return
    _note_stale_meta(corpus_meta, convs, ctx)
    assistants = set(ctx.options["assistant_speakers"])
    turns = {uid: _turn(u, speakers, assistants, ctx) for uid, u in utts.items()}
    order = {uid: i for i, uid in enumerate(utts)}

    def by_time(uid: str) -> tuple[float, int]:
        ts = utts[uid]["timestamp"]
        return (ts if isinstance(ts, int | float) and not isinstance(ts, bool) else 0.0, order[uid])

    if ctx.options["paths"] == "thread":
        groups: dict[str, list[str]] = {}
        roots = _roots(utts)
        for uid, u in utts.items():
            groups.setdefault(u["conversation_id"] or roots[uid], []).append(uid)
        for cid, members in groups.items():
            _add(cid, sorted(members, key=by_time), utts, turns, convs, None, ctx)
        return
    for u in list(utts.values()):
        if u["reply_to"] is not None and u["reply_to"] not in utts:
            ctx.tally.skip("orphan_utterance", u["_where"])
            u["reply_to"] = "\x00orphan"
    kids = children_index(utts, "reply_to")
    for uid in unreachable(utts, kids):
        ctx.tally.skip("reply_cycle", f"{utts[uid]['_where']}: {uid}")
    for root in kids.get(None, []):
        cid = utts[root]["conversation_id"] or root
        if ctx.options["paths"] == "best":
            _add(cid, best_path(root, kids, by_time), utts, turns, convs, None, ctx)
        else:
            for path in all_paths(root, kids):
                _add(cid, path, utts, turns, convs, path[-1], ctx)


def _load_utterances(folder: Path, ctx: Context) -> dict[str, dict[str, Any]]:
    utts: dict[str, dict[str, Any]] = {}
    for where, rec in iter_jsonl(folder / "utterances.jsonl", ctx.tally):
        u = _utterance(rec, where, ctx)
        if u is None:
            continue
        if u["id"] in utts:
            ctx.tally.skip("duplicate_utterance", f"{where}: {u['id']}")
            continue
        utts[u["id"]] = u
    return utts


def _roots(utts: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Each utterance's root, following ``reply_to`` within ``utts``, in linear time: a walk
    up stops at an utterance whose root is known, and gives its root to the whole walk. A reply
    cycle's root is the utterance where the walk entered the cycle."""
    root: dict[str, str] = {}
    for start in utts:
        if start in root:
            continue
        walk: dict[str, None] = {}  # the utterances of this walk, in order
        uid = start
        while True:
            if uid in root:
                top = root[uid]
                break
            walk[uid] = None
            parent = utts[uid]["reply_to"]
            if parent not in utts:
                top = uid
                break
            if parent in walk:
                top = parent
                break
            uid = parent
        for u in walk:
            root[u] = top
    return root


def _add(cid, members, utts, turns, convs, leaf: str | None, ctx: Context) -> None:
    """Add one linear conversation (``leaf`` given for the ``all`` policy)."""
    conv = [dict(turns[u]) for u in members if turns[u] is not None]
    info = convs.get(cid)
    base = info.get("meta") if isinstance(info, dict) else None
    meta = dict(base) if isinstance(base, dict) else {}
    if leaf is not None:  # an utterance shared by several paths: turn ids from the path
        for t in conv:
            del t["turn_id"]
        meta["leaf_utterance_id"] = leaf
    ctx.add(
        conv,
        utts[members[0]]["_where"],
        conversation_id=cid if leaf is None else f"{cid}/{leaf}",
        source_id=cid,
        meta=meta,
    )


def _note_stale_meta(corpus_meta: Any, convs: dict[str, Any], ctx: Context) -> None:
    """corpus.json may describe the full corpus, not the slice at hand (counted, kept)."""
    if isinstance(corpus_meta, dict):
        n = corpus_meta.get("num_posts", corpus_meta.get("num_conversations"))
        if isinstance(n, int) and n != len(convs):
            ctx.tally.observe("corpus_json_counts_differ", "corpus.json")


def _turn(u: dict[str, Any], speakers: dict[str, Any], assistants: set[str], ctx: Context):
    where = u["_where"]
    sp = speakers.get(u["speaker"]) if u["speaker"] else None
    sp_meta: dict[str, Any] = (
        sp["meta"] if isinstance(sp, dict) and isinstance(sp.get("meta"), dict) else {}
    )
    label = u["meta"].get("role") or sp_meta.get("role")
    if not isinstance(label, str):
        label = "assistant" if u["speaker"] in assistants else "user"
    if u["speaker"] == "[deleted]":
        ctx.tally.observe("pseudo_speaker_deleted", where)
    if isinstance(u["text"], str) and u["text"].strip() in _PLACEHOLDERS:
        ctx.tally.observe("placeholder_text_deleted_or_removed", where)
    meta = {**u["meta"], "utterance_id": u["id"], "reply_to": u["reply_to"]}
    return ctx.turn(
        label,
        u["text"],
        where,
        speaker=u["speaker"],
        turn_id=u["id"],
        created_at=ctx.time(u["timestamp"], where),
        meta=meta,
    )


CONVOKIT = Importer(
    name="convokit.v1",
    format="convokit",
    reader=read_convokit,
    description="ConvoKit corpus folder (utterances.jsonl with reply-to, speakers.json, ...)",
    expects="folder",
    options={
        "paths": Option(
            "thread",
            "choice",
            "thread: all utterances in time order (default); best: earliest reply at each step; "
            "all: every root-to-leaf path",
            ("thread", "best", "all"),
        ),
        "assistant_speakers": Option([], "list", "speaker ids that are the AI side"),
    },
)
