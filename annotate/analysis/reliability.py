"""Are coders more reliable on some turns than on others? Alpha by role, with users resampled.

:func:`compare_reliability` takes the labels of **several coders** (the reliability sample)
and, for every binary or nominal turn-level code, Krippendorff's alpha with the nominal metric
separately on user turns and on assistant turns (Krippendorff 2011; the coincidence-matrix
form of :mod:`annotate.agreement`). Per role it reports the **pooled alpha** of the role's
codes, 1 − Σ_k (n_k − 1) D_o,k / Σ_k D_e,k over codes k (observed and expected disagreements
summed over codes before the ratio is taken, as pooled kappa does; de Vries et al. 2008), and
the difference between the roles. The pooled alpha stays defined when a rare code's alpha is
not (a code with no variation adds no expected disagreement), so it does not jump between
replicates as the mean of per-code alphas would; that mean is reported as ``mean_alpha``.

Alpha depends on the data only through the coincidence matrix, a sum of per-unit
contributions, so the cluster bootstrap is exact and fast: each conversation's contribution
is computed once and every replicate is a weighted sum. Replicates resample the highest level
present (users, two-stage, else conversations), and the intervals are BCa with the
leave-one-cluster-out jackknife (:mod:`annotate.analysis._intervals`). A code whose alpha is
undefined (its values do not vary in the sample) is listed in ``note``.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.agreement._build import build_rows
from annotate.agreement._build import prepare as prepare_agreement
from annotate.agreement._matrix import value_counts
from annotate.agreement.bootstrap import cluster_coincidences
from annotate.analysis._corpus import _conversation_table
from annotate.analysis._intervals import check_interval, warn_few_clusters
from annotate.analysis._intervals import interval as _interval
from annotate.analysis._nesting import nesting_of
from annotate.errors import AnalysisError, Errors

if TYPE_CHECKING:
    from annotate.analysis._family import Family
    from annotate.codebook import Codebook
    from annotate.corpus import Corpus

ROLES = ("user", "assistant")


def _nominal_alpha(o: np.ndarray) -> np.ndarray:
    """Nominal alpha of a stack of coincidence matrices (..., q, q): 1 − (n − 1) D_o / D_e
    with D_o = Σ_{c≠k} o_ck and D_e = Σ_{c≠k} n_c n_k (Krippendorff 2011, eq. for nominal
    data); NaN where undefined (one value only, or fewer than two pairable values)."""
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    diag = np.trace(o, axis1=-2, axis2=-1)
    observed = n - diag
    expected = n**2 - (n_c**2).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = 1.0 - (n - 1.0) * observed / expected
    return np.where((expected > 1e-12) & (n >= 2), value, np.nan)


def compare_reliability(
    labels: pd.DataFrame,
    codebook: Codebook,
    *,
    corpus: Corpus | None = None,
    by: str = "role",
    codes: Sequence[str] | None = None,
    nesting: str = "auto",
    bootstrap: int = 1000,
    interval: str = "bca",
    level: float = 0.95,
    seed: int | None = None,
    family: Family | None = None,
) -> pd.DataFrame:
    """Krippendorff's alpha of each code on user and on assistant turns, the mean per role and
    the difference between roles, with cluster-bootstrap intervals (see the module docstring).

    Parameters
    ----------
    labels
        The unit labels of two or more coders (``Project.unit_labels()``); gold labels and
        system codes are left out.
    corpus
        Supplies user_id, so that users are resampled (else conversations).
    by
        ``"role"`` (the only grouping so far).
    codes
        Binary or nominal turn-level codes (default all of them).

    Returns
    -------
    pandas.DataFrame
        ``level`` (``code``, ``role`` or ``difference``), ``role`` (``user``, ``assistant``, or
        ``user − assistant``), ``code_id`` (``(pooled)`` for role rows), ``n_codes``,
        ``n_units`` (pairable units), ``alpha`` (pooled for role rows, the difference for the
        difference row), ``ci_low``, ``ci_high``, ``mean_alpha`` (role rows: the plain mean
        of the defined per-code alphas), ``p_value`` (difference row: two-sided bootstrap p,
        2 min(P*(Δ* ≤ 0), P*(Δ* ≥ 0))), ``resampled``, ``n_clusters``, ``interval``, ``note``.
    """
    if by != "role":
        raise AnalysisError(
            Errors.E460.format(option="by", value=by, problem="compare_reliability groups by role")
        )
    check_interval(interval)
    prepared = prepare_agreement(labels, codebook)
    if len(prepared.coder_names) < 2:
        raise AnalysisError(
            Errors.E462.format(
                analysis="compare_reliability",
                problem=f"the labels hold {len(prepared.coder_names)} coder(s)",
                hint="Pass the labels of two or more coders (the reliability sample).",
            )
        )
    chosen = [
        c
        for c in codebook.codes
        if c.unit == "turn"
        and c.level in ("binary", "nominal")
        and (codes is None or c.id in codes)
        and c.id in set(map(str, prepared.code_names))
    ]
    # the reliability sample: conversations that two or more coders labelled
    n_coders = pd.Series(prepared.coder).groupby(prepared.conv).nunique()
    shared = {str(prepared.conv_names[c]) for c in n_coders.index[n_coders.to_numpy() >= 2]}
    conv_ids = np.array(sorted(shared), dtype=object)
    where = {c: k for k, c in enumerate(conv_ids)}
    shell = SimpleNamespace(conversations=_conversation_table(conv_ids, corpus))
    nest = nesting_of(shell, nesting)  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    W = nest.weights(bootstrap, rng)
    per_code: list[dict[str, Any]] = []
    for row in build_rows(prepared, chosen, None):
        if row.reason or row.role not in ROLES:
            continue
        counts = value_counts(row.codes, len(row.domain))
        pair = counts.sum(axis=1) >= 2
        if not pair.any():
            continue
        ids = row.keys["conversation_id"].to_numpy(dtype=str)
        pair &= np.isin(ids, conv_ids.astype(str))
        if not pair.any():
            continue
        conv = np.array([where[c] for c in ids[pair]])
        per_conv = np.zeros((len(conv_ids), len(row.domain) ** 2))
        sums = cluster_coincidences(counts[pair], conv)
        per_conv[: len(sums)] = sums
        per_code.append(
            {"role": row.role, "code_id": row.code.id, "n_units": int(pair.sum()), "o": per_conv}
        )
    if not per_code:
        raise AnalysisError(
            Errors.E462.format(
                analysis="compare_reliability",
                problem="no turn-level binary or nominal code has units coded by two coders",
                hint="Check the reliability sample (Project.add_reliability) and codes=.",
            )
        )
    warn_few_clusters("compare_reliability", nest, nest.subset(np.arange(len(conv_ids))))
    out_rows = []
    role_stats: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for role in ROLES:
        mine = [c for c in per_code if c["role"] == role]
        if mine:
            rows, role_stats[role] = _role_rows(role, mine, W, nest, level, interval)
            out_rows += rows
    if len(role_stats) == 2:
        (eu, ru, ju), (ea, ra, ja) = role_stats["user"], role_stats["assistant"]
        diff, reps_d, jack_d = eu - ea, ru - ra, ju - ja
        lo, hi = _interval(diff, reps_d[:, None], jack_d[:, None], level, interval)
        ok = reps_d[np.isfinite(reps_d)]
        p = float(min(1.0, 2 * min((ok <= 0).mean(), (ok >= 0).mean()))) if len(ok) else np.nan
        out_rows.append(
            {
                "level": "difference",
                "role": "user − assistant",
                "code_id": "(pooled)",
                "n_codes": np.nan,
                "n_units": np.nan,
                "alpha": float(diff[0]),
                "ci_low": float(lo[0]),
                "ci_high": float(hi[0]),
                "p_value": p,
                "note": "",
            }
        )
    out = pd.DataFrame(out_rows)
    if "p_value" not in out:
        out["p_value"] = np.nan
    out["resampled"] = nest.label
    out["n_clusters"] = nest.n_clusters
    out["interval"] = interval if bootstrap else "none"
    if "mean_alpha" not in out:
        out["mean_alpha"] = np.nan
    cols = ["level", "role", "code_id", "n_codes", "n_units", "alpha", "ci_low", "ci_high",
            "mean_alpha", "p_value", "resampled", "n_clusters", "interval", "note"]  # fmt: skip
    out = out[cols]
    if family is not None:
        diff_rows = out[out["level"] == "difference"].assign(
            test_label="alpha on user turns − alpha on assistant turns"
        )
        family.add("compare_reliability", diff_rows)
    return out


def _role_rows(
    role: str, mine: list[dict[str, Any]], W: np.ndarray, nest: Any, level: float, interval: str
) -> tuple[list[dict[str, Any]], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The code rows and the pooled row of one role, and the pooled alpha's (estimate,
    replicates, jackknife)."""
    out_rows: list[dict[str, Any]] = []
    est_c: list[float] = []
    for c in mine:
        q = round(c["o"].shape[1] ** 0.5)
        o = c["o"]
        est = float(_nominal_alpha(o.sum(axis=0).reshape(q, q)))
        reps = _nominal_alpha((W @ o).reshape(-1, q, q)) if len(W) else np.empty(0)
        jack = _nominal_alpha(nest.jackknife(o).reshape(-1, q, q))
        lo, hi = _interval(np.array([est]), reps[:, None], jack[:, None], level, interval)
        out_rows.append(
            {
                "level": "code",
                "role": role,
                "code_id": c["code_id"],
                "n_codes": 1,
                "n_units": c["n_units"],
                "alpha": est,
                "ci_low": float(lo[0]),
                "ci_high": float(hi[0]),
                "note": "" if np.isfinite(est) else "alpha undefined (no variation)",
            }
        )
        est_c.append(est)
    defined = [k for k, e in enumerate(est_c) if np.isfinite(e)]
    pooled = [_pooled_parts(c["o"], W, nest) for c in mine]
    est_m = _ratio([p[0] for p in pooled])
    reps_m = _ratio([p[1] for p in pooled]) if len(W) else np.empty(0)
    jack_m = _ratio([p[2] for p in pooled])
    lo, hi = _interval(np.array([est_m]), reps_m[:, None], jack_m[:, None], level, interval)
    skipped = [mine[k]["code_id"] for k in range(len(mine)) if k not in defined]
    out_rows.append(
        {
            "level": "role",
            "role": role,
            "code_id": "(pooled)",
            "n_codes": len(mine),
            "n_units": int(max(c["n_units"] for c in mine)),
            "alpha": float(est_m),
            "ci_low": float(lo[0]),
            "ci_high": float(hi[0]),
            "mean_alpha": float(np.mean([est_c[k] for k in defined])) if defined else np.nan,
            "note": ("alpha undefined (no variation): " + ", ".join(skipped)) if skipped else "",
        }
    )
    return out_rows, (np.array([float(est_m)]), reps_m, jack_m)


def _pooled_parts(
    o: np.ndarray, W: np.ndarray, nest: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weighted observed disagreement (n − 1) D_o, expected disagreement D_e) of one code for
    the estimate, the replicates and the jackknife: arrays (..., 2)."""
    q = round(o.shape[1] ** 0.5)

    def parts(m: np.ndarray) -> np.ndarray:
        m = m.reshape(-1, q, q)
        n_c = m.sum(axis=-1)
        n = n_c.sum(axis=-1)
        observed = (n - 1.0) * (n - np.trace(m, axis1=-2, axis2=-1))
        expected = n**2 - (n_c**2).sum(axis=-1)
        return np.stack([observed, expected], axis=-1)

    return (
        parts(o.sum(axis=0))[0],
        parts(W @ o) if len(W) else np.empty((0, 2)),
        parts(nest.jackknife(o)),
    )


def _ratio(parts: list[np.ndarray]) -> np.ndarray:
    """Pooled alpha 1 − Σ_k (n_k − 1) D_o,k / Σ_k D_e,k over codes k (the pooling of observed
    and expected disagreement of de Vries et al. 2008, written for alpha)."""
    total = np.sum(parts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total[..., 1] > 0, 1.0 - total[..., 0] / total[..., 1], np.nan)
