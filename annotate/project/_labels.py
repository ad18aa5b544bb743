"""Reading labels from a project: current labels, history, unit labels, status (blind-aware)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from annotate.errors import Errors, ProjectError
from annotate.project import _units


class LabelsMixin:
    """The label methods of :class:`~annotate.project.Project`."""

    store: Any
    coder: str | None
    blind: bool
    turns: pd.DataFrame
    codebook: Any
    coders: list[str]
    assignments: pd.DataFrame
    coder_kinds: dict[str, str]

    def append(self, events: Any) -> pd.DataFrame:
        """Validate and durably store label events (see :meth:`LabelStore.append`)."""
        return self.store.append(events)

    def _visible(self, annotator: str | None) -> str | None:
        """The annotator whose labels may be read (blind mode in a coder's session)."""
        if self.coder is None or not self.blind:
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
        # one coder's labels are read from that coder's files only (cost: that coder's labels)
        return self.store.events(annotator) if history else self.store.current(annotator)

    def unit_labels(self, annotators: list[str] | None = None) -> pd.DataFrame:
        """The table agreement and analyses use: current labels plus implicit absences.

        Columns ``annotator_id, unit, conversation_id, turn_index, role, code_id, value``
        (system codes left out; ``role`` null for conversation units). A binary code a coder
        did not switch on counts as absent on every turn (of a role the code applies to) of
        each conversation that coder marked ``_status = done``; likewise conversation-level
        binary codes on those conversations.
        """
        current = self.store.current()
        if self.coder is not None and self.blind:
            bad = [a for a in annotators or [] if a != self.coder]
            if bad:
                raise ProjectError(Errors.E315.format(coder=self.coder, other=bad))
            annotators = [self.coder]
        if annotators is not None:
            current = current[current["annotator_id"].isin(list(annotators))]
        return _units.unit_labels(current, self.turns, self.codebook)

    def status(self) -> dict[str, pd.DataFrame]:
        """Progress: ``coders`` (kind ``human`` or ``llm``, done / assigned conversations,
        reliability ones, time spent, last activity) and ``codes`` (units coded, units coded
        by two or more coders)."""
        current = self.store.current()
        coders = _units.coder_status(self.coders, self.assignments, current, self.store.events())
        coders.insert(1, "kind", coders["annotator_id"].map(self.coder_kinds).fillna("human"))
        codes = _units.code_status(
            _units.unit_labels(current, self.turns, self.codebook), self.codebook
        )
        return {"coders": coders, "codes": codes}
