"""Model-based estimates (statsmodels) with errors that respect the nesting.

Three models, each returning a :class:`Fit` that says what was fitted:

* :func:`gee` — generalized estimating equations (Liang & Zeger 1986): binomial family with
  logit link for binary codes (odds ratios), Gaussian for ratings; **exchangeable** working
  correlation within the top-level cluster (user or conversation); standard errors from the
  robust sandwich with the **bias reduction of Mancl & DeRouen (2001)**, because the plain
  sandwich is too small with the few dozen clusters of a coding study; intervals and p-values
  use Student's t with G − 1 degrees of freedom (G clusters; cf. Cameron & Miller 2015, §VI).
* :func:`clm` — the cumulative-link (proportional-odds) model for ordinal codes, P(Y ≤ j) =
  F(θ_j − xβ) with the logit F (McCullagh 1980; Agresti 2010, ch. 3), fitted by maximum
  likelihood with statsmodels' ``OrderedModel``. OrderedModel has no cluster-robust errors, so
  we compute the **cluster-robust sandwich** ourselves: V = H⁻¹ (G/(G−1) Σ_g s_g s_gᵀ) H⁻¹ with
  H the observed information and s_g the summed score contributions of cluster g (analytic
  scores of the cumulative-logit likelihood; White 1982; Cameron & Miller 2015, CR1), t(G − 1).
  A cumulative-link GEE (statsmodels ``OrdinalGEE``) would give cluster-robust errors too, but
  it estimates the model from the binary indicators Y ≤ j with estimating equations rather than
  the multinomial likelihood, so its estimates differ from R's ``ordinal::clm`` and the
  published tables; the likelihood fit plus sandwich reproduces them exactly.
* :func:`mixed` — the linear mixed model (REML; statsmodels ``MixedLM``) with random
  intercepts and, for growth curves, random slopes per user (Laird & Ware 1982; Singer &
  Willett 2003, ch. 4). Fixed-effect intervals use t(G − 1).

Warnings that statsmodels raises while fitting (no convergence, a boundary fit) are caught and
put into :attr:`Fit.note`; the analyses report them in a ``note`` column and warn with W453.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


def _sp() -> Any:
    """scipy.stats, imported on first use (importing annotate.analysis stays light)."""
    from scipy import stats

    return stats


#: |coefficient| above this on the logit scale (per unit of the predictor) is separation: the
#: odds ratio has no finite estimate (Albert & Anderson 1984)
SEPARATION = 12.0


@dataclass
class Fit:
    """One fitted model: what it was, the terms, and the robust covariance."""

    model: str  #: e.g. "GEE (binomial, logit), exchangeable within users, bias-reduced robust SE"
    formula: str
    family: str
    clusters: str  #: "users" or "conversations"
    n: int
    n_clusters: int
    terms: pd.DataFrame  #: term, estimate, se, ci_low, ci_high, p_value
    cov: np.ndarray
    df: int
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        """The columns every model-based result carries."""
        return {
            "model": self.model,
            "formula": self.formula,
            "model_family": self.family,
            "clusters": self.clusters,
            "model_n": self.n,
            "model_n_clusters": self.n_clusters,
            "note": self.note,
        }

    def term(self, name: str) -> pd.Series:
        return self.terms.set_index("term").loc[name]

    def wald(self, names: list[str]) -> tuple[float, float]:
        """Joint test that the named terms are 0: F = W / q on (q, G − 1) df; (F, p)."""
        idx = [list(self.terms["term"]).index(n) for n in names]
        b = self.terms["estimate"].to_numpy()[idx]
        v = self.cov[np.ix_(idx, idx)]
        if not (np.isfinite(b).all() and np.isfinite(v).all()):
            return float("nan"), float("nan")
        try:
            w = float(b @ np.linalg.solve(v, b))
        except np.linalg.LinAlgError:
            return float("nan"), float("nan")
        q = len(idx)
        f = w / q
        return f, float(_sp().f.sf(f, q, max(self.df, 1)))

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Linear predictor and its standard error for rows of X (columns = the terms)."""
        b = self.terms["estimate"].to_numpy()
        k = X.shape[1]
        eta = X @ b[:k]
        se = np.sqrt(np.einsum("ij,jk,ik->i", X, self.cov[:k, :k], X))
        return eta, se


