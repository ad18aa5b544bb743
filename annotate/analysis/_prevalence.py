"""Prevalence: the share of turns and of conversations with each code (or each value).

For a turn-level item the share of **turns** is sum_c k_c / sum_c n_c over conversations c,
where k_c is the number of the conversation's turns with the item and n_c the number of its
turns coded for the item's code (a ratio estimator: conversations count in proportion to
their coded turns). The share of **conversations** is the share of conversations with at
least one such turn among those with a coded turn (the "any" aggregation of EmoClassifiers;
docs/methods.md). Conversation-level codes are shared over conversations.

Intervals resample the highest level present: **users** when the conversations carry a
user_id (a two-stage bootstrap: users, then their conversations), else **conversations**
(turns are nested in conversations and conversations in users, so resampling turns or
conversations alone would understate the uncertainty; Davison & Hinkley 1997, §3.8; Field &
Welsh 2007). They are BCa intervals by default (:mod:`annotate.analysis._intervals`). With
``by`` the groups are not held fixed: a replicate resamples users (or conversations) over the
whole data and each group's share is computed from the drawn ones.

With ``model=True`` each row also gets a model-based share: the intercept of a logistic GEE
(exchangeable within users, bias-reduced robust errors) on the coded units, expit(β₀), with
its t interval — the population-averaged share that weights clusters rather than units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.analysis import _models
from annotate.analysis._frame import LabelFrame, conv_sums, prepare, resolve_items
from annotate.analysis._groups import as_list, check_option, group_keys, strata
from annotate.analysis._intervals import (
    check_interval,
    few_positives,
    warn_few_clusters,
    warn_few_positives,
)
from annotate.analysis._intervals import interval as _interval
from annotate.analysis._nesting import Nesting, nesting_of

if TYPE_CHECKING:
    from annotate.codebook import Codebook
    from annotate.corpus import Corpus

UNITS = ("turn", "conversation")
COLUMNS = (
    "unit",
    "code_id",
    "value",
    "item",
    "code_level",
    "n_conversations",
    "n",
    "count",
    "share",
    "ci_low",
    "ci_high",
    "n_clusters",
    "positive_clusters",
    "few_positives",
    "resampled",
    "interval",
)
MODEL_COLUMNS = ("model_share", "model_ci_low", "model_ci_high", "model", "note")


def prevalence(
    labels: pd.DataFrame | LabelFrame,
    codebook: Codebook,
    *,
    corpus: Corpus | None = None,
    annotator: str | None = None,
    by: str | Sequence[str] | None = None,
    codes: Sequence[str] | None = None,
    unit: str | Sequence[str] = UNITS,
    bootstrap: int = 1000,
    level: float = 0.95,
    seed: int | None = None,
    nesting: str = "auto",
    interval: str = "bca",
    model: bool = False,
) -> pd.DataFrame:
    """Share of turns and of conversations with each code, with cluster-bootstrap CIs.

    Parameters
    ----------
    labels
        One coder's (or gold) unit labels, or a prepared LabelFrame.
    codebook
        The codebook the labels were coded with.
    corpus, annotator
        See :func:`annotate.analysis.prepare`.
    by
        ``None``, or one or more of ``"role"`` and conversation attributes: a conversation-level
        code id (e.g. the context code), ``model``, ``corpus``/``source``, ``user_id``, another
        conversations column, or a key of conversations.meta (``context``).
    codes
        Codes (``CODE``) or items (``CODE=VALUE``) to report; default all that were coded.
    unit
        ``"turn"``, ``"conversation"`` or both (default): what the share counts.
    bootstrap
        Number of bootstrap replicates (0: no intervals).
    level
        Confidence level of the intervals.
    seed
        Seed of the bootstrap (same seed, same intervals).
    nesting
        ``"auto"`` (users when conversations carry user_id, else conversations), ``"users"``
        or ``"conversations"``: what the bootstrap resamples.
    interval
        ``"bca"`` (default) or ``"percentile"``.
    model
        Add the model-based share of an intercept-only logistic GEE (see above).

    Returns
    -------
    pandas.DataFrame
        One row per (group, unit, item): the ``by`` columns, ``unit``, ``code_id``, ``value``
        (the present value for binary codes), ``item``, ``code_level``, ``n_conversations``
        (conversations with a coded unit), ``n`` (coded units), ``count`` (units with the
        item), ``share`` = count / n, ``ci_low``, ``ci_high``, ``n_clusters`` (users or
        conversations with a coded unit), ``positive_clusters`` (with a positive unit),
        ``few_positives`` (fewer than 10 positives or positives in fewer than 3 clusters;
        warning W452), ``resampled`` and ``interval``; with ``model=True`` also
        ``model_share``, ``model_ci_low``, ``model_ci_high``, ``model``, ``note``. For nominal
        and ordinal codes the shares of a code's values sum to 1 within a group and unit.
    """
    frame = prepare(labels, codebook, corpus=corpus, annotator=annotator)
    units = [unit] if isinstance(unit, str) else list(unit)
    for u in units:
        check_option("unit", u, UNITS)
    check_interval(interval)
    nest = nesting_of(frame, nesting)
    by_list = as_list(by)
    conv_by = [b for b in by_list if b != "role"]
    keys = group_keys(frame, conv_by)
    roles = _roles(frame) if "role" in by_list else [None]
    turn_sel = _selected(frame, codes, "turn")
    conv_sel = _selected(frame, codes, "conversation")
    rng = np.random.default_rng(seed)
    W = nest.weights(bootstrap, rng).astype(np.float32)
    ctx = {"nest": nest, "W": W, "level": level, "method": interval}
    rows: list[pd.DataFrame] = []
    sums = {}
    for role in roles:
        mask = None if role is None else (frame.turns["role"] == role).to_numpy()
        num, den = conv_sums(frame, mask)
        sums[role] = (num[:, turn_sel], den[:, turn_sel])
    for key, members in strata(keys):
        inside = np.zeros(frame.n_conversations, dtype=bool)
        inside[members] = True
        for role in roles:
            num, den = sums[role]
            items = [frame.items[k] for k in turn_sel]
            parts = []
            if "turn" in units:
                parts.append(_rows(num, den, inside, ctx, items, "turn"))
            if "conversation" in units:
                anyn, anyd = (num > 0).astype(float), (den > 0).astype(float)
                parts.append(_rows(anyn, anyd, inside, ctx, items, "conversation"))
            for part in parts:
                _label(part, by_list, conv_by, key, role)
            rows.extend(parts)
        if "conversation" in units and conv_sel:
            C = frame.C[:, conv_sel]
            part = _rows(
                (C == 1).astype(float),
                (C >= 0).astype(float),
                inside,
                ctx,
                [frame.conv_items[k] for k in conv_sel],
                "conversation",
            )
            _label(part, by_list, conv_by, key, None)
            rows.append(part)
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=COLUMNS)
    out = out[out["n"] > 0].reset_index(drop=True)
    out["resampled"] = nest.label
    out["interval"] = interval if bootstrap else "none"
    if bootstrap and len(out):
        warn_few_clusters("prevalence", nest, int(out["n_clusters"].min()))
    warn_few_positives("prevalence", out.loc[out["few_positives"], "item"].tolist(), nest.level)
    columns = [*by_list, *COLUMNS]
    if model and len(out):
        out = _model_shares(frame, out, by_list, conv_by, keys, nest, level)
        columns += list(MODEL_COLUMNS)
    return out[columns]


def _roles(frame: LabelFrame) -> list[str]:
    present = set(frame.turns["role"].dropna().tolist())
    order = ["user", "assistant", "system", "tool"]
    return [r for r in order if r in present] + sorted(present - set(order))


def _selected(frame: LabelFrame, codes: Sequence[str] | None, unit: str) -> list[int]:
    if codes is None:
        return resolve_items(frame, None, unit)
    items = frame.items if unit == "turn" else frame.conv_items
    names = {it.code_id for it in items} | {it.name for it in items}
    mine = [c for c in codes if c in names]
    other = frame.conv_items if unit == "turn" else frame.items
    other_names = {it.code_id for it in other} | {it.name for it in other}
    unknown = [c for c in codes if c not in names and c not in other_names]
    if unknown:
        resolve_items(frame, unknown, unit)  # raises E457 listing what exists
    return resolve_items(frame, mine, unit) if mine else []


def _rows(
    num: np.ndarray,
    den: np.ndarray,
    inside: np.ndarray,
    ctx: dict,
    items: list[Any],
    unit: str,
) -> pd.DataFrame:
    nest: Nesting = ctx["nest"]
    W = ctx["W"]
    m = inside.astype(float)[:, None]
    num, den = num * m, den * m
    count, n = num.sum(axis=0), den.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, count / np.where(n > 0, n, 1), np.nan)
        if W.shape[0]:
            reps = (W @ num.astype(np.float32)).astype(float) / (W @ den.astype(np.float32)).astype(
                float
            )
            jack = nest.jackknife(num) / nest.jackknife(den)
            lo, hi = _interval(share, reps, jack, ctx["level"], ctx["method"])
        else:
            lo = hi = np.full(len(items), np.nan)
    clusters_coded = (nest.cluster_sums(den) > 0).sum(axis=0)
    clusters_pos = (nest.cluster_sums(num) > 0).sum(axis=0)
    return pd.DataFrame(
        {
            "unit": unit,
            "code_id": [it.code_id for it in items],
            "value": [it.value for it in items],
            "item": [it.name for it in items],
            "code_level": [it.level for it in items],
            "n_conversations": (den > 0).sum(axis=0).astype(int),
            "n": n.astype(int),
            "count": count.astype(int),
            "share": share,
            "ci_low": lo,
            "ci_high": hi,
            "n_clusters": clusters_coded.astype(int),
            "positive_clusters": clusters_pos.astype(int),
            "few_positives": few_positives(count, clusters_pos),
        }
    )


def _model_shares(
    frame: LabelFrame,
    out: pd.DataFrame,
    by_list: list[str],
    conv_by: list[str],
    keys: np.ndarray,
    nest: Nesting,
    level: float,
) -> pd.DataFrame:
    """Intercept-only logistic GEE per row: expit(b0) with its interval."""
    shares, lows, highs, models, notes = [], [], [], [], []
    key_of = {k: np.array([x == k for x in keys.tolist()]) for k in set(keys.tolist()) if k}
    turn_names = [it.name for it in frame.items]
    conv_names = [it.name for it in frame.conv_items]
    for r in out.to_dict("records"):
        key = tuple(r[b] for b in conv_by) if conv_by else "all"
        inside = key_of.get(key, np.zeros(frame.n_conversations, dtype=bool))
        role = r.get("role") if "role" in by_list else None
        if r["item"] in turn_names and not (
            r["unit"] == "conversation" and r["item"] in conv_names
        ):
            k = turn_names.index(r["item"])
            ok = (frame.X[:, k] >= 0) & inside[frame.conv]
            if role is not None:
                ok &= (frame.turns["role"] == role).to_numpy()
            if r["unit"] == "turn":
                rows = np.flatnonzero(ok)
                y, conv_rows = (frame.X[rows, k] == 1).astype(float), frame.conv[rows]
            else:
                n_c = frame.n_conversations
                pos = np.bincount(frame.conv[ok], weights=frame.X[ok, k] == 1, minlength=n_c)
                coded = np.bincount(frame.conv[ok], minlength=n_c) > 0
                conv_rows = np.flatnonzero(coded)
                y = (pos[conv_rows] > 0).astype(float)
        else:
            k = conv_names.index(r["item"])
            conv_rows = np.flatnonzero((frame.C[:, k] >= 0) & inside)
            y = (frame.C[conv_rows, k] == 1).astype(float)
        X = pd.DataFrame({"Intercept": np.ones(len(y))})
        fit = _models.gee(
            y,
            X,
            nest.cluster[conv_rows],
            formula=f"{r['item']} ~ 1",
            clusters=nest.level,
            level=level,
        )
        t = fit.term("Intercept")
        shares.append(_expit(t["estimate"]))
        lows.append(_expit(t["ci_low"]))
        highs.append(_expit(t["ci_high"]))
        models.append(fit.model)
        notes.append(fit.note)
    out = out.copy()
    out["model_share"] = shares
    out["model_ci_low"] = lows
    out["model_ci_high"] = highs
    out["model"] = models
    out["note"] = notes
    return out


def _expit(v: float) -> float:
    return float(1 / (1 + np.exp(-v))) if np.isfinite(v) else float("nan")


def _label(part: pd.DataFrame, by_list: list[str], conv_by: list[str], key: Any, role: Any) -> None:
    values = dict(zip(conv_by, key if conv_by else (), strict=False))
    for name in by_list:
        part[name] = role if name == "role" else values.get(name)
