"""The Corpus object: two tables, a manifest, and fast access to one conversation."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from annotate.corpus._io import TURN_FIELDS_FILE, TURNS_FILE, read_folder
from annotate.corpus._schema import TURNS_SCHEMA
from annotate.corpus._users import read_users
from annotate.errors import CorpusError, Errors
from annotate.types import FilePath

if TYPE_CHECKING:
    import pandas as pd


def _frame(table: pa.Table) -> pd.DataFrame:
    import pandas as pd  # lazily: importing a corpus does not need pandas (saves ~50 MB)

    return table.to_pandas(types_mapper=pd.ArrowDtype)


class Corpus:
    """A corpus folder (docs/internals.md), read lazily: ``turns`` loads on first use.

    Use :func:`load_corpus` to open one. ``conversation(id)`` reads only the row groups that
    hold that conversation until the whole turns table has been loaded.
    """

    def __init__(self, path: Path, manifest: dict[str, Any], conversations: pa.Table) -> None:
        self.path = path
        self.manifest = manifest
        self._conversations = conversations
        counts = conversations["n_turns"].to_numpy().astype(np.int64)
        self._starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else counts
        self._counts = counts

    def __repr__(self) -> str:
        return (
            f"<Corpus {self.name!r}: {len(self)} conversations, "
            f"{int(self._counts.sum())} turns, format {self.manifest.get('format')!r}>"
        )

    def __len__(self) -> int:
        return int(self._conversations.num_rows)

    @property
    def name(self) -> str:
        return str(self.manifest.get("name") or self.path.name)

    @cached_property
    def conversations(self) -> pd.DataFrame:
        """One row per conversation, sorted by conversation_id (pyarrow-backed dtypes)."""
        return _frame(self._conversations)

    @cached_property
    def turns(self) -> pd.DataFrame:
        """One row per turn, sorted by (conversation_id, turn_index) (pyarrow-backed dtypes)."""
        return _frame(pq.read_table(self.path / TURNS_FILE, schema=TURNS_SCHEMA))

    @cached_property
    def users(self) -> pd.DataFrame:
        """The user table (``users.parquet``: one row per ``user_id``, e.g. PRISM's survey);
        an empty table with the one column ``user_id`` when the corpus has none."""
        return _frame(read_users(self.path))

    @cached_property
    def turn_fields(self) -> pd.DataFrame:
        """The source's other per-turn fields (``turn_fields.parquet``: typed columns keyed by
        ``conversation_id`` and ``turn_index``, e.g. WildChat's moderation flags and scores);
        an empty table with those two columns when the corpus has none."""
        path = self.path / TURN_FIELDS_FILE
        if not path.is_file():
            return _frame(
                pa.table(
                    {
                        "conversation_id": pa.array([], pa.string()),
                        "turn_index": pa.array([], pa.int32()),
                    }
                )
            )
        return _frame(pq.read_table(path))

    @cached_property
    def conversation_ids(self) -> list[str]:
        """Conversation ids in file order (sorted)."""
        ids: list[str] = self._conversations["conversation_id"].to_pylist()
        return ids

    @cached_property
    def _position(self) -> dict[str, int]:
        return {cid: i for i, cid in enumerate(self.conversation_ids)}

    def _locate(self, conversation_id: str) -> int:
        pos = self._position.get(conversation_id)
        if pos is None:
            examples = ", ".join(self.conversation_ids[:3]) or "none"
            raise CorpusError(
                Errors.E112.format(
                    conversation_id=conversation_id, name=self.name, n=len(self), examples=examples
                )
            )
        return pos

    def conversation(self, conversation_id: str) -> pd.DataFrame:
        """The turns of one conversation, by turn_index (a fresh index 0..n-1).

        Raises
        ------
        CorpusError
            When the id is not in the corpus (E112).
        """
        pos = self._locate(conversation_id)
        if "turns" in self.__dict__:
            lo = int(self._starts[pos])
            return self.turns.iloc[lo : lo + int(self._counts[pos])].reset_index(drop=True)
        table = pq.read_table(
            self.path / TURNS_FILE,
            schema=TURNS_SCHEMA,
            filters=[("conversation_id", "==", conversation_id)],
        )
        return _frame(table.sort_by("turn_index"))

    def conversation_meta(self, conversation_id: str) -> dict[str, Any]:
        """The conversations row of one conversation as a dict, ``meta`` parsed from JSON."""
        pos = self._locate(conversation_id)
        row: dict[str, Any] = self._conversations.slice(pos, 1).to_pylist()[0]
        row["meta"] = json.loads(row["meta"]) if row["meta"] else {}
        return row


def load_corpus(path: FilePath) -> Corpus:
    """Open a corpus folder written by :func:`annotate.import_corpus` (or ``write_corpus``).

    Parameters
    ----------
    path
        The corpus folder (``turns.parquet``, ``conversations.parquet``, ``manifest.json``).

    Returns
    -------
    Corpus

    Raises
    ------
    CorpusError
        When the folder is missing, a file is missing or unreadable, or a table has the wrong
        schema (E111), with the one problem found.
    """
    folder, manifest, conversations, _ = read_folder(path)
    return Corpus(folder, manifest, conversations)
