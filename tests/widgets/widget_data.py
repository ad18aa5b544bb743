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
    spans_required: bool = True,
):
    """A real project on a small corpus and (by default) the toy codebook.
    ``spans_required=False``: the codebook's ``evidence: required`` codes take evidence as an
    option (tests of other features code ``user_defers`` without selecting words)."""
    from annotate.project import Project

    folder.mkdir(parents=True, exist_ok=True)
    if not spans_required:
        text = Path(codebook).read_text(encoding="utf-8")
        codebook = folder / f"{Path(codebook).stem}-spans-optional.yaml"
        codebook.write_text(
            text.replace("evidence: required", "evidence: optional"), encoding="utf-8"
        )
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


#: the declared LLM coder whose labels the suggestion tests show
LLM = "gpt-x"


def llm_events(project, coder: str = LLM) -> list[dict[str, Any]]:
    """An LLM coder's labels on every conversation, as ``annotate.llm`` appends them (values,
    then one ``_memo`` per unit with the rationales, first line ``LLM rationale``): user turns
    user_seeks_support present and user_move 'support'; assistant turns ai_empathy present and
    ai_move 'listen'; the conversation conv_warmth 5."""
    out: list[dict[str, Any]] = []
    for cid in project.corpus.conversation_ids:
        base = {"annotator_id": coder, "conversation_id": cid, "session_id": "run-1"}
        for t in project.corpus.conversation(cid).itertuples():
            turn = base | {"unit": "turn", "turn_index": int(t.turn_index)}
            if t.role == "user":
                out.append(turn | {"code_id": "user_seeks_support", "value": "1"})
                out.append(turn | {"code_id": "user_move", "value": "support"})
                why = "user_seeks_support: asks to be heard\nuser_move: wants support"
            elif t.role == "assistant":
                out.append(turn | {"code_id": "ai_empathy", "value": "1"})
                out.append(turn | {"code_id": "ai_move", "value": "listen"})
                why = "ai_empathy: names the feeling\nai_move: invites the user to talk"
            else:
                continue
            out.append(turn | {"code_id": "_memo", "value": "LLM rationale\n" + why})
        conv = base | {"unit": "conversation", "turn_index": None}
        out.append(conv | {"code_id": "conv_warmth", "value": "5"})
    return out


def add_llm_coder(project, coder: str = LLM) -> None:
    """Declare an LLM coder (llm/<id>/coder.json; its HTTP backend is never called) and append
    its labels through the real store, as a run would."""
    project.add_llm_coder(coder, backend="openai", base_url="http://127.0.0.1:9/v1", model="x")
    project.append(llm_events(project, coder))


#: the calibration set of the widget tests, and the explanation of each gold decision
GOLD_SET = ("c1", "c5", "c4")


def add_gold(project, *, threshold: float = 0.8, min_units: int = 4) -> None:
    """A calibration set on c1, c5 and c4 (toy codebook) with explanations, and the pass
    rule (alpha >= threshold on every code with at least min_units units; 200 bootstrap
    resamples). Gold: user turns user_seeks_support present on the first user turn of each
    conversation only, user_move 'support' there; assistant turns ai_empathy on turn 1 only;
    conv_warmth 6 on c1 (explained), 3 elsewhere."""
    import warnings

    from annotate.project import Calibration

    cal = Calibration(project)
    cal.configure(threshold=threshold, min_units=min_units, bootstrap=200)
    events: list[dict[str, Any]] = []
    for cid in GOLD_SET:
        base = {"annotator_id": "gold", "conversation_id": cid}
        turns = project.corpus.conversation(cid)
        first_user = int(turns[turns["role"] == "user"]["turn_index"].iloc[0])
        user = base | {"unit": "turn", "turn_index": first_user}
        events.append(
            user | {"code_id": "user_seeks_support", "value": "1", "note": f"asks for help ({cid})"}
        )
        events.append(user | {"code_id": "user_move", "value": "support"})
        ai = base | {"unit": "turn", "turn_index": 1}
        events.append(ai | {"code_id": "ai_empathy", "value": "1", "note": "names the feeling"})
        conv = base | {"unit": "conversation", "turn_index": None}
        warmth = "6" if cid == "c1" else "3"
        note = "warm throughout, offers to listen" if cid == "c1" else None
        events.append(conv | {"code_id": "conv_warmth", "value": warmth, "note": note})
        events.append(conv | {"code_id": "_status", "value": "done"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # W350: the set is also in the study's plan (test data)
        cal.add_gold(events)
