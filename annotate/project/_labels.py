"""Reading labels from a project: current labels, history, unit labels, status (blind-aware).

In a blind coder session (``Project.open(dir, coder="w0")`` of a project in blind mode) every
read path holds only that coder's labels: ``labels``, ``unit_labels``, ``status`` and the
``store`` itself (a :class:`CoderStore`). Asking for another coder's labels raises E315.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from annotate.errors import Errors, ProjectError
from annotate.project import _units


class CoderStore:
    """One coder's view of a label store: reads return only that coder's events.

    It wraps the project's :class:`~annotate.store.LabelStore` (opened with ``annotator=``,
    so appends default to and must be this coder's) and filters every read, so code holding
    ``project.store`` in a blind session cannot see another coder's labels through it.
    """

    def __init__(self, store: Any, coder: str) -> None:
        self._store = store
        self.coder = coder
        self.path = store.path
        self.codebook = store.codebook
        self.session_id = store.session_id

    def __repr__(self) -> str:
        return f"CoderStore({str(self.path)!r}, coder={self.coder!r})"

    def _own(self, frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty or (frame["annotator_id"] == self.coder).all():
            return frame
        return frame[frame["annotator_id"] == self.coder].reset_index(drop=True)

    def _check(self, annotator: str | None) -> None:
        if annotator not in (None, self.coder):
            raise ProjectError(Errors.E315.format(coder=self.coder, other=repr(annotator)))

    def _scope(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments of a read, with any ``annotator=`` checked and kept to this coder."""
        if "annotator" in kwargs:
            self._check(kwargs["annotator"])
            kwargs["annotator"] = self.coder
        return kwargs

    def events(self, **kwargs: Any) -> pd.DataFrame:
        """This coder's events (history)."""
        return self._own(self._store.events(**self._scope(kwargs)))

    def current(self, **kwargs: Any) -> pd.DataFrame:
        """This coder's current labels."""
        return self._own(self._store.current(**self._scope(kwargs)))

    def latest_us(self, annotator: str | None = None) -> int | None:
        """The latest ``created_at`` of this coder's events (another coder's: E315)."""
        self._check(annotator)
        return self._store.latest_us(self.coder)

    def append(self, events: Any) -> pd.DataFrame:
        """Validate and durably store this coder's label events."""
        return self._store.append(events)

    def validate(self, events: Any) -> list[dict[str, Any]]:
        """Check events as :meth:`append` would, without writing."""
        return self._store.validate(events)

    def compact(self, *, full: bool = False) -> dict[str, int]:
        """Fold part files (writes no label and returns only counts)."""
        return self._store.compact(full=full)


class LabelsMixin:
    """The label methods of :class:`~annotate.project.Project`."""

    store: Any
    coder: str | None
    blind: bool
    turns: pd.DataFrame
    codebook: Any
    coders: list[str]
    assignments: pd.DataFrame

    def append(self, events: Any) -> pd.DataFrame:
        """Validate and durably store label events (see :meth:`LabelStore.append`)."""
        return self.store.append(events)

    @property
    def _scoped(self) -> bool:
        """A blind coder session: every read holds only ``self.coder``'s labels."""
        return self.coder is not None and self.blind

    def _visible(self, annotator: str | None) -> str | None:
        """The annotator whose labels may be read (blind mode in a coder's session)."""
        if not self._scoped:
            return annotator
        if annotator not in (None, self.coder):
            raise ProjectError(Errors.E315.format(coder=self.coder, other=repr(annotator)))
        return self.coder

    def labels(self, history: bool = False, annotator: str | None = None) -> pd.DataFrame:
        """Current labels (or, with ``history=True``, every event), optionally one coder's.

        In a coder's session (``Project.open(dir, coder=...)``) in blind mode, only that
        coder's labels are returned, and asking for another coder's raises ProjectError.
        """
        annotator = self._visible(annotator)
        frame = self.store.events() if history else self.store.current()
        if annotator is not None:
            frame = frame[frame["annotator_id"] == annotator].reset_index(drop=True)
        return frame

    def unit_labels(self, annotators: list[str] | None = None) -> pd.DataFrame:
        """The table agreement and analyses use: current labels plus implicit absences.

        Columns ``annotator_id, unit, conversation_id, turn_index, role, code_id, value``
        (system codes left out; ``role`` null for conversation units). A binary code a coder
        did not switch on counts as absent on every turn (of a role the code applies to) of
        each conversation that coder marked ``_status = done``; likewise conversation-level
        binary codes on those conversations. In a blind coder session: that coder's only.
        """
        if self._scoped:
            bad = [a for a in annotators or [] if a != self.coder]
            if bad:
                raise ProjectError(Errors.E315.format(coder=self.coder, other=bad))
            annotators = [self.coder]  # type: ignore[list-item]
        current = self.store.current()
        if annotators is not None:
            current = current[current["annotator_id"].isin(list(annotators))]
        return _units.unit_labels(current, self.turns, self.codebook)

    def status(self) -> dict[str, pd.DataFrame]:
        """Progress: ``coders`` (done / assigned conversations, reliability ones, time spent,
        last activity) and ``codes`` (units coded, units coded by two or more coders).

        In a blind coder session it is that coder's own progress: one row in ``coders``, and
        ``codes`` counts their own units (``units_2plus``, which needs everyone's labels, is
        missing: open the project without ``coder=`` for it).
        """
        current = self.store.current()
        events = self.store.events()
        coders = list(self.coders)
        assignments = self.assignments
        if self._scoped:
            coders = [self.coder]  # type: ignore[list-item]
            assignments = assignments[assignments["annotator_id"] == self.coder]
        table = _units.coder_status(coders, assignments, current, events)
        codes = _units.code_status(
            _units.unit_labels(current, self.turns, self.codebook), self.codebook
        )
        if self._scoped:
            codes["units_2plus"] = pd.array([pd.NA] * len(codes), dtype="Int64")
        return {"coders": table, "codes": codes}
