"""Reliability data → integer codes → value counts → coincidence matrix (pure numpy).

Notation follows Krippendorff (2011), "Computing Krippendorff's alpha-reliability": a
*reliability data* matrix has one row per unit and one column per coder (``None``/NaN =
not coded); ``n_uc`` counts the coders who gave value ``c`` to unit ``u``; ``m_u`` is the
number of values of unit ``u``; units with ``m_u >= 2`` are *pairable*. The coincidence matrix

    o_ck = sum over pairable units u of (n_uc * n_uk - [c == k] * n_uc) / (m_u - 1)

counts every ordered pair of values coders gave to one unit, each unit weighted so that it
contributes its ``m_u`` values in total.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from annotate.errors import AgreementError, Errors

MISSING = -1  #: the integer code of a missing value


def as_reliability_data(data: Any) -> np.ndarray:
    """A 2-d array (units, coders): float (NaN = missing) when numeric, else object.

    >>> as_reliability_data([[1, None], [2, 3]]).dtype
    dtype('float64')
    >>> as_reliability_data([["a", None]]).dtype
    dtype('O')
    """
    if isinstance(data, np.ndarray) and data.dtype.kind in "fiub":
        arr = data.astype(float, copy=False)
    else:
        try:
            arr = np.asarray(data, dtype=float)
        except (TypeError, ValueError):
            arr = np.asarray(data, dtype=object)
    if arr.ndim != 2:
        raise AgreementError(
            Errors.E406.format(expected="a 2-d array (units, coders)", got=f"shape {arr.shape}")
        )
    return arr


def _is_missing(flat: np.ndarray) -> np.ndarray:
    """Missing cells of an object array: None or a float NaN."""
    return np.fromiter(
        (v is None or (isinstance(v, float) and v != v) for v in flat), bool, len(flat)
    )


def encode(data: Any, values: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Map reliability data to integer codes over a value domain.

    Parameters
    ----------
    data : array_like, shape (n_units, n_coders)
        Values; ``None`` or NaN means the coder did not code the unit.
    values : array_like, shape (q,), optional
        The value domain, in order (ordinal: low to high). Default: the sorted observed values.

    Returns
    -------
    codes : ndarray of int64, shape (n_units, n_coders)
        Index into ``values``; ``-1`` where missing.
    values : ndarray, shape (q,)

    Raises
    ------
    AgreementError
        A value is not in ``values`` (E401).

    Examples
    --------
    >>> codes, values = encode([["b", "a"], [None, "b"]])
    >>> codes.tolist(), values.tolist()
    ([[1, 0], [-1, 1]], ['a', 'b'])
    >>> encode([[3.0, 1.0]], values=[1, 2, 3])[0].tolist()
    [[2, 0]]
    """
    arr = as_reliability_data(data)
    flat = arr.ravel()
    codes = np.full(flat.shape, MISSING, dtype=np.int64)
    if arr.dtype.kind == "f":
        present = ~np.isnan(flat)
        observed = flat[present]
        if values is None:
            domain = np.unique(observed)
            codes[present] = np.searchsorted(domain, observed)
            return codes.reshape(arr.shape), domain
        domain = np.asarray(values)
        if not observed.size:  # every value missing (read as NaN): nothing to place
            return codes.reshape(arr.shape), domain
        numeric = domain.astype(float)
        order = np.argsort(numeric, kind="stable")
        pos = np.searchsorted(numeric[order], observed).clip(0, len(domain) - 1)
        bad = numeric[order][pos] != observed
        if bad.any():
            _unknown(np.unique(observed[bad]), domain)
        codes[present] = order[pos]
        return codes.reshape(arr.shape), domain
    present = ~_is_missing(flat)
    observed = flat[present]
    if values is None:
        try:
            domain, inverse = np.unique(observed.astype(str), return_inverse=True)
        except TypeError as exc:  # pragma: no cover - exotic mixed objects
            raise AgreementError(
                Errors.E406.format(expected="values of one sortable type", got=str(exc))
            ) from None
        codes[present] = inverse
        return codes.reshape(arr.shape), domain.astype(object)
    domain = np.asarray(values, dtype=object)
    lookup = {_key(v): i for i, v in enumerate(domain)}
    idx = np.fromiter((lookup.get(_key(v), MISSING) for v in observed), np.int64, len(observed))
    if (idx == MISSING).any():
        _unknown(np.unique(observed[idx == MISSING].astype(str)), domain)
    codes[present] = idx
    return codes.reshape(arr.shape), domain


