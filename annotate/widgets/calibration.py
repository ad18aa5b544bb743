"""Headless calibration session: a coder codes the calibration set and sees, after each
conversation, where they differed from gold and why; then a score per code and pass/fail.

A :class:`CalibrationSession` is an :class:`~annotate.widgets.session.AnnotationSession` whose
"project" is the coder's calibration attempt (:class:`annotate.project.Attempt`): the queue is
the calibration set, labels go to the attempt's own store under ``calibration/``, never to the
study's labels. Every rule of the annotation session holds (saving, undo, resume, done, skip);
calibration adds:

* :meth:`feedback`: after the coder marked a conversation done, the comparison with gold
  (:func:`annotate.adjudication.calibration.compare`); before that it is refused (E350), so
  that gold never guides the coding;
* :meth:`score`: agreement with gold per code so far (alpha with a bootstrap interval);
* :meth:`certify`: once every conversation of the set is done, the result against the
  project's pass rule, recorded once per attempt.

The widget's calibration mode plugs this session in (protocol: docs/internals.md, "Calibration").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from annotate.adjudication.calibration import certify, compare, score
from annotate.project import Calibration
from annotate.widgets.session import AnnotationSession

if TYPE_CHECKING:
    from annotate.project import Project


class CalibrationSession(AnnotationSession):
    """One coder's calibration attempt.

    Parameters
    ----------
    project : Project
        The study's project (its calibration set, settings and codebook).
    annotator : str
        The coder's id (a coder of the project).
    new_attempt : bool
        Start a new attempt even when one is open (e.g. to retake after failing).
    session_id, clock
        As for :class:`AnnotationSession`.
    """

    def __init__(
        self,
        project: Project,
        annotator: str,
        *,
        new_attempt: bool = False,
        session_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.calibration = Calibration(project)
        self.attempt = self.calibration.attempt(annotator, new=new_attempt)
        super().__init__(self.attempt, annotator, session_id=session_id, clock=clock)  # type: ignore[arg-type]

    @property
    def mode(self) -> str:
        return "calibration"

    def feedback(
        self, conversation_id: str | None = None, *, every_unit: bool = False
    ) -> pd.DataFrame:
        """Where the coder differed from gold in a finished conversation, with explanations
        (default: the open conversation). Columns: see
        :data:`annotate.adjudication.calibration.COMPARE_COLUMNS`."""
        return compare(self.attempt, conversation_id or self.conversation_id, every_unit=every_unit)

    def score(self, *, bootstrap: int | None = None, seed: int | None = None) -> pd.DataFrame:
        """Agreement with gold per code over the conversations finished so far."""
        return score(self.attempt, bootstrap=bootstrap, seed=seed)

    @property
    def complete(self) -> bool:
        """Every conversation of the set is done (or skipped)."""
        return bool(self.attempt.complete)

    def certify(self) -> dict[str, Any]:
        """The attempt's result against the project's pass rule (recorded once)."""
        return certify(self.attempt)
