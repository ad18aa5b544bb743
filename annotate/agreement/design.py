"""Agreement on an enriched reliability sample, and how many values a code needs.

**Enriched samples.** When the reliability sample over-represents conversations that a
pre-score flags (cue matches, an LLM coder's labels, a metadata column), rare codes get
enough positives, but the sample no longer mirrors the project: its alpha describes the
*enriched mix*. :func:`design_report` reports both:

* ``sample_alpha``: Krippendorff's alpha of the reliability data as drawn (the same number as
  :func:`annotate.agreement.report`); it describes coding in a population with the sample's
  share of flagged conversations;
* ``design_alpha``: the design-weighted estimate of the alpha one would get by coding every
  conversation of the project twice. Each conversation's pairable values enter the
  coincidence matrix with weight ``1 / inclusion probability`` (rescaled so that the weighted
  values add up to the sample's number of pairable values: an equal-probability design gives
  exactly ``sample_alpha``); alpha is then computed from the weighted coincidences as usual.
  This is the plug-in (ratio) estimator that survey software uses for kappa under a sampling
  design -- kappa from the design-weighted cell
  proportions (Lin, Kim, Williamson & Lesser 2012, *Survey Methodology* 38(1), 63-72; R's
  ``survey::svykappa``; SAS PROC SURVEYFREQ) -- applied to alpha's coincidences. Its
  interval is a *stratified* conversation bootstrap (conversations resampled with replacement
  within each stratum, weights kept), the replication approach of those tools.

What the weighting does and does not correct: it removes the bias that the over-sampling
by stratum puts into the estimate (inclusion probabilities are known and recorded); it does
not create information -- a rare code's positives in the under-sampled stratum stay few, so
its design interval stays wide; the estimate is consistent, not unbiased (a ratio); turns of
one conversation are dependent, which the conversation bootstrap respects but the
Krippendorff ``n - 1`` small-sample factor (here ``n`` is a weighted total) does not address;
and the pre-score must be fixed before the coding (never the coders' own labels), or the
design is not ignorable.

**Planning.** :func:`plan_sample` tells, per code, whether the reliability data have enough
values of the code's rarest value for alpha to be assessable against a minimum
``alpha_min``. We could read Krippendorff's (2004/2019) table of minimum sample sizes only
through a secondary source (the ATLAS.ti manual, which says it follows Bloch & Kraemer's
1989 formula and quotes two of its values), not the formula itself, so the planner does not
use it. It simulates instead (:func:`simulate_alpha`): reliability data with the sample's own
design (units and coders per unit) and value distribution, from the usual latent-class model
of agreement (each coder reports the unit's true value with probability ``sqrt(alpha)``, else
a value drawn from the distribution, which gives a population alpha of ``alpha``).
``critical_alpha`` is the observed alpha that would be significant evidence of alpha above
``alpha_min`` (the upper ``level`` quantile of alpha when the coders are exactly at
``alpha_min``). A code is **assessable** when coders who agreed perfectly would reach it (in
80 % of samples): the minimum the data must allow, in the spirit of Krippendorff's minimum
sample sizes -- with too few values of the rare value, even perfect agreement proves nothing.
``power`` is the chance to reach it when the coders are at ``alpha_expected`` (default halfway
between ``alpha_min`` and 1), and ``rare_values_needed`` the number of values of the rarest
value at which the same design (scaled up) becomes assessable. Units are simulated as
independent (turns of one conversation are not), so the planner is optimistic for heavily
clustered codes.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from annotate.agreement._build import POOLED, RowData, build_rows, check_columns, prepare
from annotate.agreement._build import select_codes as _select
from annotate.agreement._matrix import value_counts
from annotate.agreement._row import delta_of
from annotate.agreement.bootstrap import _alphas, cluster_coincidences
from annotate.codebook import Codebook
from annotate.errors import AgreementError, Errors

DESIGN_COLUMNS = (
    "code_id", "unit", "role", "level", "n_units", "n_conversations", "rare_value",
    "rare_values", "sample_prevalence", "design_prevalence", "sample_alpha", "sample_low",
    "sample_high", "design_alpha", "design_low", "design_high", "reason",
)  # fmt: skip
PLAN_COLUMNS = (
    "code_id", "unit", "role", "n_units", "coders_per_unit", "rare_value", "rare_values",
    "prevalence", "alpha_min", "alpha_expected", "critical_alpha", "power", "assessable",
    "rare_values_needed", "reason",
)  # fmt: skip


def _rows(
    labels: pd.DataFrame, codebook: Codebook, codes: Any, unit: str | None, role: str | None
) -> list[RowData]:
    check_columns(labels)
    p = prepare(labels, codebook)
    chosen = _select(codebook, codes, unit, role)
    return [r for r in build_rows(p, chosen, role) if r.role != POOLED]


def _rare(counts: np.ndarray, domain: tuple[Any, ...]) -> tuple[Any, int]:
    """The least frequent value among the pairable values (used ones only) and its count."""
    totals = counts[counts.sum(axis=1) >= 2].sum(axis=0)
    used = np.flatnonzero(totals > 0)
    if len(used) < 2:  # no variation: no rare value
        return None, 0
    k = used[np.argmin(totals[used])]
    return domain[k], int(totals[k])


def design_report(
    labels: pd.DataFrame,
    codebook: Codebook,
    weights: pd.DataFrame,
    *,
    codes: Any = None,
    unit: str | None = None,
    role: str | None = None,
    bootstrap: int = 0,
    seed: int | None = None,
    positive: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Alpha of an enriched reliability sample as drawn and weighted by its design.

    Parameters
    ----------
    labels : DataFrame
        Unit labels (``Project.unit_labels()``).
    codebook : Codebook
    weights : DataFrame
        ``conversation_id``, ``weight`` (1 / inclusion probability) and ``stratum`` of every
        reliability conversation (``Project.reliability_weights()``).
    codes, unit, role
        Which rows, as for :func:`annotate.agreement.report` (rows pooled over roles are left
        out: each role's row has its own design).
    bootstrap : int
        Resamples of the stratified conversation bootstrap (0: no intervals).
    seed : int, optional
    positive : dict, optional
        Code id -> the value counted for the prevalence columns (default: a binary code's
        present value; other codes have no prevalence).

    Returns
    -------
    DataFrame
        ``DESIGN_COLUMNS``; undefined values are NaN with the reason.

    Raises
    ------
    AgreementError
        E420 when a pairable unit lies in a conversation without an inclusion probability.
    """
    w = weights.drop_duplicates("conversation_id").set_index("conversation_id")
    out = []
    rng_seed = np.random.SeedSequence(seed)
    for row in _rows(labels, codebook, codes, unit, role):
        out.append(_design_row(row, w, bootstrap, rng_seed, positive or {}))
    return pd.DataFrame(out, columns=list(DESIGN_COLUMNS))


