"""Declared families of tests: multiple-comparison corrections that span several calls.

A research question is usually answered by several calls (one per code, per lag, per group
comparison). Correcting within each call controls nothing for the question as a whole. A
:class:`Family` collects the tests of every call that is given ``family=`` and adjusts them
together: Holm (1979) for a confirmatory family (family-wise error rate), Benjamini &
Hochberg (1995) for an exploratory one (false-discovery rate). Calling an analysis again
with the same test replaces its earlier entry (re-running a notebook cell does not add
tests).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from annotate.analysis._intervals import warn
from annotate.analysis._stats import p_adjust
from annotate.errors import AnalysisError, Errors, Warnings

METHODS = ("holm", "bh", "bonferroni")


class Family:
    """A family of tests whose p-values are adjusted together.

    Parameters
    ----------
    name
        What the family is, e.g. ``"RQ1: AI responses to disclosure"``.
    method
        ``"holm"`` (default; family-wise error, for confirmatory questions), ``"bonferroni"``
        or ``"bh"`` (false-discovery rate, for exploratory screening).
    confirmatory
        Whether the family's tests were declared before looking at the data (reported in
        :meth:`table`; docs/analysis.md, "Confirmatory and exploratory use").
    size
        The number of tests declared up front (optional): :meth:`table` warns when the family
        holds a different number, since a correction over fewer tests than planned is too
        lenient.

    Examples
    --------
    >>> fam = Family("RQ3", method="holm")
    >>> _ = fam.add("demo", pd.DataFrame({"test_label": ["a", "b"], "p_value": [0.01, 0.04]}))
    >>> fam.table()["p_adjusted"].round(3).tolist()
    [0.02, 0.04]
    """

    def __init__(
        self, name: str, *, method: str = "holm", confirmatory: bool = True, size: int | None = None
    ) -> None:
        if method not in METHODS:
            raise AnalysisError(
                Errors.E464.format(
                    family=name, problem=f"method {method!r} is unknown; use {', '.join(METHODS)}"
                )
            )
        self.name = name
        self.method = method
        self.confirmatory = confirmatory
        self.size = size
        self._tests: dict[tuple[str, str], dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._tests)

    def __repr__(self) -> str:
        kind = "confirmatory" if self.confirmatory else "exploratory"
        return f"Family({self.name!r}, {kind}, {self.method}, {len(self)} tests)"

    def add(self, analysis: str, table: pd.DataFrame, *, p: str = "p_value") -> pd.DataFrame:
        """Register the rows of ``table`` (column ``test_label`` names each test, ``p`` its
        p-value)
        and return the table with ``family`` and ``p_family`` (adjusted over the family *as it
        stands*; :meth:`table` gives the final values once every call has run)."""
        for test, pv in zip(table["test_label"].astype(str), table[p], strict=True):
            self._tests[(analysis, test)] = {"p_value": float(pv) if pd.notna(pv) else np.nan}
        out = table.copy()
        out["family"] = self.name
        final = self.table(check=False).set_index(["analysis", "test"])["p_adjusted"]
        out["p_family"] = [final.get((analysis, str(t)), np.nan) for t in out["test_label"]]
        return out

    def table(self, *, check: bool = True) -> pd.DataFrame:
        """Every test of the family with its p-value adjusted over the whole family."""
        rows = [
            {"family": self.name, "analysis": a, "test": t, "p_value": v["p_value"]}
            for (a, t), v in self._tests.items()
        ]
        out = pd.DataFrame(rows, columns=["family", "analysis", "test", "p_value"])
        p = out["p_value"].to_numpy(dtype=float)
        if self.method == "bonferroni":
            m = np.isfinite(p).sum()
            adj = np.minimum(p * m, 1.0)
        else:
            adj = p_adjust(p, self.method)
        out["p_adjusted"] = adj
        out["method"] = self.method
        out["confirmatory"] = self.confirmatory
        out["n_tests"] = int(np.isfinite(p).sum())
        if check and self.size is not None and len(out) != self.size:
            warn(
                Warnings.W454.format(
                    family=self.name,
                    problem=(
                        f"{self.size} tests were declared but {len(out)} are registered; the "
                        "adjustment covers the registered ones only"
                    ),
                )
            )
        return out
