"""Krippendorff's alpha for any number of coders, missing data and any metric.

Coincidence-matrix formulation (Krippendorff 2011, "Computing Krippendorff's
alpha-reliability", https://repository.upenn.edu/asc_papers/43/; Krippendorff 2019, *Content
Analysis*, 4th ed., ch. 12):

    alpha = 1 - D_o / D_e = 1 - (n - 1) * sum_ck o_ck δ²_ck / sum_ck n_c n_k δ²_ck

``o`` is the coincidence matrix of the pairable values (units coded by >= 2 coders), ``n_c``
its margins and ``n`` the number of pairable values. Values that nobody used add nothing, so
alpha ignores unused categories, except through the ordinal metric's ranks (see
:func:`annotate.agreement.distances.delta`).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, overload

import numpy as np

from annotate.agreement._matrix import coincidences, encode, value_counts
from annotate.agreement.distances import LEVELS, SET_DISTANCES, delta, set_delta
from annotate.errors import AgreementError, Errors


class AlphaParts(NamedTuple):
    """Alpha and its parts: observed and expected disagreement, number of pairable values."""

    alpha: float
    observed: float
    expected: float
    n_pairable: float


@overload
def alpha(
    data: Any,
    *,
    level: str = ...,
    values: Any = ...,
    scores: Any = ...,
    distance: str = ...,
    full: Literal[False] = ...,
) -> float: ...
@overload
def alpha(
    data: Any,
    *,
    level: str = ...,
    values: Any = ...,
    scores: Any = ...,
    distance: str = ...,
    full: Literal[True],
) -> AlphaParts: ...
@overload
def alpha(
    data: Any,
    *,
    level: str = ...,
    values: Any = ...,
    scores: Any = ...,
    distance: str = ...,
    full: bool = ...,
) -> float | AlphaParts: ...
def alpha(
    data: Any,
    *,
    level: str = "nominal",
    values: Any = None,
    scores: Any = None,
    distance: str = "masi",
    full: bool = False,
) -> float | AlphaParts:
    """Krippendorff's alpha of reliability data.

    Parameters
    ----------
    data : array_like, shape (n_units, n_coders)
        ``data[u][j]`` is the value coder ``j`` gave unit ``u``; ``None`` or NaN = not coded.
        For ``level="set"`` each cell is a label set (list, set or tuple; ``[]`` is a real,
        empty answer, ``None`` is missing).
    level : {"nominal", "ordinal", "interval", "ratio", "set"}
        Level of measurement; "set" compares label sets with ``distance``.
    values : array_like, shape (q,), optional
        The value domain in order (low to high for ordinal). Default: sorted observed values.
        The ordinal metric needs the true order; strings sort alphabetically otherwise.
    scores : array_like, shape (q,), optional
        Numeric value of each domain value (interval/ratio). Default: the values themselves.
    distance : {"masi", "jaccard", "passonneau2004", "dkpro_masi"}
        Set distance for ``level="set"`` (see :mod:`annotate.agreement.distances`).
    full : bool
        Return :class:`AlphaParts` (alpha, D_o, D_e, n) instead of a float.

    Returns
    -------
    float or AlphaParts

    Raises
    ------
    AgreementError
        Undefined: no unit has two or more values, or the pairable values do not vary (E400).

    Examples
    --------
    Krippendorff (2011), 4 coders × 12 units with missing values (rows are units):

    >>> C = [[1, 1, None, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2],
    ...      [1, 2, 3, 4], [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [None, 5, 5, 5],
    ...      [None, None, 1, 1], [None, None, 3, None]]
    >>> [round(alpha(C, level=lv), 3) for lv in ("nominal", "ordinal", "interval", "ratio")]
    [0.743, 0.815, 0.849, 0.797]

    Wikipedia ("Krippendorff's alpha"), 3 coders × 15 units:

    >>> W = [[None, 1, None], [None, None, None], [None, 2, 2], [None, 1, 1], [None, 3, 3],
    ...      [3, 3, 4], [4, 4, 4], [1, 3, None], [2, None, 2], [1, None, 1], [1, None, 1],
    ...      [3, None, 3], [3, None, 3], [None, None, None], [3, None, 4]]
    >>> round(alpha(W), 3), round(alpha(W, level="interval"), 3)
    (0.691, 0.811)

    Krippendorff (2019, p. 306), binary data, 3 coders; exactly 15/64:

    >>> B = [[0, 0, 0], [1, 1, 1], [0, 0, 1], [1, 1, 0], [1, 0, 0], [0, 0, 1],
    ...      [0, 0, 0], [0, 0, 0], [1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 1, 0]]
    >>> alpha(B) == 15 / 64
    True
    """
    if level == "set":
        return _alpha_sets(data, distance=distance, full=full)
    if level not in LEVELS:
        raise AgreementError(
            Errors.E404.format(option="level", value=level, allowed=", ".join((*LEVELS, "set")))
        )
    codes, domain = encode(data, values)
    q = len(domain)
    if scores is None and level in ("interval", "ratio"):
        scores = _numeric(domain)
    counts = value_counts(codes, q)
    return alpha_from_counts(counts, level=level, scores=scores, full=full)


@overload
def alpha_from_counts(
    counts: Any, *, level: str = ..., scores: Any = ..., full: Literal[False] = ...
) -> float: ...
@overload
def alpha_from_counts(
    counts: Any, *, level: str = ..., scores: Any = ..., full: Literal[True]
) -> AlphaParts: ...
@overload
def alpha_from_counts(
    counts: Any, *, level: str = ..., scores: Any = ..., full: bool = ...
) -> float | AlphaParts: ...
def alpha_from_counts(
    counts: Any, *, level: str = "nominal", scores: Any = None, full: bool = False
) -> float | AlphaParts:
    """Krippendorff's alpha from value counts.

    Parameters
    ----------
    counts : array_like, shape (n_units, q)
        ``counts[u][c]`` = number of coders who gave value ``c`` to unit ``u``.
    level : {"nominal", "ordinal", "interval", "ratio"}
    scores : array_like, shape (q,), optional
        Numeric values (interval/ratio); default ``0..q-1``.

    >>> round(alpha_from_counts([[2, 0], [0, 2], [1, 1]]), 4)
    0.4444
    """
    o = coincidences(np.asarray(counts, dtype=float))
    n_c = o.sum(axis=1)
    d = delta(level, o.shape[0], marginals=n_c, scores=scores)
    return alpha_from_coincidences(o, d, full=full)


@overload
def alpha_from_coincidences(o: Any, d: Any, *, full: Literal[False] = ...) -> float: ...
@overload
def alpha_from_coincidences(o: Any, d: Any, *, full: Literal[True]) -> AlphaParts: ...
@overload
def alpha_from_coincidences(o: Any, d: Any, *, full: bool = ...) -> float | AlphaParts: ...
def alpha_from_coincidences(o: Any, d: Any, *, full: bool = False) -> float | AlphaParts:
    """Alpha from a coincidence matrix ``o`` (q, q) and squared differences ``d`` (q, q)."""
    o = np.asarray(o, dtype=float)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    if n < 2:
        raise AgreementError(
            Errors.E400.format(
                coefficient="Krippendorff's alpha",
                reason="no unit was coded by two or more coders (no pairable values)",
            )
        )
    observed = float((o * d).sum() / n)
    expected = float(n_c @ d @ n_c / (n * (n - 1.0)))
    if expected <= 0.0:
        used = np.flatnonzero(n_c)
        what = f"every pairable value is the same (value #{used[0]})" if len(used) == 1 else ""
        raise AgreementError(
            Errors.E400.format(
                coefficient="Krippendorff's alpha",
                reason=what or "the expected disagreement is 0 (the values do not vary)",
            )
        )
    value = 1.0 - observed / expected
    return AlphaParts(value, observed, expected, float(n)) if full else value


def _numeric(domain: np.ndarray) -> np.ndarray:
    try:
        return domain.astype(float)
    except (TypeError, ValueError):
        raise AgreementError(
            Errors.E406.format(
                expected="numeric values (or scores=...) for interval/ratio alpha",
                got=", ".join(map(str, domain.tolist()[:5])),
            )
        ) from None


def encode_sets(data: Any) -> tuple[np.ndarray, list[frozenset[Any]]]:
    """Label-set data (n_units, n_coders) → integer codes over the distinct sets observed.

    >>> codes, sets = encode_sets([[["a"], []], [None, ["a"]]])
    >>> codes.tolist(), [sorted(s) for s in sets]
    ([[1, 0], [-1, 1]], [[], ['a']])
    """
    arr = np.asarray(data, dtype=object) if not isinstance(data, np.ndarray) else data
    if arr.ndim != 2:
        # a ragged list of lists of lists: build the object array cell by cell
        rows = list(data)
        arr = np.empty((len(rows), max((len(r) for r in rows), default=0)), dtype=object)
        for i, r in enumerate(rows):
            for j, v in enumerate(r):
                arr[i, j] = v
    index: dict[frozenset[Any], int] = {}
    codes = np.full(arr.shape, -1, dtype=np.int64)
    for (i, j), v in np.ndenumerate(arr):
        if v is None or (isinstance(v, float) and v != v):
            continue
        codes[i, j] = index.setdefault(frozenset(v), len(index))
    sets = sorted(index, key=lambda s: (len(s), sorted(map(str, s))))
    remap = np.array([sets.index(s) for s in index] or [0], dtype=np.int64)
    codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    return codes, sets


def _alpha_sets(data: Any, *, distance: str, full: bool) -> float | AlphaParts:
    """Alpha over label sets: every distinct set is one value, ``δ²`` = set distance."""
    if distance not in SET_DISTANCES:
        raise AgreementError(
            Errors.E404.format(option="distance", value=distance, allowed=", ".join(SET_DISTANCES))
        )
    codes, sets = encode_sets(data)
    counts = value_counts(codes, max(len(sets), 1))
    o = coincidences(counts)
    return alpha_from_coincidences(o, set_delta(sets, distance), full=full)


__all__ = ["AlphaParts", "alpha", "alpha_from_coincidences", "alpha_from_counts", "encode_sets"]
