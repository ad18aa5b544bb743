"""Estimates from LLM labels corrected by a human-coded subsample, with valid intervals.

An LLM coder labels the whole corpus; humans code a subsample of conversations drawn with known
probabilities. Treating the model's labels as true labels gives a biased share and an interval
that is valid for the wrong number, even at 80-90 % accuracy (Egami et al. 2023; Angelopoulos
et al. 2023). The **prediction-powered** estimate uses both: the model's share over the corpus,
corrected by the model's error measured where humans coded,

    θ̂(λ) = λ · Σ_c F_c / Σ_c m_c  +  Σ_c w_c (Y_c − λ F_c) / Σ_c w_c m_c

per code (or value) and group, where for conversation c: ``m_c`` = the units the model coded
(turns of the code's role, or 1 for a conversation-level share), ``F_c`` = the model's count of
units with the item, ``Y_c`` = the humans' count (the mean over the conversation's human coders,
each of whom coded all of its ``m_c`` units), and ``w_c = R_c / π_c`` with ``R_c`` = 1 when the
conversation is in the human sample and ``π_c`` its inclusion probability (Horvitz & Thompson
1952; the ratio form of Hájek 1971, so equal probabilities need not be known). λ = 0 is the
humans-only estimate, λ = 1 classical PPI (Angelopoulos, Bates, Fannjiang, Jordan & Zrnic 2023,
*Science* 382), and the default is the **power-tuned** λ of PPI++ (Angelopoulos, Duchi & Zrnic
2023, arXiv:2311.01453), which minimises the estimated variance and is clipped to [0, 1], so
the corrected interval is never wider than the humans-only one by more than sampling noise. The
weighting by known inclusion probabilities is the design-based correction of DSL (Egami, Hinck,
Stewart & Wei 2023, NeurIPS), which stays unbiased whatever the model's errors.

**Variance.** Each estimate is a smooth function of sums over conversations; its linearisation
(influence function) per conversation is summed within the top-level cluster (users when the
conversations carry a ``user_id``, else conversations; :mod:`annotate.analysis._nesting`) and
the variance is the cluster-robust sum of squares (CR1: ``G/(G−1) Σ_g ψ_g²``; for the
estimates that use the human sample, ``G`` counts the clusters with human-coded conversations).
Human coding is treated as Poisson sampling of conversations, which is conservative for a fixed
sample size. With the power-tuned λ the variance is

    Var = (1/N²) Σ_g (U_g + λ V_g)²,   λ = −Σ U_g V_g / Σ V_g²

with ``U`` the humans-only influence and ``V`` the change λ makes (the model's part over the
corpus minus its part over the human sample). The interval is ``θ̂ ± t_{n_h−1} · se`` with
``n_h`` the human-coded clusters. Shown beside it: the **naive** LLM-only share (the model's
labels taken as true, interval ``t_{G−1}``) and the **humans-only** share (interval
``t_{n_h−1}``). ``docs/llm.md`` ("Corrected estimates") reports the coverage measured by
simulation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.analysis._frame import LabelFrame, conv_sums, prepare
from annotate.analysis._groups import as_list, check_option, group_keys, strata
from annotate.analysis._intervals import warn, warn_few_clusters
from annotate.analysis._nesting import MIN_CLUSTERS, Nesting, nesting_of
from annotate.analysis._prevalence import _selected
from annotate.errors import AnalysisError, Errors, Warnings
from annotate.types import GOLD_ID

if TYPE_CHECKING:
    from annotate.codebook import Codebook
    from annotate.corpus import Corpus

UNITS = ("turn", "conversation")
ESTIMATES = ("naive", "human", "corrected")
COLUMNS = (
    "unit",
    "code_id",
    "value",
    "item",
    "code_level",
    "n_conversations",
    "n_units",
    "n_human_conversations",
    "n_clusters",
    "n_human_clusters",
    "naive_share",
    "naive_ci_low",
    "naive_ci_high",
    "human_share",
    "human_ci_low",
    "human_ci_high",
    "corrected_share",
    "corrected_ci_low",
    "corrected_ci_high",
    "corrected_se",
    "lambda",
    "llm_bias",
    "variance_ratio",
    "var_human_part",
    "var_corpus_part",
    "resampled",
    "note",
)


# --- the estimator on per-conversation sums --------------------------------------------------


@dataclass
class Estimates:
    """The three estimates of one item in one group, and their per-conversation influence.

    Arrays are per conversation of the frame (zero outside the group); each is the
    conversation's contribution to the estimate's error, already divided by the number of
    conversations, so the variance of any difference of estimates is the cluster-robust sum of
    squares of the difference of their cluster sums.
    """

    naive: float
    human: float
    corrected: float
    lam: float
    inf_naive: np.ndarray
    inf_human: np.ndarray
    inf_corrected: np.ndarray
    inf_corpus_part: np.ndarray  #: λ × the model's part over the corpus
    n_conversations: int
    n_units: float
    n_human: int


def ppi_estimates(
    F: np.ndarray,
    M: np.ndarray,
    Y: np.ndarray,
    w: np.ndarray,
    *,
    lam: float | str = "tuned",
    cluster: np.ndarray | None = None,
) -> Estimates:
    """Naive, humans-only and prediction-powered shares of one item (module docstring).

    Parameters
    ----------
    F, M : ndarray (n_conversations,)
        The model's count of units with the item, and of units coded, per conversation (only
        conversations of the group with ``M > 0`` count).
    Y : ndarray
        The humans' count per conversation (any value where ``w == 0``).
    w : ndarray
        ``R_c / π_c``: 0 outside the human sample, the inverse inclusion probability inside.
    lam : "tuned" or float
        The power-tuning λ (PPI++), or a fixed value (0: humans only, 1: PPI).
    cluster : ndarray of int, optional
        The top-level cluster of each conversation (for the tuning of λ; default: each
        conversation its own).
    """
    F, M, Y, w = (np.asarray(a, dtype=float) for a in (F, M, Y, w))
    inside = M > 0
    w = np.where(inside, w, 0.0)
    Y = np.where(w > 0, Y, 0.0)
    n = int(inside.sum())
    nan = float("nan")
    zero = np.zeros_like(F)
    if n == 0:
        return Estimates(nan, nan, nan, nan, zero, zero, zero, zero, 0, 0.0, 0)
    m_bar = M[inside].sum() / n
    A = F[inside].sum() / M[inside].sum()
    t1 = np.where(inside, (F - A * M) / m_bar, 0.0)
    n_h = int((w > 0).sum())
    swm = float((w * M).sum())
    if n_h == 0 or swm <= 0:
        return Estimates(A, nan, nan, nan, t1 / n, zero, zero, zero, n, float(M.sum()), 0)
    mw_bar = swm / n
    dY = float((w * Y).sum()) / swm
    dF = float((w * F).sum()) / swm
    u = w * (Y - dY * M) / mw_bar
    v = t1 - w * (F - dF * M) / mw_bar
    if lam == "tuned":
        cl = np.arange(len(F)) if cluster is None else np.asarray(cluster)
        U = np.bincount(cl, weights=u)
        V = np.bincount(cl, weights=v)
        vv = float(V @ V)
        lam_v = float(np.clip(-(U @ V) / vv, 0.0, 1.0)) if vv > 0 else 0.0
    else:
        lam_v = float(lam)
    theta = lam_v * A + dY - lam_v * dF
    return Estimates(
        naive=float(A),
        human=dY,
        corrected=float(theta),
        lam=lam_v,
        inf_naive=t1 / n,
        inf_human=u / n,
        inf_corrected=(u + lam_v * v) / n,
        inf_corpus_part=lam_v * t1 / n,
        n_conversations=n,
        n_units=float(M[inside].sum()),
        n_human=n_h,
    )


def cluster_variance(inf: np.ndarray, cluster: np.ndarray, n_clusters: int) -> float:
    """CR1 variance of an estimate from its per-conversation influence: G/(G−1) Σ_g ψ_g²,
    with ``G = n_clusters``; NaN with fewer than two clusters."""
    if n_clusters < 2:
        return float("nan")
    s = np.bincount(np.asarray(cluster), weights=np.asarray(inf, dtype=float))
    return float(n_clusters / (n_clusters - 1) * (s @ s))


def _t(level: float, df: int) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom."""
    from scipy.special import stdtrit

    return float(stdtrit(df, 0.5 + level / 2)) if df >= 1 else float("nan")


