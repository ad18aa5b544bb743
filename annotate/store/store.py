"""LabelStore: the append-only, durable, lock-free label event log of a project."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from annotate.clock import CLOCK
from annotate.durable import fsync_dir, write_file
from annotate.errors import Errors, LabelStoreError, StorageError, Warnings
from annotate.store import _files, _fold
from annotate.store._schema import LABEL_COLUMNS, LABEL_SCHEMA, empty_events, to_pandas
from annotate.store._validate import TextLookup, TurnLookup, Validator
from annotate.store._withdraw import withdraw_conversations
from annotate.types import FilePath

if TYPE_CHECKING:
    from annotate.codebook import Codebook

#: when a store holds more part files than this, the next read (or every 64th append that sees
#: it) folds them into one compacted file first. At about 0.3 ms per part on read this caps the
#: cost of unfolded parts near 0.3 s; folding 1,000 parts takes well under a second.
AUTO_COMPACT_PARTS = 1000
_CHECK_EVERY = 64
#: an automatic compaction skips while another process's ``.compacting`` note is this fresh
NOTE_SECONDS = 120.0
NOTE = _files.NOTE
_CREATED = LABEL_COLUMNS.index("created_at")


class LabelStore:
    """The label events of one project, as immutable parquet files in ``folder``.

    Parameters
    ----------
    folder : str or path-like
        The store folder (``<project>/labels``); created when missing.
    codebook : Codebook
        Every event is validated against it; its id and version are recorded with each event.
    session_id : str, optional
        The session written into events that carry none (default: a fresh id per store object).
    turns : TurnLookup, optional
        The corpus's turns (conversation ids, turn indexes and roles), to check that a labelled
        turn exists and that the code applies to its role. The project passes it.
    auto_compact : int, optional
        Fold parts when more than this many exist (default :data:`AUTO_COMPACT_PARTS`;
        0 turns it off).
    annotator : str, optional
        A coder's session: events without ``annotator_id`` get this one, others are rejected,
        and (with ``blind``) every read returns only this coder's labels, reading only this
        coder's files; compaction then touches only this coder's folders too.
    blind : bool, default True
        With ``annotator``: scope reads to that coder (False: a coder who may see all labels).
    versions : iterable of Codebook, optional
        Older versions of the codebook the project still holds (after a migration): an event
        naming one of them (``codebook_id``, ``codebook_version``) is validated against it.
        Events that name no version get ``codebook``'s.
    texts : TextLookup, optional
        The corpus's turn texts, to check that each evidence span lies inside its turn and
        that its sha256 is that of the text there. The project passes it.

    Notes
    -----
    ``append`` returns only after the events are on disk (file fsync, atomic rename, fsync of
    the folder). Writers never lock anything, so any number of coders' sessions can append to
    one folder at once, also on a network file system (JupyterHub shared folders).
    """

    def __init__(
        self,
        folder: FilePath,
        codebook: Codebook,
        *,
        session_id: str | None = None,
        turns: TurnLookup | None = None,
        auto_compact: int = AUTO_COMPACT_PARTS,
        annotator: str | None = None,
        blind: bool = True,
        versions: Iterable[Codebook] = (),
        texts: TextLookup | None = None,
    ) -> None:
        self.path = Path(folder)
        self.codebook = codebook
        self.session_id = session_id or CLOCK.event_id()
        self.auto_compact = auto_compact
        self._validate = Validator(
            codebook,
            session_id=self.session_id,
            turns=turns,
            annotator=annotator,
            versions=versions,
            texts=texts,
        )
        self.annotator = annotator
        #: the coder every read is limited to (None: every coder's labels may be read)
        self.scope = annotator if blind else None
        self._appends = 0
        for sub in (self.path, self.path / _files.PARTS, self.path / _files.COMPACTED):
            if sub.is_symlink():  # a link planted to redirect the project's writes
                raise StorageError(40, Errors.E003.format(path=sub))
        try:
            if not all((self.path / d).is_dir() for d in (_files.PARTS, _files.COMPACTED)):
                (self.path / _files.PARTS).mkdir(parents=True, exist_ok=True)
                (self.path / _files.COMPACTED).mkdir(exist_ok=True)
                # the new folders' own entries must be durable too, or a power cut could
                # take a whole folder of acknowledged events with it
                for folder in (self.path, self.path.parent):
                    fsync_dir(folder)
        except OSError as exc:
            raise LabelStoreError(
                Errors.E304.format(path=self.path, problem=f"cannot be created ({exc})")
            ) from exc

    def __repr__(self) -> str:
        return f"LabelStore({str(self.path)!r}, codebook={self.codebook.id!r})"

    def validate(self, events: Any) -> list[dict[str, Any]]:
        """Check and normalise events as :meth:`append` would, without writing anything.

        Missing ``event_id`` and ``created_at`` are stamped by the one clock
        (:data:`annotate.clock.CLOCK`), so a caller that queues the returned rows (the widget
        session) keeps their order and ids when it appends them later.

        Raises
        ------
        LabelStoreError
            When any event is invalid, with ``failure_cases`` (nothing is stamped for later).
        """
        return self._validate(events)

    def append(self, events: Any) -> pd.DataFrame:
        """Validate and durably store label events.

        Parameters
        ----------
        events : DataFrame, list of dict or dict
            Label events (columns of :data:`LABEL_SCHEMA`). ``event_id``, ``created_at``,
            ``session_id``, ``codebook_id``, ``codebook_version``, ``op`` (``set``) and
            ``context`` (``full``) are filled when missing.

        Returns
        -------
        DataFrame
            The events as stored (one row per event, every column filled). Built the cheap
            way (object columns, ``created_at`` as UTC Timestamps), since this sits on every
            save; :meth:`current` and :meth:`events` return pyarrow-backed strings and
            nullable ``Int32``.

        Raises
        ------
        LabelStoreError
            When any event is invalid; ``failure_cases`` lists the failing rows with a
            ``reason`` column, and nothing is written.
        """
        rows = self._validate(events)
        if not rows:
            return empty_events()
        table = pa.Table.from_pylist(rows, schema=LABEL_SCHEMA)
        coders = {r["annotator_id"] for r in rows}
        _files.write_part(self.path, table, coders, max(r["created_at"] for r in rows))
        self._appends += 1
        if self.auto_compact and self._appends % _CHECK_EVERY == 0:
            self._maybe_compact()
        return _saved_frame(rows, table)

    def events(self, annotator: str | None = None) -> pd.DataFrame:
        """Every event (the full history), each once, in (created_at, event_id) order.

        With ``annotator``, only that coder's events, read from that coder's files only. A
        store opened for one coder (``annotator=`` at construction) reads only that coder's.
        """
        chunks = self._read(head_only=False, annotator=annotator)
        return to_pandas(_fold.history([c.table for c in chunks]))

    def current(self, annotator: str | None = None) -> pd.DataFrame:
        """Current labels: the latest event per (annotator_id, unit, conversation_id,
        turn_index, code_id), with keys whose latest event is a ``clear`` removed.

        With ``annotator``, only that coder's, at the cost of that coder's own labels (the
        others' files are not read). A store opened for one coder reads only that coder's.
        """
        return to_pandas(_fold.latest(self._read(head_only=True, annotator=annotator)))

    def latest_us(self, annotator: str | None = None) -> int | None:
        """The latest ``created_at`` (microseconds) of any event (of one annotator), or None.

        Clears count: a session that starts after its coder's last action (even a clear) must
        stamp its own changes later than that (see :meth:`annotate.clock.Clock.observe`).
        """
        return _files.latest_us(self.path, self._scope(annotator))

    def compact(self, *, full: bool = False) -> dict[str, int]:
        """Fold part files into one compacted file (lock-free; safe at any time, from any
        process); with ``full=True`` fold every compacted file in too, leaving one file per
        coder. A store opened for one coder compacts only that coder's files.
        Returns counts: ``parts`` seen, files ``folded``, ``events`` written."""
        return _files.compact(self.path, merge_compacted=0 if full else 4, annotator=self.annotator)

    def withdraw(self, conversation_ids: Any) -> int:
        """Remove every event of these conversations from every file of the store (a
        participant's withdrawal; see :mod:`annotate.store._withdraw`). Returns the number of
        events removed."""
        return withdraw_conversations(self.path, conversation_ids)

    def _scope(self, annotator: str | None) -> str | None:
        """The coder a read is limited to: this store's coder, else the one asked for."""
        if self.scope is not None and annotator not in (None, self.scope):
            raise LabelStoreError(
                Errors.E306.format(coder=self.scope, other=annotator, path=self.path)
            )
        return self.scope or annotator

    def _read(self, *, head_only: bool, annotator: str | None) -> list[_files.Chunk]:
        scope = self._scope(annotator)
        if self.auto_compact:
            self._maybe_compact()
        return _files.read_all(self.path, head_only=head_only, annotator=scope)

    def _maybe_compact(self) -> None:
        """Compact when past the threshold, unless another process announced it is on it.

        The ``.compacting`` note only spares the others the same work (eight sessions all
        folding the same parts); it is not a lock: two compactors at once are still safe, and a
        note older than :data:`NOTE_SECONDS` (a compactor that died) is ignored.
        """
        scope = self.scope
        # a coder's note lives in the coder's own folder (all a coder may write to when the
        # team gives each coder's folders their own permissions)
        note = (self.path if scope is None else self.path / _files.PARTS / scope) / NOTE
        found = _files.listing(self.path, scope)  # a planted link is refused here (E003)
        try:
            n = len(found.parts)
            # an unscoped store also folds release-0.1 files of several coders into the
            # coders' folders, so that coder-scoped reads stop paying for them
            legacy = scope is None and any(p in found.shared for p in found.compacted)
            if n <= self.auto_compact and not legacy:
                return
            try:
                if time.time() - note.stat().st_mtime < NOTE_SECONDS:
                    return
            except FileNotFoundError:
                pass
            write_file(note, f"{os.getpid()}\n".encode())  # replaces a planted link
            try:
                _files.compact(self.path, annotator=scope)
            finally:
                note.unlink(missing_ok=True)
        except OSError as exc:
            warnings.warn(Warnings.W304.format(path=self.path, problem=exc), stacklevel=3)


def _saved_frame(rows: list[dict[str, Any]], table: pa.Table) -> pd.DataFrame:
    """What append returns: one object block for a save (0.03 ms against 0.25 ms for
    ``to_pandas``, a fifth of a save), Arrow's conversion for bulk appends."""
    if len(rows) > 64:
        return table.to_pandas()
    block = np.empty((len(rows), len(LABEL_COLUMNS)), dtype=object)
    for i, row in enumerate(rows):
        block[i] = [row[c] for c in LABEL_COLUMNS]
        block[i, _CREATED] = pd.Timestamp(row["created_at"], unit="us", tz="UTC")
    return pd.DataFrame(block, columns=list(LABEL_COLUMNS), dtype=object, copy=False)