def _design_row(
    row: RowData, w: pd.DataFrame, n_boot: int, seed: Any, positive: dict[str, str]
) -> dict[str, Any]:
    code = row.code
    base: dict[str, Any] = {"code_id": code.id, "unit": row.unit, "role": row.role,
                            "level": code.level}  # fmt: skip
    if row.reason is not None or row.codes.size == 0:
        return {**base, "n_units": 0, "reason": row.reason or "no labels"}
    q = len(row.domain)
    counts = value_counts(row.codes, q)
    keep = counts.sum(axis=1) >= 2
    counts = counts[keep]
    conv = row.conversation_ids(np.flatnonzero(keep))
    missing = sorted(set(conv) - set(w.index))
    if missing:
        raise AgreementError(
            Errors.E420.format(code_id=code.id, n=len(missing), ids=", ".join(missing[:5]))
        )
    rare, n_rare = _rare(counts, row.domain)
    base |= {"n_units": len(counts), "n_conversations": len(set(conv)),
             "rare_value": rare, "rare_values": n_rare}  # fmt: skip
    if len(counts) == 0:
        return {**base, "reason": "no unit coded by two or more coders"}
    names, cl = np.unique(conv, return_inverse=True)
    per_cluster = cluster_coincidences(counts, cl.ravel())
    wt = w.loc[names, "weight"].to_numpy(dtype=float)
    strata = w.loc[names, "stratum"].astype(str).to_numpy()
    ones = np.ones(len(names))
    o = _normalised(np.stack([ones @ per_cluster, wt @ per_cluster])).reshape(2, q, q)
    d = None if code.level == "ordinal" else delta_of(row, counts, o=o[0])
    sample, design = _alphas(o, "ordinal" if code.level == "ordinal" else "other", d)
    pos = positive.get(code.id, code.present_value if code.level == "binary" else None)
    if pos is not None and pos in row.domain:
        k = row.domain.index(pos)
        base |= {
            "sample_prevalence": float(o[0][k].sum() / o[0].sum()),
            "design_prevalence": float(o[1][k].sum() / o[1].sum()),
        }
    base |= {"sample_alpha": sample, "design_alpha": design}
    if np.isnan(sample):
        base["reason"] = "alpha undefined: the pairable values do not vary"
    if n_boot:
        mult = _stratified_multiplicities(strata, n_boot, seed, names)
        boot = _normalised(np.stack([mult @ per_cluster, (mult * wt) @ per_cluster]))
        for name, stack in zip(("sample", "design"), boot, strict=True):
            values = _alphas(stack.reshape(n_boot, q, q), _kind(code.level), d)
            ok = values[~np.isnan(values)]
            if len(ok):
                base[f"{name}_low"], base[f"{name}_high"] = np.percentile(ok, [2.5, 97.5])
    return base


