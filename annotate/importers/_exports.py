"""Account exports that people donate: ChatGPT (``chatgpt-export``) and Claude
(``claude-export``) ``conversations.json``, as downloaded (the zip) or unzipped.

ChatGPT (layout as described by OpenAI's "Export data" archive and the parsers that read it):
a JSON array of conversations, each with ``title``, ``create_time``, ``current_node`` and a
``mapping`` of nodes (``parent``, ``children``, ``message``). ``message.author.role`` is
``user``, ``assistant``, ``system`` or ``tool``; ``message.content.content_type`` says what
``parts`` hold. Policy:

* ``branches="current"`` (default): the branch that ends at ``current_node`` (what the person
  saw last); the other branches (regenerated answers, edited prompts) are counted
  (``observed.branch_not_kept``). ``branches="all"``: one conversation per root-to-leaf
  branch, ``<id>:<leaf node id>``, with ``meta.current`` telling the one that was shown.
* Text parts are kept (joined by a line break); non-text parts (images, audio, files) are
  counted and dropped (``repaired.non_text_part_dropped``); text of code, execution output,
  browsing results, reasoning summaries and custom instructions is kept, with
  ``meta.content_type``. Hidden system and tool messages are kept as ``system``/``tool`` turns
  with ``meta.hidden`` true (``is_visually_hidden_from_conversation``); the empty system
  message at the root of every mapping is skipped (``skipped.empty_system_placeholder``).

Claude: a JSON array of ``{uuid, name, created_at, chat_messages: [{uuid, sender, text,
content, created_at, attachments, files}]}``; ``sender`` ``human`` is the user. Text blocks of
``content`` are joined (else ``text``); thinking blocks go to ``meta.thinking``; tool blocks are
counted and dropped; attachments' names, types and extracted text are kept in
``meta.attachments``; uploaded files (not in the export) are named in ``meta.files``. When
messages carry ``parent_message_uuid`` and branch, the branch that ends at
``current_leaf_message_uuid`` (else the last message) is kept (``observed.branch_not_kept``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annotate.importers._base import Context, Importer, Option, text_id
from annotate.importers._jsonio import iter_records
from annotate.importers._trees import all_paths

#: content types whose text lives in ``content[key]`` (ChatGPT)
_TEXT_KEYS = {
    "code": "text",
    "execution_output": "text",
    "tether_quote": "text",
    "tether_browsing_display": "result",
    "reasoning_recap": "content",
    "system_error": "text",
    "model_editable_context": "model_set_context",
}
_MSG_META = ("status", "end_turn", "recipient")
_CONV_META = (
    "title",
    "update_time",
    "is_archived",
    "default_model_slug",
    "gizmo_id",
    "conversation_template_id",
    "plugin_ids",
)


def _wanted(paths: Sequence[Path], ctx: Context) -> list[Path]:
    """The conversation files among ``paths`` (an export folder holds user.json etc. too)."""
    if len(paths) == 1:
        return list(paths)
    keep = [p for p in paths if p.name.lower().startswith("conversations") or p.suffix == ".zip"]
    for p in paths:
        if p not in keep:
            ctx.tally.observe("export_file_not_read", p.name)
    return keep


def _chatgpt_text(content: Any, ctx: Context, where: str) -> tuple[Any, str | None]:
    """(text, content type) of a ChatGPT message content; text None when it has none."""
    if not isinstance(content, dict):
        return None, None
    ctype = content.get("content_type")
    ctype = ctype if isinstance(ctype, str) else None
    if ctype in _TEXT_KEYS:
        value = content.get(_TEXT_KEYS[ctype])
        return (value if isinstance(value, str) else None), ctype
    if ctype == "user_editable_context":  # custom instructions: a hidden system message
        bits = [content.get(k) for k in ("user_profile", "user_instructions")]
        return "\n\n".join(b for b in bits if isinstance(b, str) and b), ctype
    if ctype == "thoughts":
        thoughts = content.get("thoughts")
        texts = (
            [t.get("content") for t in thoughts or [] if isinstance(t, dict)]
            if isinstance(thoughts, list)
            else []
        )
        return "\n\n".join(t for t in texts if isinstance(t, str)), ctype
    parts = content.get("parts")
    if not isinstance(parts, list):
        if ctype is not None:
            ctx.tally.skip(f"content_type_{ctype}", where)
        return None, ctype
    texts = []
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
        else:
            ctx.tally.repair("non_text_part_dropped", where)
    return "\n".join(t for t in texts if t), ctype


def _chatgpt_turn(node: dict[str, Any], ctx: Context, where: str) -> dict[str, Any] | None:
    msg = node.get("message")
    if not isinstance(msg, dict):
        return None  # a structural node without a message (the mapping's root)
    author: dict[str, Any] = msg["author"] if isinstance(msg.get("author"), dict) else {}
    role = author.get("role")
    text, ctype = _chatgpt_text(msg.get("content"), ctx, where)
    meta_in: dict[str, Any] = msg["metadata"] if isinstance(msg.get("metadata"), dict) else {}
    hidden = bool(meta_in.get("is_visually_hidden_from_conversation")) or ctype in (
        "user_editable_context",
        "model_editable_context",
    )
    if role == "system" and (not isinstance(text, str) or not text.strip()):
        ctx.tally.skip("empty_system_placeholder", where)
        return None
    if text is None:
        text = ""  # counted as an empty turn by ctx.turn
    meta: dict[str, Any] = {"message_id": msg.get("id") or node.get("id")}
    if ctype and ctype != "text":
        meta["content_type"] = ctype
    if hidden:
        meta["hidden"] = True
        ctx.tally.observe("hidden_message", where)
    for key in _MSG_META:
        if msg.get(key) not in (None, "all"):
            meta[key] = msg[key]
    name = author.get("name") if isinstance(author.get("name"), str) else None
    slug = meta_in.get("model_slug")
    return ctx.turn(
        role,
        text,
        where,
        speaker=name or role,
        created_at=ctx.time(msg.get("create_time"), where),
        model=slug if isinstance(slug, str) else None,
        meta=meta,
    )


def read_chatgpt(paths: Sequence[Path], ctx: Context) -> None:
    """Import a ChatGPT export's conversations.json (option ``branches``)."""
    every = ctx.options["branches"] == "all"
    for path in _wanted(paths, ctx):
        for where, rec in iter_records(path, ctx.tally):
            mapping = rec.get("mapping") if isinstance(rec, dict) else None
            if not isinstance(mapping, dict) or not mapping:
                ctx.tally.skip("invalid_record", f"{where}: no 'mapping' of messages")
                continue
            nodes = {k: v for k, v in mapping.items() if isinstance(v, dict)}
            kids: dict[str | None, list[str]] = {}
            for nid, node in nodes.items():
                parent = node.get("parent")
                kids.setdefault(parent if parent in nodes else None, []).append(nid)
            leaves = [n for n in nodes if not kids.get(n)]
            if len(leaves) > 1:
                ctx.tally.observe("branching_conversation", where)
            current = rec.get("current_node")
            if current not in nodes:
                current = _latest_leaf(leaves, nodes)
                ctx.tally.repair("current_node_missing", where)
            cid = text_id(rec.get("conversation_id")) or text_id(rec.get("id"))
            if every:
                for root in kids.get(None, []):
                    for line in all_paths(root, kids):
                        _add_chatgpt(line, nodes, rec, cid, line[-1], current, ctx, where)
            else:
                line = _path_to(current, nodes)
                _add_chatgpt(line, nodes, rec, cid, None, current, ctx, where)
                if len(leaves) > 1:
                    ctx.tally.observe("branch_not_kept", where, n=len(leaves) - 1)


