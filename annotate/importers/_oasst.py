"""OpenAssistant (oasst1/oasst2): tree export, nested message export and flat rows.

Every input is flattened into messages keyed by ``message_id`` and rebuilt into trees by
``parent_id`` (nesting wins where both exist). Trees become linear conversations by the
``paths`` policy of :mod:`annotate.importers._trees` (default ``best``: rank 0 at each step).

Deleted messages (``deleted: true``): with ``deleted="skip"`` (default) a deleted message and
every reply below it are left out (``skipped.deleted_message`` / ``skipped.below_deleted_message``);
``deleted="keep"`` keeps them, with ``deleted: true`` in the turn's meta. Orphans (a
``parent_id`` that is not in the input, e.g. removed by a language filter) are left out with
their replies (``skipped.orphan_message`` / ``skipped.below_orphan_message``). A message whose
``parent_id`` is neither null nor a message id (e.g. a list) is skipped
(``skipped.invalid_parent_id``), so its replies are orphans; emoji or label names that are not
text are dropped (``repaired.invalid_emoji_or_label_name``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annotate.importers._base import Context, Importer, Option, show, text_id
from annotate.importers._jsonio import iter_records
from annotate.importers._trees import (
    all_paths,
    best_path,
    children_index,
    subtree_size,
    unreachable,
)

_TURN_META = ("lang", "review_count", "review_result", "deleted", "rank", "synthetic", "detoxify")
_INTERNAL_EMOJI = ("_skip_reply", "_skip_ranking", "_skip_labeling", "red_flag")


def _columnar(value: Any, ctx: Context, where: str) -> Any:
    """``{"name": [...], "count": [...], ...}`` (flat export) -> ``{name: count or {...}}``."""
    if not (isinstance(value, dict) and isinstance(value.get("name"), list)):
        return value
    ctx.tally.observe("columnar_emojis_or_labels_normalised", where)
    names = value["name"]
    keep = [i for i, n in enumerate(names) if isinstance(n, str)]
    if len(keep) < len(names):
        ctx.tally.repair("invalid_emoji_or_label_name", where, n=len(names) - len(keep))
    others = {k: v for k, v in value.items() if k != "name" and isinstance(v, list)}
    if set(others) == {"count"}:
        counts = others["count"]
        return {names[i]: counts[i] for i in keep if i < len(counts)}
    return {names[i]: {k: v[i] for k, v in others.items() if i < len(v)} for i in keep}


def _flatten(rec: dict[str, Any], where: str, nodes: dict[str, dict[str, Any]], ctx: Context):
    """Add one input record's messages to ``nodes`` (a tree wrapper, a nested or a flat row)."""
    tree_meta = {}
    if isinstance(rec.get("prompt"), dict):
        tree_meta = {k: rec[k] for k in ("message_tree_id", "tree_state") if k in rec}
        rec = rec["prompt"]
    stack: list[tuple[dict[str, Any], Any]] = [(rec, rec.get("parent_id"))]
    tree_id = (
        text_id(tree_meta.get("message_tree_id"))
        or text_id(rec.get("message_tree_id"))
        or rec.get("message_id")
    )
    while stack:
        msg, parent = stack.pop()
        mid = msg.get("message_id")
        if not isinstance(mid, str) or not mid:
            ctx.tally.skip("invalid_record", f"{where}: message without message_id")
            continue
        if parent is not None and not isinstance(parent, str):
            ctx.tally.skip("invalid_parent_id", f"{where}: {mid}: parent_id is {show(parent)}")
            continue
        if mid in nodes:
            ctx.tally.skip("duplicate_message", f"{where}: {mid}")
            continue
        node = {k: v for k, v in msg.items() if k != "replies"}
        node["parent_id"] = parent
        node["message_tree_id"] = text_id(node.get("message_tree_id")) or tree_id
        node["_where"] = where
        node["_tree"] = tree_meta
        nodes[mid] = node
        replies = msg.get("replies")
        if isinstance(replies, list):
            for r in reversed(replies):
                if isinstance(r, dict):
                    stack.append((r, mid))
                else:
                    ctx.tally.skip("invalid_record", f"{where}: a reply that is not an object")


def _drop(nodes, kids, ids, reason: str, below: str, ctx: Context) -> None:
    for nid in ids:
        if nid not in nodes:
            continue
        ctx.tally.skip(reason, f"{nodes[nid]['_where']}: {nid}")
        n_below = subtree_size(nid, kids)
        if n_below:
            ctx.tally.skip(below, nodes[nid]["_where"], n=n_below)
        stack = [nid]
        while stack:
            cur = stack.pop()
            nodes.pop(cur, None)
            stack.extend(kids.get(cur, []))