def _normalised(stack: np.ndarray) -> np.ndarray:
    """Weighted coincidences (index 1 of the first axis) scaled to the unweighted number of
    pairable values (index 0): the weights' scale then leaves alpha's ``n - 1`` factor as in
    the sample, and equal weights give exactly the sample's alpha (Hajek normalisation)."""
    n = stack.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(n[1] > 0, n[0] / n[1], 0.0)
    out = stack.copy()
    out[1] = stack[1] * scale[..., None]
    return out


def _kind(level: str) -> str:
    return "ordinal" if level == "ordinal" else "other"


def _stratified_multiplicities(
    strata: np.ndarray, n_boot: int, seed: Any, names: np.ndarray
) -> np.ndarray:
    """(n_boot, G): conversations resampled with replacement within each stratum."""
    import zlib

    digest = zlib.crc32("\n".join(map(str, names)).encode("utf-8"))
    rng = np.random.default_rng([*seed.generate_state(2), digest])
    mult = np.zeros((n_boot, len(strata)))
    for s in np.unique(strata):
        idx = np.flatnonzero(strata == s)
        draws = rng.integers(0, len(idx), size=(n_boot, len(idx)))
        for b in range(n_boot):
            mult[b, idx] = np.bincount(draws[b], minlength=len(idx))
    return mult


# --- planning -----------------------------------------------------------------------------------