def _p_value(estimate: float, se: float, df: int) -> float:
    from scipy.special import stdtr

    if not (se > 0 and df >= 1 and math.isfinite(estimate)):
        return float("nan")
    return float(2 * stdtr(df, -abs(estimate) / se))


# --- labels -> per-conversation sums ---------------------------------------------------------


@dataclass
class _Data:
    frame: LabelFrame
    nest: Nesting
    items: list[Any]  # Item per column
    units: list[str]  # "turn" / "conversation" per column
    F: np.ndarray  # (n_conv, n_cols)
    M: np.ndarray
    Y: np.ndarray
    R: np.ndarray  # bool: complete human coding
    pi: np.ndarray  # (n_conv,) inclusion probability (nan: not in the design)


def _coders(labels: pd.DataFrame, llm: str, humans: Sequence[str] | None) -> list[str]:
    present = sorted(str(a) for a in pd.unique(labels["annotator_id"].dropna()))
    if llm not in present:
        raise AnalysisError(Errors.E451.format(annotator=llm, available=", ".join(present)))
    if humans is None:
        chosen = [a for a in present if a not in (llm, GOLD_ID)]
    else:
        chosen = [str(h) for h in ([humans] if isinstance(humans, str) else humans)]
        unknown = [h for h in chosen if h not in present]
        if unknown:
            raise AnalysisError(
                Errors.E451.format(annotator=unknown[0], available=", ".join(present))
            )
    if not chosen or llm in chosen:
        raise AnalysisError(
            Errors.E460.format(
                option="humans",
                value=humans,
                problem="name the human coders (or gold) whose labels check the model's, "
                "other than the LLM coder itself",
            )
        )
    return chosen


