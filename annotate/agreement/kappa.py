"""Cohen's kappa, Scott's pi, Fleiss' kappa and Conger's kappa (weighted or not).

* Cohen (1960, 1968): two coders, units coded by both; chance agreement from each coder's
  own marginals, ``p_e = sum_kl w_kl p_k. p_.l``.
* Scott (1955): two coders, pooled marginals ``π_k = (p_k. + p_.k) / 2``.
* Fleiss (1971), generalised to missing ratings and weights as in Gwet (2014, ch. 2; irrCAC):
  observed agreement as :func:`annotate.agreement.gwet.observed_agreement`,
  ``p_e = sum_kl w_kl π_k π_l``.
* Conger (1980): Fleiss' observed agreement, chance agreement averaged over all pairs of
  raters' own marginals (Gwet 2014's formulation with missing ratings).

Weights are agreement weights (:func:`annotate.agreement.distances.weights`) over the domain
``values``: weighting over the codebook's scale, not over the levels a pair happened to use
(R's ``irr::kappa2`` does the latter; pass ``values=`` the observed levels to reproduce it).
"""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np

from annotate.agreement._matrix import CountSums, encode, value_counts
from annotate.agreement.distances import weights as weight_matrix
from annotate.agreement.gwet import (
    Chance,
    _chance_corrected,
    _se,
    _unit_terms,
    observed_agreement,
)
from annotate.errors import AgreementError, Errors


def contingency(data: Any, values: Any = None) -> np.ndarray:
    """Two coders' contingency table (q, q) of proportions over units coded by both.

    >>> contingency([["a", "a"], ["a", "b"], ["b", None]]).tolist()
    [[0.5, 0.5], [0.0, 0.0]]
    """
    codes, domain = encode(data, values)
    if codes.shape[1] != 2:
        raise AgreementError(
            Errors.E406.format(expected="two columns (coders)", got=f"{codes.shape[1]} columns")
        )
    both = (codes >= 0).all(axis=1)
    q = len(domain)
    table = np.bincount(codes[both, 0] * q + codes[both, 1], minlength=q * q).reshape(q, q)
    n = both.sum()
    if n == 0:
        raise AgreementError(
            Errors.E400.format(coefficient="Cohen's kappa", reason="no unit was coded by both")
        )
    return table / n


@overload
def cohen_kappa(
    data: Any,
    *,
    weights: Any = ...,
    values: Any = ...,
    scores: Any = ...,
    full: Literal[False] = ...,
) -> float: ...
@overload
def cohen_kappa(
    data: Any, *, weights: Any = ..., values: Any = ..., scores: Any = ..., full: Literal[True]
) -> Chance: ...
@overload
def cohen_kappa(
    data: Any, *, weights: Any = ..., values: Any = ..., scores: Any = ..., full: bool = ...
) -> float | Chance: ...
def cohen_kappa(
    data: Any,
    *,
    weights: Any = "identity",
    values: Any = None,
    scores: Any = None,
    full: bool = False,
) -> float | Chance:
    """Cohen's kappa (weighted with ``weights``) for two coders.

    Parameters
    ----------
    data : array_like, shape (n_units, 2)
        Two coders' values; units not coded by both are left out.
    weights : {"identity", "linear", "quadratic", ...} or array_like (q, q)
        Agreement weights (:func:`annotate.agreement.distances.weights`).
    values : array_like, shape (q,), optional
        Domain in order; weights are computed over it (including unused categories).
    scores : array_like, shape (q,), optional
        Category scores for the weights; default ranks ``1..q``.

    Examples
    --------
    SAS / statsmodels 3 × 3 example (κ = .4842, linear-weighted .4701), as units:

    >>> from annotate.agreement._matrix import contingency_to_data
    >>> X = contingency_to_data([[0, 4, 1], [0, 8, 0], [0, 1, 5]])
    >>> round(cohen_kappa(X, values=[0, 1, 2]), 4)
    0.4842
    >>> round(cohen_kappa(X, values=[0, 1, 2], weights="linear"), 4)
    0.4701
    """
    p = contingency(data, values)
    w = weight_matrix(weights, p.shape[0], scores=scores)
    pa = float((w * p).sum())
    pe = float(p.sum(axis=1) @ w @ p.sum(axis=0))
    return _chance_corrected(pa, pe, "Cohen's kappa", full)


@overload
def scott_pi(
    data: Any,
    *,
    weights: Any = ...,
    values: Any = ...,
    scores: Any = ...,
    full: Literal[False] = ...,
) -> float: ...
@overload
def scott_pi(
    data: Any, *, weights: Any = ..., values: Any = ..., scores: Any = ..., full: Literal[True]
) -> Chance: ...
@overload
def scott_pi(
    data: Any, *, weights: Any = ..., values: Any = ..., scores: Any = ..., full: bool = ...
) -> float | Chance: ...
def scott_pi(
    data: Any,
    *,
    weights: Any = "identity",
    values: Any = None,
    scores: Any = None,
    full: bool = False,
) -> float | Chance:
    """Scott's pi for two coders (pooled marginals); parameters as :func:`cohen_kappa`.

    >>> from annotate.agreement._matrix import contingency_to_data
    >>> X = contingency_to_data([[13, 0, 0], [0, 20, 7], [0, 4, 56]])  # Gwet's abstractors
    >>> round(scott_pi(X), 7)
    0.7962397
    """
    p = contingency(data, values)
    w = weight_matrix(weights, p.shape[0], scores=scores)
    pi = (p.sum(axis=1) + p.sum(axis=0)) / 2.0
    pa = float((w * p).sum())
    return _chance_corrected(pa, float(pi @ w @ pi), "Scott's pi", full)