def _key(value: Any) -> Any:
    """Hashable lookup key: numbers compare by value (1 == 1.0), everything else as is."""
    if isinstance(value, bool | np.bool_):
        return value
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    return value


def _unknown(bad: np.ndarray, domain: np.ndarray) -> None:
    raise AgreementError(
        Errors.E401.format(
            values=", ".join(map(repr, bad.tolist()[:10])),
            code_id="(data)",
            allowed=", ".join(map(str, domain.tolist())),
        )
    )


def value_counts(codes: np.ndarray, q: int) -> np.ndarray:
    """Count, per unit, the coders who gave each value.

    Parameters
    ----------
    codes : ndarray of int, shape (n_units, n_coders)
        Value indices, ``-1`` = missing.
    q : int
        Number of values in the domain.

    Returns
    -------
    ndarray of float64, shape (n_units, q)

    >>> value_counts(np.array([[0, 1, 1], [-1, 2, -1]]), 3).tolist()
    [[1.0, 2.0, 0.0], [0.0, 0.0, 1.0]]
    """
    n_units = codes.shape[0]
    flat = codes + (np.arange(n_units, dtype=np.int64) * q)[:, None]
    present = codes >= 0
    flat = flat.ravel() if present.all() else flat[present]
    return np.bincount(flat, minlength=n_units * q).reshape(n_units, q).astype(float)


def pairable(counts: np.ndarray) -> np.ndarray:
    """Keep the units with at least two values (shape (n_pairable_units, q))."""
    return counts[counts.sum(axis=1) >= 2]


@dataclass(frozen=True)
class CountSums:
    """Sums over units of value counts, one set per number of values ``m`` a unit has.

    Every coefficient of this package is a function of them: with ``G_m = sum_u n_u n_u^T``
    and ``T_m = sum_u n_u`` over the units with ``m`` values, the coincidences are
    ``sum_{m>=2} (G_m - diag T_m) / (m - 1)``, Gwet's observed agreement with weights ``w`` is
    ``sum_{m>=2} (<w, G_m> - m N_m) / (m (m - 1))`` over the pairable units, and the category
    shares ``sum_m T_m / m`` over the rated units. Counts are whole numbers, so the sums are
    exact (in any order): the coefficients are rounded once per group, not once per unit.
    """

    m: np.ndarray  #: (g,) the distinct numbers of values per unit (> 0), ascending
    n_units: np.ndarray  #: (g,) units with that number of values
    totals: np.ndarray  #: (g, q) T_m
    gram: np.ndarray  #: (g, q, q) G_m

    @classmethod
    def of(cls, counts: np.ndarray, m: np.ndarray | None = None) -> CountSums:
        """The sums of value counts (n_units, q); ``m``: their row sums, if known."""
        counts = np.asarray(counts, dtype=float)
        q = counts.shape[1]
        m = counts @ np.ones(q) if m is None else m
        whole = len(m) and bool((m == np.floor(m)).all()) and m.min() >= 0
        if whole:
            sizes = np.bincount(m.astype(np.int64))
            groups = np.flatnonzero(sizes)
            n_units = sizes[groups]
        else:
            groups, n_units = np.unique(m, return_counts=True)
        keep = groups > 0
        groups, n_units = groups[keep], n_units[keep]
        totals, grams = np.zeros((len(groups), q)), np.zeros((len(groups), q, q))
        for i, g in enumerate(groups):
            x = counts if n_units[i] == len(m) else counts[m == g]
            totals[i] = np.ones(len(x)) @ x
            grams[i] = x.T @ x
        return cls(groups.astype(float), n_units.astype(np.int64), totals, grams)

    def coincidences(self) -> np.ndarray:
        """Coincidence matrix ``o`` (q, q); units with fewer than two values add nothing."""
        q = self.totals.shape[1]
        o = np.zeros((q, q))
        for m, t, g in zip(self.m, self.totals, self.gram, strict=True):
            if m >= 2:
                part = g.copy()
                part[np.diag_indices(q)] -= t
                o += part / (m - 1.0)
        return o

    def observed_agreement(self, w: np.ndarray, name: str) -> float:
        """Gwet's weighted observed agreement ``p_a`` over units with two or more values."""
        two = self.m >= 2
        n = int(self.n_units[two].sum())
        if n == 0:
            raise AgreementError(
                Errors.E400.format(
                    coefficient=name, reason="no unit was rated by two or more raters"
                )
            )
        total = 0.0
        for m, n_m, g in zip(self.m[two], self.n_units[two], self.gram[two], strict=True):
            total += ((w * g).sum() - m * n_m) / (m * (m - 1.0))
        return float(total / n)

    def category_shares(self) -> np.ndarray:
        """``π_k``: mean over units rated at least once of the share of ratings in ``k``."""
        n = int(self.n_units.sum())
        if n == 0:
            return np.full(self.totals.shape[1], np.nan)
        return (self.totals / self.m[:, None]).sum(axis=0) / n


