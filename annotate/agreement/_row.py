"""The numbers of one report row: alpha (+ bootstrap interval) and companion coefficients.

Which coefficient at which level (docs/agreement.md):

| codebook level | alpha metric | companions' weights (AC, BP, Fleiss, Cohen) |
|---|---|---|
| binary, nominal | nominal | identity (AC1, unweighted κ) |
| ordinal | Krippendorff's ordinal (codebook order, unused ranks kept) | linear on ranks (AC2) |
| interval | interval (numeric values) | quadratic on the values (AC2) |
| set | MASI (Passonneau 2006) | none: only percent agreement (exact set equality) |

Percent agreement is always exact agreement. ``q`` for AC1/AC2 and Brennan–Prediger is the
number of values the codebook defines for the code, used or not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from annotate.agreement._alpha import alpha_from_coincidences
from annotate.agreement._build import RowData
from annotate.agreement._matrix import CountSums, coincidences, value_counts
from annotate.agreement.bootstrap import Resampler, cluster_coincidences
from annotate.agreement.distances import delta, set_delta
from annotate.agreement.distances import weights as weight_matrix
from annotate.agreement.gwet import brennan_prediger_from_counts, gwet_ac_from_counts
from annotate.agreement.kappa import cohen_kappa, fleiss_kappa_from_counts
from annotate.errors import AgreementError

#: Krippendorff (2004, 2019, Content Analysis §12.4): rely on alpha >= .800; .667 <= alpha <
#: .800 only for tentative conclusions; below .667 do not rely on the variable
RELIABLE, TENTATIVE = 0.800, 0.667
METRIC = {"binary": "nominal", "nominal": "nominal", "ordinal": "ordinal"}
METRIC |= {"interval": "interval", "set": "masi"}
WEIGHTS: dict[str, str | None] = {"binary": "identity", "nominal": "identity", "ordinal": "linear"}
WEIGHTS |= {"interval": "quadratic", "set": None}


def flag(value: float) -> str:
    """Krippendorff's customary thresholds: reliable / tentative / unreliable / undefined.

    >>> [flag(v) for v in (0.81, 0.8, 0.7, 0.5, float("nan"))]
    ['reliable', 'reliable', 'tentative', 'unreliable', 'undefined']
    """
    if value != value:
        return "undefined"
    if value >= RELIABLE:
        return "reliable"
    return "tentative" if value >= TENTATIVE else "unreliable"


def scores_of(row: RowData) -> np.ndarray | None:
    """Numeric value of each domain value (interval codes), else None."""
    if row.code.level == "interval":
        return np.array([float(v) for v in row.domain])
    return None


def delta_of(
    row: RowData, counts: np.ndarray, set_distance: str = "masi", o: np.ndarray | None = None
) -> np.ndarray:
    """Squared differences for the row's metric over its domain (``o``: the coincidences of
    ``counts`` when the caller has them already)."""
    level = row.code.level
    q = len(row.domain)
    if level == "set":
        return set_delta(row.domain, set_distance)
    o = coincidences(counts) if o is None else o
    return delta(METRIC[level], q, marginals=o.sum(axis=1), scores=scores_of(row))


def row_alpha(row: RowData, codes: np.ndarray | None = None, set_distance: str = "masi") -> float:
    """Alpha of the row (or of a column subset ``codes`` of its data); raises if undefined."""
    codes = row.codes if codes is None else codes
    counts = value_counts(codes, len(row.domain))
    d = delta_of(row, counts, set_distance)
    return float(alpha_from_coincidences(coincidences(counts), d))


def _try(fn: Any, reasons: list[str], name: str) -> float:
    try:
        return float(fn())
    except AgreementError as exc:
        reasons.append(f"{name}: {str(exc).split(': ', 1)[-1].rstrip('.')}")
        return float("nan")


def _distribution(row: RowData, n_c: np.ndarray) -> dict[str, float]:
    total = n_c.sum()
    if total == 0:
        return {}
    names = [_label(v) for v in row.domain]
    return {k: round(float(v / total), 4) for k, v in zip(names, n_c, strict=True) if v > 0}


def _label(value: Any) -> str:
    if isinstance(value, frozenset):
        return "[" + ",".join(sorted(map(str, value))) + "]"
    return str(value)


def _rank_clusters(row: RowData, pair: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cluster label of each unit = rank of its conversation id among the pairable ones.

    The bootstrap's resamples are then aligned with the sorted conversation ids, whatever the
    order of the labels table (see :class:`annotate.agreement.bootstrap.Resampler`).
    """
    uniq, first, inverse = np.unique(row.clusters[pair], return_index=True, return_inverse=True)
    names = row.conversation_ids(np.flatnonzero(pair)[first])
    order = np.argsort(names, kind="stable")
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(len(uniq))
    clusters = np.zeros(len(row.clusters), dtype=np.int64)
    clusters[pair] = rank[inverse.ravel()]
    return clusters, names[order]


