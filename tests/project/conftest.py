"""Fixtures of the project tests: a small corpus written with annotate.corpus.write_corpus."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from annotate.codebook import load_codebook
from annotate.corpus import write_corpus

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / "codebooks" / "toy.yaml"


def make_corpus(folder: Path, n_conversations: int = 10, n_turns: int = 4) -> Path:
    """Conversations c000.. with alternating user/assistant turns."""
    turns, convs = [], []
    for c in range(n_conversations):
        cid = f"c{c:03d}"
        for t in range(n_turns):
            role = "user" if t % 2 == 0 else "assistant"
            turns.append(
                {
                    "conversation_id": cid,
                    "turn_index": t,
                    "turn_id": f"{cid}-{t}",
                    "role": role,
                    "speaker": role,
                    "text": f"turn {t} of {cid}",
                    "created_at": None,
                    "model": None,
                    "meta": None,
                }
            )
        convs.append(
            {
                "conversation_id": cid,
                "source": "test",
                "source_id": cid,
                "user_id": None,
                "started_at": None,
                "n_turns": n_turns,
                "language": "en",
                "model": None,
                "meta": None,
            }
        )
    write_corpus(folder, pd.DataFrame(turns), pd.DataFrame(convs), {"name": "test"})
    return folder


@pytest.fixture(scope="session")
def toy_path() -> Path:
    return TOY


@pytest.fixture(scope="session")
def codebook():  # type: ignore[no-untyped-def]
    return load_codebook(TOY)


@pytest.fixture()
def corpus_dir(tmp_path: Path) -> Path:
    return make_corpus(tmp_path / "corpus")


MODELS = ("gpt-3.5-turbo", "gpt-4", "claude-2", "llama-2-70b")


def make_large_corpus(folder: Path, n_conversations: int) -> Path:
    """A synthetic corpus of ``n_conversations`` (built vectorised: 17k in about a second).

    Conversation i has model MODELS[i % 4] for i % 10 < 8 and no model otherwise, language
    "en" for i % 3 != 0 else "de", 2 + (i % 5) * 2 turns, a start date in 2023 or 2024 and
    meta ``{"topic": "health" | "work"}``. The text is generated ("turn t of cNNNNN").
    """
    import numpy as np

    i = np.arange(n_conversations)
    cids = np.char.add("c", np.char.zfill(i.astype(str), 5))
    n_turns = 2 + (i % 5) * 2
    model = np.where(i % 10 < 8, np.array(MODELS, dtype=object)[i % 4], None)
    started = pd.to_datetime("2023-01-01", utc=True) + pd.to_timedelta(i % 730, unit="D")
    convs = pd.DataFrame(
        {
            "conversation_id": cids,
            "source": "synthetic",
            "source_id": cids,
            "user_id": np.char.add("u", (i % 500).astype(str)),
            "started_at": started,
            "n_turns": n_turns.astype("int32"),
            "language": np.where(i % 3 == 0, "de", "en"),
            "model": model,
            "meta": np.where(i % 2 == 0, '{"topic": "health"}', '{"topic": "work"}'),
        }
    )
    rep = np.repeat(np.arange(n_conversations), n_turns)
    starts = np.repeat(np.cumsum(n_turns) - n_turns, n_turns)
    t = np.arange(len(rep)) - starts
    tcid = cids[rep]
    turns = pd.DataFrame(
        {
            "conversation_id": tcid,
            "turn_index": t.astype("int32"),
            "turn_id": np.char.add(np.char.add(tcid, "-"), t.astype(str)),
            "role": np.where(t % 2 == 0, "user", "assistant"),
            "speaker": None,
            "text": np.char.add("turn text ", t.astype(str)),
            "created_at": None,
            "model": None,
            "meta": None,
        }
    )
    write_corpus(folder, turns, convs, {"name": "synthetic"})
    return folder