def _unit_sums(
    frame: LabelFrame, sel_turn: list[int], sel_conv: list[int], unit: str, role: str | None
) -> tuple[np.ndarray, np.ndarray, list[Any], list[str]]:
    """Per conversation: units with the item and units coded (columns: turn items, then
    conversation items when ``unit == 'conversation'``)."""
    mask = None if role is None else (frame.turns["role"] == role).to_numpy()
    num, den = conv_sums(frame, mask)
    num, den = num[:, sel_turn], den[:, sel_turn]
    items = [frame.items[k] for k in sel_turn]
    if unit == "conversation":
        num, den = (num > 0).astype(float), (den > 0).astype(float)
        if sel_conv:
            C = frame.C[:, sel_conv]
            num = np.hstack([num, (C == 1).astype(float)])
            den = np.hstack([den, (C >= 0).astype(float)])
            items += [frame.conv_items[k] for k in sel_conv]
    return num, den, items, [unit] * len(items)


def _probabilities(probabilities: Any, conv_ids: np.ndarray) -> np.ndarray:
    n = len(conv_ids)
    if probabilities is None:
        return np.ones(n)
    if isinstance(probabilities, int | float) and not isinstance(probabilities, bool):
        p = float(probabilities)
        if not 0 < p <= 1:
            raise AnalysisError(
                Errors.E460.format(
                    option="probabilities", value=probabilities, problem="use a number in (0, 1]"
                )
            )
        return np.full(n, p)
    if isinstance(probabilities, pd.Series | Mapping):
        mapping = {str(k): v for k, v in dict(probabilities).items()}
        try:
            values = np.array([float(mapping.get(str(c), np.nan)) for c in conv_ids])
        except (TypeError, ValueError):
            bad = next(v for v in mapping.values() if not isinstance(v, int | float))
            raise AnalysisError(
                Errors.E460.format(
                    option="probabilities", value=bad, problem="probabilities must be numbers"
                )
            ) from None
        given = np.array(list(mapping.values()), dtype=float) if mapping else np.array([])
        if len(given) and (~np.isfinite(given) | (given <= 0) | (given > 1)).any():
            bad = given[~np.isfinite(given) | (given <= 0) | (given > 1)][0]
            raise AnalysisError(
                Errors.E460.format(
                    option="probabilities",
                    value=float(bad),
                    problem="every inclusion probability must be in (0, 1]",
                )
            )
        return values
    raise AnalysisError(
        Errors.E460.format(
            option="probabilities",
            value=type(probabilities).__name__,
            problem="give None (equal probabilities), a number, or a mapping conversation_id "
            "-> inclusion probability of the human sample",
        )
    )


