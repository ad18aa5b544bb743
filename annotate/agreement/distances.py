"""Difference functions (Krippendorff's metrics), set distances and Gwet's weight families.

* :func:`delta` — Krippendorff's squared difference functions ``δ²(c, k)`` for the nominal,
  ordinal, interval and ratio metrics (Krippendorff 2011, "Computing Krippendorff's
  alpha-reliability", section E). The ordinal metric depends on the marginal value
  frequencies ``n_g`` over the *whole ordered domain*, so unused ranks are kept (they add 0).
* :func:`set_distance` — distances between label sets for alpha over set-valued codes:
  ``"masi"`` (Passonneau 2006, exact constants 1, 2/3, 1/3, 0: ``1 - J * M``; the definition
  of NLTK >= 3.x, *not* NLTK's legacy 0.67/0.33 constants nor DKPro's "MASI"), ``"jaccard"``
  (``1 - |A∩B| / |A∪B|``), ``"passonneau2004"`` (0 equal, 1/3 subset, 2/3 overlap, 1 disjoint)
  and ``"dkpro_masi"`` (DKPro Statistics' variant: Jaccard distance × passonneau2004).
  Two empty sets are equal (distance 0); an empty and a non-empty set are disjoint.
* :func:`weights` — Gwet's (2014) agreement-weight families for kappa, AC2 and
  Brennan–Prediger, computed on category *scores* (default ranks 1..q).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from annotate.errors import AgreementError, Errors

LEVELS = ("nominal", "ordinal", "interval", "ratio")
SET_DISTANCES = ("masi", "jaccard", "passonneau2004", "dkpro_masi")
WEIGHTS = ("identity", "linear", "quadratic", "ordinal", "radical", "ratio", "circular", "bipolar")


def delta(level: str, q: int, *, marginals: Any = None, scores: Any = None) -> np.ndarray:
    """Krippendorff's squared difference ``δ²`` between every two values, shape (q, q).

    Parameters
    ----------
    level : {"nominal", "ordinal", "interval", "ratio"}
    q : int
        Size of the value domain.
    marginals : array_like, shape (q,)
        ``n_g``, the number of pairable values per domain value (ordinal only).
    scores : array_like, shape (q,)
        Numeric value of each domain value (interval and ratio). Default ``0..q-1``.

    Examples
    --------
    >>> delta("nominal", 2).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    >>> delta("ordinal", 3, marginals=[2, 0, 4]).tolist()  # rank 2 unused
    [[0.0, 1.0, 9.0], [1.0, 0.0, 4.0], [9.0, 4.0, 0.0]]
    >>> delta("interval", 3, scores=[1, 2, 4])[0].tolist()
    [0.0, 1.0, 9.0]
    """
    if level == "nominal":
        return 1.0 - np.eye(q)
    if level == "ordinal":
        if marginals is None:
            raise AgreementError(Errors.E406.format(expected="marginals for ordinal", got="None"))
        n = np.asarray(marginals, dtype=float)
        cum = np.concatenate([[0.0], np.cumsum(n)])
        lo = np.minimum.outer(np.arange(q), np.arange(q))
        hi = np.maximum.outer(np.arange(q), np.arange(q))
        between = cum[hi + 1] - cum[lo]  # sum of n_g for g from c to k inclusive
        return (between - (n[:, None] + n[None, :]) / 2.0) ** 2
    v = np.arange(q, dtype=float) if scores is None else np.asarray(scores, dtype=float)
    if level == "interval":
        return np.subtract.outer(v, v) ** 2
    if level == "ratio":
        total = np.add.outer(v, v)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = (np.subtract.outer(v, v) / total) ** 2
        return np.where(total == 0, 0.0, d)
    raise AgreementError(Errors.E404.format(option="level", value=level, allowed=", ".join(LEVELS)))


def set_distance(a: Iterable[Any], b: Iterable[Any], kind: str = "masi") -> float:
    """Distance between two label sets (0 = identical, 1 = disjoint).

    Examples (``masi_distance_examples`` of the shared agreement reference):

    >>> round(set_distance({1, 2, 3, 4}, {3, 4, 5}), 6)  # MASI: 1 - (2/5)(1/3)
    0.866667
    >>> round(set_distance({1, 2}, {1, 2, 3, 4}), 6)  # MASI: 1 - (1/2)(2/3)
    0.666667
    >>> set_distance({1, 2, 3, 4}, {3, 4, 5}, "jaccard")
    0.6
    >>> set_distance(set(), set()), set_distance(set(), {"a"})
    (0.0, 1.0)
    """
    a, b = frozenset(a), frozenset(b)
    if a == b:
        return 0.0
    union = len(a | b)
    inter = len(a & b)
    jaccard = inter / union
    if a <= b or b <= a:
        monotonicity, passonneau = 2 / 3, 1 / 3
    elif inter:
        monotonicity, passonneau = 1 / 3, 2 / 3
    else:
        monotonicity, passonneau = 0.0, 1.0
    if kind == "masi":
        return 1.0 - jaccard * monotonicity
    if kind == "jaccard":
        return 1.0 - jaccard
    if kind == "passonneau2004":
        return passonneau
    if kind == "dkpro_masi":
        return (1.0 - jaccard) * passonneau
    raise AgreementError(
        Errors.E404.format(option="distance", value=kind, allowed=", ".join(SET_DISTANCES))
    )


def set_delta(sets: Iterable[Iterable[Any]], kind: str = "masi") -> np.ndarray:
    """Distance matrix (k, k) between ``k`` label sets under :func:`set_distance`."""
    sets = [frozenset(s) for s in sets]
    k = len(sets)
    out = np.zeros((k, k))
    for i in range(k):
        for j in range(i + 1, k):
            out[i, j] = out[j, i] = set_distance(sets[i], sets[j], kind)
    return out


def weights(kind: str | Any, q: int, *, scores: Any = None) -> np.ndarray:
    """Gwet's (2014) agreement weights ``w_kl`` (1 on the diagonal), shape (q, q).

    Parameters
    ----------
    kind : str or array_like
        One of :data:`WEIGHTS`, or a (q, q) matrix of agreement weights (returned as is).
        "linear" is ``1 - |x_k - x_l| / (max - min)``, "quadratic" ``1 - (x_k - x_l)² /
        (max - min)²``; "ordinal" is Gwet's rank-based weight, *not* Krippendorff's metric.
    q : int
        Number of categories.
    scores : array_like, shape (q,)
        Numeric score ``x_k`` of each category. Default: ranks ``1..q``.

    >>> weights("linear", 3).tolist()
    [[1.0, 0.5, 0.0], [0.5, 1.0, 0.5], [0.0, 0.5, 1.0]]
    >>> weights("quadratic", 3)[0].tolist()
    [1.0, 0.75, 0.0]
    """
    if not isinstance(kind, str):
        w = np.asarray(kind, dtype=float)
        if w.shape != (q, q):
            raise AgreementError(Errors.E406.format(expected=f"weights ({q}, {q})", got=w.shape))
        return w
    x = np.arange(1, q + 1, dtype=float) if scores is None else np.asarray(scores, dtype=float)
    if kind == "identity" or q < 2:
        return np.eye(q)
    diff = np.subtract.outer(x, x)
    span = x.max() - x.min()
    if kind == "linear":
        return 1.0 - np.abs(diff) / span
    if kind == "quadratic":
        return 1.0 - diff**2 / span**2
    if kind == "radical":
        return 1.0 - np.sqrt(np.abs(diff)) / np.sqrt(span)
    if kind == "ordinal":
        r = np.abs(np.subtract.outer(np.arange(q), np.arange(q))) + 1.0
        d = r * (r - 1.0) / 2.0
        return 1.0 - d / d.max()
    if kind == "ratio":
        total = np.add.outer(x, x)
        d = (diff / total) ** 2
        return 1.0 - d / ((x.max() - x.min()) / (x.max() + x.min())) ** 2
    if kind == "circular":
        d = np.sin(np.pi * diff / (span + 1.0)) ** 2
        return 1.0 - d / d.max()
    if kind == "bipolar":
        s = np.add.outer(x, x)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = diff**2 / ((s - 2 * x.min()) * (2 * x.max() - s))
        d = np.where(np.eye(q, dtype=bool), 0.0, d)
        return 1.0 - d / d.max()
    raise AgreementError(
        Errors.E404.format(option="weights", value=kind, allowed=", ".join(WEIGHTS))
    )
