"""Trajectories: codes by position within a conversation, and across a user's sessions.

**Within a conversation** (codebook-research.md §b.5) each user/assistant turn gets the
normalised position p = s / (S - 1), s = its 0-based position among the conversation's S
user and assistant turns (p = 0 when S = 1), and the bin min(floor(p B), B - 1) of B equal
bins (quintiles by default). The share of coded turns with each item per bin is a ratio
estimator with a conversation-bootstrap percentile interval, as in
:func:`annotate.analysis.prevalence`. ``start_vs_end`` gives the last-bin minus first-bin
difference with an interval from the same replicates (the pairing by conversation is kept).

**Across sessions** (§b.6) each conversation of a user is a session; sessions are numbered
1, 2, ... by ``started_at`` per ``user_id`` (all the user's conversations in the corpus count,
coded or not). A session's value for an item is the share of its coded turns with the item
(or, for a binary conversation-level code, 0/1). Per user the trend is the ordinary
least-squares slope of that value on the session index (users with at least
``min_sessions`` coded sessions); the overall trend is the mean of the user slopes with a
percentile bootstrap interval that resamples users (each user one cluster; a two-stage
"slopes as outcomes" summary, cf. Singer & Willett 2003, ch. 3). The average trajectory is
the mean over users at each session index, with a bootstrap over users.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from annotate.analysis._frame import LabelFrame, prepare, resolve_items
from annotate.analysis._groups import check_option
from annotate.analysis._stats import bootstrap_weights, percentile_interval
from annotate.errors import AnalysisError, Errors

if TYPE_CHECKING:
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
) -> pd.DataFrame:
    """Share of turns with each item by normalised position bin (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        ``role`` (None when ``by_role`` is False), ``code_id``, ``value``, ``item``, ``bin``
        (1..bins), ``position`` (bin label, e.g. "0–20%"), ``n``, ``count``, ``share``,
        ``ci_low``, ``ci_high``.
    """
    if bins < 1:
        raise AnalysisError(Errors.E460.format(option="bins", value=bins, problem="must be >= 1"))
    frame = prepare(labels, codebook, corpus=corpus, annotator=annotator)
    reps = _position_reps(frame, codes, bins, by_role, bootstrap, level, seed)
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
) -> pd.DataFrame:
    """Share in the last position bin minus the first, with a conversation-bootstrap interval.

    Returns
    -------
    pandas.DataFrame
        ``role``, ``code_id``, ``value``, ``item``, ``share_start``, ``share_end``,
        ``difference``, ``ci_low``, ``ci_high``, ``n_start``, ``n_end``.
    """
    frame = prepare(labels, codebook, corpus=corpus, annotator=annotator)
    return _position_reps(frame, codes, bins, by_role, bootstrap, level, seed)[1]


def _position_reps(
    frame: LabelFrame,
    codes: Sequence[str] | None,
    bins: int,
    by_role: bool,
    bootstrap: int,
    level: float,
    seed: int | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    sel = resolve_items(frame, codes, "turn")
    b = _bins(frame, bins)
    conv = frame.conv
    rng = np.random.default_rng(seed)
    weights = bootstrap_weights(frame.n_conversations, bootstrap, rng)
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
            with np.errstate(invalid="ignore", divide="ignore"):
                r = wn / wd
            lo, hi = percentile_interval(r, level)
            dlo, dhi = percentile_interval(r[:, -1, :] - r[:, 0, :], level)
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
    if len(t):
        t = t[t["n"] > 0].sort_values(["role", "item", "bin"], kind="stable").reset_index(drop=True)
        e = e[(e["n_start"] > 0) | (e["n_end"] > 0)].reset_index(drop=True)
    return t, e


@dataclass(frozen=True)
class SessionTrends:
    """Tables of :func:`session_trajectories`."""

    #: user_id, session, conversation_id, item, code_id, n, count, share
    sessions: pd.DataFrame
    #: item, code_id, session, n_users, mean, ci_low, ci_high
    average: pd.DataFrame
    #: user_id, item, code_id, n_sessions, slope
    slopes: pd.DataFrame
    #: item, code_id, n_users, mean_slope, ci_low, ci_high
    trend: pd.DataFrame


def session_index(conversations: pd.DataFrame) -> pd.DataFrame:
    """conversation_id, user_id, session (1-based by started_at per user; ties by id)."""
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
    return c.reset_index(drop=True)


def session_trajectories(
    labels: pd.DataFrame | LabelFrame,
    codebook: Codebook,
    *,
    corpus: Corpus,
    annotator: str | None = None,
    codes: Sequence[str] | None = None,
    role: str | None = None,
    min_sessions: int = 3,
    bootstrap: int = 1000,
    level: float = 0.95,
    seed: int | None = None,
) -> SessionTrends:
    """How items change from session to session per user (see the module docstring).

    Parameters
    ----------
    corpus
        Required: its conversations supply ``user_id`` and ``started_at``.
    codes
        Codes or items (default all coded turn items and binary conversation codes).
    role
        Only turns of this role count (e.g. ``"user"`` for disclosure); default all.
    min_sessions
        Users need at least this many coded sessions for a slope (>= 2).
    """
    check_option("min_sessions>=2", min_sessions >= 2, (True,))
    frame = prepare(labels, codebook, corpus=corpus, annotator=annotator)
    index = session_index((frame.corpus if frame.corpus is not None else corpus).conversations)
    sessions = _session_values(frame, codes, role).merge(index, on="conversation_id")
    sessions = sessions[
        ["user_id", "session", "conversation_id", "item", "code_id", "n", "count", "share"]
    ].sort_values(["item", "user_id", "session"], kind="stable")
    sessions = sessions.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    average = _average(sessions, bootstrap, level, rng)
    slopes = _slopes(sessions, min_sessions)
    trend = _trend(slopes, bootstrap, level, rng)
    return SessionTrends(sessions, average, slopes, trend)


def _session_values(
    frame: LabelFrame, codes: Sequence[str] | None, role: str | None
) -> pd.DataFrame:
    from annotate.analysis._frame import conv_sums

    mask = None if role is None else (frame.turns["role"] == role).to_numpy()
    num, den = conv_sums(frame, mask)
    sel = (
        resolve_items(frame, None, "turn")
        if codes is None
        else [k for k, it in enumerate(frame.items) if it.code_id in codes or it.name in codes]
    )
    parts = []
    ids = frame.conversations["conversation_id"].to_numpy()
    for k in sel:
        ok = den[:, k] > 0
        parts.append(
            pd.DataFrame(
                {
                    "conversation_id": ids[ok],
                    "item": frame.items[k].name,
                    "code_id": frame.items[k].code_id,
                    "n": den[ok, k].astype(int),
                    "count": num[ok, k].astype(int),
                    "share": num[ok, k] / den[ok, k],
                }
            )
        )
    for k, it in enumerate(frame.conv_items):
        if it.level != "binary" or (codes is not None and it.code_id not in codes):
            continue
        ok = frame.C[:, k] >= 0
        val = (frame.C[ok, k] == 1).astype(int)
        parts.append(
            pd.DataFrame(
                {
                    "conversation_id": ids[ok],
                    "item": it.name,
                    "code_id": it.code_id,
                    "n": 1,
                    "count": val,
                    "share": val.astype(float),
                }
            )
        )
    if not parts:
        raise AnalysisError(Errors.E461.format(unit="turn", detail=" for session trajectories"))
    return pd.concat(parts, ignore_index=True)


def _average(
    sessions: pd.DataFrame, bootstrap: int, level: float, rng: np.random.Generator
) -> pd.DataFrame:
    """Mean over users at each session index; one bootstrap over users shared by all items."""
    cols = ["item", "code_id", "session", "n_users", "mean", "ci_low", "ci_high"]
    if sessions.empty:
        return pd.DataFrame(columns=cols)
    user, users = pd.factorize(sessions["user_id"])
    n_users, n_sess = len(users), int(sessions["session"].max())
    weights = bootstrap_weights(n_users, bootstrap, rng).astype(float)
    rows = []
    for (item, code_id), g in sessions.groupby(["item", "code_id"], sort=False):
        flat = user[g.index.to_numpy()] * n_sess + g["session"].to_numpy() - 1
        size = n_users * n_sess
        total = np.bincount(flat, weights=g["share"].to_numpy(), minlength=size)
        count = np.bincount(flat, minlength=size).astype(float)
        have = (count > 0).reshape(n_users, n_sess).astype(float)
        value = np.where(count > 0, total / np.maximum(count, 1), 0.0).reshape(n_users, n_sess)
        n = have.sum(axis=0)
        mean = np.where(n > 0, value.sum(axis=0) / np.maximum(n, 1), np.nan)
        if bootstrap:
            with np.errstate(invalid="ignore", divide="ignore"):
                reps = (weights @ value) / (weights @ have)
            lo, hi = percentile_interval(reps, level)
        else:
            lo = hi = np.full(n_sess, np.nan)
        ok = n > 0
        rows.append(
            pd.DataFrame(
                {
                    "item": item,
                    "code_id": code_id,
                    "session": np.arange(1, n_sess + 1)[ok],
                    "n_users": n[ok].astype(int),
                    "mean": mean[ok],
                    "ci_low": lo[ok],
                    "ci_high": hi[ok],
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _slopes(sessions: pd.DataFrame, min_sessions: int) -> pd.DataFrame:
    """OLS slope of share on session per user: sum((x - x̄)(y - ȳ)) / sum((x - x̄)^2)."""
    g = sessions.groupby(["item", "code_id", "user_id"], sort=False)
    x, y = sessions["session"].astype(float), sessions["share"]
    xm, ym = g["session"].transform("mean"), g["share"].transform("mean")
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
    slopes: pd.DataFrame, bootstrap: int, level: float, rng: np.random.Generator
) -> pd.DataFrame:
    rows = []
    for (item, code_id), g in slopes.groupby(["item", "code_id"], sort=False):
        s = g["slope"].to_numpy()
        w = bootstrap_weights(len(s), bootstrap, rng).astype(float)
        reps = (w @ s) / w.sum(axis=1) if bootstrap else np.array([])
        lo, hi = percentile_interval(reps[:, None], level) if bootstrap else ([np.nan], [np.nan])
        rows.append(
            {
                "item": item,
                "code_id": code_id,
                "n_users": len(s),
                "mean_slope": float(s.mean()),
                "ci_low": float(lo[0]),
                "ci_high": float(hi[0]),
            }
        )
    cols = ["item", "code_id", "n_users", "mean_slope", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=cols)