@overload
def fleiss_kappa(
    data: Any,
    *,
    weights: Any = ...,
    values: Any = ...,
    scores: Any = ...,
    full: Literal[False] = ...,
) -> float: ...
@overload
def fleiss_kappa(
    data: Any, *, weights: Any = ..., values: Any = ..., scores: Any = ..., full: Literal[True]
) -> Chance: ...
@overload
def fleiss_kappa(
    data: Any, *, weights: Any = ..., values: Any = ..., scores: Any = ..., full: bool = ...
) -> float | Chance: ...
def fleiss_kappa(
    data: Any,
    *,
    weights: Any = "identity",
    values: Any = None,
    scores: Any = None,
    full: bool = False,
) -> float | Chance:
    """Fleiss' kappa for any number of raters with missing ratings (Gwet's generalisation).

    Parameters as :func:`annotate.agreement.gwet.gwet_ac`; ``data`` has shape
    (n_units, n_raters). With complete data and no weights this is Fleiss (1971).

    >>> C = [[1, 1, None, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2],
    ...      [1, 2, 3, 4], [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [None, 5, 5, 5],
    ...      [None, None, 1, 1], [None, None, 3, None]]
    >>> round(fleiss_kappa(C), 5)  # irrCAC (Gwet 2014): 0.76117
    0.76117
    """
    codes, domain = encode(data, values)
    counts = value_counts(codes, len(domain))
    w = weight_matrix(weights, len(domain), scores=scores)
    return fleiss_kappa_from_counts(counts, w, full=full)


def fleiss_kappa_from_counts(
    counts: np.ndarray,
    w: np.ndarray,
    *,
    full: bool = False,
    sums: CountSums | None = None,
) -> Any:
    """Fleiss' kappa from counts (n_units, q) and agreement weights (q, q); ``sums`` as in
    :func:`annotate.agreement.gwet.gwet_ac_from_counts`."""
    sums = CountSums.of(counts) if sums is None else sums
    pa = sums.observed_agreement(w, "Fleiss' kappa")
    pi = sums.category_shares()
    pe = float(pi @ w @ pi)

    def se(value: float) -> float:  # Gwet (2014), as in irrCAC
        x, r, share = _unit_terms(counts, w, pe)
        pe_i = x @ ((w @ pi + w.T @ pi) / 2.0) / r
        return _se(share - 2.0 * (1.0 - value) * (pe_i - pe) / (1.0 - pe), value)

    return _chance_corrected(pa, pe, "Fleiss' kappa", full, se)


@overload
def conger_kappa(
    data: Any,
    *,
    weights: Any = ...,
    values: Any = ...,
    scores: Any = ...,
    full: Literal[False] = ...,
) -> float: ...
@overload
def conger_kappa(
    data: Any, *, weights: Any = ..., values: Any = ..., scores: Any = ..., full: Literal[True]
) -> Chance: ...
@overload
def conger_kappa(
    data: Any, *, weights: Any = ..., values: Any = ..., scores: Any = ..., full: bool = ...
) -> float | Chance: ...
def conger_kappa(
    data: Any,
    *,
    weights: Any = "identity",
    values: Any = None,
    scores: Any = None,
    full: bool = False,
) -> float | Chance:
    """Conger's (1980) kappa: Cohen's kappa generalised to any number of raters.

    Parameters as :func:`fleiss_kappa`; rater identity matters (columns are raters). Raters
    without any rating are left out (they have no marginal distribution).

    >>> C = [[1, 1, None, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2],
    ...      [1, 2, 3, 4], [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [None, 5, 5, 5],
    ...      [None, None, 1, 1], [None, None, 3, None]]
    >>> round(conger_kappa(C), 5)  # irrCAC (Gwet 2014): 0.76282
    0.76282
    """
    codes, domain = encode(data, values)
    codes = codes[:, (codes >= 0).any(axis=0)]  # a rater who rated nothing has no marginals
    q = len(domain)
    r = codes.shape[1]
    if r < 2:
        raise AgreementError(Errors.E400.format(coefficient="Conger's kappa", reason="one rater"))
    counts = value_counts(codes, q)
    w = weight_matrix(weights, q, scores=scores)
    pa = observed_agreement(counts, w, "Conger's kappa")
    per_rater = value_counts(codes.T, q)  # (raters, q)
    n_g = per_rater.sum(axis=1, keepdims=True)
    p_gk = np.divide(per_rater, n_g, out=np.zeros_like(per_rater), where=n_g > 0)
    p_mean = p_gk.mean(axis=0)
    s2 = (p_gk.T @ p_gk - r * np.outer(p_mean, p_mean)) / (r - 1.0)
    pe = float((w * (np.outer(p_mean, p_mean) - s2 / r)).sum())
    return _chance_corrected(pa, pe, "Conger's kappa", full)


__all__ = ["cohen_kappa", "conger_kappa", "contingency", "fleiss_kappa", "scott_pi"]