def _prepare(
    labels: pd.DataFrame,
    codebook: Codebook,
    *,
    llm: str,
    humans: Sequence[str] | None,
    corpus: Corpus | None,
    codes: Sequence[str] | None,
    unit: str,
    role: str | None,
    probabilities: Any,
    nesting: str,
) -> _Data:
    check_option("unit", unit, UNITS)
    if role is not None:
        check_option("role", role, ("user", "assistant"))
    human_ids = _coders(labels, llm, humans)
    frame = prepare(labels, codebook, corpus=corpus, annotator=llm)
    nest = nesting_of(frame, nesting)
    sel_turn = _selected(frame, codes, "turn")
    sel_conv = _selected(frame, codes, "conversation") if unit == "conversation" else []
    F, M, items, units = _unit_sums(frame, sel_turn, sel_conv, unit, role)
    conv_ids = frame.conversations["conversation_id"].astype(str).to_numpy(dtype=object)
    row_of = {c: i for i, c in enumerate(conv_ids)}
    names = [it.name for it in items]
    Ysum = np.zeros_like(F)
    Ycount = np.zeros_like(F)
    partial = np.zeros_like(F, dtype=bool)
    outside: set[str] = set()
    for h in human_ids:
        hf = prepare(labels, codebook, corpus=corpus, annotator=h)
        h_turn = [k for k, it in enumerate(hf.items) if it.name in names]
        h_conv = [k for k, it in enumerate(hf.conv_items) if it.name in names]
        hn, hd, h_items, _ = _unit_sums(
            hf, h_turn, h_conv if unit == "conversation" else [], unit, role
        )
        cols = np.array([names.index(it.name) for it in h_items], dtype=np.int64)
        h_ids = hf.conversations["conversation_id"].astype(str).tolist()
        rows = np.array([row_of.get(c, -1) for c in h_ids], dtype=np.int64)
        outside.update(c for c, r in zip(h_ids, rows, strict=True) if r < 0)
        ok = rows >= 0
        if not ok.any() or not len(cols):
            continue
        num = np.zeros((ok.sum(), len(names)))
        den = np.zeros((ok.sum(), len(names)))
        num[:, cols] = hn[ok]
        den[:, cols] = hd[ok]
        r = rows[ok]
        complete = (den == M[r]) & (M[r] > 0)
        partial[r] |= (den > 0) & ~complete
        Ysum[r] += np.where(complete, num, 0.0)
        Ycount[r] += complete
    R = Ycount > 0
    Y = np.where(R, Ysum / np.maximum(Ycount, 1), 0.0)
    pi = _probabilities(probabilities, conv_ids)
    _warn_design(R, partial & ~R, pi, probabilities, conv_ids, names, outside)
    return _Data(frame, nest, items, units, F, M, Y, R, pi)