def compute_row(
    row: RowData, *, resampler: Resampler | None = None, set_distance: str = "masi"
) -> dict[str, Any]:
    """The table row of one (code, unit, role)."""
    code = row.code
    out: dict[str, Any] = {
        "code_id": code.id,
        "unit": row.unit,
        "role": row.role,
        "level": code.level,
        "metric": set_distance if code.level == "set" else METRIC[code.level],
        "weights": WEIGHTS[code.level],
    }
    nan = float("nan")
    stats = dict.fromkeys(
        ("alpha", "alpha_low", "alpha_high", "percent_agreement", "gwet_ac"), nan
    ) | dict.fromkeys(("brennan_prediger", "fleiss_kappa", "cohen_kappa", "prevalence"), nan)
    stats |= dict.fromkeys(("positive_agreement", "negative_agreement"), nan)
    if row.reason:
        return (
            out
            | {"n_units": 0, "n_coders": 0, "n_pairable": 0}
            | stats
            | {
                "distribution": {},
                "n_boot_undefined": 0,
                "flag": "undefined",
                "reason": row.reason,
            }
        )
    q = len(row.domain)
    counts = value_counts(row.codes, q)
    m = counts @ np.ones(q)  # whole numbers: exact
    pair = m >= 2
    coded_pairable: np.ndarray
    if pair.all():  # every coder of the row coded some unit: all coded a pairable one
        coded_pairable = np.ones(row.codes.shape[1], dtype=bool)
    else:
        coded_pairable = np.asarray((row.codes[pair] >= 0).any(axis=0))
    sums = CountSums.of(counts, m)  # every coefficient below is a function of these sums
    _, n_c, d, reasons = _coefficients(
        row, counts, sums, coded_pairable, set_distance, stats, _cohen_of_units
    )
    if resampler is not None and resampler.n_boot > 0 and stats["alpha"] == stats["alpha"]:
        clusters, names = _rank_clusters(row, pair)
        per_cluster = cluster_coincidences(counts[pair], clusters[pair])
        resampler.submit(row.key, names, per_cluster, METRIC[code.level], d)
    sizes = {
        "n_units": int(pair.sum()),
        "n_coders": int(coded_pairable.sum()),
        "n_pairable": int(m[pair].sum()),
    }
    return _row_record(out, sizes, stats, row, n_c, reasons)


def _row_record(
    out: dict[str, Any],
    sizes: dict[str, int],
    stats: dict[str, Any],
    row: Any,
    n_c: np.ndarray,
    reasons: list[str],
) -> dict[str, Any]:
    """A row's record: its keys, its sizes, its coefficients, then its value distribution,
    flag and reasons (the in-memory and the at-scale report build it alike)."""
    return (
        out
        | sizes
        | stats
        | {
            "distribution": _distribution(row, n_c),
            "n_boot_undefined": 0,
            "flag": flag(stats["alpha"]),
            "reason": "; ".join(reasons) or None,
        }
    )


def _cohen_of_units(two: np.ndarray, w: np.ndarray, q: int) -> float:
    """Cohen's kappa of the two coders' value codes (-1: not coded), one row per unit."""
    data = np.where(two >= 0, two, np.nan)
    return float(cohen_kappa(data, weights=w, values=np.arange(q)))


def _coefficients(
    row: Any,
    counts: np.ndarray,
    sums: CountSums,
    coded_pairable: np.ndarray,
    set_distance: str,
    stats: dict[str, float],
    cohen: Callable[[np.ndarray, np.ndarray, int], float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Every coefficient of a row from its value counts (``sums``: their exact sums), written
    into ``stats``: alpha (or why it is undefined), prevalence and specific agreement, percent
    agreement, AC1/AC2, Brennan-Prediger, Fleiss, and ``cohen(two coders' codes, weights, q)``
    when exactly two coders coded. Shared by the in-memory rows and the rows at scale
    (:mod:`annotate.agreement._scale`, whose units are weighted distinct patterns). Returns the
    coincidences, their margins, the distance matrix and the reasons."""
    code = row.code
    q = len(row.domain)
    o = sums.coincidences()
    n_c = o.sum(axis=1)
    reasons: list[str] = []
    d = delta_of(row, counts, set_distance, o)
    used = np.flatnonzero(n_c)
    if len(used) == 1:  # name the one value instead of the generic E400 reason
        what = "present" if code.level == "binary" and used[0] == 1 else "absent"
        value = _label(row.domain[used[0]])
        detail = f"'{value}' ({what})" if code.level == "binary" else f"'{value}'"
        reasons.append(f"alpha: no variation, every pairable value is {detail}")
    else:
        stats["alpha"] = _try(lambda: alpha_from_coincidences(o, d), reasons, "alpha")
    if code.level == "binary" and n_c.sum() > 0:
        stats["prevalence"] = float(n_c[1] / n_c.sum())
        # specific agreement (o_kk / n_k): the companions of a rare code
        if n_c[1] > 0:
            stats["positive_agreement"] = float(o[1, 1] / n_c[1])
        if n_c[0] > 0:
            stats["negative_agreement"] = float(o[0, 0] / n_c[0])
    stats["percent_agreement"] = _try(
        lambda: sums.observed_agreement(np.eye(q), "Percent agreement"), [], "%"
    )
    if WEIGHTS[code.level] is not None:
        w = weight_matrix(WEIGHTS[code.level], q, scores=scores_of(row))
        stats["gwet_ac"] = _try(lambda: gwet_ac_from_counts(counts, w, sums=sums), [], "AC")
        stats["brennan_prediger"] = _try(
            lambda: brennan_prediger_from_counts(counts, w, sums=sums), [], "BP"
        )
        stats["fleiss_kappa"] = _try(
            lambda: fleiss_kappa_from_counts(counts, w, sums=sums), [], "Fleiss"
        )
        if int(coded_pairable.sum()) == 2:
            two = row.codes[:, coded_pairable]
            stats["cohen_kappa"] = _try(lambda: cohen(two, w, q), [], "Cohen")
    return o, n_c, d, reasons