def _latest_leaf(leaves: list[str], nodes: dict[str, dict[str, Any]]) -> str:
    def when(nid: str) -> float:
        msg = nodes[nid].get("message")
        t = msg.get("create_time") if isinstance(msg, dict) else None
        return float(t) if isinstance(t, int | float) and not isinstance(t, bool) else 0.0

    return max(leaves, key=when)


def _path_to(leaf: str, nodes: dict[str, dict[str, Any]]) -> list[str]:
    """Root to ``leaf`` by following parents (a parent cycle stops the walk)."""
    line, seen = [], set()
    cur: Any = leaf
    while cur in nodes and cur not in seen:
        seen.add(cur)
        line.append(cur)
        cur = nodes[cur].get("parent")
    return line[::-1]


def _add_chatgpt(line, nodes, rec, cid, leaf, current, ctx: Context, where: str) -> None:
    turns = []
    for nid in line:
        t = _chatgpt_turn(nodes[nid], ctx, f"{where} node {nid}")
        if t is not None:
            if leaf is None:
                t["turn_id"] = t["meta"]["message_id"]
            turns.append(t)
    meta = {k: rec[k] for k in _CONV_META if rec.get(k) not in (None, [], "")}
    if leaf is not None:
        meta.update(branch_of=cid, leaf_node=leaf, current=leaf == current)
    conv_id = cid if leaf is None or cid is None else f"{cid}:{leaf}"
    ctx.add(
        turns,
        where,
        conversation_id=conv_id,
        source_id=cid,
        started_at=ctx.time(rec.get("create_time"), where),
        # the conversation's model: the export's default, else the last answer's model slug
        model=_chatgpt_model(rec, turns),
        meta=meta,
    )


def _chatgpt_model(rec: dict[str, Any], turns: list[dict[str, Any]]) -> str | None:
    slug = rec.get("default_model_slug")
    if isinstance(slug, str) and slug:
        return slug
    models = [t.get("model") for t in turns if isinstance(t.get("model"), str)]
    return models[-1] if models else None


# --- Claude ---------------------------------------------------------------------------------

_CLAUDE_ROOT = "00000000-0000-4000-8000-000000000000"