def _warn_design(R, partial, pi, probabilities, conv_ids, names, outside) -> None:  # type: ignore[no-untyped-def]
    problems = []
    if partial.any():
        rows, cols = np.nonzero(partial)
        problems.append(
            f"{len(set(rows.tolist()))} conversation(s) have human labels on some but not all of "
            f"the units the LLM coded (e.g. {conv_ids[rows[0]]}, {names[cols[0]]}); they are "
            "left out of the human sample for those items: finish coding them"
        )
    if outside:
        problems.append(
            f"{len(outside)} human-coded conversation(s) have no LLM labels (e.g. "
            f"{sorted(outside)[0]}) and are left out: run the LLM coder on them too"
        )
    if isinstance(probabilities, pd.Series | Mapping):
        coded = R.any(axis=1)
        undesigned = coded & ~np.isfinite(pi)
        if undesigned.any():
            problems.append(
                f"{int(undesigned.sum())} human-coded conversation(s) have no inclusion "
                f"probability (e.g. {conv_ids[np.flatnonzero(undesigned)[0]]}); they were not "
                "drawn by the design and are left out"
            )
        missing = np.isfinite(pi) & ~coded
        if missing.any():
            problems.append(
                f"{int(missing.sum())} conversation(s) drawn for human coding have no complete "
                f"human labels (e.g. {conv_ids[np.flatnonzero(missing)[0]]}): nonresponse the "
                "weights do not correct"
            )
    for problem in problems:
        warn(Warnings.W455.format(analysis="corrected estimate", problem=problem))


# --- public functions ------------------------------------------------------------------------


def corrected_prevalence(
    labels: pd.DataFrame,
    codebook: Codebook,
    *,
    llm: str,
    humans: Sequence[str] | str | None = None,
    corpus: Corpus | None = None,
    probabilities: Any = None,
    by: str | Sequence[str] | None = None,
    codes: Sequence[str] | None = None,
    unit: str = "turn",
    role: str | None = None,
    lam: float | str = "tuned",
    level: float = 0.95,
    nesting: str = "auto",
) -> pd.DataFrame:
    """The share of units with each code, from an LLM coder's labels on the whole corpus
    corrected by a human-coded subsample (PPI++), beside the naive and humans-only shares.

    Parameters
    ----------
    labels
        Unit labels (``Project.unit_labels()``) holding the LLM coder's labels on every
        conversation of the corpus (or of the frame the estimate is for) and the human labels
        of the subsample.
    codebook
        The codebook of the labels.
    llm
        The LLM coder's id.
    humans
        The human coders (or ``"gold"``) whose labels check the model's; default everyone but
        the LLM coder and ``gold``. Where several coded a conversation, their counts are
        averaged (the estimand is the share an average coder would find).
    corpus
        The corpus (users for the nesting, conversation attributes for ``by``).
    probabilities
        How the human-coded conversations were drawn: None or a number (equal probabilities:
        a simple random sample of the conversations); or a mapping ``conversation_id ->``
        inclusion probability of every conversation drawn for human coding (e.g. a stratified
        sample; :func:`sample_probabilities` reads a project's). The estimate is valid only
        when the human-coded conversations are such a sample.
    by
        Conversation attributes to group by (as in :func:`annotate.analysis.prevalence`).
    codes
        Codes (``CODE``) or items (``CODE=VALUE``); default every item the model coded.
    unit
        ``"turn"`` (share of turns) or ``"conversation"`` (share of conversations with the
        item; conversation-level codes join in).
    role
        Only turns of this role.
    lam
        ``"tuned"`` (PPI++, default), or a fixed λ in [0, 1] (1: PPI; 0: humans only).
    level
        Confidence level.
    nesting
        ``"auto"`` (users when conversations carry user_id), ``"users"``, ``"conversations"``.

    Returns
    -------
    DataFrame
        One row per (group, item): the ``by`` columns, then :data:`COLUMNS`:
        ``naive_*`` (the model's labels taken as true), ``human_*`` (the human sample alone),
        ``corrected_*`` (PPI++), ``lambda``, ``llm_bias`` (the model's share minus the humans'
        on the human sample), ``variance_ratio`` (humans-only variance / corrected variance:
        how many times more human coding the correction is worth), ``var_human_part`` and
        ``var_corpus_part`` (the corrected variance split into the part that shrinks with more
        human coding and the part that shrinks with a larger corpus; the planner uses them).
    """
    if not 0 < level < 1:
        raise AnalysisError(Errors.E460.format(option="level", value=level, problem="use 0-1"))
    if lam != "tuned" and not (isinstance(lam, int | float) and 0 <= float(lam) <= 1):
        problem = "use 'tuned' or a number from 0 to 1"
        raise AnalysisError(Errors.E460.format(option="lam", value=lam, problem=problem))
    data = _prepare(
        labels,
        codebook,
        llm=llm,
        humans=humans,
        corpus=corpus,
        codes=codes,
        unit=unit,
        role=role,
        probabilities=probabilities,
        nesting=nesting,
    )
    by_list = as_list(by)
    keys = group_keys(data.frame, by_list)
    rows = []
    for key, members in strata(keys):
        inside = np.zeros(data.frame.n_conversations, dtype=bool)
        inside[members] = True
        for j, item in enumerate(data.items):
            est = _item_estimates(data, j, inside, lam)
            row = _row(est, data, j, inside, level)
            row.update(dict(zip(by_list, key if by_list else (), strict=False)))
            row.update(
                {
                    "unit": data.units[j],
                    "code_id": item.code_id,
                    "value": item.value,
                    "item": item.name,
                    "code_level": item.level,
                }
            )
            rows.append(row)
    out = pd.DataFrame(rows, columns=[*by_list, *COLUMNS])
    out = out[out["n_units"] > 0].reset_index(drop=True)
    if len(out):
        warn_few_clusters("corrected estimate", data.nest, int(out["n_human_clusters"].min()))
    return out


