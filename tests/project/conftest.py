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