def _claude_turn(m: dict[str, Any], ctx: Context, where: str) -> dict[str, Any] | None:
    meta: dict[str, Any] = {}
    blocks = m.get("content")
    text: Any = None
    if isinstance(blocks, list) and blocks:
        texts, thinking = [], []
        for b in blocks:
            kind = b.get("type") if isinstance(b, dict) else None
            if kind == "text" and isinstance(b.get("text"), str):
                texts.append(b["text"])
            elif kind == "thinking" and isinstance(b.get("thinking"), str):
                thinking.append(b["thinking"])
            else:
                ctx.tally.repair("non_text_block_dropped", where)
        text = "\n\n".join(texts) if texts else m.get("text")
        if thinking:
            meta["thinking"] = "\n\n".join(thinking)
    else:
        text = m.get("text")
    attachments = [
        {k: a.get(k) for k in ("file_name", "file_type", "file_size", "extracted_content")}
        for a in m.get("attachments") or []
        if isinstance(a, dict)
    ]
    if attachments:
        meta["attachments"] = attachments
        ctx.tally.observe("attachment", where, n=len(attachments))
    files = [f.get("file_name") for f in m.get("files") or [] if isinstance(f, dict)]
    if files:
        meta["files"] = files
        ctx.tally.observe("file_not_in_export", where, n=len(files))
    if m.get("uuid"):
        meta["message_id"] = m["uuid"]
    sender = m.get("sender")
    return ctx.turn(
        sender,
        text,
        where,
        speaker=sender,
        turn_id=text_id(m.get("uuid")),
        created_at=ctx.time(m.get("created_at"), where),
        meta=meta,
    )


def _claude_line(msgs: list[Any], rec: dict[str, Any], ctx: Context, where: str) -> list[Any]:
    """The messages of the branch shown last, when messages carry parent ids and branch."""
    ids = {m.get("uuid"): m for m in msgs if isinstance(m, dict) and m.get("uuid")}
    if not ids or not all(
        isinstance(m, dict) and m.get("parent_message_uuid") for m in ids.values()
    ):
        return msgs
    leaf = rec.get("current_leaf_message_uuid")
    if leaf not in ids:
        leaf = next(m.get("uuid") for m in reversed(msgs) if isinstance(m, dict) and m.get("uuid"))
    line, seen = [], set()
    cur = leaf
    while cur in ids and cur not in seen and cur != _CLAUDE_ROOT:
        seen.add(cur)
        line.append(ids[cur])
        cur = ids[cur].get("parent_message_uuid")
    if len(line) < len(msgs):
        ctx.tally.observe("branch_not_kept", where, n=len(msgs) - len(line))
    return line[::-1]


def read_claude(paths: Sequence[Path], ctx: Context) -> None:
    """Import a Claude export's conversations.json."""
    for path in _wanted(paths, ctx):
        for where, rec in iter_records(path, ctx.tally):
            if isinstance(rec, dict) and isinstance(rec.get("conversations"), list):
                recs = [
                    (f"{where} conversation {i}", r) for i, r in enumerate(rec["conversations"])
                ]
            else:
                recs = [(where, rec)]
            for w, conv in recs:
                _claude_conversation(conv, ctx, w)


def _claude_conversation(rec: Any, ctx: Context, where: str) -> None:
    msgs = rec.get("chat_messages") if isinstance(rec, dict) else None
    if not isinstance(msgs, list):
        ctx.tally.skip("invalid_record", f"{where}: no 'chat_messages' list")
        return
    turns = []
    for i, m in enumerate(_claude_line(msgs, rec, ctx, where)):
        w = f"{where} message {i}"
        if not isinstance(m, dict):
            ctx.tally.skip("invalid_turn", f"{w}: not an object")
            continue
        t = _claude_turn(m, ctx, w)
        if t is not None:
            turns.append(t)
    cid = text_id(rec.get("uuid"))
    meta = {k: rec[k] for k in ("name", "summary", "updated_at") if rec.get(k)}
    account = rec.get("account")
    if isinstance(account, dict) and account.get("uuid"):
        meta["account"] = account["uuid"]
    ctx.add(
        turns,
        where,
        conversation_id=cid,
        source_id=cid,
        started_at=ctx.time(rec.get("created_at"), where),
        meta=meta,
    )


CHATGPT_EXPORT = Importer(
    name="chatgpt-export.v1",
    format="chatgpt-export",
    reader=read_chatgpt,
    description="ChatGPT account export: conversations.json (or the export's zip or folder); "
    "mapping trees, the branch shown last",
    options={
        "branches": Option(
            "current",
            "choice",
            "current: the branch ending at current_node (default); all: every branch",
            ("current", "all"),
        )
    },
)

CLAUDE_EXPORT = Importer(
    name="claude-export.v1",
    format="claude-export",
    reader=read_claude,
    description="Claude account export: conversations.json (or the export's zip or folder) "
    "of chat_messages",
)
