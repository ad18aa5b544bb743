"""Percent agreement, Gwet's AC1/AC2 and Brennan–Prediger for any number of raters.

All follow Gwet's (2014) *Handbook of Inter-Rater Reliability* (4th ed., ch. 2–4; R package
irrCAC) with missing ratings. With ``n_ik`` raters classifying unit ``i`` into category ``k``,
``r_i`` ratings of unit ``i`` and agreement weights ``w``:

* observed agreement ``p_a`` = mean over units with ``r_i >= 2`` of
  ``sum_k n_ik (n*_ik - 1) / (r_i (r_i - 1))`` with ``n*_ik = sum_l w_kl n_il`` (unweighted:
  the share of agreeing rater pairs, i.e. *percent agreement*);
* ``π_k`` = mean over units rated at least once of ``n_ik / r_i``;
* AC1/AC2 chance agreement ``p_e = T_w / (q (q - 1)) * sum_k π_k (1 - π_k)`` (``T_w`` = sum of
  the weights); Brennan–Prediger ``p_e = T_w / q²``.

``q`` is the size of the value *domain* (the codebook's categories, used or not): Gwet's and
Brennan–Prediger's chance terms are defined over all categories a rater could choose.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, overload

import numpy as np

from annotate.agreement._matrix import CountSums, encode, value_counts
from annotate.agreement.distances import weights as weight_matrix
from annotate.errors import AgreementError, Errors


class Chance(NamedTuple):
    """A chance-corrected coefficient, its observed (pa) and chance (pe) agreement and, where
    implemented, Gwet's (2014) standard error (conditional on the raters, infinite population
    of units; NaN where not implemented)."""

    value: float
    pa: float
    pe: float
    se: float = float("nan")


def rating_counts(data: Any, values: Any = None) -> np.ndarray:
    """Counts (n_units, q) of raters per category over the domain ``values``."""
    codes, domain = encode(data, values)
    return value_counts(codes, len(domain))


def observed_agreement(counts: np.ndarray, w: np.ndarray, name: str) -> float:
    """Gwet's weighted observed agreement ``p_a`` over units with two or more ratings."""
    return CountSums.of(counts).observed_agreement(w, name)


def category_shares(counts: np.ndarray) -> np.ndarray:
    """``π_k``: mean over units rated at least once of the share of ratings in ``k`` (q,)."""
    return CountSums.of(counts).category_shares()


def _chance_corrected(
    pa: float, pe: float, name: str, full: bool, se: Any = None
) -> float | Chance:
    if pe >= 1.0 - 1e-12:
        raise AgreementError(
            Errors.E400.format(coefficient=name, reason="chance agreement is 1 (no variation)")
        )
    value = (pa - pe) / (1.0 - pe)
    if not full:
        return value
    return Chance(value, pa, pe, se(value) if se is not None else float("nan"))


def _unit_terms(counts: np.ndarray, w: np.ndarray, pe: float) -> tuple[np.ndarray, ...]:
    """Per-unit terms of Gwet's (2014, ch. 5) linearised variance, over units rated at least
    once: counts (n, q), ratings r (n,), and the unit's share of the coefficient (n,)."""
    r = counts.sum(axis=1)
    rated = r > 0
    x, r = counts[rated], r[rated]
    two = r >= 2
    den = np.where(two, r * (r - 1.0), 1.0)
    pa_i = np.where(two, (x * (x @ w.T - 1.0)).sum(axis=1) / den, 0.0)
    share = len(r) / two.sum() * (pa_i - pe * two) / (1.0 - pe)
    return x, r, share


def _se(terms: np.ndarray, value: float) -> float:
    n = len(terms)
    if n < 2:
        return float("nan")
    return float(np.sqrt(((terms - value) ** 2).sum() / (n * (n - 1.0))))


def _setup(data: Any, values: Any, weights: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    counts = rating_counts(data, values)
    return counts, weight_matrix(weights, counts.shape[1], scores=scores)


def percent_agreement(data: Any, *, values: Any = None) -> float:
    """Share of agreeing rater pairs, averaged over units rated by two or more raters.

    Parameters
    ----------
    data : array_like, shape (n_units, n_raters)
        Ratings; ``None``/NaN = missing.
    values : array_like, shape (q,), optional
        The value domain.

    >>> percent_agreement([["a", "a", "b"], ["b", "b", None], ["a", None, None]])
    0.6666666666666666
    """
    counts = rating_counts(data, values)
    return observed_agreement(counts, np.eye(counts.shape[1]), "Percent agreement")


def specific_agreement(data: Any, *, values: Any = None) -> np.ndarray:
    """Proportion of specific agreement per category, shape (q,).

    For category ``k``: of all ratings ``k`` on units rated by two or more raters, the share
    whose pairing with another rating of the same unit is also ``k`` — ``o_kk / n_k`` in
    coincidence terms, ``sum_u n_uk (n_uk - 1) / sum_u n_uk (m_u - 1)``. With two raters and a
    2 × 2 table it is positive agreement ``2a / (2a + b + c)`` and negative agreement
    ``2d / (2d + b + c)`` (Cicchetti & Feinstein 1990; Uebersax). NaN for a category never used.
    The companion of a rare binary code: report both beside alpha and prevalence.

    >>> from annotate.agreement._matrix import contingency_to_data
    >>> X = contingency_to_data([[45, 10], [5, 40]])  # rows: rater 1 absent/present
    >>> np.round(specific_agreement(X), 4).tolist()  # [2d/(2d+b+c), 2a/(2a+b+c)]
    [0.8571, 0.8421]
    """
    from annotate.agreement._matrix import coincidences

    o = coincidences(rating_counts(data, values))
    n_k = o.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_k > 0, np.diag(o) / n_k, np.nan)


