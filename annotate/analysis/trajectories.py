"""Trajectories: codes by position within a conversation, and across a user's sessions.

**Within a conversation** (docs/methods.md) each user/assistant turn gets the
normalised position p = s / (S - 1), s = its 0-based position among the conversation's S
user and assistant turns (p = 0 when S = 1), and the bin min(floor(p B), B - 1) of B equal
bins (quintiles by default). The share of coded turns with each item per bin is a ratio
estimator with a cluster-bootstrap interval (users, two-stage, else conversations; BCa), as
in :func:`annotate.analysis.prevalence`. ``start_vs_end`` gives the last-bin minus first-bin
difference with an interval from the same replicates (the pairing by cluster is kept) and,
with ``model=True``, the odds ratio of a logistic GEE of the item on the position (end vs
start).

**Across sessions** (§b.6) each conversation of a user is a session; sessions are numbered
1, 2, ... by ``started_at`` per ``user_id`` (all the user's conversations in the corpus count,
coded or not); ``time="days"`` measures time as days since the user's first session instead.
A session's value for an item is the share of its coded turns with the item (binary codes and
values), its mean score (ordinal and interval codes, turn- or conversation-level), or 0/1 (a
binary conversation-level code).

* Descriptive: per user, the ordinary least-squares slope of the value on time (users with at
  least ``min_sessions`` coded sessions); the mean of the user slopes with a two-stage
  bootstrap interval (users, then their sessions; each user's slope is refitted in every
  replicate: "slopes as outcomes", Singer & Willett 2003, ch. 3). The **average curve** is the
  mean over users at each session (or day bin), with the number of users behind each point;
  it stops at the first point with fewer than ``min_users`` users.
* Mixed model (growth model; Singer & Willett 2003, ch. 4): value ~ time terms with random
  intercepts and random slopes of time per user (REML). ``shape="spline"`` uses a restricted
  cubic spline of time (Harrell 2015, §2.4.5; knots at the 10/50/90 % quantiles, or
  ``knots=``), ``shape="piecewise"`` a linear spline with a break at ``knots`` (default the
  median time); the random slope is on the linear term.
* Population-averaged model: binary items by a logistic GEE of the turns (or conversations)
  on time, exchangeable within users, bias-reduced robust errors (odds ratio per session or
  per day); ordinal codes by a cumulative-link model with errors clustered by user
  (proportional odds ratio); interval codes by a Gaussian GEE. Its test of time is the trend's
  ``p_value`` (one slope, or the joint Wald test of the spline terms).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.analysis import _models
from annotate.analysis._design import code_block, covariate_design, positions
from annotate.analysis._frame import LabelFrame, conv_sums, prepare, resolve_items
from annotate.analysis._groups import check_option
from annotate.analysis._intervals import (
    check_interval,
    warn,
    warn_few_clusters,
)
from annotate.analysis._intervals import interval as _interval
from annotate.analysis._nesting import Nesting, nesting_of
from annotate.analysis._stats import p_adjust
from annotate.errors import AnalysisError, Errors, Warnings

if TYPE_CHECKING:
    from annotate.analysis._family import Family
    from annotate.codebook import Codebook
    from annotate.corpus import Corpus


def _bins(frame: LabelFrame, bins: int) -> np.ndarray:
    seq = frame.turns["seq"].to_numpy()
    n_seq = frame.turns["n_seq"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = np.where(n_seq > 1, seq / np.maximum(n_seq - 1, 1), 0.0)
    out = np.minimum(np.floor(pos * bins), bins - 1).astype(np.int64)
    return np.where(seq >= 0, out, -1)


def position_trajectory(
    labels: pd.DataFrame | LabelFrame,
    codebook: Codebook,
    *,
    corpus: Corpus | None = None,
    annotator: str | None = None,
    codes: Sequence[str] | None = None,
    bins: int = 5,
    by_role: bool = True,
    bootstrap: int = 1000,
    level: float = 0.95,
    seed: int | None = None,
    nesting: str = "auto",
    interval: str = "bca",
) -> pd.DataFrame:
    """Share of turns with each item by normalised position bin (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        ``role`` (None when ``by_role`` is False), ``code_id``, ``value``, ``item``, ``bin``
        (1..bins), ``position`` (bin label, e.g. "0–20%"), ``n``, ``count``, ``share``,
        ``ci_low``, ``ci_high``, ``resampled``, ``interval``.
    """
    if bins < 1:
        raise AnalysisError(Errors.E460.format(option="bins", value=bins, problem="must be >= 1"))
    check_interval(interval)
    frame = prepare(labels, codebook, corpus=corpus, annotator=annotator)
    nest = nesting_of(frame, nesting)
    reps = _position_reps(frame, codes, bins, by_role, bootstrap, level, seed, nest, interval)
    return reps[0]


def start_vs_end(
    labels: pd.DataFrame | LabelFrame,
    codebook: Codebook,
    *,
    corpus: Corpus | None = None,
    annotator: str | None = None,
    codes: Sequence[str] | None = None,
    bins: int = 5,
    by_role: bool = True,
    bootstrap: int = 1000,
    level: float = 0.95,
    seed: int | None = None,
    nesting: str = "auto",
    interval: str = "bca",
    model: bool = False,
    covariates: Sequence[str] = (),
    users: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Share in the last position bin minus the first, with a cluster-bootstrap interval.

    With ``model=True`` a logistic GEE ``item ~ position (+ covariates)`` per item (and role)
    on the coded turns, position from 0 (first turn) to 1 (last), exchangeable within users
    (else conversations): ``model_odds_ratio`` is the odds ratio of the last against the first
    turn, with ``model_ci_low``/``model_ci_high``, ``p_value`` and what was fitted.

    Returns
    -------
    pandas.DataFrame
        ``role``, ``code_id``, ``value``, ``item``, ``share_start``, ``share_end``,
        ``difference``, ``ci_low``, ``ci_high``, ``n_start``, ``n_end``, ``resampled``,
        ``interval`` (and the model columns).
    """
    check_interval(interval)
    frame = prepare(labels, codebook, corpus=corpus, annotator=annotator)
    nest = nesting_of(frame, nesting)
    out = _position_reps(frame, codes, bins, by_role, bootstrap, level, seed, nest, interval)[1]
    if model and len(out):
        out = _position_models(frame, out, nest, level, covariates, users)
    return out


def _position_models(
    frame: LabelFrame,
    out: pd.DataFrame,
    nest: Nesting,
    level: float,
    covariates: Sequence[str],
    users: pd.DataFrame | None,
) -> pd.DataFrame:
    names = [it.name for it in frame.items]
    pos = positions(frame)
    est, lo, hi, p, meta = [], [], [], [], []
    for r in out.to_dict("records"):
        k = names.index(r["item"])
        ok = (frame.X[:, k] >= 0) & np.isfinite(pos)
        if r["role"] is not None:
            ok &= (frame.turns["role"] == r["role"]).to_numpy()
        rows = np.flatnonzero(ok)
        conv_rows = frame.conv[rows]
        cov, terms = covariate_design(frame, covariates, users, conv_rows, rows)
        X = pd.concat(
            [pd.DataFrame({"Intercept": np.ones(len(rows)), "position": pos[rows]}), cov], axis=1
        )
        fit = _models.gee(
            (frame.X[rows, k] == 1).astype(float),
            X,
            nest.cluster[conv_rows],
            formula=f"{r['item']} ~ " + " + ".join(["position", *terms]),
            clusters=nest.level,
            level=level,
        )
        t = fit.term("position")
        est.append(np.exp(t["estimate"]))
        lo.append(np.exp(t["ci_low"]))
        hi.append(np.exp(t["ci_high"]))
        p.append(t["p_value"])
        meta.append(fit.fields())
    out = out.assign(model_odds_ratio=est, model_ci_low=lo, model_ci_high=hi, p_value=p)
    return pd.concat([out, pd.DataFrame(meta, index=out.index)], axis=1)


def _position_reps(
    frame: LabelFrame,
    codes: Sequence[str] | None,
    bins: int,
    by_role: bool,
    bootstrap: int,
    level: float,
    seed: int | None,
    nest: Nesting | None = None,
    method: str = "bca",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    sel = resolve_items(frame, codes, "turn")
    nest = nest if nest is not None else nesting_of(frame)
    b = _bins(frame, bins)
    conv = frame.conv
    rng = np.random.default_rng(seed)
    weights = nest.weights(bootstrap, rng).astype(np.float32)
    roles = sorted(set(frame.turns["role"].dropna()) & {"user", "assistant"}) if by_role else [None]
    traj, ends = [], []
    labels_ = [f"{round(100 * k / bins)}–{round(100 * (k + 1) / bins)}%" for k in range(bins)]
    for role in roles:
        mask = b >= 0
        if role is not None:
            mask &= (frame.turns["role"] == role).to_numpy()
        X = frame.X[mask][:, sel]
        nb = frame.n_conversations * bins
        cell = conv[mask] * bins + b[mask]
        num: np.ndarray = np.zeros((nb, len(sel)))
        den: np.ndarray = np.zeros((nb, len(sel)))
        for j in range(len(sel)):
            num[:, j] = np.bincount(cell, weights=X[:, j] == 1, minlength=nb)
            den[:, j] = np.bincount(cell, weights=X[:, j] >= 0, minlength=nb)
        num = num.reshape(frame.n_conversations, bins, len(sel))
        den = den.reshape(frame.n_conversations, bins, len(sel))
        count, n = num.sum(axis=0), den.sum(axis=0)
        share = np.where(n > 0, count / np.where(n > 0, n, 1), np.nan)
        if bootstrap:
            shape = (len(weights), bins, len(sel))
            wn = (weights @ num.reshape(len(num), -1).astype(np.float32)).reshape(shape)
            wd = (weights @ den.reshape(len(den), -1).astype(np.float32)).reshape(shape)
            jn = nest.jackknife(num.reshape(len(num), -1)).reshape(-1, bins, len(sel))
            jd = nest.jackknife(den.reshape(len(den), -1)).reshape(-1, bins, len(sel))
            with np.errstate(invalid="ignore", divide="ignore"):
                r = wn.astype(float) / wd.astype(float)
                jr = jn / jd
            lo, hi = _interval(share, r, jr, level, method)
            dlo, dhi = _interval(
                share[-1] - share[0],
                r[:, -1, :] - r[:, 0, :],
                jr[:, -1, :] - jr[:, 0, :],
                level,
                method,
            )
        else:
            lo = hi = np.full(share.shape, np.nan)
            dlo = dhi = np.full(len(sel), np.nan)
        items = [frame.items[k] for k in sel]
        for k in range(bins):
            traj.append(
                pd.DataFrame(
                    {
                        "role": role,
                        "code_id": [it.code_id for it in items],
                        "value": [it.value for it in items],
                        "item": [it.name for it in items],
                        "bin": k + 1,
                        "position": labels_[k],
                        "n": n[k].astype(int),
                        "count": count[k].astype(int),
                        "share": share[k],
                        "ci_low": lo[k],
                        "ci_high": hi[k],
                    }
                )
            )
        ends.append(
            pd.DataFrame(
                {
                    "role": role,
                    "code_id": [it.code_id for it in items],
                    "value": [it.value for it in items],
                    "item": [it.name for it in items],
                    "share_start": share[0],
                    "share_end": share[-1],
                    "difference": share[-1] - share[0],
                    "ci_low": dlo,
                    "ci_high": dhi,
                    "n_start": n[0].astype(int),
                    "n_end": n[-1].astype(int),
                }
            )
        )
    t = pd.concat(traj, ignore_index=True) if traj else pd.DataFrame()
    e = pd.concat(ends, ignore_index=True) if ends else pd.DataFrame()
    for table in (t, e):
        if len(table):
            table["resampled"] = nest.label
            table["interval"] = method if bootstrap else "none"
    if bootstrap and len(t):
        warn_few_clusters("position_trajectory", nest)
    if len(t):
        t = t[t["n"] > 0].sort_values(["role", "item", "bin"], kind="stable").reset_index(drop=True)
        e = e[(e["n_start"] > 0) | (e["n_end"] > 0)].reset_index(drop=True)
    return t, e


TIMES = ("session", "days")
SHAPES = ("linear", "spline", "piecewise")


@dataclass(frozen=True)
class SessionTrends:
    """Tables of :func:`session_trajectories`."""

    #: user_id, session, days, conversation_id, item, code_id, code_level, n, count, value,
    #: share (= value; the share of coded turns for binary items)
    sessions: pd.DataFrame
    #: item, code_id, time, session, n_users, mean, ci_low, ci_high (stops where fewer than
    #: min_users users stand behind a point)
    average: pd.DataFrame
    #: user_id, item, code_id, n_sessions, slope
    slopes: pd.DataFrame
    #: item, code_id, n_users, mean_slope, ci_low, ci_high, mixed model and population-
    #: averaged estimates, p_value, p_adjusted, what was fitted
    trend: pd.DataFrame
    #: every term of every fitted model: item, model, term, estimate, se, ci_low, ci_high,
    #: p_value (and the mixed model's variance components)
    models: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the mixed model's average curve: item, time, fitted, ci_low, ci_high, n_users
    curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: time, shape, knots, nesting, min_users, min_sessions
    settings: dict[str, Any] = field(default_factory=dict)


def session_index(conversations: pd.DataFrame) -> pd.DataFrame:
    """conversation_id, user_id, session (1-based by started_at per user; ties by id), days
    (since the user's first session)."""
    need = {"conversation_id", "user_id", "started_at"}
    if not need <= set(conversations.columns):
        raise AnalysisError(
            Errors.E458.format(
                analysis="Session trajectories",
                need="conversations with user_id and started_at",
                hint="Pass corpus= (a corpus whose conversations carry user_id and started_at).",
            )
        )
    c = conversations[["conversation_id", "user_id", "started_at"]]
    c = c[c["user_id"].notna()].sort_values(["user_id", "started_at", "conversation_id"])
    c = c.assign(session=c.groupby("user_id").cumcount() + 1)
    started = pd.to_datetime(c["started_at"], utc=True, errors="coerce")
    first = started.groupby(c["user_id"]).transform("min")
    c = c.assign(days=(started - first).dt.total_seconds() / 86400.0)
    return c.reset_index(drop=True)


def session_trajectories(
    labels: pd.DataFrame | LabelFrame,
    codebook: Codebook,
    *,
    corpus: Corpus,
    annotator: str | None = None,
    codes: Sequence[str] | None = None,
    role: str | None = None,
    time: str = "session",
    shape: str = "linear",
    knots: Sequence[float] | None = None,
    min_sessions: int = 3,
    min_users: int = 3,
    bin_days: float = 7.0,
    covariates: Sequence[str] = (),
    users: pd.DataFrame | None = None,
    model: bool = True,
    bootstrap: int = 1000,
    interval: str = "bca",
    level: float = 0.95,
    seed: int | None = None,
    correction: str = "holm",
    family: Family | None = None,
) -> SessionTrends:
    """How items change from session to session per user (see the module docstring).

    Parameters
    ----------
    corpus
        Required: its conversations supply ``user_id`` and ``started_at``.
    codes
        Codes or items: binary codes, values of nominal codes, ordinal and interval codes
        (turn- or conversation-level; an ordinal code is followed as its score). Default: all
        coded turn items and the binary, ordinal and interval conversation codes.
    role
        Only turns of this role count (e.g. ``"user"`` for disclosure); default all.
    time
        ``"session"`` (session index, 1 = the user's first) or ``"days"`` (days since the
        user's first session).
    shape
        ``"linear"``, ``"spline"`` (restricted cubic spline) or ``"piecewise"`` (linear with
        one break at ``knots``).
    knots
        Spline knots (default the 10/50/90 % quantiles of time) or the break of
        ``piecewise`` (default the median time).
    min_sessions
        Users need at least this many coded sessions for a descriptive slope (>= 2).
    min_users
        The average curves stop at the first time point with fewer users than this.
    bin_days
        Width of the day bins of the average curve with ``time="days"``.
    covariates, users
        Adjustments of the models (conversation attributes, ``users`` table columns).
    model
        Fit the mixed and population-averaged models (False: descriptive only).
    bootstrap, interval, level, seed
        Two-stage bootstrap (users, then their sessions), ``"bca"`` or ``"percentile"``.
    correction, family
        Correction of the trends' p-values across items; a
        :class:`~annotate.analysis.Family` they join.
    """
    check_option("min_sessions>=2", min_sessions >= 2, (True,))
    check_option("time", time, TIMES)
    check_option("shape", shape, SHAPES)
    check_interval(interval)
    frame = prepare(labels, codebook, corpus=corpus, annotator=annotator)
    index = session_index((frame.corpus if frame.corpus is not None else corpus).conversations)
    nest = nesting_of(frame, "users")
    values = _session_values(frame, codes, role)
    sessions = values.merge(index, on="conversation_id")
    sessions["share"] = sessions["value"]
    sessions = sessions[
        [
            "user_id",
            "session",
            "days",
            "conversation_id",
            "item",
            "code_id",
            "code_level",
            "n",
            "count",
            "value",
            "share",
        ]
    ].sort_values(["item", "user_id", "session"], kind="stable")
    sessions = sessions.reset_index(drop=True)
    sessions["time"] = sessions["session"] - 1.0 if time == "session" else sessions["days"]
    rng = np.random.default_rng(seed)
    conv_pos = {c: k for k, c in enumerate(frame.conversations["conversation_id"].astype(str))}
    sessions["conv"] = sessions["conversation_id"].astype(str).map(conv_pos).astype(int)
    W = nest.weights(bootstrap, rng)
    WT = np.ascontiguousarray(W.T)  # (conversations, R): sparse products read it without a copy
    settings: dict[str, Any] = {
        "time": time,
        "shape": shape,
        "knots": None,
        "nesting": nest.label,
        "min_users": min_users,
        "min_sessions": min_sessions,
    }
    average = _average(sessions, nest, WT, level, interval, time, bin_days, min_users)
    slopes = _slopes(sessions, min_sessions)
    trend = _trend(sessions, slopes, nest, WT, level, interval, min_sessions)
    if bootstrap:
        warn_few_clusters("session_trajectories", nest, int(sessions["user_id"].nunique()))
    models, curve = pd.DataFrame(), pd.DataFrame()
    if model and len(trend):
        trend, models, curve, used_knots = _fit_models(
            frame,
            sessions,
            trend,
            nest,
            time,
            shape,
            knots,
            covariates,
            users,
            level,
            role,
            min_users,
        )
        settings["knots"] = used_knots
        trend["p_adjusted"] = p_adjust(trend["p_value"].to_numpy(dtype=float), correction)
        trend["correction"] = correction
        trend["test_label"] = [f"trend over {time} ({shape}): {i}" for i in trend["item"]]
        if family is not None:
            trend = family.add("session_trajectories", trend)
    trend["resampled"] = nest.label
    trend["interval"] = interval if bootstrap else "none"
    sessions = sessions.drop(columns=["conv"])
    return SessionTrends(sessions, average, slopes, trend, models, curve, settings)


def _session_values(
    frame: LabelFrame, codes: Sequence[str] | None, role: str | None
) -> pd.DataFrame:
    """Per conversation and item: coded units n, positives (binary), value (share or score)."""
    mask = None if role is None else (frame.turns["role"] == role).to_numpy()
    num, den = conv_sums(frame, mask)
    scored = ("ordinal", "interval")

    def wanted(it: Any) -> bool:
        return codes is None or it.code_id in codes or it.name in codes

    ids = frame.conversations["conversation_id"].to_numpy()
    parts = []
    for k, it in enumerate(frame.items):
        if it.level in scored or not wanted(it):
            continue
        ok = den[:, k] > 0
        parts.append(
            pd.DataFrame(
                {
                    "conversation_id": ids[ok],
                    "item": it.name,
                    "code_id": it.code_id,
                    "code_level": it.level,
                    "n": den[ok, k].astype(int),
                    "count": num[ok, k].astype(int),
                    "value": num[ok, k] / den[ok, k],
                }
            )
        )
    for unit, pool in (("turn", frame.items), ("conversation", frame.conv_items)):
        for code_id in dict.fromkeys(it.code_id for it in pool if it.level in scored):
            if codes is not None and code_id not in codes:
                continue
            _, score = code_block(frame, code_id, unit)
            level = frame.codebook.code(code_id).level
            if unit == "turn":
                ok = np.isfinite(score) & (mask if mask is not None else True)
                n_conv = frame.n_conversations
                cnt = np.bincount(frame.conv[ok], minlength=n_conv)
                tot = np.bincount(frame.conv[ok], weights=score[ok], minlength=n_conv)
                has = cnt > 0
                vals, ns = tot[has] / cnt[has], cnt[has]
            else:
                has = np.isfinite(score)
                vals, ns = score[has], np.ones(int(has.sum()), dtype=int)
            parts.append(
                pd.DataFrame(
                    {
                        "conversation_id": ids[has],
                        "item": code_id,
                        "code_id": code_id,
                        "code_level": level,
                        "n": ns.astype(int),
                        "count": np.nan,
                        "value": vals,
                    }
                )
            )
    for k, it in enumerate(frame.conv_items):
        if it.level != "binary" or not wanted(it):
            continue
        ok = frame.C[:, k] >= 0
        val = (frame.C[ok, k] == 1).astype(int)
        parts.append(
            pd.DataFrame(
                {
                    "conversation_id": ids[ok],
                    "item": it.name,
                    "code_id": it.code_id,
                    "code_level": "binary",
                    "n": 1,
                    "count": val,
                    "value": val.astype(float),
                }
            )
        )
    if not parts:
        wanted_codes = ", ".join(codes) if codes is not None else "any code"
        raise AnalysisError(
            Errors.E461.format(
                unit="session",
                detail=f" for session trajectories of {wanted_codes}"
                + (f" on {role} turns" if role else ""),
            )
        )
    return pd.concat(parts, ignore_index=True)


def _time_bins(sessions: pd.DataFrame, time: str, bin_days: float) -> np.ndarray:
    if time == "session":
        return sessions["session"].to_numpy().astype(np.int64)
    return (np.floor(sessions["days"].to_numpy() / bin_days)).astype(np.int64) + 1


def _average(
    sessions: pd.DataFrame,
    nest: Nesting,
    WT: np.ndarray,
    level: float,
    method: str,
    time: str,
    bin_days: float,
    min_users: int,
) -> pd.DataFrame:
    """Mean over users at each time point: each user's mean value in the point (a session,
    or a bin of days), averaged over users; two-stage bootstrap and BCa; the curve stops at
    the first point with fewer than ``min_users`` users."""
    from scipy import sparse

    cols = ["item", "code_id", "time", "session", "n_users", "mean", "ci_low", "ci_high"]
    if sessions.empty:
        return pd.DataFrame(columns=cols)
    n_conv = len(nest.cluster)
    rows = []
    for (item, code_id), g in sessions.groupby(["item", "code_id"], sort=False):
        point = _time_bins(g, time, bin_days)
        n_pts = int(point.max())
        conv = g["conv"].to_numpy()
        # per conversation: value and weight 1 (each user has one conversation per session;
        # with day bins a user's sessions in one bin are averaged within the user first)
        user = nest.cluster[conv]
        key = user * (n_pts + 1) + point
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        per_user = np.bincount(inv, minlength=len(first)).astype(float)
        weight = 1.0 / per_user[inv]  # a user counts once per point
        shape = (n_conv, n_pts)
        A_num = sparse.csc_matrix((g["value"].to_numpy() * weight, (conv, point - 1)), shape)
        A_den = sparse.csc_matrix((weight, (conv, point - 1)), shape)
        users_at = np.bincount(
            point[first] - 1, minlength=n_pts
        )  # users with a session at each point
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.asarray(A_num.sum(0)).ravel() / np.asarray(A_den.sum(0)).ravel()
            if WT.shape[1]:
                reps = np.asarray(A_num.T @ WT).T / np.asarray(A_den.T @ WT).T
                jn = nest.jackknife(A_num.toarray()) if n_conv * n_pts < 5e7 else None
                jd = nest.jackknife(A_den.toarray()) if jn is not None else None
                jack = jn / jd if jn is not None else None
                lo, hi = _interval(mean, reps, jack, level, method)
            else:
                lo = hi = np.full(n_pts, np.nan)
        stop = np.flatnonzero(users_at < min_users)
        end = int(stop[0]) if len(stop) else n_pts
        pts = np.arange(1, end + 1)
        rows.append(
            pd.DataFrame(
                {
                    "item": item,
                    "code_id": code_id,
                    "time": pts if time == "session" else (pts - 1) * bin_days,
                    "session": pts if time == "session" else np.nan,
                    "n_users": users_at[:end].astype(int),
                    "mean": mean[:end],
                    "ci_low": lo[:end],
                    "ci_high": hi[:end],
                }
            )
        )
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)


def _slopes(sessions: pd.DataFrame, min_sessions: int) -> pd.DataFrame:
    """OLS slope of value on time per user: sum((x - x̄)(y - ȳ)) / sum((x - x̄)^2)."""
    g = sessions.groupby(["item", "code_id", "user_id"], sort=False)
    x, y = sessions["time"].astype(float), sessions["value"]
    xm, ym = g["time"].transform("mean"), g["value"].transform("mean")
    tmp = sessions.assign(sxy=(x - xm) * (y - ym), sxx=(x - xm) ** 2)
    agg = tmp.groupby(["item", "code_id", "user_id"], sort=False).agg(
        n_sessions=("session", "size"), sxy=("sxy", "sum"), sxx=("sxx", "sum")
    )
    agg = agg[(agg["n_sessions"] >= min_sessions) & (agg["sxx"] > 0)]
    agg["slope"] = agg["sxy"] / agg["sxx"]
    return agg[["n_sessions", "slope"]].reset_index()[
        ["user_id", "item", "code_id", "n_sessions", "slope"]
    ]


def _trend(
    sessions: pd.DataFrame,
    slopes: pd.DataFrame,
    nest: Nesting,
    WT: np.ndarray,
    level: float,
    method: str,
    min_sessions: int,
) -> pd.DataFrame:
    """Mean of the users' OLS slopes; in each replicate every user's slope is refitted by
    weighted least squares on its resampled sessions (two-stage), users weighted by how often
    they were drawn."""
    cols = ["item", "code_id", "n_users", "mean_slope", "ci_low", "ci_high"]
    rows = []
    drawn = None
    if WT.shape[1]:
        sizes = np.bincount(nest.cluster, minlength=nest.n_clusters).astype(float)
        drawn = nest.cluster_sums(WT).T / sizes  # (R, G): how often each user was drawn
    cache: dict[bytes, tuple[Any, ...]] = {}
    for (item, code_id), sl in slopes.groupby(["item", "code_id"], sort=False):
        s = sessions[(sessions["item"] == item) & sessions["user_id"].isin(set(sl["user_id"]))]
        conv = s["conv"].to_numpy()
        x, y = s["time"].to_numpy(float), s["value"].to_numpy(float)
        est = float(sl["slope"].mean())
        lo = hi = float("nan")
        if drawn is not None:
            key = conv.tobytes() + x.tobytes()
            if key not in cache:
                cache[key] = _user_sums(conv, x, None, nest, WT)
            users_, sw, sx, sxx = cache[key]
            sy, sxy = _user_sums(conv, x, y, nest, WT)
            with np.errstate(invalid="ignore", divide="ignore"):
                den = sw * sxx - sx * sx
                ok = den > 1e-9 * np.maximum(sw * sxx, 1)
                b = np.where(ok, (sw * sxy - sx * sy) / np.where(ok, den, 1), np.nan)
                cu = drawn[:, users_]
                fin = np.isfinite(b)
                reps = np.where(fin, b * cu, 0).sum(axis=1) / np.where(fin, cu, 0).sum(axis=1)
            vals = sl["slope"].to_numpy()
            jack = (vals.sum() - vals) / max(len(vals) - 1, 1) if len(vals) > 1 else None
            lo_a, hi_a = _interval(
                np.array([est]),
                reps[:, None],
                None if jack is None else jack[:, None],
                level,
                method,
            )
            lo, hi = float(lo_a[0]), float(hi_a[0])
        rows.append(
            {
                "item": item,
                "code_id": code_id,
                "n_users": len(sl),
                "mean_slope": est,
                "ci_low": lo,
                "ci_high": hi,
            }
        )
    return pd.DataFrame(rows, columns=cols)


def _user_sums(
    conv: np.ndarray, x: np.ndarray, y: np.ndarray | None, nest: Nesting, WT: np.ndarray
) -> tuple[Any, ...]:
    """Per replicate and user, weighted sums over the user's sessions (conversations
    ``conv``): without y (users, Σw, Σwx, Σwx²), with y (Σwy, Σwxy). One sparse product each:
    the replicate weights are never copied."""
    from scipy import sparse

    users_, u = np.unique(nest.cluster[conv], return_inverse=True)
    shape = (len(nest.cluster), len(users_))

    def sums(values: np.ndarray) -> np.ndarray:
        P = sparse.csc_matrix((values, (conv, u)), shape=shape)
        return np.asarray(P.T @ WT).T  # (R, users)

    if y is None:
        return users_, sums(np.ones(len(conv))), sums(x), sums(x * x)
    return sums(y), sums(x * y)


def _time_design(
    t: np.ndarray, shape: str, knots: Sequence[float] | None
) -> tuple[pd.DataFrame, list[float] | None]:
    if shape == "linear":
        return pd.DataFrame({"time": t}), None
    if shape == "piecewise":
        k = float(np.median(t)) if knots is None else float(next(iter(knots)))
        return pd.DataFrame({"time": t, f"(time-{k:g})+": np.clip(t - k, 0, None)}), [k]
    kn = _models.spline_knots(t) if knots is None else np.asarray(knots, dtype=float)
    basis = _models.rcs_basis(t, kn)
    cols = {"time": basis[:, 0]}
    for j in range(1, basis.shape[1]):
        cols[f"time'{j}"] = basis[:, j]
    return pd.DataFrame(cols), [float(v) for v in kn]


def _fit_models(
    frame: LabelFrame,
    sessions: pd.DataFrame,
    trend: pd.DataFrame,
    nest: Nesting,
    time: str,
    shape: str,
    knots: Sequence[float] | None,
    covariates: Sequence[str],
    users: pd.DataFrame | None,
    level: float,
    role: str | None,
    min_users: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[float] | None]:
    """The mixed (growth) model and the population-averaged model per item."""
    all_t = sessions["time"].to_numpy(float)
    _, used_knots = _time_design(all_t, shape, knots)
    knots_ = used_knots if shape != "linear" else None
    term_rows: list[pd.DataFrame] = []
    curves: list[pd.DataFrame] = []
    add: dict[str, list[Any]] = {
        k: []
        for k in (
            "mixed_slope",
            "mixed_ci_low",
            "mixed_ci_high",
            "mixed_p",
            "mixed_model",
            "pa_estimate",
            "pa_ci_low",
            "pa_ci_high",
            "pa_scale",
            "p_value",
            "model",
            "formula",
            "model_family",
            "clusters",
            "model_n",
            "model_n_clusters",
            "note",
        )
    }
    problems = []
    unit = "session" if time == "session" else "day"
    for item in trend["item"]:
        s = sessions[sessions["item"] == item]
        level_ = s["code_level"].iloc[0]
        conv_rows = s["conv"].to_numpy()
        td, _ = _time_design(s["time"].to_numpy(float), shape, knots_)
        cov, cterms = covariate_design(frame, covariates, users, conv_rows)
        tnames = list(td.columns)
        rhs = " + ".join([*tnames, *cterms])
        X = pd.concat([pd.DataFrame({"Intercept": np.ones(len(s))}), td, cov], axis=1)
        mixed = _models.mixed(
            s["value"].to_numpy(float),
            X,
            nest.cluster[conv_rows],
            random=["Intercept", "time"],
            formula=f"{item} (session value) ~ {rhs}",
            clusters="users",
            level=level,
        )
        pa = _pa_model(frame, s, item, level_, nest, shape, knots_, covariates, users, level, role)
        for fit, name in ((mixed, "mixed"), (pa, "population-averaged")):
            t = fit.terms.assign(item=item, which=name, model=fit.model, formula=fit.formula)
            for key, val in fit.extra.items():
                if np.ndim(val) == 0:
                    t[key] = val
            term_rows.append(t)
            if fit.note:
                problems.append(f"{item} ({name}): {fit.note}")
        mt = mixed.term("time")
        add["mixed_slope"].append(mt["estimate"] if shape == "linear" else np.nan)
        add["mixed_ci_low"].append(mt["ci_low"] if shape == "linear" else np.nan)
        add["mixed_ci_high"].append(mt["ci_high"] if shape == "linear" else np.nan)
        add["mixed_p"].append(mt["p_value"] if shape == "linear" else mixed.wald(tnames)[1])
        add["mixed_model"].append(mixed.model)
        pt = pa.term("time")
        exp = level_ != "interval"
        add["pa_estimate"].append(
            np.exp(pt["estimate"])
            if exp and shape == "linear"
            else (pt["estimate"] if shape == "linear" else np.nan)
        )
        add["pa_ci_low"].append(
            np.exp(pt["ci_low"])
            if exp and shape == "linear"
            else (pt["ci_low"] if shape == "linear" else np.nan)
        )
        add["pa_ci_high"].append(
            np.exp(pt["ci_high"])
            if exp and shape == "linear"
            else (pt["ci_high"] if shape == "linear" else np.nan)
        )
        add["pa_scale"].append(
            (
                f"odds ratio per {unit}"
                if level_ not in ("ordinal", "interval")
                else f"proportional odds ratio per {unit}"
                if level_ == "ordinal"
                else f"change per {unit}"
            )
            if shape == "linear"
            else "joint test of the time terms (no single slope)"
        )
        add["p_value"].append(pt["p_value"] if shape == "linear" else pa.wald(tnames)[1])
        for key, val in pa.fields().items():
            add[key].append(val)
        curves.append(_curve(mixed, s, td, knots_, shape, nest, min_users, item, X.shape[1]))
    for key, val in add.items():
        trend[key] = val
    if problems:
        warn(
            Warnings.W453.format(
                analysis="session_trajectories",
                model="a model of",
                problem="; ".join(problems[:3]) + (" ..." if len(problems) > 3 else ""),
                what="read the estimates with care",
            )
        )
    models = pd.concat(term_rows, ignore_index=True) if term_rows else pd.DataFrame()
    curve = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    return trend, models, curve, knots_


def _pa_model(
    frame: LabelFrame,
    s: pd.DataFrame,
    item: str,
    code_level: str,
    nest: Nesting,
    shape: str,
    knots: list[float] | None,
    covariates: Sequence[str],
    users: pd.DataFrame | None,
    level: float,
    role: str | None,
) -> _models.Fit:
    """GEE on the turns (binary turn items), the conversations (binary conversation codes),
    cumulative-link on the ratings (ordinal) or Gaussian GEE (interval)."""
    time_of = dict(zip(s["conv"], s["time"], strict=True))
    names = [it.name for it in frame.items]
    conv_names = [it.name for it in frame.conv_items]
    code = frame.codebook.code(s["code_id"].iloc[0])
    turn_level = code.unit == "turn"
    mask = np.ones(len(frame.X), dtype=bool)
    if role is not None:
        mask = (frame.turns["role"] == role).to_numpy()
    in_s = np.zeros(frame.n_conversations, dtype=bool)
    in_s[s["conv"].to_numpy()] = True
    if code_level in ("ordinal", "interval"):
        cat, score = code_block(frame, code.id, "turn" if turn_level else "conversation")
        if turn_level:
            rows = np.flatnonzero((cat >= 0) & mask & in_s[frame.conv])
            conv_rows = frame.conv[rows]
        else:
            conv_rows = rows = np.flatnonzero((cat >= 0) & in_s)
        y = cat[rows] if code_level == "ordinal" else score[rows]
    elif item in names:
        k = names.index(item)
        rows = np.flatnonzero((frame.X[:, k] >= 0) & mask & in_s[frame.conv])
        conv_rows = frame.conv[rows]
        y = (frame.X[rows, k] == 1).astype(float)
    else:
        k = conv_names.index(item)
        conv_rows = rows = np.flatnonzero((frame.C[:, k] >= 0) & in_s)
        y = (frame.C[rows, k] == 1).astype(float)
    t = np.array([time_of[c] for c in conv_rows], dtype=float)
    td, _ = _time_design(t, shape, knots)
    cov, cterms = covariate_design(
        frame, covariates, users, conv_rows, rows if turn_level else None
    )
    rhs = " + ".join([*td.columns, *cterms])
    groups = nest.cluster[conv_rows]
    if code_level == "ordinal":
        X = pd.concat([td, cov], axis=1)
        return _models.clm(
            y, X, groups, formula=f"{item} (ordered) ~ {rhs}", clusters="users", level=level
        )
    X = pd.concat([pd.DataFrame({"Intercept": np.ones(len(y))}), td, cov], axis=1)
    fam = "gaussian" if code_level == "interval" else "binomial"
    return _models.gee(
        y, X, groups, formula=f"{item} ~ {rhs}", clusters="users", family=fam, level=level
    )


def _curve(
    fit: _models.Fit,
    s: pd.DataFrame,
    td: pd.DataFrame,
    knots: list[float] | None,
    shape: str,
    nest: Nesting,
    min_users: int,
    item: str,
    n_cols: int,
) -> pd.DataFrame:
    """The mixed model's fixed-effect curve at the observed time points (covariates at 0),
    with the number of users at or beyond each point; it stops where fewer than min_users
    users have a session at or after that time."""
    times = np.unique(s["time"].to_numpy(float))
    user = nest.cluster[s["conv"].to_numpy()]
    last = pd.Series(s["time"].to_numpy(float)).groupby(user).max()
    n_users = np.array([(last >= t).sum() for t in times])
    keep = n_users >= min_users
    times, n_users = times[keep], n_users[keep]
    grid, _ = _time_design(times, shape, knots)
    Xg = np.zeros((len(times), n_cols))
    Xg[:, 0] = 1.0
    Xg[:, 1 : 1 + grid.shape[1]] = grid.to_numpy()
    eta, se = fit.predict(Xg)
    from scipy import stats

    q = stats.t.ppf(0.5 + 0.95 / 2, max(fit.df, 1))
    return pd.DataFrame(
        {
            "item": item,
            "time": times,
            "fitted": eta,
            "ci_low": eta - q * se,
            "ci_high": eta + q * se,
            "n_users": n_users,
        }
    )
