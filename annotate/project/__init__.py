"""annotate.project: a coding project (corpus + frozen codebook + plan + label store), layer 3.

See :class:`Project` and README, "Projects".
"""

from __future__ import annotations

from annotate.project._calibration import Attempt, Calibration
from annotate.project._plan import ASSIGNMENT_COLUMNS
from annotate.project._units import UNIT_LABEL_COLUMNS
from annotate.project.project import Project

__all__ = ["ASSIGNMENT_COLUMNS", "UNIT_LABEL_COLUMNS", "Attempt", "Calibration", "Project"]
