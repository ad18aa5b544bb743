"""The corpus's turns as the project needs them: (conversation_id, turn_index, role), texts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.errors import CorpusError

if TYPE_CHECKING:
    from annotate.corpus import Corpus

TURN_KEY_DTYPES = {
    "conversation_id": "string[pyarrow]",
    "turn_index": "Int32",
    "role": "string[pyarrow]",
}
_TAIL_BYTES = 65536


def read_turn_roles(corpus: Corpus) -> pd.DataFrame:
    """Only the three key columns of the corpus's turns (no text), sorted."""
    path = Path(corpus.path) / "turns.parquet"
    frame = pd.read_parquet(path, columns=list(TURN_KEY_DTYPES))
    frame = frame.astype(TURN_KEY_DTYPES)
    if not (frame["conversation_id"].is_monotonic_increasing or frame.empty):
        frame = frame.sort_values(["conversation_id", "turn_index"], kind="stable")
    return frame.reset_index(drop=True)


class TurnIndex:
    """Answers "does this turn exist, and what is its role" in about a microsecond.

    Built once from the sorted turn table: one dict of conversation -> (first row, count), and
    the role and turn_index columns as arrays.
    """

    def __init__(self, turns: pd.DataFrame) -> None:
        conv = turns["conversation_id"].to_numpy(dtype=object)
        self._index = turns["turn_index"].to_numpy(dtype=np.int64, na_value=-1)
        self._roles = turns["role"].to_numpy(dtype=object)
        n = len(conv)
        if n:
            starts = np.flatnonzero(np.r_[True, conv[1:] != conv[:-1]])
            counts = np.diff(np.r_[starts, n])
            spans = zip(starts.tolist(), counts.tolist(), strict=True)
            self._where = dict(zip(conv[starts].tolist(), spans, strict=True))
        else:
            self._where = {}

    def has_conversation(self, conversation_id: str) -> bool:
        """Whether the corpus holds this conversation."""
        return conversation_id in self._where

    def role(self, conversation_id: str, turn_index: int) -> str | None:
        """The role of a turn, or None when the conversation has no such turn."""
        start, count = self._where.get(conversation_id, (0, 0))
        if 0 <= turn_index < count and self._index[start + turn_index] == turn_index:
            return str(self._roles[start + turn_index])
        hits = np.flatnonzero(self._index[start : start + count] == turn_index)
        return str(self._roles[start + hits[0]]) if len(hits) else None


class LazyTurnIndex:
    """A :class:`TurnIndex` built on the first question (reading labels needs none)."""

    def __init__(self, load: Callable[[], pd.DataFrame]) -> None:
        self._load = load
        self._index: TurnIndex | None = None

    def _get(self) -> TurnIndex:
        if self._index is None:
            self._index = TurnIndex(self._load())
        return self._index

    def has_conversation(self, conversation_id: str) -> bool:
        """Whether the corpus holds this conversation."""
        return self._get().has_conversation(conversation_id)

    def role(self, conversation_id: str, turn_index: int) -> str | None:
        """The role of a turn, or None when the conversation has no such turn."""
        return self._get().role(conversation_id, turn_index)


class TurnTexts:
    """The text of one turn, read with its conversation on the first question about it.

    Only events with evidence spans ask (to check the spans against the text), so a store
    that never sees a span never reads a text. The last few conversations are kept.
    """

    KEEP = 8

    def __init__(self, corpus: Callable[[], Corpus]) -> None:
        self._corpus = corpus
        self._cache: dict[str, dict[int, str]] = {}

    def text(self, conversation_id: str, turn_index: int) -> str | None:
        """A turn's text, or None when the corpus has no such turn."""
        turns = self._cache.get(conversation_id)
        if turns is None:
            try:
                frame = self._corpus().conversation(conversation_id)
            except CorpusError:  # E112: not in the corpus (reported by the unit check)
                return None
            turns = {
                int(i): str(t) if isinstance(t, str) else ""
                for i, t in zip(frame["turn_index"], frame["text"], strict=True)
            }
            if len(self._cache) >= self.KEEP:
                self._cache.pop(next(iter(self._cache)))
            self._cache[conversation_id] = turns
        return turns.get(int(turn_index))


def corpus_fingerprint(folder: Path) -> str:
    """A cheap sha256 that changes when the corpus files change.

    It covers manifest.json in full and, for each parquet table, its size and its last 64 KiB
    (the footer, which holds row counts and per-row-group statistics), so it costs
    milliseconds on a million-turn corpus and catches any re-import.
    """
    h = hashlib.sha256()
    for name in ("manifest.json", "conversations.parquet", "turns.parquet"):
        path = folder / name
        data = path.read_bytes() if name.endswith(".json") else _tail(path)
        h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()


def _tail(path: Path) -> bytes:
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - _TAIL_BYTES))
        return str(size).encode() + f.read()


def manifest_counts(corpus: Corpus) -> dict[str, Any]:
    """The counts of the corpus manifest (conversations, turns, ...), JSON-safe."""
    counts = dict(corpus.manifest.get("counts") or {})
    return json.loads(json.dumps(counts, default=str))
