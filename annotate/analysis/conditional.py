"""Conditional sequence models: a code at turn T from codes at earlier turns, clustered.

Lag-sequential tables ask whether B follows A more often than B's base rate. A reviewer will
ask whether it still does once the obvious alternatives are held fixed: the user who
discloses after an empathic reply may simply be a user who discloses a lot (the target's own
history), or the empathy may ride on an earlier turn. :func:`sequence_model` answers such
questions in one call, e.g. "does AI empathy at T − 1 predict further disclosure at T,
beyond disclosure at T − 2?"::

    sequence_model(labels, codebook, corpus=corpus, target="user_emotional_disclosure",
                   given={"ai_empathy": 1}, history=2, target_role="user")

Each row of the data is a target turn (of ``target_role``) at which the target code was
coded; the predictors are the given items at their lags (turns counted as in
:mod:`annotate.analysis.sequences`, within the conversation) and the target's own value at the
``history`` lags. Rows where a predictor's turn is missing or was not coded for it are left
out. The model is a logistic GEE (exchangeable within users, else conversations; bias-reduced
robust errors, t with G − 1 df; :mod:`annotate.analysis._models`) with optional covariates, so
the odds ratios are population-averaged and their intervals respect the nesting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.analysis import _models
from annotate.analysis._design import covariate_design
from annotate.analysis._frame import LabelFrame, prepare
from annotate.analysis._intervals import few_positives, warn, warn_few_clusters, warn_few_positives
from annotate.analysis._nesting import nesting_of
from annotate.analysis._stats import p_adjust
from annotate.analysis.sequences import transitions
from annotate.errors import AnalysisError, Errors, Warnings

if TYPE_CHECKING:
    from annotate.analysis._family import Family
    from annotate.codebook import Codebook
    from annotate.corpus import Corpus


def _lags(given: Mapping[str, int | Sequence[int]] | Sequence[str], lag: int) -> list[tuple]:
    pairs: list[tuple[str, int]] = []
    if isinstance(given, Mapping):
        for item, lags in given.items():
            for k in [lags] if isinstance(lags, int) else list(lags):
                pairs.append((item, int(k)))
    else:
        pairs = [(item, lag) for item in ([given] if isinstance(given, str) else given)]
    for item, k in pairs:
        if k < 1:
            raise AnalysisError(
                Errors.E460.format(option=f"lag of {item}", value=k, problem="must be >= 1")
            )
    return pairs


def _column(frame: LabelFrame, item: str) -> np.ndarray:
    """Per turn row: 1 present, 0 coded absent, -1 not coded (E457 if unknown)."""
    names = [it.name for it in frame.items]
    if item in names:
        return frame.X[:, names.index(item)].astype(np.int64)
    available = sorted({it.code_id for it in frame.items} | set(names))
    raise AnalysisError(Errors.E457.format(item=item, available=", ".join(available)))


def sequence_model(
    labels: pd.DataFrame | LabelFrame,
    codebook: Codebook,
    *,
    target: str,
    given: Mapping[str, int | Sequence[int]] | Sequence[str],
    lag: int = 1,
    history: int | Sequence[int] = (),
    target_role: str | None = None,
    covariates: Sequence[str] = (),
    users: pd.DataFrame | None = None,
    corpus: Corpus | None = None,
    annotator: str | None = None,
    nesting: str = "auto",
    level: float = 0.95,
    correction: str = "holm",
    family: Family | None = None,
) -> pd.DataFrame:
    """Predict a code at turn T from given codes at earlier turns (see the module docstring).

    Parameters
    ----------
    target
        The item at turn T (``CODE`` for a binary code, ``CODE=VALUE`` for one value).
    given
        Predictors: a mapping item -> lag (or list of lags) back from T, e.g.
        ``{"ai_empathy": 1, "user_support_seeking": [2]}``, or a list of items all at ``lag``.
    lag
        The lag of a list of ``given`` items (default 1: the turn before T).
    history
        Lag(s) at which the target's own value enters as a predictor (e.g. 2: the target two
        turns earlier, the same speaker's previous turn in alternating dialogue).
    target_role
        Only target turns of this role.
    covariates, users
        Adjustments (``position``, ``session``, ``days``, conversation attributes, user-table
        columns), as in :func:`annotate.analysis.compare_groups`.
    nesting, level
        Clusters of the robust errors (``auto``: users when known) and the confidence level.
    correction, family
        Correction across the rows of the call (``holm``, ``bh``, ``none``), and a
        :class:`~annotate.analysis.Family` the tests join.

    Returns
    -------
    pandas.DataFrame
        One row per predictor term: ``term`` (``item[T-lag]``), ``item``, ``lag``, ``role``
        (does the term describe the target's own history), ``n_present`` (rows with the
        predictor present), ``p_target_present`` and ``p_target_absent`` (share of rows with
        the target when the predictor is present / absent), ``odds_ratio`` with ``ci_low``,
        ``ci_high`` and ``p_value`` (adjusted for the other terms), ``p_adjusted``; the
        target, ``n`` (rows), ``n_target`` (rows with the target), ``few_positives`` and
        what was fitted (``model``, ``formula``, ``model_family``, ``clusters``, ``model_n``,
        ``model_n_clusters``, ``note``).
    """
    frame = prepare(labels, codebook, corpus=corpus, annotator=annotator)
    nest = nesting_of(frame, nesting)
    pairs = _lags(given, lag)
    hist = [history] if isinstance(history, int) else list(history)
    if any(int(k) < 1 for k in hist):
        raise AnalysisError(
            Errors.E460.format(
                option="history", value=history, problem="lags of the target's own history are >= 1"
            )
        )
    terms = [(item, k, False) for item, k in pairs] + [(target, k, True) for k in hist]
    if not terms:
        raise AnalysisError(
            Errors.E460.format(option="given", value=given, problem="name at least one item")
        )
    y_all = _column(frame, target)
    rows = np.flatnonzero(y_all >= 0)
    if target_role is not None:
        rows = rows[(frame.turns["role"].to_numpy()[rows] == target_role)]
    columns: dict[str, np.ndarray] = {}
    keep = np.ones(len(rows), dtype=bool)
    for item, k, _ in terms:
        col = _column(frame, item)
        earlier, later = transitions(frame, k)
        back = np.full(len(frame.X), -1, dtype=np.int64)
        back[later] = earlier
        src = back[rows]
        vals = np.where(src >= 0, col[np.maximum(src, 0)], -1)
        keep &= vals >= 0
        columns[f"{item}[T-{k}]"] = (vals == 1).astype(float)
    rows = rows[keep]
    if len(rows) == 0:
        raise AnalysisError(
            Errors.E462.format(
                analysis="sequence_model",
                problem=f"no turn with {target} coded has all its predictors coded",
                hint="Check the lags and roles (turns are counted within conversations).",
            )
        )
    y = (y_all[rows] == 1).astype(float)
    conv_rows = frame.conv[rows]
    X = pd.DataFrame({"Intercept": np.ones(len(rows))})
    for name, col in columns.items():
        X[name] = col[keep]
    cov, cov_terms = covariate_design(frame, covariates, users, conv_rows, rows)
    X = pd.concat([X, cov], axis=1)
    formula = f"{target}[T] ~ " + " + ".join([*columns, *cov_terms])
    fit = _models.gee(
        y, X, nest.cluster[conv_rows], formula=formula, clusters=nest.level, level=level
    )
    n_clusters = len(np.unique(nest.cluster[conv_rows]))
    warn_few_clusters("sequence_model", nest, n_clusters)
    pos_clusters = len(np.unique(nest.cluster[conv_rows][y == 1]))
    few = bool(few_positives(np.array([y.sum()]), np.array([pos_clusters]))[0]) or (
        y.sum() < 10 * (X.shape[1] - 1)
    )
    if few:
        warn_few_positives(f"sequence_model ({formula})", [target], nest.level)
    if fit.note:
        warn(
            Warnings.W453.format(
                analysis="sequence_model",
                model="the GEE",
                problem=fit.note,
                what="the odds ratios are missing or unreliable",
            )
        )
    out_rows: list[dict[str, Any]] = []
    for (item, k, own), name in zip(terms, columns, strict=True):
        t = fit.term(name)
        x = X[name].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            p1 = y[x == 1].mean() if (x == 1).any() else np.nan
            p0 = y[x == 0].mean() if (x == 0).any() else np.nan
        out_rows.append(
            {
                "target": target,
                "term": name,
                "item": item,
                "lag": k,
                "role": "own history" if own else "given",
                "n": len(y),
                "n_target": int(y.sum()),
                "n_present": int(x.sum()),
                "p_target_present": p1,
                "p_target_absent": p0,
                "odds_ratio": float(np.exp(t["estimate"])),
                "ci_low": float(np.exp(t["ci_low"])),
                "ci_high": float(np.exp(t["ci_high"])),
                "p_value": float(t["p_value"]),
                "few_positives": few,
                **fit.fields(),
            }
        )
    out = pd.DataFrame(out_rows)
    out["p_adjusted"] = p_adjust(out["p_value"].to_numpy(), correction)
    out["correction"] = correction
    out["test_label"] = [f"{target}[T] ~ {t} | {formula}" for t in out["term"]]
    if family is not None:
        out = family.add("sequence_model", out)
    return out
