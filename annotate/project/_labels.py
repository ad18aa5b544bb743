"""Reading labels from a project: current labels, history, unit labels, status (blind-aware).

In a blind coder session (``Project.open(dir, coder="w0")`` of a project in blind mode) every
read path holds only that coder's labels: ``labels``, ``unit_labels``, ``status`` and the
``store`` itself (opened for that coder: it reads only that coder's files). Asking for another
coder's labels raises E315 (E306 from the store).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from annotate.errors import Errors, ProjectError
from annotate.project import _codebooks, _units

if TYPE_CHECKING:
    from annotate.codebook import Codebook
    from annotate.project._codebooks import Versions
    from annotate.store import LabelStore


class LabelsMixin:
    """The label methods of :class:`~annotate.project.Project`."""

    coder: str | None
    codebook: Codebook
    _versions: Versions

    if TYPE_CHECKING:  # read-only properties of Project

        @property
        def store(self) -> LabelStore: ...
        @property
        def turns(self) -> pd.DataFrame: ...
        @property
        def assignments(self) -> pd.DataFrame: ...
        @property
        def blind(self) -> bool: ...
        @property
        def coders(self) -> list[str]: ...
        @property
        def coder_kinds(self) -> dict[str, str]: ...

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

    def labels(
        self, history: bool = False, annotator: str | None = None, version: str | None = None
    ) -> pd.DataFrame:
        """Current labels (or, with ``history=True``, every event), optionally one coder's.

        In a coder's session (``Project.open(dir, coder=...)``) in blind mode, only that
        coder's labels are returned, and asking for another coder's raises ProjectError.
        After a codebook migration, current labels are those of the current codebook version,
        or of ``version`` (e.g. ``"1.0.0"``: the labels as they were under it); the history
        holds every version's events (``version`` filters it).
        """
        annotator = self._visible(annotator)
        # one coder's labels are read from that coder's files only (cost: that coder's labels)
        if history:
            return _codebooks.history(self.store, self._versions, version, annotator)
        return _codebooks.current_labels(self.store, self._versions, version, annotator)

    def unit_labels(
        self, annotators: list[str] | None = None, version: str | None = None
    ) -> pd.DataFrame:
        """The table agreement and analyses use: current labels plus implicit absences.

        Columns ``annotator_id, unit, conversation_id, turn_index, role, code_id, value``
        (system codes left out; ``role`` null for conversation units). A binary code a coder
        did not switch on counts as absent on every turn (of a role the code applies to) of
        each conversation that coder marked ``_status = done``; likewise conversation-level
        binary codes on those conversations. In a blind coder session: that coder's only.
        ``version``: the labels of that codebook version (default: the current one); a code a
        migration added without coding it in finished conversations has no implicit absence
        there.
        """
        if self._scoped:
            bad = [a for a in annotators or [] if a != self.coder]
            if bad:
                raise ProjectError(Errors.E315.format(coder=self.coder, other=bad))
            annotators = [self.coder]  # type: ignore[list-item]
        current = _codebooks.current_labels(self.store, self._versions, version, None)
        if annotators is not None:
            current = current[current["annotator_id"].isin(list(annotators))]
        units = _units.unit_labels(current, self.turns, self._versions.get(version))
        return _codebooks.drop_not_coded(units, current)

    def status(self) -> dict[str, pd.DataFrame]:
        """Progress: ``coders`` (kind ``human`` or ``llm``, done / assigned conversations,
        reliability ones, time spent, last activity) and ``codes`` (units coded, units coded by
        two or more coders).

        In a blind coder session it is that coder's own progress: one row in ``coders``, and
        ``codes`` counts their own units (``units_2plus``, which needs everyone's labels, is
        missing: open the project without ``coder=`` for it).
        """
        current = _codebooks.current_labels(self.store, self._versions, None, None)
        events = self.store.events()
        coders = list(self.coders)
        assignments = self.assignments
        if self._scoped:
            coders = [self.coder]  # type: ignore[list-item]
            assignments = assignments[assignments["annotator_id"] == self.coder]
        table = _units.coder_status(coders, assignments, current, events)
        table.insert(1, "kind", table["annotator_id"].map(self.coder_kinds).fillna("human"))
        units = _units.unit_labels(current, self.turns, self.codebook)
        codes = _units.code_status(_codebooks.drop_not_coded(units, current), self.codebook)
        if self._scoped:
            codes["units_2plus"] = pd.array([pd.NA] * len(codes), dtype="Int64")
        return {"coders": table, "codes": codes, **self._status_extras()}

    def _status_extras(self) -> dict[str, Any]:
        """Codebook versions, open recoding, calibration (see Project)."""
        return {}