def _item_estimates(data: _Data, j: int, inside: np.ndarray, lam: float | str) -> Estimates:
    R = data.R[:, j] & inside & np.isfinite(data.pi)
    w = np.where(R, 1.0 / np.where(np.isfinite(data.pi), data.pi, 1.0), 0.0)
    M = np.where(inside, data.M[:, j], 0.0)
    return ppi_estimates(data.F[:, j], M, data.Y[:, j], w, lam=lam, cluster=data.nest.cluster)


def _clusters(nest: Nesting, rows: np.ndarray) -> int:
    return len(np.unique(nest.cluster[rows])) if rows.any() else 0


def _row(est: Estimates, data: _Data, j: int, inside: np.ndarray, level: float) -> dict:
    nest = data.nest
    coded = inside & (data.M[:, j] > 0)
    G = _clusters(nest, coded)
    human_rows = coded & data.R[:, j] & np.isfinite(data.pi)
    G_h = _clusters(nest, human_rows)
    cl = nest.cluster
    out: dict[str, Any] = {
        "n_conversations": est.n_conversations,
        "n_units": int(est.n_units),
        "n_human_conversations": est.n_human,
        "n_clusters": G,
        "n_human_clusters": G_h,
        "lambda": est.lam,
        "llm_bias": float("nan"),
        "resampled": f"{nest.level} (cluster-robust linearisation)",
        "note": None,
    }
    for name, value, inf, g in (
        ("naive", est.naive, est.inf_naive, G),
        ("human", est.human, est.inf_human, G_h),
        ("corrected", est.corrected, est.inf_corrected, G_h),
    ):
        var = cluster_variance(inf, cl, g)
        half = _t(level, g - 1) * math.sqrt(var) if var == var else float("nan")
        out[f"{name}_share"] = value
        out[f"{name}_ci_low"] = value - half
        out[f"{name}_ci_high"] = value + half
        out[f"{name}_var"] = var
    out["corrected_se"] = (
        math.sqrt(out["corrected_var"])
        if out["corrected_var"] == out["corrected_var"]
        else float("nan")
    )
    hv, cv = out.pop("human_var"), out.pop("corrected_var")
    out.pop("naive_var")
    out["variance_ratio"] = hv / cv if cv and cv == cv and cv > 0 else float("nan")
    corpus = cluster_variance(est.inf_corpus_part, cl, G_h) if G_h >= 2 else float("nan")
    out["var_corpus_part"] = corpus
    out["var_human_part"] = cv - corpus if cv == cv else float("nan")
    if est.n_human:
        w_rows = human_rows
        F, M, Y = data.F[w_rows, j], data.M[w_rows, j], data.Y[w_rows, j]
        wt = 1.0 / data.pi[w_rows]
        out["llm_bias"] = float((wt * F).sum() / (wt * M).sum() - (wt * Y).sum() / (wt * M).sum())
    if est.n_human == 0:
        out["note"] = "no human-coded conversation: only the naive share"
    elif G_h < 2:
        out["note"] = "fewer than two human-coded clusters: no interval"
    elif G_h < MIN_CLUSTERS:
        out["note"] = f"{G_h} human-coded {nest.level}: approximate interval"
    return out