def coincidences(counts: np.ndarray) -> np.ndarray:
    """Coincidence matrix ``o`` (q, q) from value counts (n_units, q).

    Units with fewer than two values are ignored. ``o.sum()`` is the number of pairable values.

    >>> coincidences(np.array([[2.0, 1.0], [1.0, 0.0]])).tolist()
    [[1.0, 1.0], [1.0, 0.0]]
    """
    return CountSums.of(counts).coincidences()


def unit_coincidences(counts: np.ndarray) -> np.ndarray:
    """Per-unit coincidence contributions, flattened: shape (n_units, q * q).

    Row ``u`` is unit ``u``'s share of :func:`coincidences` (zeros when ``m_u < 2``), so that
    ``unit_coincidences(c).sum(0).reshape(q, q) == coincidences(c)``.
    """
    n_units, q = counts.shape
    m = counts.sum(axis=1)
    scale = np.where(m >= 2, 1.0 / np.maximum(m - 1.0, 1.0), 0.0)
    out = (counts[:, :, None] * counts[:, None, :]).reshape(n_units, q * q)
    out[:, :: q + 1] -= counts
    return out * scale[:, None]


def contingency_to_data(table: Any) -> np.ndarray:
    """Expand a two-coder contingency table (q, q) into reliability data (n, 2) of indices.

    ``table[i][j]`` = number of units coder 1 put in category ``i`` and coder 2 in ``j``.

    >>> contingency_to_data([[1, 0], [2, 0]]).tolist()
    [[0.0, 0.0], [1.0, 0.0], [1.0, 0.0]]
    """
    t = np.asarray(table, dtype=np.int64)
    i, j = np.nonzero(t)
    reps = t[i, j]
    return np.column_stack([np.repeat(i, reps), np.repeat(j, reps)]).astype(float)


def counts_to_data(counts: Any) -> np.ndarray:
    """Expand value counts (n_units, q) into reliability data (n_units, max m_u) of indices.

    Coder identity is lost (columns are filled left to right), which is fine for every
    coefficient that only uses counts (alpha, Fleiss, AC1/AC2, Brennan–Prediger).

    >>> counts_to_data([[0, 2], [1, 0]]).tolist()
    [[1.0, 1.0], [0.0, nan]]
    """
    c = np.asarray(counts, dtype=np.int64)
    width = int(c.sum(axis=1).max())
    out = np.full((c.shape[0], width), np.nan)
    for u, row in enumerate(c):
        vals = np.repeat(np.arange(c.shape[1]), row)
        out[u, : len(vals)] = vals
    return out
