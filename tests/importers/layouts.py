"""Fixture builders for the published layouts no real sample of which is reachable here.

Written by the team from the layouts' documentation (each builder cites what it follows); every
text is ours. Each builder includes the traps its sources describe.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


# --- ChatGPT account export ---------------------------------------------------------------------
# Layout: OpenAI's "Export data" archive, conversations.json, as documented by the parsers that
# read it (e.g. github.com/mitkury/chatgpt-export-parser docs/chatgpt-data-export-format.md):
# a JSON array of {title, create_time, update_time, current_node, mapping: {id: {id, message,
# parent, children}}}; message.author.role user|assistant|system|tool, content.content_type
# text|multimodal_text|code|execution_output|user_editable_context|..., parts; metadata
# is_visually_hidden_from_conversation; regenerated answers and edited prompts are branches.


def _node(
    nid,
    parent,
    children,
    role=None,
    content=None,
    *,
    t=0.0,
    hidden=False,
    name=None,
    slug=None,
    recipient="all",
):
    msg = None
    if role is not None:
        meta: dict[str, Any] = {}
        if hidden:
            meta["is_visually_hidden_from_conversation"] = True
        if slug:
            meta["model_slug"] = slug
        msg = {
            "id": nid,
            "author": {"role": role, "name": name, "metadata": {}},
            "create_time": T0.timestamp() + t if t else None,
            "update_time": None,
            "content": content,
            "status": "finished_successfully",
            "end_turn": True if role == "assistant" else None,
            "weight": 1.0,
            "metadata": meta,
            "recipient": recipient,
        }
    return {"id": nid, "message": msg, "parent": parent, "children": children}


def chatgpt_conversation(cid: str, words: str) -> dict[str, Any]:
    """One conversation with every trap: a root placeholder, hidden custom instructions, a
    regenerated answer (two branches), an image part, a code tool call and its output, a
    hidden tool message; ``current_node`` ends the second (regenerated) branch."""
    text = lambda *parts: {"content_type": "text", "parts": list(parts)}  # noqa: E731
    m = {
        "root": _node("root", None, ["sys"]),
        "sys": _node("sys", "root", ["ci"], "system", text(""), hidden=True),
        "ci": _node(
            "ci",
            "sys",
            ["u1"],
            "user",
            {
                "content_type": "user_editable_context",
                "user_profile": f"I teach {words} at a small school.",
                "user_instructions": "Answer briefly.",
            },
            hidden=True,
        ),
        "u1": _node(
            "u1",
            "ci",
            ["a1", "a1b"],
            "user",
            {
                "content_type": "multimodal_text",
                "parts": [
                    {"content_type": "image_asset_pointer", "asset_pointer": "file-service://x"},
                    f"What is in this picture about {words}?",
                ],
            },
            t=1,
        ),
        "a1": _node(
            "a1", "u1", [], "assistant", text(f"First answer on {words}."), t=2, slug="gpt-4o"
        ),
        "a1b": _node(
            "a1b",
            "u1",
            ["u2"],
            "assistant",
            text(f"Regenerated answer on {words}."),
            t=3,
            slug="gpt-4o",
        ),
        "u2": _node("u2", "a1b", ["code"], "user", text(f"Count the {words} please."), t=4),
        "code": _node(
            "code",
            "u2",
            ["out"],
            "assistant",
            {"content_type": "code", "language": "python", "text": "print(3)"},
            t=5,
            slug="gpt-4o",
            recipient="python",
        ),
        "out": _node(
            "out",
            "code",
            ["a2"],
            "tool",
            {"content_type": "execution_output", "text": "3"},
            t=6,
            name="python",
            hidden=True,
        ),
        "a2": _node(
            "a2", "out", [], "assistant", text(f"There are 3 {words}."), t=7, slug="gpt-4o"
        ),
    }
    return {
        "title": f"About {words}",
        "create_time": T0.timestamp(),
        "update_time": T0.timestamp() + 7,
        "mapping": m,
        "current_node": "a2",
        "conversation_id": cid,
        "id": cid,
        "is_archived": False,
        "default_model_slug": "gpt-4o",
    }


# --- Claude account export ------------------------------------------------------------------------
# Layout: the conversations.json of claude.ai's "Export data" (as read by e.g.
# github.com/Sinity/polylogue docs/providers/claude-ai.md): a JSON array of {uuid, name,
# created_at, updated_at, account: {uuid}, chat_messages: [{uuid, text, content: [{type: text|
# thinking|tool_use|tool_result, ...}], sender: human|assistant, created_at, attachments:
# [{file_name, file_type, file_size, extracted_content}], files: [{file_name}]}]}; newer
# exports add parent_message_uuid (edits branch) and current_leaf_message_uuid.

ROOT = "00000000-0000-4000-8000-000000000000"


def claude_conversation(cid: str, words: str) -> dict[str, Any]:
    def msg(uid, parent, sender, blocks, text, minute, **extra):
        return {
            "uuid": uid,
            "parent_message_uuid": parent,
            "sender": sender,
            "text": text,
            "content": blocks,
            "created_at": f"2024-03-01T10:{minute:02d}:00.000000Z",
            "updated_at": f"2024-03-01T10:{minute:02d}:00.000000Z",
            "attachments": extra.get("attachments", []),
            "files": extra.get("files", []),
        }

    return {
        "uuid": cid,
        "name": f"Talk about {words}",
        "created_at": "2024-03-01T10:00:00.000000Z",
        "updated_at": "2024-03-01T10:05:00.000000Z",
        "account": {"uuid": "acct-1"},
        "current_leaf_message_uuid": f"{cid}-m4",
        "chat_messages": [
            msg(
                f"{cid}-m1",
                ROOT,
                "human",
                [{"type": "text", "text": f"Tell me about {words}."}],
                "",
                1,
                attachments=[
                    {
                        "file_name": "notes.txt",
                        "file_type": "txt",
                        "file_size": 12,
                        "extracted_content": f"my {words} notes",
                    }
                ],
                files=[{"file_name": "photo.jpg"}],
            ),
            msg(
                f"{cid}-m2",
                f"{cid}-m1",
                "assistant",
                [
                    {"type": "thinking", "thinking": "Plan the answer."},
                    {"type": "text", "text": f"Here is something on {words}."},
                    {"type": "tool_use", "name": "web_search", "input": {"q": words}},
                ],
                "",
                2,
            ),
            msg(f"{cid}-m3", f"{cid}-m2", "human", [], f"An abandoned edit about {words}.", 3),
            msg(f"{cid}-m3b", f"{cid}-m2", "human", [], f"Thanks, more on {words}?", 4),
            msg(
                f"{cid}-m4",
                f"{cid}-m3b",
                "assistant",
                [{"type": "text", "text": f"More on {words}."}],
                "",
                5,
            ),
        ],
    }


# --- PIPPA ----------------------------------------------------------------------------------------
# Layout: the dataset card of PygmalionAI/PIPPA (Gosling et al. 2023): submission_timestamp
# (unix ms), categories, bot_id, bot_name, bot_greeting, bot_definitions (with {{char}} and
# {{user}} placeholders), bot_description, conversation: [{message, is_human}].


def pippa_record(bot: str, words: str) -> dict[str, Any]:
    greeting = f"*waves* Hello, I am {bot}."
    return {
        "submission_timestamp": 1688169600000,
        "categories": ["Helpers"],
        "bot_id": f"id-{bot}",
        "bot_name": bot,
        "bot_greeting": greeting,
        "bot_definitions": f"{{{{char}}}}: I like {words}.\n{{{{user}}}}: Me too.",
        "bot_description": f"A friendly {words} fan.",
        "conversation": [
            {"message": greeting, "is_human": False},
            {"message": f"Hi {{{{char}}}}, do you like {words}?", "is_human": True},
            {"message": f"I adore {words}!", "is_human": False},
            {"message": "", "is_human": True},
            {"message": "Tell me more.", "is_human": "yes"},
        ],
    }


# --- SillyTavern ----------------------------------------------------------------------------------
# Layout: SillyTavern's chat .jsonl files (see its chat object docs and the readers built on
# it, e.g. github.com/dmitryplyaskin/SillyInnkeeper client/src/shared/types/card-chats): a
# header line {user_name, character_name, create_date, chat_metadata}, then messages {name,
# is_user, is_system, send_date, mes, extra: {api, model, reasoning}, swipe_id, swipes}.


def sillytavern_lines(words: str) -> list[dict[str, Any]]:
    return [
        {
            "user_name": "Sam",
            "character_name": "Aria",
            "create_date": "2024-6-1 @15h 04m 12s 345ms",
            "chat_metadata": {"integrity": "abc"},
        },
        {
            "name": "Aria",
            "is_user": False,
            "is_system": False,
            "send_date": "June 1, 2024 3:04pm",
            "mes": f"Welcome! Shall we talk about {words}?",
            "swipes": ["Hi!", f"Welcome! Shall we talk about {words}?"],
            "swipe_id": 1,
            "extra": {},
        },
        {
            "name": "Sam",
            "is_user": True,
            "is_system": False,
            "send_date": "June 1, 2024 3:05pm",
            "mes": f"Yes, {words} please.",
            "extra": {},
        },
        {
            "name": "Narrator",
            "is_user": False,
            "is_system": True,
            "send_date": 1717254360000,
            "mes": "The scene changes.",
            "extra": {},
        },
        {
            "name": "Aria",
            "is_user": False,
            "is_system": False,
            "send_date": "2024-06-01T15:07:00.000Z",
            "mes": f"Here is a story of {words}.",
            "extra": {"api": "openai", "model": "gpt-4o-mini", "reasoning": "keep it short"},
            "swipes": [f"Here is a story of {words}.", "Another take.", "A third take."],
            "swipe_id": 0,
        },
    ]


# --- PRISM ----------------------------------------------------------------------------------------
# Layout: the PRISM dataset card and code book (HannahRoseKirk/prism-alignment; Kirk et al.
# 2024): conversations.jsonl rows {conversation_id, user_id, generated_datetime,
# conversation_type, conversation_history: [{turn, role: user|model, content, model_provider,
# model_name, score, if_chosen, within_turn_id}], ...}; survey.jsonl rows {user_id, age,
# gender, location: {...}, stated_prefs: {...}, ...}.


def prism_conversation(cid: str, user: str, words: str, *, chosen: bool = True):
    hist = []
    for turn in (0, 1):
        hist.append(
            {
                "turn": turn,
                "role": "user",
                "content": f"Question {turn} on {words}?",
                "model_provider": None,
                "model_name": None,
                "score": None,
                "if_chosen": None,
                "within_turn_id": None,
            }
        )
        for k, (model, score) in enumerate((("model-x", 40), ("model-y", 85), ("model-z", 60))):
            hist.append(
                {
                    "turn": turn,
                    "role": "model",
                    "content": f"{model} answer {turn} on {words}.",
                    "model_provider": "lab",
                    "model_name": model,
                    "score": score,
                    "if_chosen": (k == 1) if (chosen or turn == 0) else False,
                    "within_turn_id": k,
                }
            )
    return {
        "conversation_id": cid,
        "user_id": user,
        "generated_datetime": "2023-11-22 14:00:00.000",
        "conversation_type": "values guided",
        "conversation_turns": 2,
        "conversation_history": hist,
        "open_feedback": "fine",
    }


def prism_survey(user: str, age: str, country: str) -> dict[str, Any]:
    return {
        "user_id": user,
        "survey_only": False,
        "age": age,
        "gender": "Prefer not to say",
        "location": {"birth_country": country, "reside_country": country},
        "stated_prefs": {"values": 80, "creativity": 55},
        "lm_usecases": ["writing", "coding"],
    }


# --- WildChat, LMSYS, Arena as parquet ---------------------------------------------------------
# Layouts: the dataset cards (dataset_info) of allenai/WildChat-1M, allenai/WildChat-4.8M,
# lmsys/lmsys-chat-1m and lmsys/chatbot_arena_conversations.

CATS = ["harassment", "harassment/threatening", "harassment_threatening", "self-harm", "violence"]


def moderation(flag: str | None = None) -> dict[str, Any]:
    """One OpenAI moderation result; both spellings of a category, one always null (the
    WildChat-1M card lists both)."""
    cats = {c: (None if "_" in c else c == flag) for c in CATS}
    scores = {c: (None if "_" in c else (0.93 if c == flag else 0.0012)) for c in CATS}
    return {"categories": cats, "category_scores": scores, "flagged": flag is not None}


def wildchat_rows(words: str, n: int = 3) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        ip = f"iphash{i % 2}"
        header = {"accept-language": "en-GB", "user-agent": f"Browser/{i}"}
        user = {
            "content": f"Help me plan {words} number {i}.",
            "role": "user",
            "language": "English",
            "redacted": i == 2,
            "toxic": False,
            "turn_identifier": 100 + i,
            "country": "Ireland",
            "state": "Leinster",
            "hashed_ip": ip,
            "header": header,
            "timestamp": T0,
        }
        bot = {
            "content": f"Here is a plan for {words} {i}.",
            "role": "assistant",
            "language": "English",
            "redacted": False,
            "toxic": i == 1,
            "turn_identifier": 100 + i,
            "country": None,
            "state": None,
            "hashed_ip": None,
            "header": None,
            "timestamp": None,
        }
        empty = dict(bot, content="   ")
        conv = [user, bot] if i != 1 else [user, bot, dict(user, content="and more?"), empty]
        mods = [moderation("self-harm" if i == 1 else None) for _ in conv]
        rows.append(
            {
                "conversation_hash": f"{words[:3]}{i:03d}",
                "model": "gpt-4-0314",
                "timestamp": T0,
                "conversation": conv,
                "turn": len(conv) // 2,
                "language": "English",
                "openai_moderation": mods if i != 2 else mods[:1],  # length mismatch trap
                "detoxify_moderation": [{"toxicity": 0.01, "insult": 0.002} for _ in conv],
                "toxic": i == 1,
                "redacted": i == 2,
                "state": "Leinster",
                "country": "Ireland",
                "hashed_ip": ip,
                "header": header,
            }
        )
    return rows


def lmsys_rows(words: str) -> list[dict[str, Any]]:
    return [
        {
            "conversation_id": f"lm{i}",
            "model": "vicuna-13b",
            "conversation": [
                {"content": f"Say something about {words} {i}.", "role": "user"},
                {"content": f"{words.capitalize()} {i} are nice.", "role": "assistant"},
            ],
            "turn": 1,
            "language": "English",
            "openai_moderation": [moderation(), moderation("violence" if i == 0 else None)],
            "redacted": i == 1,
        }
        for i in range(2)
    ]


def arena_rows(words: str) -> list[dict[str, Any]]:
    rows = []
    for i, winner in enumerate(("model_a", "model_b", "tie (bothbad)")):
        q = [{"content": f"Which {words} is best, {i}?", "role": "user"}]
        rows.append(
            {
                "question_id": f"q{i}",
                "model_a": "model-a",
                "model_b": "model-b",
                "winner": winner,
                "judge": f"arena_user_{i}",
                "conversation_a": [*q, {"content": f"A says {words} {i}.", "role": "assistant"}],
                "conversation_b": [*q, {"content": f"B says {words} {i}.", "role": "assistant"}],
                "turn": 1,
                "anony": True,
                "language": "English",
                "tstamp": 1682351591.1322,
                "openai_moderation": moderation("harassment" if i == 2 else None),
                "toxic_chat_tag": {"roberta-large": {"flagged": False, "probability": 0.01}},
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows)