def corrected_compare_groups(
    labels: pd.DataFrame,
    codebook: Codebook,
    *,
    llm: str,
    by: str,
    humans: Sequence[str] | str | None = None,
    groups: Sequence[str] | None = None,
    reference: str | None = None,
    corpus: Corpus | None = None,
    probabilities: Any = None,
    codes: Sequence[str] | None = None,
    unit: str = "turn",
    role: str | None = None,
    lam: float | str = "tuned",
    level: float = 0.95,
    nesting: str = "auto",
) -> pd.DataFrame:
    """Differences of shares between groups of conversations, naive, humans-only and
    corrected (PPI++), each with its interval and p-value.

    Each group's share is estimated as in :func:`corrected_prevalence` (with its own λ); the
    difference of a group and the reference has the cluster-robust variance of the difference
    of their influence functions, so a user with conversations in both groups is accounted for.

    Parameters
    ----------
    by, groups, reference
        As in :func:`annotate.analysis.compare_groups`: a conversation attribute, the groups to
        compare (default every value), the reference group (default the first).
    labels, codebook, llm, humans, corpus, probabilities, codes, unit, role, lam, level, nesting
        As in :func:`corrected_prevalence`.

    Returns
    -------
    DataFrame
        One row per (item, group other than the reference): ``by``, ``group_1``, ``group_2``
        (the reference), ``unit``, ``code_id``, ``value``, ``item``, ``code_level``, and for each
        of ``naive``, ``human``, ``corrected``: ``*_share_1``, ``*_share_2``, ``*_difference``,
        ``*_ci_low``, ``*_ci_high``, ``*_p``; then ``lambda_1``, ``lambda_2``,
        ``n_human_1``, ``n_human_2``, ``n_human_clusters``, ``resampled``.
    """
    data = _prepare(
        labels,
        codebook,
        llm=llm,
        humans=humans,
        corpus=corpus,
        codes=codes,
        unit=unit,
        role=role,
        probabilities=probabilities,
        nesting=nesting,
    )
    values = group_keys(data.frame, [by])
    present = sorted({v[0] for v in values.tolist() if v is not None}, key=str)
    chosen = [str(g) for g in groups] if groups is not None else present
    if len(chosen) < 2 or any(g not in present for g in chosen):
        problem = f"groups present: {', '.join(map(str, present)) or 'none'}; compare two or more"
        raise AnalysisError(Errors.E460.format(option="groups", value=groups, problem=problem))
    ref = reference if reference is not None else chosen[0]
    if ref not in chosen:
        raise AnalysisError(
            Errors.E460.format(option="reference", value=reference, problem=f"use one of {chosen}")
        )
    member = {g: np.array([v is not None and v[0] == g for v in values.tolist()]) for g in chosen}
    cl = data.nest.cluster
    rows = []
    for j, item in enumerate(data.items):
        est = {g: _item_estimates(data, j, member[g], lam) for g in chosen}
        for g in chosen:
            if g == ref:
                continue
            both = (member[g] | member[ref]) & (data.M[:, j] > 0)
            G = _clusters(data.nest, both)
            G_h = _clusters(data.nest, both & data.R[:, j] & np.isfinite(data.pi))
            row: dict[str, Any] = {
                by: g,
                "group_1": g,
                "group_2": ref,
                "unit": data.units[j],
                "code_id": item.code_id,
                "value": item.value,
                "item": item.name,
                "code_level": item.level,
            }
            a, b = est[g], est[ref]
            for name, k in (("naive", G), ("human", G_h), ("corrected", G_h)):
                d = getattr(a, name) - getattr(b, name)
                var = cluster_variance(getattr(a, f"inf_{name}") - getattr(b, f"inf_{name}"), cl, k)
                se = math.sqrt(var) if var == var else float("nan")
                half = _t(level, k - 1) * se
                row |= {
                    f"{name}_share_1": getattr(a, name),
                    f"{name}_share_2": getattr(b, name),
                    f"{name}_difference": d,
                    f"{name}_ci_low": d - half,
                    f"{name}_ci_high": d + half,
                    f"{name}_p": _p_value(d, se, k - 1),
                }
            row |= {
                "lambda_1": a.lam,
                "lambda_2": b.lam,
                "n_human_1": a.n_human,
                "n_human_2": b.n_human,
                "n_clusters": G,
                "n_human_clusters": G_h,
                "resampled": f"{data.nest.level} (cluster-robust linearisation)",
            }
            rows.append(row)
    out = pd.DataFrame(rows)
    if len(out):
        warn_few_clusters("corrected comparison", data.nest, int(out["n_human_clusters"].min()))
    return out


