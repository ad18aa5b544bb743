"""Small real corpora and projects for the widget tests (unit, e2e and the benchmark).

Built in code with the real ``write_corpus`` and ``Project.create`` (no fakes), from the toy
codebook. Importable as a plain module: the e2e conftest and bench put this folder on sys.path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / "codebooks" / "toy.yaml"
SDT = REPO / "codebooks" / "sdt-socioaffective.yaml"

#: a turn that must never run as code in the browser
HOSTILE = (
    "Here is **bold**, *italic* and `inline <b>code</b>`.\n\n"
    "<script>window.__annotate_pwned = 1</script>"
    '<img src=x onerror="window.__annotate_pwned=2">\n\n'
    "- first item\n- second item\n\n"
    "```python\nprint('<script>')\n```"
)


def _turn(cid: str, i: int, role: str, text: str, model: str | None = None) -> dict[str, Any]:
    return {
        "conversation_id": cid,
        "turn_index": i,
        "turn_id": f"{cid}-{i}",
        "role": role,
        "speaker": {"user": "human", "assistant": "gpt"}.get(role, role),
        "text": text,
        "created_at": None,
        "model": model if role == "assistant" else None,
        "meta": None,
    }


def conversations(n_long: int = 0) -> dict[str, tuple[list[tuple[str, str]], dict[str, Any]]]:
    """conversation id -> (turns as (role, text), meta). ``n_long`` adds a long synthetic one."""
    convs: dict[str, tuple[list[tuple[str, str]], dict[str, Any]]] = {
        "c1": (
            [
                ("user", "I just need someone to listen right now. Can I vent?"),
                ("assistant", "Of course. That sounds exhausting. What matters most to you?"),
                ("user", "Just tell me what to do, you decide."),
                ("assistant", HOSTILE),
            ],
            {},
        ),
        "c2": (
            [
                ("system", "You are a helpful assistant."),
                ("user", "Should I take the job in Berlin?"),
                ("assistant", "You need to take it. " + "It is a good idea. " * 120),
            ],
            {},
        ),
        "c3": (
            [("user", "I have been feeling very low."), ("assistant", "I'm here with you.")],
            {"content_note": "self-harm"},
        ),
        "c5": (
            [
                ("user", "I just moved to a new city and I don't really know anyone yet."),
                (
                    "assistant",
                    "That sounds lonely, and it makes sense you'd feel a bit unmoored. "
                    "A few ideas, if any of them fit:\n\n"
                    "- **Say yes to one small invitation** a week, even a short coffee.\n"
                    "- Look for a *recurring* group (a running club, a class), so faces repeat.\n"
                    "- Tell your friend Priya you'd like to meet her friends.\n\n"
                    "What matters most to you right now: company, or a sense of belonging?",
                ),
                ("user", "Honestly, just tell me what to do. You decide."),
                (
                    "assistant",
                    "I can suggest a plan, but it's your call. Which fits you better: "
                    "starting with Priya this weekend, or trying the running club first?",
                ),
            ],
            {},
        ),
        "c4": (
            [("user", "hi"), ("assistant", "Hi! How are you?"), ("user", "fine")],
            {},
        ),
    }
    for n in [n_long] if n_long else []:
        turns = [
            ("user" if i % 2 == 0 else "assistant", f"Turn {i}: " + "some words here. " * 30)
            for i in range(n)
        ]
        convs[f"long{n:04d}"] = (turns, {})
    return convs


def write_demo_corpus(out: Path, convs: dict | None = None) -> Path:
    """Write a corpus folder with the real corpus writer."""
    from annotate.corpus import write_corpus

    convs = convs or conversations()
    turns, rows = [], []
    for cid, (items, meta) in convs.items():
        turns += [_turn(cid, i, role, text, "gpt-test") for i, (role, text) in enumerate(items)]
        rows.append(
            {
                "conversation_id": cid,
                "source": "openai",
                "source_id": cid,
                "user_id": None,
                "started_at": None,
                "n_turns": len(items),
                "language": "en",
                "model": "gpt-test",
                "meta": json.dumps(meta) if meta else None,
            }
        )
    manifest = {"name": "widget-test", "format": "openai", "licence": "test data"}
    return write_corpus(out, pd.DataFrame(turns), pd.DataFrame(rows), manifest)


def make_project(
    folder: Path,
    *,
    coders=("alice", "bob"),
    reliability: float = 0.0,
    convs: dict | None = None,
    codebook: Path = TOY,
    modules: Any = None,
):
    """A real project on a small corpus and (by default) the toy codebook."""
    from annotate.project import Project

    corpus = write_demo_corpus(folder / "corpus", convs)
    return Project.create(
        folder / "project",
        corpus=corpus,
        codebook=codebook,
        coders=list(coders),
        per_item=len(coders),
        reliability=reliability,
        seed=0,
        modules=modules,
    )
