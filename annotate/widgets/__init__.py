"""annotate.widgets: the annotation widget (layer 5) and its headless session.

``AnnotationSession`` (session.py) holds every rule and imports no widget library;
``Annotator`` (annotator.py) is the anywidget view over it, imported lazily so that the
session stays usable where anywidget is not installed. ``Adjudicator`` (adjudicator.py) is
the adjudication widget, a view over ``annotate.adjudication.Adjudication``.
``CalibrationSession`` (calibration.py) is the headless session of a calibration attempt.
"""

from __future__ import annotations

from typing import Any

from annotate.widgets.session import AnnotationSession

__all__ = ["Adjudicator", "AnnotationSession", "Annotator", "CalibrationSession"]


def __getattr__(name: str) -> Any:
    if name == "Annotator":
        from annotate.widgets.annotator import Annotator

        return Annotator
    if name == "CalibrationSession":
        from annotate.widgets.calibration import CalibrationSession

        return CalibrationSession
    if name == "Adjudicator":
        from annotate.widgets.adjudicator import Adjudicator

        return Adjudicator
    raise AttributeError(f"module 'annotate.widgets' has no attribute {name!r}")