def _t_table(
    names: list[str], est: np.ndarray, cov: np.ndarray, df: int, level: float
) -> pd.DataFrame:
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    q = _sp().t.ppf(0.5 + level / 2, max(df, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        tval = est / se
    return pd.DataFrame(
        {
            "term": names,
            "estimate": est,
            "se": se,
            "ci_low": est - q * se,
            "ci_high": est + q * se,
            "p_value": 2 * _sp().t.sf(np.abs(tval), max(df, 1)),
        }
    )


def _caught(fn: Any) -> tuple[Any, list[str]]:
    """Run fn, collecting the warnings statsmodels raises (as text)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            out = fn()
    msgs = []
    for w in caught:
        text = str(w.message).split("\n")[0].strip()
        if text and text not in msgs:
            msgs.append(text)
    return out, msgs


def _empty(names: list[str], **kw: Any) -> Fit:
    nan = np.full(len(names), np.nan)
    terms = pd.DataFrame(
        {"term": names, "estimate": nan, "se": nan, "ci_low": nan, "ci_high": nan, "p_value": nan}
    )
    return Fit(terms=terms, cov=np.full((len(names), len(names)), np.nan), **kw)


def _separated(names: list[str], est: np.ndarray, X: np.ndarray) -> list[str]:
    """Terms whose logit coefficient diverged (|β| per unit of a 0/1 predictor, or per SD of
    another, above SEPARATION)."""
    bad = []
    for j, name in enumerate(names):
        if name == "Intercept":
            continue
        col = X[:, j]
        binary = bool(np.isin(col, (0.0, 1.0)).all())
        size = abs(est[j]) * (1.0 if binary else float(col.std()))
        if not np.isfinite(est[j]) or size > SEPARATION:
            bad.append(name)
    return bad


def _rank_ok(X: np.ndarray) -> bool:
    return X.shape[0] > X.shape[1] and np.linalg.matrix_rank(X) == X.shape[1]


GEE_FAMILIES = {
    "binomial": "binomial (logit link)",
    "gaussian": "Gaussian (identity link)",
    "poisson": "Poisson (log link)",
}


def gee(
    y: np.ndarray,
    X: pd.DataFrame,
    groups: np.ndarray,
    *,
    formula: str,
    clusters: str,
    family: str = "binomial",
    level: float = 0.95,
    correlation: str = "exchangeable",
    cov_type: str = "bias_reduced",
) -> Fit:
    """GEE with exchangeable working correlation and bias-reduced robust errors.

    ``X`` holds the design matrix with named columns (an ``Intercept`` column included).
    Rows with a missing value are dropped before fitting.
    """
    from statsmodels.genmod import cov_struct, families
    from statsmodels.genmod.generalized_estimating_equations import GEE

    names = list(X.columns)
    Xv = X.to_numpy(dtype=float)
    yv = np.asarray(y, dtype=float)
    ok = np.isfinite(yv) & np.isfinite(Xv).all(axis=1)
    yv, Xv, g = yv[ok], Xv[ok], np.asarray(groups)[ok]
    _, g = np.unique(g, return_inverse=True)
    n_clusters = int(g.max()) + 1 if len(g) else 0
    corr = "exchangeable" if correlation == "exchangeable" else "independence"
    se = (
        "bias-reduced robust SE (Mancl & DeRouen 2001)"
        if cov_type == "bias_reduced"
        else "robust sandwich SE (Liang & Zeger 1986)"
    )
    desc = (
        f"GEE, {GEE_FAMILIES[family]}, {corr} working correlation within {clusters}; "
        f"{se}, t({max(n_clusters - 1, 1)})"
    )
    base: dict[str, Any] = {
        "model": desc,
        "formula": formula,
        "family": GEE_FAMILIES[family],
        "clusters": clusters,
        "n": len(yv),
        "n_clusters": n_clusters,
        "df": max(n_clusters - 1, 1),
    }
    if n_clusters < 2 or not _rank_ok(Xv) or (family == "binomial" and len(set(yv)) < 2):
        why = (
            "fewer than two clusters"
            if n_clusters < 2
            else "the outcome does not vary"
            if len(set(yv)) < 2
            else "the predictors are collinear or do not vary"
        )
        return _empty(names, note=f"not fitted: {why}", **base)
    fam = {
        "binomial": families.Binomial(),
        "gaussian": families.Gaussian(),
        "poisson": families.Poisson(),
    }[family]
    cs = cov_struct.Exchangeable() if corr == "exchangeable" else cov_struct.Independence()
    order = np.argsort(g, kind="stable")  # GEE wants each cluster's rows together
    model = GEE(yv[order], Xv[order], groups=g[order], family=fam, cov_struct=cs)

    def fit() -> Any:
        return model.fit(maxiter=100, cov_type=cov_type)

    res, msgs = _caught(fit)
    est = np.asarray(res.params, dtype=float)
    cov = np.asarray(res.cov_params(), dtype=float)
    notes = list(msgs)
    bad = _separated(names, est, Xv) if family == "binomial" else []
    if bad:
        notes.append(
            "separation (the outcome never or always occurs at some predictor value): "
            f"no finite odds ratio for {', '.join(bad)}"
        )
        for n in bad:
            j = names.index(n)
            est[j] = np.sign(est[j]) * np.inf if np.isfinite(est[j]) else np.nan
            cov[j, :] = cov[:, j] = np.nan
    fit_ = Fit(
        terms=_t_table(names, est, cov, base["df"], level), cov=cov, note="; ".join(notes), **base
    )
    dep: Any = getattr(res.model.cov_struct, "dep_params", None)
    fit_.extra["working_correlation"] = (
        float(dep) if dep is not None and np.ndim(dep) == 0 else None
    )
    return fit_


# ---------------------------------------------------------------------------------------------
# cumulative-link model with cluster-robust errors


def _cdf_pdf(link: str) -> tuple[Any, Any]:
    if link == "logit":
        return (lambda x: 1 / (1 + np.exp(-x))), (
            lambda x: np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))) ** 2
        )
    return _sp().norm.cdf, _sp().norm.pdf


def clm_scores(
    y: np.ndarray, X: np.ndarray, beta: np.ndarray, theta: np.ndarray, link: str = "logit"
) -> np.ndarray:
    """Per-observation scores ∂ log P(y_i) / ∂(β, θ) of the cumulative-link model
    P(Y ≤ j) = F(θ_j − xβ), y coded 0..K−1, θ of length K − 1 (increasing)."""
    F, f = _cdf_pdf(link)
    n, k = X.shape
    m = len(theta)
    eta = X @ beta
    upper = np.where(y < m, np.r_[theta, 0.0][np.minimum(y, m)] - eta, np.inf)
    lower = np.where(y > 0, np.r_[0.0, theta][y] - eta, -np.inf)
    Fu = np.where(np.isinf(upper), 1.0, F(np.where(np.isinf(upper), 0, upper)))
    Fl = np.where(np.isinf(lower), 0.0, F(np.where(np.isinf(lower), 0, lower)))
    fu = np.where(np.isinf(upper), 0.0, f(np.where(np.isinf(upper), 0, upper)))
    fl = np.where(np.isinf(lower), 0.0, f(np.where(np.isinf(lower), 0, lower)))
    p = np.maximum(Fu - Fl, 1e-300)
    s = np.zeros((n, k + m))
    s[:, :k] = -X * ((fu - fl) / p)[:, None]
    rows = np.arange(n)
    has_u, has_l = y < m, y > 0
    s[rows[has_u], k + y[has_u]] += fu[has_u] / p[has_u]
    s[rows[has_l], k + y[has_l] - 1] -= fl[has_l] / p[has_l]
    return s


def clm(
    y: np.ndarray,
    X: pd.DataFrame,
    groups: np.ndarray,
    *,
    formula: str,
    clusters: str,
    level: float = 0.95,
    link: str = "logit",
) -> Fit:
    """Cumulative-link model by maximum likelihood with the cluster-robust sandwich.

    ``y`` holds integer categories (their order is the scale's order; unobserved categories
    are dropped), ``X`` the predictors without an intercept (the thresholds take its place).
    Terms: the β's (log proportional odds ratios: > 0 = higher categories), then the
    thresholds ``θ_j|j+1``. ``extra["se_model"]`` holds the model-based (non-robust) errors.
    """
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    names = list(X.columns)
    Xv = X.to_numpy(dtype=float)
    yv = np.asarray(y, dtype=float)
    ok = np.isfinite(yv) & np.isfinite(Xv).all(axis=1)
    Xv, g = Xv[ok], np.asarray(groups)[ok]
    cats, yc = np.unique(yv[ok].astype(np.int64), return_inverse=True)
    _, g = np.unique(g, return_inverse=True)
    n_clusters = int(g.max()) + 1 if len(g) else 0
    k, m = len(names), len(cats) - 1
    thr = [f"threshold {cats[j]}|{cats[j + 1]}" for j in range(m)]
    base: dict[str, Any] = {
        "model": (
            f"cumulative-link model ({link}; proportional odds), maximum likelihood; "
            f"cluster-robust sandwich SE by {clusters} (CR1), t({max(n_clusters - 1, 1)})"
        ),
        "formula": formula,
        "family": f"ordinal (cumulative {link})",
        "clusters": clusters,
        "n": len(yc),
        "n_clusters": n_clusters,
        "df": max(n_clusters - 1, 1),
    }
    if m < 1 or n_clusters < 2 or (k and not _rank_ok(Xv)):
        why = (
            "the rating does not vary"
            if m < 1
            else "fewer than two clusters"
            if n_clusters < 2
            else "the predictors are collinear or do not vary"
        )
        return _empty(names + thr, note=f"not fitted: {why}", **base)
    model = OrderedModel(yc, Xv, distr=link)

    def fit() -> Any:
        return model.fit(method="bfgs", disp=False, maxiter=2000)

    res, msgs = _caught(fit)
    par = np.asarray(res.params, dtype=float)
    beta = par[:k]
    theta = np.cumsum(np.r_[par[k], np.exp(par[k + 1 :])])
    est = np.r_[beta, theta]

    def total_score(v: np.ndarray) -> np.ndarray:
        return clm_scores(yc, Xv, v[:k], v[k:], link).sum(axis=0)

    def information(v: np.ndarray) -> np.ndarray:
        h = 1e-5 * np.maximum(1.0, np.abs(v))
        hess = np.zeros((k + m, k + m))
        for j in range(k + m):
            e = np.zeros(k + m)
            e[j] = h[j]
            hess[:, j] = (total_score(v + e) - total_score(v - e)) / (2 * h[j])
        return -(hess + hess.T) / 2

    notes = list(msgs)
    try:
        # polish the quasi-Newton optimum with Newton steps on the analytic score
        for _ in range(25):
            if not np.isfinite(est).all() or (np.abs(est[:k]) > SEPARATION).any():
                break
            step = np.linalg.solve(information(est), total_score(est))
            new = est + step
            if m > 1 and (np.diff(new[k:]) <= 0).any():
                break
            est = new
            if np.abs(step).max() < 1e-10:
                break
        beta, theta = est[:k], est[k:]
        info = information(est)
        bread = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return _empty(names + thr, note="not fitted: singular information matrix", **base)
    s = clm_scores(yc, Xv, beta, theta, link)
    sg = np.zeros((n_clusters, k + m))
    np.add.at(sg, g, s)
    meat = sg.T @ sg * n_clusters / max(n_clusters - 1, 1)
    cov = bread @ meat @ bread
    if k and (np.abs(beta) > SEPARATION).any():
        bad = [n for n, b in zip(names, beta, strict=True) if abs(b) > SEPARATION]
        notes.append(f"separation: no finite proportional odds ratio for {', '.join(bad)}")
        for n in bad:
            j = names.index(n)
            est[j] = np.sign(est[j]) * np.inf
            cov[j, :] = cov[:, j] = np.nan
    if not getattr(res, "mle_retvals", {}).get("converged", True):
        notes.append("the likelihood maximisation did not converge")
    out = Fit(
        terms=_t_table(names + thr, est, cov, base["df"], level),
        cov=cov,
        note="; ".join(notes),
        **base,
    )
    out.extra["se_model"] = np.sqrt(np.clip(np.diag(bread), 0, None))
    out.extra["loglike"] = float(res.llf)
    out.extra["categories"] = cats.tolist()
    return out


# ---------------------------------------------------------------------------------------------
# linear mixed model


def mixed(
    y: np.ndarray,
    X: pd.DataFrame,
    groups: np.ndarray,
    *,
    random: list[str],
    formula: str,
    clusters: str,
    level: float = 0.95,
) -> Fit:
    """Linear mixed model by REML with random effects ``random`` (columns of X) per group.

    When the random-slope model does not converge (common with few users) the random
    intercept model is fitted instead and the note says so. ``extra`` holds the variance
    components (``var_intercept``, ``var_<slope>``, ``cov``, ``residual``) and the random
    effects that were actually fitted (``random``).
    """
    from statsmodels.regression.mixed_linear_model import MixedLM

    names = list(X.columns)
    Xv = X.to_numpy(dtype=float)
    yv = np.asarray(y, dtype=float)
    ok = np.isfinite(yv) & np.isfinite(Xv).all(axis=1)
    yv, Xv, g = yv[ok], Xv[ok], np.asarray(groups)[ok]
    _, g = np.unique(g, return_inverse=True)
    n_clusters = int(g.max()) + 1 if len(g) else 0
    base: dict[str, Any] = {
        "formula": formula,
        "family": "Gaussian (identity link)",
        "clusters": clusters,
        "n": len(yv),
        "n_clusters": n_clusters,
        "df": max(n_clusters - 1, 1),
    }
    what = " + ".join("1" if r == "Intercept" else r for r in random)

    def desc(rand: str) -> str:
        return (
            f"linear mixed model (REML), random effects ({rand} | {clusters}); "
            f"model-based SE, t({max(n_clusters - 1, 1)})"
        )

    if n_clusters < 2 or not _rank_ok(Xv) or np.nanstd(yv) == 0:
        why = "fewer than two clusters" if n_clusters < 2 else "no variation to model"
        return _empty(names, model=desc(what), note=f"not fitted: {why}", **base)
    notes: list[str] = []
    attempts = [random] if random == ["Intercept"] else [random, ["Intercept"]]
    for rand in attempts:
        Z = Xv[:, [names.index(r) for r in rand]]
        model = MixedLM(yv, Xv, groups=g, exog_re=Z)

        def fit(model: Any = model) -> Any:
            return model.fit(reml=True, method=["bfgs", "cg", "lbfgs", "powell"])

        try:
            res, msgs = _caught(fit)
        except (np.linalg.LinAlgError, ValueError) as exc:  # singular designs
            notes.append(f"random effects ({' + '.join(rand)}) not fitted: {exc}")
            continue
        converged = bool(getattr(res, "converged", True))
        singular = any("singular" in m.lower() or "boundary" in m.lower() for m in msgs)
        # statsmodels warns about every optimiser it tries; keep what concerns the final fit
        msgs = [
            "a variance component is estimated at the boundary (near 0)"
            if "boundary" in m.lower()
            else m
            for m in msgs
            if not m.startswith("Retrying") and (not converged or "converge" not in m.lower())
        ]
        if (not converged or not np.isfinite(res.bse_fe).all()) and rand is not attempts[-1]:
            notes.append(
                f"the random-slope model did not converge; random intercepts only ({clusters})"
            )
            continue
        notes.extend(msgs if not converged or singular else [])
        k = len(names)
        est = np.asarray(res.fe_params, dtype=float)
        cov = np.asarray(res.cov_params(), dtype=float)[:k, :k]
        out = Fit(
            model=desc(" + ".join("1" if r == "Intercept" else r for r in rand)),
            terms=_t_table(names, est, cov, base["df"], level),
            cov=cov,
            note="; ".join(dict.fromkeys(notes)),
            **base,
        )
        cre = np.asarray(res.cov_re, dtype=float)
        out.extra["random"] = list(rand)
        out.extra["var_intercept"] = float(cre[0, 0])
        if len(rand) > 1:
            out.extra[f"var_{rand[1]}"] = float(cre[1, 1])
            out.extra["cov"] = float(cre[0, 1])
        out.extra["residual"] = float(res.scale)
        out.extra["converged"] = converged
        return out
    return _empty(names, model=desc(what), note="; ".join(notes) or "not fitted", **base)


# ---------------------------------------------------------------------------------------------
# splines for non-linear time


def rcs_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Restricted (natural) cubic spline basis of Harrell (2015, §2.4.5): x and k − 2
    non-linear terms for k knots, linear beyond the outer knots. Non-linear terms are scaled
    by (t_k − t_1)² so that they are on the scale of x."""
    x = np.asarray(x, dtype=float)
    t = np.asarray(knots, dtype=float)
    k = len(t)
    cols = [x]
    scale = (t[-1] - t[0]) ** 2 if k > 1 and t[-1] > t[0] else 1.0

    def pos3(v: np.ndarray) -> np.ndarray:
        return np.clip(v, 0, None) ** 3

    for j in range(k - 2):
        term = (
            pos3(x - t[j])
            - pos3(x - t[k - 2]) * (t[k - 1] - t[j]) / (t[k - 1] - t[k - 2])
            + pos3(x - t[k - 1]) * (t[k - 2] - t[j]) / (t[k - 1] - t[k - 2])
        )
        cols.append(term / scale)
    return np.column_stack(cols)


def spline_knots(x: np.ndarray, n_knots: int = 3) -> np.ndarray:
    """Harrell's default knot quantiles (3 knots: 10/50/90 %, 4: 5/35/65/95 %, 5: 5/27.5/50/
    72.5/95 %), on the distinct values of x."""
    quantiles = {
        3: [0.10, 0.5, 0.90],
        4: [0.05, 0.35, 0.65, 0.95],
        5: [0.05, 0.275, 0.5, 0.725, 0.95],
    }[n_knots]
    return np.unique(np.quantile(np.asarray(x, dtype=float), quantiles))


# ---------------------------------------------------------------------------------------------
# cluster-robust score test of a 2x2 association


def cluster_score_test(
    gp: np.ndarray,
    gc: np.ndarray,
    tp: np.ndarray,
    tc: np.ndarray,
    cluster: np.ndarray,
    n_clusters: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster-robust score test of every (given i, target j) association: (z, p).

    Rows are units (turns, transitions or conversations) with given indicators ``gp`` (present)
    / ``gc`` (coded), shape (T, k), target indicators ``tp`` / ``tc``, shape (T, m), and the
    top-level cluster of each row. Over the rows where both codes were coded, the score of the
    slope of a logistic (or linear) regression of y_j on x_i at slope 0 is U = Σ (x − x̄)(y − ȳ);
    its cluster-robust variance is V = G/(G−1) Σ_g (Σ_{t∈g} (x_t − x̄)(y_t − ȳ))² (the
    generalized score test of Rotnitzky & Jewell 1990 and Boos 1992, with the CR1 factor), and
    z = U/√V is referred to Student's t with G − 1 df. Unlike the pooled adjusted residual it
    stays calibrated when codes cluster within conversations or users.

    Codes coded on exactly the same rows form a block; for a pair of blocks the sums run over
    the rows both code, where x and y are centred once, so U and the per-cluster sums are plain
    (batched) matrix products of the centred indicators.
    """
    k, m = gp.shape[1], tp.shape[1]
    z = np.full((k, m), np.nan)
    if len(cluster) == 0:
        return z, z.copy()
    order = np.argsort(cluster, kind="stable")
    cl = cluster[order]
    gp, gc, tp, tc = gp[order], gc[order], tp[order], tc[order]
    g_blocks, t_blocks = _blocks(gc), _blocks(tc)
    for g_cols, g_rows in g_blocks:
        for t_cols, t_rows in t_blocks:
            rows = np.flatnonzero(g_rows & t_rows)
            if len(rows) < 2:
                continue
            x = gp[np.ix_(rows, g_cols)].astype(np.float64)
            y = tp[np.ix_(rows, t_cols)].astype(np.float64)
            x -= x.mean(axis=0)
            y -= y.mean(axis=0)
            U = x.T @ y
            V = np.zeros_like(U)
            for (S,) in _per_cluster_products(cl[rows], (x, y)):
                V += (S**2).sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                z[np.ix_(g_cols, t_cols)] = np.where(V > 1e-12, U / np.sqrt(V), np.nan)
    g = max(n_clusters, 2)
    z = z / np.sqrt(g / (g - 1))  # V times the CR1 factor G/(G−1)
    p = 2 * _sp().t.sf(np.abs(z), g - 1)
    return z, np.where(np.isfinite(z), p, np.nan)


def _blocks(coded: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Columns with identical coded rows: (column indices, row mask) per distinct pattern."""
    if coded.shape[1] == 0:
        return []
    packed = np.packbits(coded.astype(bool), axis=0)
    _, inverse = np.unique(packed.T, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    out = []
    for b in range(int(inverse.max()) + 1):
        cols = np.flatnonzero(inverse == b)
        out.append((cols, coded[:, cols[0]].astype(bool)))
    return out


def _per_cluster_products(cl: np.ndarray, *pairs: tuple[np.ndarray, np.ndarray]) -> Any:
    """Yield, chunk by chunk of clusters, the per-cluster products P_gᵀ Q_g of each (P, Q)
    pair (rows sorted by cluster ``cl``): a list of arrays (clusters in chunk, k, m). Rows of
    a chunk are padded to the largest cluster so that one batched matmul does the chunk; a
    matrix that appears in several pairs is padded once."""
    if not len(cl):
        return
    starts = np.flatnonzero(np.r_[True, cl[1:] != cl[:-1]])
    sizes = np.diff(np.r_[starts, len(cl)])
    mats: list[np.ndarray] = []
    for p, q in pairs:
        for x in (p, q):
            if not any(x is y for y in mats):
                mats.append(x)
    width = sum(x.shape[1] for x in mats)
    budget = 6_000_000  # padded cells per chunk
    lo = 0
    while lo < len(starts):
        # grow the chunk while (clusters x largest size x width) stays within the budget
        hi = lo + 1
        biggest = sizes[lo]
        while hi < len(starts):
            nxt = max(biggest, sizes[hi])
            if (hi + 1 - lo) * nxt * width > budget:
                break
            biggest, hi = nxt, hi + 1
        n, size = hi - lo, int(biggest)
        end = starts[hi] if hi < len(starts) else len(cl)
        rows = np.arange(starts[lo], end)
        slot = np.repeat(np.arange(n), sizes[lo:hi])
        pos = rows - np.repeat(starts[lo:hi], sizes[lo:hi])
        padded = []
        for x in mats:
            X = np.zeros((n, size, x.shape[1]))
            X[slot, pos] = x[rows]
            padded.append(X)

        def get(x: np.ndarray, padded: list[np.ndarray] = padded) -> np.ndarray:
            return padded[next(k for k, y in enumerate(mats) if y is x)]

        lefts: dict[int, np.ndarray] = {}  # contiguous transposes (BLAS-friendly)
        out = []
        for p, q in pairs:
            if id(p) not in lefts:
                lefts[id(p)] = np.ascontiguousarray(get(p).transpose(0, 2, 1))
            out.append(np.matmul(lefts[id(p)], get(q)))
        yield out
        lo = hi
