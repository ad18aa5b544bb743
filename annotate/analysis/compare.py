"""Comparisons between two or more groups of conversations (models, personas, contexts, ...).

**Descriptive.** For a binary item (a binary code, or one value of a nominal or set code) p_k
is group k's share of coded turns (or conversations) with the item, as in
:func:`annotate.analysis.prevalence`. Each group is compared with a reference group:
risk difference p_k − p_ref, odds ratio (p_k/(1 − p_k)) / (p_ref/(1 − p_ref)), Cohen's h
= 2 asin √p_k − 2 asin √p_ref (Cohen 1988, §6.2; |h| = 0.2 small, 0.5 medium, 0.8 large).
Ordinal and interval codes are compared as **scores** (mean rating per group and the
difference of means), not as one indicator per value. Intervals come from a bootstrap that
resamples the highest level present (users, two-stage, else conversations; the groups are not
held fixed, so a user who appears in two groups is resampled in both at once), BCa by default.

**Model-based.** Binary items: a logistic GEE ``item ~ C(by, reference) + covariates``
(exchangeable within users, bias-reduced robust errors; :mod:`annotate.analysis._models`) on
the turns (``unit="turn"``) or conversations; the odds ratio of each group against the
reference with its interval, and a joint Wald test that all groups are equal (``p_overall``).
Ordinal codes: a cumulative-link model with cluster-robust errors (proportional odds ratios).
The p-values are the model's; ``p_adjusted`` corrects them across the rows of the call (Holm by
default), ``family=`` across calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.analysis import _models
from annotate.analysis._design import code_block, covariate_design, indicator_columns
from annotate.analysis._frame import LabelFrame, conv_sums, prepare, resolve_items
from annotate.analysis._groups import check_option, conversation_groups
from annotate.analysis._intervals import (
    check_interval,
    few_positives,
    warn,
    warn_few_clusters,
    warn_few_positives,
)
from annotate.analysis._intervals import interval as _interval
from annotate.analysis._nesting import nesting_of
from annotate.analysis._stats import cohen_h, p_adjust
from annotate.errors import AnalysisError, Errors, Warnings

if TYPE_CHECKING:
    from annotate.analysis._family import Family
    from annotate.codebook import Codebook
    from annotate.corpus import Corpus

CORRECTIONS = ("holm", "bh", "none")
SCORED = ("ordinal", "interval")


def compare_groups(
    labels: pd.DataFrame | LabelFrame,
    codebook: Codebook,
    *,
    by: str,
    groups: Sequence[str] | None = None,
    reference: str | None = None,
    missing: str | None = None,
    corpus: Corpus | None = None,
    annotator: str | None = None,
    codes: Sequence[str] | None = None,
    unit: str = "turn",
    role: str | None = None,
    covariates: Sequence[str] = (),
    users: pd.DataFrame | None = None,
    model: bool = True,
    nesting: str = "auto",
    bootstrap: int = 1000,
    interval: str = "bca",
    level: float = 0.95,
    seed: int | None = None,
    correction: str = "holm",
    family: Family | None = None,
) -> pd.DataFrame:
    """Compare items between groups of conversations, descriptively and with a model.

    Parameters
    ----------
    by
        A conversation attribute (as in :func:`annotate.analysis.prevalence`): ``model``, a
        conversation-level code, a conversations column or a meta key such as ``persona``.
    groups
        The values of ``by`` to compare (two or more); default every value present.
    reference
        The group the others are compared with; default the first of ``groups`` (or the
        first value in sorted order).
    missing
        A label for conversations without a value of ``by`` (e.g. ``"no persona"``), making
        them a group; default None leaves them out.
    unit
        ``"turn"`` (share of coded turns; turn-level codes) or ``"conversation"`` (share of
        conversations with the item; conversation-level codes join in).
    role
        Only turns of this role (turn-level items).
    covariates
        Adjustments of the model (``position``, ``session``, ``days``, conversation
        attributes, columns of ``users``); see :mod:`annotate.analysis._design`.
    users
        A table with one row per ``user_id`` and user-level (survey) variables.
    model
        Fit the model-based estimates (GEE / cumulative-link); False: descriptive only.
    nesting
        ``"auto"`` (users when conversations carry user_id), ``"users"`` or
        ``"conversations"``: what the intervals resample and the models cluster on.
    bootstrap, interval, level, seed
        Replicates, ``"bca"`` or ``"percentile"``, confidence level, seed.
    correction
        Adjustment of the model p-values across the rows: ``holm``, ``bh`` or ``none``.
    family
        A :class:`~annotate.analysis.Family` the tests join (adjusted across calls).

    Returns
    -------
    pandas.DataFrame
        One row per (item, group other than the reference): ``by``, ``group_1`` (the group),
        ``group_2`` (the reference), ``unit``, ``code_id``, ``value``, ``item``,
        ``code_level``, ``n_1``, ``n_2`` (coded units), ``count_1``, ``count_2``,
        ``share_1``, ``share_2``, ``risk_difference`` (+ ``rd_ci_low/high``), ``odds_ratio``
        (+ ``or_ci_low/high``), ``cohen_h`` (+ ``h_ci_low/high``); for ordinal codes
        ``mean_1``, ``mean_2``, ``mean_difference`` (+ ``md_ci_low/high``); ``few_positives``;
        the model's ``model_odds_ratio`` (+ ``model_ci_low/high``), ``p_value``,
        ``p_overall``, ``p_adjusted``; what was fitted (``model``, ``formula``,
        ``model_family``, ``clusters``, ``model_n``, ``model_n_clusters``, ``note``) and
        resampled (``resampled``, ``n_clusters``, ``interval``).
    """
    check_option("unit", unit, ("turn", "conversation"))
    check_option("correction", correction, CORRECTIONS)
    check_interval(interval)
    frame = prepare(labels, codebook, corpus=corpus, annotator=annotator)
    nest = nesting_of(frame, nesting)
    values = conversation_groups(frame, by)
    if missing is not None:
        values = np.array([missing if v is None else v for v in values.tolist()], dtype=object)
    present = sorted({v for v in values.tolist() if v is not None}, key=str)
    chosen = [str(g) for g in groups] if groups is not None else present
    if len(chosen) < 2 or any(g not in present for g in chosen):
        raise AnalysisError(Errors.E459.format(by=by, found=", ".join(present) or "(none)"))
    ref = reference if reference is not None else chosen[0]
    if ref not in chosen:
        raise AnalysisError(
            Errors.E460.format(
                option="reference", value=ref, problem=f"use one of {', '.join(chosen)}"
            )
        )
    others = [g for g in chosen if g != ref]
    member = {g: values == g for g in chosen}
    in_any = np.any(np.vstack([member[g] for g in chosen]), axis=0)
    mask = None if role is None else (frame.turns["role"] == role).to_numpy()
    bin_items, num, den = _binary_outcomes(frame, codes, unit, mask)
    score_codes = _score_codes(frame, codes, unit)
    rng = np.random.default_rng(seed)
    W = nest.weights(bootstrap, rng)
    rows: list[dict[str, Any]] = []
    flagged: list[str] = []
    ctx = _Ctx(frame, nest, W, member, ref, others, level, interval, by, unit)
    if bin_items:
        rows += _binary_rows(ctx, bin_items, num, den, flagged)
    for code_id in score_codes:
        rows += _score_rows(ctx, code_id, mask)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    used = np.flatnonzero(in_any)
    per_group = {g: nest.subset(np.flatnonzero(ctx.member[g])) for g in chosen}
    smallest = min(chosen, key=lambda g: per_group[g])
    warn_few_clusters(
        f"compare_groups (smallest group: {by}={smallest!r})", nest, per_group[smallest]
    )
    out["n_clusters_1"] = out["group_1"].map(per_group)
    out["n_clusters_2"] = out["group_2"].map(per_group)
    warn_few_positives("compare_groups", flagged, nest.level)
    if model:
        fits = _models_for(ctx, out, mask, covariates, users, in_any)
        out = _attach(out, fits)
    else:
        out["p_value"] = np.nan
    out["p_adjusted"] = p_adjust(out["p_value"].to_numpy(dtype=float), correction)
    out["correction"] = correction
    out["resampled"] = nest.label
    out["n_clusters"] = nest.subset(used)
    out["interval"] = interval if bootstrap else "none"
    out["test_label"] = [
        f"{by}: {r.item} {r.group_1} vs {r.group_2} ({r.unit})" for r in out.itertuples()
    ]
    if family is not None:
        out = family.add("compare_groups", out)
    return out


class _Ctx:
    """What the row builders share."""

    def __init__(  # one bundle instead of ten arguments per helper
        self,
        frame: LabelFrame,
        nest: Any,
        W: np.ndarray,
        member: dict[str, np.ndarray],
        ref: str,
        others: list[str],
        level: float,
        method: str,
        by: str,
        unit: str,
    ) -> None:
        self.frame, self.nest, self.W = frame, nest, W
        self.member, self.ref, self.others = member, ref, others
        self.level, self.method, self.by, self.unit = level, method, by, unit

    def stat(self, a: np.ndarray, b: np.ndarray, g: str) -> tuple[np.ndarray, ...]:
        """(estimate, replicates, jackknife) of sum(a)/sum(b) over group g's conversations."""
        m = self.member[g].astype(float)[:, None]
        a, b = a * m, b * m
        with np.errstate(invalid="ignore", divide="ignore"):
            est = a.sum(0) / b.sum(0)
            reps = (self.W @ a) / (self.W @ b) if len(self.W) else np.empty((0, a.shape[1]))
            jack = self.nest.jackknife(a) / self.nest.jackknife(b)
        return est, reps, jack

    def ci(self, est: np.ndarray, reps: np.ndarray, jack: np.ndarray) -> tuple:
        return _interval(est, reps, jack, self.level, self.method)