def simulate_alpha(
    coders_per_unit: Any,
    distribution: Any,
    alpha: float,
    *,
    n_sim: int = 1000,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Alpha (nominal) of reliability data simulated with a given design and population alpha.

    Parameters
    ----------
    coders_per_unit : array_like of int, shape (n_units,)
        How many coders code each unit (2 or more).
    distribution : array_like, shape (q,)
        Probability of each value (sums to 1).
    alpha : float
        Population alpha (0-1): each coder reports the unit's latent value with probability
        ``sqrt(alpha)``, else an independent draw from ``distribution``.
    n_sim : int
    seed : int or Generator, optional

    Returns
    -------
    ndarray, shape (n_sim,)
        Alpha of each simulated data set (NaN where undefined: no variation).

    Examples
    --------
    >>> a = simulate_alpha([2] * 4000, [0.7, 0.3], 0.6, n_sim=20, seed=1)
    >>> bool(abs(np.nanmean(a) - 0.6) < 0.03)
    True
    """
    m = np.asarray(coders_per_unit, dtype=np.int64)
    p = np.asarray(distribution, dtype=float)
    p = p / p.sum()
    q = len(p)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    rho = float(np.sqrt(max(alpha, 0.0)))
    d = 1.0 - np.eye(q)
    out = np.empty(n_sim)
    chunk = max(1, int(2_000_000 // max(1, int(m.sum()) * q)))
    units = np.repeat(np.arange(len(m)), m)
    for start in range(0, n_sim, chunk):
        s = min(chunk, n_sim - start)
        latent = rng.choice(q, size=(s, len(m)), p=p)
        copy = rng.random((s, len(units))) < rho
        noise = rng.choice(q, size=(s, len(units)), p=p)
        value = np.where(copy, latent[:, units], noise)
        flat = (np.arange(s)[:, None] * len(m) + units[None, :]) * q + value
        counts = np.bincount(flat.ravel(), minlength=s * len(m) * q).reshape(s, len(m), q)
        counts = counts.astype(float)
        scale = 1.0 / (m - 1.0)
        o = np.einsum("sui,suj,u->sij", counts, counts, scale)
        o -= np.einsum("sui,u->si", counts, scale)[:, :, None] * np.eye(q)
        out[start : start + s] = _alphas(o, "other", d)
    return out


def plan_design(
    coders_per_unit: Any,
    distribution: Any,
    *,
    alpha_min: float = 0.667,
    alpha_expected: float | None = None,
    level: float = 0.05,
    n_sim: int = 1000,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Whether a design can show alpha above ``alpha_min`` (see the module docstring).

    Returns
    -------
    dict
        ``critical_alpha`` (the observed alpha that is significant against ``alpha_min`` at
        ``level``), ``assessable`` (even perfectly agreeing coders could reach it: a minimum
        requirement, in the spirit of Krippendorff's minimum sample sizes), ``power`` (the
        chance to reach it if the coders are at ``alpha_expected``, default halfway between
        ``alpha_min`` and 1), ``alpha_expected`` and ``scale_needed`` (how many times the
        design must be repeated to be assessable; 1 when it is, NaN beyond 64).
    """
    expected = (1.0 + alpha_min) / 2.0 if alpha_expected is None else float(alpha_expected)
    rng = np.random.default_rng(seed)
    m = np.asarray(coders_per_unit, dtype=np.int64)

    def critical_of(design: np.ndarray, n: int) -> float:
        null = simulate_alpha(design, distribution, alpha_min, n_sim=n, seed=rng)
        null = np.where(np.isnan(null), -np.inf, null)
        return float(np.quantile(null, 1.0 - level, method="higher"))

    def reach(design: np.ndarray, n: int, alpha: float, critical: float) -> float:
        alt = simulate_alpha(design, distribution, alpha, n_sim=n, seed=rng)
        return float(np.mean(np.where(np.isnan(alt), -np.inf, alt) > critical))

    def assessable(design: np.ndarray, n: int) -> bool:
        return reach(design, n, 1.0, critical_of(design, n)) >= 0.8

    critical = critical_of(m, n_sim)
    ok = reach(m, n_sim, 1.0, critical) >= 0.8
    power = reach(m, n_sim, expected, critical)
    scale = 1.0
    if not ok:
        scale = float("nan")
        low, high = 1, None
        for k in (2, 4, 8, 16, 32, 64):
            if assessable(np.tile(m, k), max(200, n_sim // 4)):
                high = k
                break
            low = k
        if high is not None:
            while high - low > 1:
                mid = (low + high) // 2
                low, high = (
                    (low, mid) if assessable(np.tile(m, mid), max(200, n_sim // 4)) else (mid, high)
                )
            scale = float(high)
    return {
        "critical_alpha": critical if np.isfinite(critical) else float("nan"),
        "assessable": ok,
        "power": power,
        "alpha_expected": expected,
        "scale_needed": scale,
    }


def plan_sample(
    labels: pd.DataFrame,
    codebook: Codebook,
    *,
    alpha_min: float = 0.667,
    alpha_expected: float | None = None,
    level: float = 0.05,
    codes: Any = None,
    n_sim: int = 1000,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Per code: does this reliability sample have enough values for alpha to be assessable?

    Uses each code's own design (units coded by two or more coders, and how many coders each)
    and its observed value distribution (binary, nominal and ordinal codes; ordinal codes are
    planned on their nominal distribution, which is conservative). Returns ``PLAN_COLUMNS``.
    """
    rows = []
    for row in _rows(labels, codebook, codes, None, None):
        base: dict[str, Any] = {"code_id": row.code.id, "unit": row.unit, "role": row.role,
                                "alpha_min": alpha_min}  # fmt: skip
        if row.code.level in ("interval", "set") or row.codes.size == 0:
            reason = row.reason or "planned for binary, nominal and ordinal codes only"
            rows.append({**base, "n_units": 0, "reason": reason})
            continue
        counts = value_counts(row.codes, len(row.domain))
        counts = counts[counts.sum(axis=1) >= 2]
        totals = counts.sum(axis=0)
        rare, n_rare = _rare(counts, row.domain)
        base |= {"n_units": len(counts), "rare_value": rare, "rare_values": n_rare}
        if len(counts) == 0 or (totals > 0).sum() < 2:
            rows.append(
                {
                    **base,
                    "assessable": False,
                    "reason": "the pairable values do not vary: no rare value observed",
                }
            )
            continue  # fmt: skip
        m = counts.sum(axis=1).astype(int)
        dist = totals[totals > 0] / totals.sum()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            plan = plan_design(m, dist, alpha_min=alpha_min, alpha_expected=alpha_expected,
                               level=level, n_sim=n_sim, seed=seed)  # fmt: skip
        needed = n_rare * plan["scale_needed"] if np.isfinite(plan["scale_needed"]) else np.nan
        rows.append(
            {
                **base,
                "coders_per_unit": float(m.mean()),
                "prevalence": float(totals[list(row.domain).index(rare)] / totals.sum()),
                "alpha_expected": plan["alpha_expected"],
                "critical_alpha": plan["critical_alpha"],
                "power": plan["power"],
                "assessable": plan["assessable"],
                "rare_values_needed": needed,
            }
        )
    return pd.DataFrame(rows, columns=list(PLAN_COLUMNS))