@overload
def gwet_ac(
    data: Any,
    *,
    weights: Any = ...,
    values: Any = ...,
    scores: Any = ...,
    full: Literal[False] = ...,
) -> float: ...
@overload
def gwet_ac(
    data: Any, *, weights: Any = ..., values: Any = ..., scores: Any = ..., full: Literal[True]
) -> Chance: ...
@overload
def gwet_ac(
    data: Any, *, weights: Any = ..., values: Any = ..., scores: Any = ..., full: bool = ...
) -> float | Chance: ...
def gwet_ac(
    data: Any,
    *,
    weights: Any = "identity",
    values: Any = None,
    scores: Any = None,
    full: bool = False,
) -> float | Chance:
    """Gwet's AC1 (unweighted) or AC2 (weighted) for any number of raters, missing ratings.

    Parameters
    ----------
    data : array_like, shape (n_units, n_raters)
        Ratings; ``None``/NaN = missing.
    weights : str or array_like (q, q)
        A weight family of :func:`annotate.agreement.distances.weights` or a matrix.
    values : array_like, shape (q,), optional
        The category domain (all categories a rater could choose). Default: observed values.
    scores : array_like, shape (q,), optional
        Numeric category scores for the weights; default ranks ``1..q``.
    full : bool
        Return :class:`Chance` (value, pa, pe).

    Raises
    ------
    AgreementError
        No unit has two ratings, or fewer than two categories (E400).

    Examples
    --------
    Gwet's ``cac.raw4raters`` (= Krippendorff 2011's 4 coders × 12 units); irrCAC: 0.77544.

    >>> C = [[1, 1, None, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2],
    ...      [1, 2, 3, 4], [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [None, 5, 5, 5],
    ...      [None, None, 1, 1], [None, None, 3, None]]
    >>> round(gwet_ac(C), 5), round(gwet_ac(C, weights="quadratic"), 3)
    (0.77544, 0.914)
    """
    counts, w = _setup(data, values, weights, scores)
    return gwet_ac_from_counts(counts, w, full=full)


def gwet_ac_from_counts(
    counts: np.ndarray,
    w: np.ndarray,
    *,
    full: bool = False,
    sums: CountSums | None = None,
) -> Any:
    """AC1/AC2 from counts (n_units, q) and agreement weights (q, q); ``sums``: the counts'
    :class:`CountSums`, when the caller has them already."""
    q = counts.shape[1]
    name = "Gwet's AC1" if np.array_equal(w, np.eye(q)) else "Gwet's AC2"
    if q < 2:
        raise AgreementError(Errors.E400.format(coefficient=name, reason="fewer than 2 categories"))
    sums = CountSums.of(counts) if sums is None else sums
    pa = sums.observed_agreement(w, name)
    pi = sums.category_shares()
    pe = float(w.sum() * (pi * (1.0 - pi)).sum() / (q * (q - 1.0)))

    def se(value: float) -> float:
        x, r, share = _unit_terms(counts, w, pe)
        pe_i = w.sum() / (q * (q - 1.0)) * (x @ (1.0 - pi)) / r
        return _se(share - 2.0 * (1.0 - value) * (pe_i - pe) / (1.0 - pe), value)

    return _chance_corrected(pa, pe, name, full, se)


@overload
def brennan_prediger(
    data: Any,
    *,
    weights: Any = ...,
    values: Any = ...,
    scores: Any = ...,
    full: Literal[False] = ...,
) -> float: ...
@overload
def brennan_prediger(
    data: Any, *, weights: Any = ..., values: Any = ..., scores: Any = ..., full: Literal[True]
) -> Chance: ...
@overload
def brennan_prediger(
    data: Any, *, weights: Any = ..., values: Any = ..., scores: Any = ..., full: bool = ...
) -> float | Chance: ...
def brennan_prediger(
    data: Any,
    *,
    weights: Any = "identity",
    values: Any = None,
    scores: Any = None,
    full: bool = False,
) -> float | Chance:
    """Brennan and Prediger's (1981) coefficient: chance agreement ``T_w / q²``.

    Parameters as :func:`gwet_ac`; ``q`` is the size of ``values`` (unused categories count).

    Examples
    --------
    Gwet's ``cac.raw4raters`` (irrCAC: 0.77273; linear weights 0.848):

    >>> C = [[1, 1, None, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2],
    ...      [1, 2, 3, 4], [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [None, 5, 5, 5],
    ...      [None, None, 1, 1], [None, None, 3, None]]
    >>> round(brennan_prediger(C), 5), round(brennan_prediger(C, weights="linear"), 3)
    (0.77273, 0.848)
    """
    counts, w = _setup(data, values, weights, scores)
    return brennan_prediger_from_counts(counts, w, full=full)


def brennan_prediger_from_counts(
    counts: np.ndarray, w: np.ndarray, *, full: bool = False, sums: CountSums | None = None
) -> Any:
    """Brennan–Prediger from counts (n_units, q) and agreement weights (q, q); ``sums`` as in
    :func:`gwet_ac_from_counts`."""
    q = counts.shape[1]
    name = "Brennan–Prediger"
    if q < 2:
        raise AgreementError(Errors.E400.format(coefficient=name, reason="fewer than 2 categories"))
    sums = CountSums.of(counts) if sums is None else sums
    pa = sums.observed_agreement(w, name)
    pe = float(w.sum() / q**2)

    def se(value: float) -> float:
        return _se(_unit_terms(counts, w, pe)[2], value)

    return _chance_corrected(pa, pe, name, full, se)


__all__ = [
    "Chance",
    "brennan_prediger",
    "gwet_ac",
    "percent_agreement",
    "specific_agreement",
]