def _binary_outcomes(
    frame: LabelFrame, codes: Sequence[str] | None, unit: str, mask: np.ndarray | None
) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Binary items (not values of ordinal/interval codes) and their per-conversation sums."""
    sel = [k for k in _resolve(frame, codes, "turn") if frame.items[k].level not in SCORED]
    num, den = conv_sums(frame, mask)
    num, den = num[:, sel], den[:, sel]
    items = [frame.items[k] for k in sel]
    if unit == "conversation":
        num, den = (num > 0).astype(float), (den > 0).astype(float)
        csel = [
            k
            for k in _resolve(frame, codes, "conversation")
            if frame.conv_items[k].level not in SCORED
        ]
        C = frame.C[:, csel]
        num = np.hstack([num, (C == 1).astype(float)])
        den = np.hstack([den, (C >= 0).astype(float)])
        items += [frame.conv_items[k] for k in csel]
    return items, num, den


def _resolve(frame: LabelFrame, codes: Sequence[str] | None, unit: str) -> list[int]:
    if codes is None:
        return resolve_items(frame, None, unit)
    pool = frame.items if unit == "turn" else frame.conv_items
    names = {it.code_id for it in pool} | {it.name for it in pool}
    everything = frame.items + frame.conv_items
    known = {it.code_id for it in everything} | {it.name for it in everything}
    unknown = [c for c in codes if c not in known]
    if unknown:
        resolve_items(frame, unknown, unit)  # raises E457 with the available names
    return resolve_items(frame, [c for c in codes if c in names], unit)


def _score_codes(frame: LabelFrame, codes: Sequence[str] | None, unit: str) -> list[str]:
    pools = [frame.items] + ([frame.conv_items] if unit == "conversation" else [])
    found: list[str] = []
    for pool in pools:
        for it in pool:
            if it.level in SCORED and it.code_id not in found:
                if codes is None or it.code_id in codes:
                    found.append(it.code_id)
    return found


def _binary_rows(
    ctx: _Ctx, items: list[Any], num: np.ndarray, den: np.ndarray, flagged: list[str]
) -> list[dict[str, Any]]:
    frame, nest = ctx.frame, ctx.nest
    ref_est, ref_reps, ref_jack = ctx.stat(num, den, ctx.ref)
    pos_clusters = {
        g: (nest.cluster_sums(num * ctx.member[g][:, None]) > 0).sum(axis=0)
        for g in [ctx.ref, *ctx.others]
    }
    counts = {g: (num * ctx.member[g][:, None]).sum(0) for g in [ctx.ref, *ctx.others]}
    ns = {g: (den * ctx.member[g][:, None]).sum(0) for g in [ctx.ref, *ctx.others]}
    rows = []
    for g in ctx.others:
        est, reps, jack = ctx.stat(num, den, g)
        stats = {
            "rd": (est - ref_est, reps - ref_reps, jack - ref_jack),
            "or": (_or(est, ref_est), _or(reps, ref_reps), _or(jack, ref_jack)),
            "h": (cohen_h(est, ref_est), cohen_h(reps, ref_reps), cohen_h(jack, ref_jack)),
        }
        cis = {k: ctx.ci(*v) for k, v in stats.items()}
        few = few_positives(counts[g], pos_clusters[g]) | few_positives(
            counts[ctx.ref], pos_clusters[ctx.ref]
        )
        for j, it in enumerate(items):
            if ns[g][j] == 0 or ns[ctx.ref][j] == 0:
                continue
            if few[j]:
                flagged.append(it.name)
            rows.append(
                {
                    "by": ctx.by,
                    "group_1": g,
                    "group_2": ctx.ref,
                    "unit": ctx.unit,
                    "code_id": it.code_id,
                    "value": it.value,
                    "item": it.name,
                    "code_level": it.level,
                    "n_1": int(ns[g][j]),
                    "n_2": int(ns[ctx.ref][j]),
                    "count_1": int(counts[g][j]),
                    "count_2": int(counts[ctx.ref][j]),
                    "share_1": est[j],
                    "share_2": ref_est[j],
                    "risk_difference": stats["rd"][0][j],
                    "rd_ci_low": cis["rd"][0][j],
                    "rd_ci_high": cis["rd"][1][j],
                    "odds_ratio": stats["or"][0][j],
                    "or_ci_low": cis["or"][0][j],
                    "or_ci_high": cis["or"][1][j],
                    "cohen_h": stats["h"][0][j],
                    "h_ci_low": cis["h"][0][j],
                    "h_ci_high": cis["h"][1][j],
                    "few_positives": bool(few[j]),
                    "_index": j,
                }
            )
    del frame
    return rows


def _score_rows(ctx: _Ctx, code_id: str, mask: np.ndarray | None) -> list[dict[str, Any]]:
    """Mean score per group and the difference of means, for one ordinal/interval code."""
    frame = ctx.frame
    code = frame.codebook.code(code_id)
    turn_level = code.unit == "turn"
    _, score = code_block(frame, code_id, "turn" if turn_level else "conversation")
    n_conv = frame.n_conversations
    if turn_level:
        ok = np.isfinite(score) & (mask if mask is not None else True)
        ssum = np.bincount(frame.conv[ok], weights=score[ok], minlength=n_conv)
        scount = np.bincount(frame.conv[ok], minlength=n_conv).astype(float)
    else:
        ok = np.isfinite(score)
        ssum, scount = np.where(ok, score, 0.0), ok.astype(float)
    a, b = ssum[:, None], scount[:, None]
    ref_est, ref_reps, ref_jack = ctx.stat(a, b, ctx.ref)
    rows = []
    for g in ctx.others:
        est, reps, jack = ctx.stat(a, b, g)
        lo, hi = ctx.ci(est - ref_est, reps - ref_reps, jack - ref_jack)
        n1 = float((b[:, 0] * ctx.member[g]).sum())
        n2 = float((b[:, 0] * ctx.member[ctx.ref]).sum())
        if n1 == 0 or n2 == 0:
            continue
        rows.append(
            {
                "by": ctx.by,
                "group_1": g,
                "group_2": ctx.ref,
                "unit": "turn" if turn_level else "conversation",
                "code_id": code_id,
                "value": None,
                "item": code_id,
                "code_level": code.level,
                "n_1": int(n1),
                "n_2": int(n2),
                "mean_1": est[0],
                "mean_2": ref_est[0],
                "mean_difference": est[0] - ref_est[0],
                "md_ci_low": lo[0],
                "md_ci_high": hi[0],
                "few_positives": False,
            }
        )
    return rows


def _or(p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    p1, p2 = np.asarray(p1, dtype=float), np.asarray(p2, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (p1 / (1 - p1)) / (p2 / (1 - p2))


def _models_for(
    ctx: _Ctx,
    out: pd.DataFrame,
    mask: np.ndarray | None,
    covariates: Sequence[str],
    users: pd.DataFrame | None,
    in_any: np.ndarray,
) -> dict[str, _models.Fit]:
    """One model per item (binary: GEE; ordinal/interval: cumulative-link)."""
    frame, nest = ctx.frame, ctx.nest
    group_of = np.full(frame.n_conversations, None, dtype=object)
    for g, m in ctx.member.items():
        group_of[m] = g
    levels = [ctx.ref, *ctx.others]
    fits: dict[str, _models.Fit] = {}
    problems: list[str] = []
    for item in dict.fromkeys(out["item"]):
        sub = out[out["item"] == item].iloc[0]
        y, conv_rows, turn_rows = _model_rows(frame, sub, mask)
        keep = in_any[conv_rows]
        y, conv_rows = y[keep], conv_rows[keep]
        turn_rows = turn_rows[keep] if turn_rows is not None else None
        dummies, _ = indicator_columns(group_of[conv_rows], ctx.by, ctx.ref, levels)
        cov, terms = covariate_design(frame, covariates, users, conv_rows, turn_rows)
        rhs = [f"C({ctx.by}, reference={ctx.ref!r})", *terms]
        lhs = item if sub["code_level"] not in SCORED else f"{item} (ordered)"
        formula = f"{lhs} ~ " + " + ".join(rhs)
        groups = nest.cluster[conv_rows]
        if sub["code_level"] in SCORED:
            X = pd.concat([dummies, cov], axis=1)
            fit = _models.clm(y, X, groups, formula=formula, clusters=nest.level, level=ctx.level)
        else:
            X = pd.concat([pd.DataFrame({"Intercept": np.ones(len(y))}), dummies, cov], axis=1)
            fit = _models.gee(y, X, groups, formula=formula, clusters=nest.level, level=ctx.level)
        if fit.note:
            problems.append(f"{item}: {fit.note}")
        fits[item] = fit
    if problems:
        warn(
            Warnings.W453.format(
                analysis="compare_groups",
                model="the model of",
                problem="; ".join(problems[:3]) + (" ..." if len(problems) > 3 else ""),
                what="its estimates are missing or unreliable",
            )
        )
    return fits


def _model_rows(
    frame: LabelFrame, sub: pd.Series, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(outcome, conversation row, turn row or None) of the model's rows for one item."""
    code = frame.codebook.code(sub["code_id"])
    if sub["code_level"] in SCORED:
        unit = "turn" if code.unit == "turn" else "conversation"
        cat, _ = code_block(frame, code.id, unit)
        if unit == "turn":
            ok = (cat >= 0) & (mask if mask is not None else True)
            rows = np.flatnonzero(ok)
            return cat[rows].astype(float), frame.conv[rows], rows
        rows = np.flatnonzero(cat >= 0)
        return cat[rows].astype(float), rows, None
    name = sub["item"]
    if code.unit == "conversation":
        k = [it.name for it in frame.conv_items].index(name)
        rows = np.flatnonzero(frame.C[:, k] >= 0)
        return (frame.C[rows, k] == 1).astype(float), rows, None
    k = [it.name for it in frame.items].index(name)
    ok = frame.X[:, k] >= 0
    if mask is not None:
        ok &= mask
    if sub["unit"] == "conversation":
        num, den = conv_sums(frame, mask)
        rows = np.flatnonzero(den[:, k] > 0)
        return (num[rows, k] > 0).astype(float), rows, None
    rows = np.flatnonzero(ok)
    return (frame.X[rows, k] == 1).astype(float), frame.conv[rows], rows


def _attach(out: pd.DataFrame, fits: dict[str, _models.Fit]) -> pd.DataFrame:
    est: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    p: list[float] = []
    overall: list[float] = []
    meta: list[dict[str, Any]] = []
    for r in out.itertuples():
        fit = fits[r.item]
        term = f"{r.by}[{r.group_1}]"
        t = fit.term(term) if term in set(fit.terms["term"]) else None
        if t is None:
            for column in (est, lo, hi, p):
                column.append(np.nan)
        else:
            est.append(np.exp(t["estimate"]))
            lo.append(np.exp(t["ci_low"]))
            hi.append(np.exp(t["ci_high"]))
            p.append(t["p_value"])
        names = [n for n in fit.terms["term"] if n.startswith(f"{r.by}[")]
        overall.append(fit.wald(names)[1] if names else np.nan)
        meta.append(fit.fields())
    out = out.copy()
    out["model_odds_ratio"] = est
    out["model_ci_low"] = lo
    out["model_ci_high"] = hi
    out["p_value"] = p
    out["p_overall"] = overall
    return pd.concat([out, pd.DataFrame(meta, index=out.index)], axis=1).drop(
        columns=["_index"], errors="ignore"
    )