def sample_probabilities(project: Any, conversations: Sequence[str] | None = None) -> pd.Series:
    """Inclusion probabilities of a project's conversations, from its sampling record.

    A project created with ``sample=`` (and ``stratify=``) records, per stratum, the share of
    the sampling frame it drew (``project.sampling``); this gives that share for each of its
    conversations (1 when the project codes its whole corpus). Use it as ``probabilities=`` of
    :func:`corrected_prevalence` when the humans coded the project's conversations and the LLM
    coder the whole frame.

    Parameters
    ----------
    project : Project
    conversations : list of str, optional
        The conversations (default: every conversation of the plan).

    Returns
    -------
    Series
        conversation_id -> inclusion probability (NaN for a conversation outside the design,
        e.g. one added by id).
    """
    from annotate.project._sample import strata as sample_strata

    ids = (
        [str(c) for c in conversations]
        if conversations is not None
        else sorted(set(project.assignments["conversation_id"].astype(str)))
    )
    index = pd.Index(ids, name="conversation_id")
    sampling = project.sampling
    if not sampling:
        return pd.Series(1.0, index=index, name="probability")
    prob = {str(s["stratum"]): float(s["inclusion_probability"]) for s in sampling["strata"]}
    convs = project.corpus.conversations
    convs = convs[convs["conversation_id"].astype(str).isin(set(ids))]
    stratum = dict(
        zip(
            convs["conversation_id"].astype(str),
            sample_strata(convs, sampling.get("stratify")),
            strict=True,
        )
    )
    values = [prob.get(str(stratum.get(c)), np.nan) for c in ids]
    return pd.Series(values, index=index, name="probability", dtype=float)
