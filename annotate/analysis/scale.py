"""Analyses at scale: the agreement report of a project too large for memory (DuckDB).

:func:`agreement_report` is :func:`annotate.agreement.report` over
``project.unit_labels(version=...)``, computed by DuckDB over the store's parquet files
(:mod:`annotate.project._scale`, :mod:`annotate.agreement._scale`): the same table, with
memory bounded by DuckDB's limit (it spills to disk past it) and the number of distinct unit
patterns, not by the number of labels. ``describe`` at scale reads one coder's unit labels the
same way: ``project.unit_labels([coder], engine="duckdb")``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from annotate.agreement._scale import report_at_scale
from annotate.project._scale import unit_labels_view
from annotate.store._sql import connect

if TYPE_CHECKING:
    import pandas as pd

    from annotate.agreement import AgreementReport
    from annotate.project import Project

#: DuckDB's memory limit in analyses at scale (it spills to a temporary folder past it)
MEMORY_LIMIT = "4GB"


def agreement_report(
    project: Project,
    *,
    codes: str | Sequence[str] | None = None,
    unit: str | None = None,
    role: str | None = None,
    bootstrap: int = 0,
    seed: int | None = None,
    set_distance: str = "masi",
    version: str | None = None,
    evidence: pd.DataFrame | None = None,
    memory_limit: str = MEMORY_LIMIT,
) -> AgreementReport:
    """The agreement report of ``project`` computed by DuckDB (same table as
    ``annotate.agreement.report(project.unit_labels(version=version), codebook, ...)``).

    The report's ``pairwise``, ``leave_one_out`` and ``disagreements`` need every unit and
    raise E409 here. Raises E324 when DuckDB (the ``scale`` extra) is not installed.
    """
    book = project.codebook_for(version)
    with tempfile.TemporaryDirectory(prefix="annotate-duckdb-") as spill:
        con = connect(memory_limit, spill)
        try:
            view = unit_labels_view(project, con, version=version)
            kw: dict[str, Any] = {"codes": codes, "unit": unit, "role": role}
            return report_at_scale(con, view, book, bootstrap=bootstrap, seed=seed,
                                   set_distance=set_distance, evidence=evidence, **kw)  # fmt: skip
        finally:
            con.close()