def _parent_deleted(nodes: dict[str, dict[str, Any]], nid: str) -> bool:
    parent = nodes.get(nodes[nid]["parent_id"] or "")
    return parent is not None and parent.get("deleted") is True


def _rank_key(nodes: dict[str, dict[str, Any]], order: dict[str, int]):
    def key(nid: str) -> tuple[int, float, str, int]:
        r: Any = nodes[nid].get("rank")
        ranked = isinstance(r, int | float) and not isinstance(r, bool) and r == r  # not NaN
        created = nodes[nid].get("created_date")
        return (
            0 if ranked else 1,
            r if ranked else 0.0,
            created if isinstance(created, str) else "" if created is None else show(created),
            order[nid],
        )

    return key


def _turn(node: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
    where = f"{node['_where']} message {node['message_id']}"
    meta = {k: node[k] for k in _TURN_META if node.get(k) is not None}
    meta["message_id"] = node["message_id"]
    if node.get("user_id") is not None:
        meta["user_id"] = node["user_id"]
    for key in ("emojis", "labels"):
        if node.get(key):
            meta[key] = _columnar(node[key], ctx, where)
    if isinstance(meta.get("emojis"), dict) and any(e in meta["emojis"] for e in _INTERNAL_EMOJI):
        ctx.tally.observe("internal_emoji_reaction", where)
    model = node.get("model_name")
    return ctx.turn(
        node.get("role"),
        node.get("text"),
        where,
        created_at=ctx.time(node.get("created_date"), where),
        model=model if isinstance(model, str) else None,
        meta=meta,
    )


def read_oasst(paths: Sequence[Path], ctx: Context) -> None:
    """Import oasst trees as linear conversations (options ``paths`` and ``deleted``)."""
    nodes: dict[str, dict[str, Any]] = {}
    for path in paths:
        for where, rec in iter_records(path, ctx.tally):
            if not isinstance(rec, dict):
                ctx.tally.skip("invalid_record", f"{where}: not an object")
                continue
            _flatten(rec, where, nodes, ctx)
    kids = children_index(nodes, "parent_id")
    orphans = [nid for p, ids in kids.items() if p is not None and p not in nodes for nid in ids]
    _drop(nodes, kids, orphans, "orphan_message", "below_orphan_message", ctx)
    if ctx.options["deleted"] == "skip":
        deleted = [nid for nid, n in nodes.items() if n.get("deleted") is True]
        deleted = [
            nid
            for nid in deleted
            if nodes.get(nodes[nid]["parent_id"], {}).get("deleted") is not True
        ]
        _drop(nodes, kids, deleted, "deleted_message", "below_deleted_message", ctx)
    kids = children_index(nodes, "parent_id")
    for nid in unreachable(nodes, kids):
        ctx.tally.skip("reply_cycle", f"{nodes[nid]['_where']}: {nid}")
    order = {nid: i for i, nid in enumerate(nodes)}
    turns = {nid: _turn(node, ctx) for nid, node in nodes.items()}
    key = _rank_key(nodes, order)
    best = ctx.options["paths"] == "best"
    for root in kids.get(None, []):
        tree = [best_path(root, kids, key)] if best else all_paths(root, kids)
        for line in tree:
            _add_path(line, nodes, turns, best, ctx)


def _add_path(path: list[str], nodes, turns, best: bool, ctx: Context) -> None:
    """One linear conversation: the tree id (best) or the leaf message id (all) is its id."""
    r = nodes[path[0]]
    tree_id = str(r.get("message_tree_id") or path[0])
    conv = []
    for nid in path:
        if turns[nid] is not None:
            t = dict(turns[nid])
            if best:  # each message once in the corpus: its id is the turn id
                t["turn_id"] = nid
            conv.append(t)
    meta = {**r["_tree"], "message_tree_id": tree_id}
    if not best:
        meta["leaf_message_id"] = path[-1]
    user = r.get("user_id")
    lang = r.get("lang")
    ctx.add(
        conv,
        r["_where"],
        conversation_id=tree_id if best else path[-1],
        source_id=tree_id,
        user_id=user if isinstance(user, str) else None,
        started_at=ctx.time(r.get("created_date"), r["_where"]),
        language=lang if isinstance(lang, str) else None,
        meta=meta,
    )


OASST = Importer(
    name="oasst.v1",
    format="oasst",
    reader=read_oasst,
    description="OpenAssistant tree export, message export or flat rows (parent_id)",
    options={
        "paths": Option(
            "best",
            "choice",
            "best: rank-0 reply at each step (default); all: every root-to-leaf path",
            ("best", "all"),
        ),
        "deleted": Option(
            "skip",
            "choice",
            "skip deleted messages and their replies (default), or keep them",
            ("skip", "keep"),
        ),
    },
)
