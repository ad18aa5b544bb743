"""The model layer against published results of independent software.

* GEE (logistic, exchangeable, robust SE): the data set ``gee_logistic_1.csv`` that statsmodels
  ships with its tests, and the coefficients and robust standard errors that R's ``gee`` package
  printed for it (published in statsmodels' ``genmod/tests/test_gee.py``, ``test_logistic``).
* Linear mixed model with random intercepts and slopes: the ``dietox`` pig-growth data of
  Lauridsen et al. (1999) (geepack), shipped with statsmodels' tests, and the REML results of R's
  ``lme4::lmer(Weight ~ Time + (1 + Time | Pig))`` published in statsmodels'
  ``regression/tests/test_lme.py`` (``test_dietox_slopes``).
* Cumulative-link model: the wine-bitterness data of Randall (1989, Table 1; 9 judges x 8
  bottles; the ratings typed in below) and the estimates printed by Christensen (2019),
  "Cumulative link models for ordinal regression with the R package ordinal", §4.1:
  ``clm(rating ~ temp + contact)``: tempwarm 2.5031 (SE 0.5287), contactyes 1.5278 (0.4766),
  thresholds −1.3444, 1.2508, 3.4669, 5.0064, log-likelihood −86.49.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels

from annotate.analysis import _models

STATSMODELS = Path(statsmodels.__file__).parent


def _bundled(relative: str) -> Path:
    path = STATSMODELS / relative
    assert path.exists(), f"statsmodels no longer ships {relative}; pick another published set"
    return path


def test_models_gee_logistic_matches_r_gee() -> None:
    z = np.loadtxt(_bundled("genmod/tests/results/gee_logistic_1.csv"), delimiter=",")
    X = pd.DataFrame({"Intercept": 1.0, "X1": z[:, 2], "X2": z[:, 3], "X3": z[:, 4]})
    fit = _models.gee(z[:, 1], X, z[:, 0], formula="Y ~ X1 + X2 + X3", clusters="id",
                      cov_type="robust")  # fmt: skip
    # R: gee(Y ~ X1 + X2 + X3, id=Id, family=binomial, corstr="exchangeable")
    r_coef = [0.0178982283915449, 1.13118798191788, -1.86133518416017, 1.08944256230299]
    r_se = [0.127045031730155, 0.165470678232842, 0.192052750030501, 0.173174779369249]
    np.testing.assert_allclose(fit.terms["estimate"], r_coef, rtol=1e-5)
    np.testing.assert_allclose(fit.terms["se"], r_se, rtol=1e-4)
    # the default, bias-reduced sandwich (Mancl & DeRouen) is larger than the plain one
    reduced = _models.gee(z[:, 1], X, z[:, 0], formula="Y ~ X1 + X2 + X3", clusters="id")
    np.testing.assert_allclose(reduced.terms["estimate"], r_coef, rtol=1e-5)
    assert (reduced.terms["se"].to_numpy() > np.asarray(r_se)).all()
    assert "exchangeable" in reduced.model and "Mancl" in reduced.model
    assert reduced.n == len(z) and reduced.n_clusters == len(np.unique(z[:, 0]))


def test_models_mixed_random_slopes_match_lme4_on_dietox() -> None:
    d = pd.read_csv(_bundled("regression/tests/results/dietox.csv"))
    X = pd.DataFrame({"Intercept": 1.0, "Time": d["Time"].to_numpy(float)})
    fit = _models.mixed(
        d["Weight"].to_numpy(float), X, d["Pig"].to_numpy(), random=["Intercept", "Time"],
        formula="Weight ~ Time", clusters="pigs",
    )  # fmt: skip
    # lme4: fixef, sqrt(diag(vcov)), VarCorr, residual variance
    np.testing.assert_allclose(fit.terms["estimate"], [15.738650, 6.939014], rtol=1e-5)
    np.testing.assert_allclose(fit.terms["se"], [0.5501253, 0.0798254], rtol=1e-3)
    assert fit.extra["var_intercept"] == pytest.approx(19.4934552, rel=0.01)
    assert fit.extra["var_Time"] == pytest.approx(0.4160620, rel=0.01)
    assert fit.extra["cov"] == pytest.approx(0.2938323, rel=0.02)
    assert fit.extra["residual"] == pytest.approx(6.03745, rel=1e-3)
    assert fit.extra["random"] == ["Intercept", "Time"] and fit.note == ""


#: Randall (1989), Table 1: bitterness ratings (1-5) of 9 judges x 8 bottles, bottles in the
#: order (temp, contact) = cold-no, cold-no, cold-yes, cold-yes, warm-no, warm-no, warm-yes,
#: warm-yes
WINE = [
    2, 3, 3, 4, 4, 4, 5, 5, 1, 2, 1, 3, 2, 3, 5, 4, 2, 3, 3, 2, 5, 5, 4, 4, 3, 2, 3, 2, 3, 2, 5,
    3, 2, 3, 4, 3, 3, 3, 3, 3, 3, 2, 3, 2, 2, 4, 5, 4, 1, 1, 2, 2, 2, 3, 2, 3, 2, 2, 2, 3, 3, 3,
    3, 4, 1, 2, 3, 2, 3, 2, 4, 4,
]  # fmt: skip


def _wine() -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    temp = np.tile([0, 0, 0, 0, 1, 1, 1, 1], 9).astype(float)
    contact = np.tile([0, 0, 1, 1], 18).astype(float)
    return np.array(WINE), pd.DataFrame({"temp": temp, "contact": contact}), np.repeat(range(9), 8)


def test_models_cumulative_link_matches_published_wine_estimates() -> None:
    y, X, judge = _wine()
    fit = _models.clm(y, X, judge, formula="rating ~ temp + contact", clusters="judges")
    est = fit.terms.set_index("term")["estimate"]
    assert est["temp"] == pytest.approx(2.5031, abs=5e-4)
    assert est["contact"] == pytest.approx(1.5278, abs=5e-4)
    np.testing.assert_allclose(
        est[[t for t in est.index if t.startswith("threshold")]],
        [-1.3444, 1.2508, 3.4669, 5.0064],
        atol=5e-4,
    )
    # model-based standard errors as printed; the cluster-robust ones are what we report
    np.testing.assert_allclose(fit.extra["se_model"][:2], [0.5287, 0.4766], atol=5e-4)
    assert fit.extra["loglike"] == pytest.approx(-86.49, abs=0.01)
    assert fit.n_clusters == 9 and "cluster-robust" in fit.model


def test_models_cluster_robust_clm_equals_glm_cluster_sandwich_for_two_categories() -> None:
    """With two categories the cumulative logit is the logistic regression (β equal, the
    threshold is minus the intercept), so our hand-made cluster sandwich must equal the one
    statsmodels' GLM computes with cov_type='cluster' (CR1 factor G/(G−1), no (N−1)/(N−K))."""
    import statsmodels.api as sm

    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(25), 8)
    x1 = rng.normal(size=len(g)) + rng.normal(size=25)[g]
    x2 = (rng.random(len(g)) < 0.4).astype(float)
    eta = -0.3 + 0.8 * x1 - 0.6 * x2 + rng.normal(scale=0.8, size=25)[g]
    y = (rng.random(len(g)) < 1 / (1 + np.exp(-eta))).astype(int)
    X = pd.DataFrame({"x1": x1, "x2": x2})
    fit = _models.clm(y, X, g, formula="y ~ x1 + x2", clusters="g")
    glm = sm.GLM(y, sm.add_constant(X.to_numpy()), family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": g, "use_correction": False}
    )
    beta = fit.terms["estimate"].to_numpy()
    np.testing.assert_allclose(beta[:2], glm.params[1:], rtol=1e-4)
    np.testing.assert_allclose(beta[2], -glm.params[0], rtol=1e-4)
    G = 25
    np.testing.assert_allclose(fit.terms["se"].to_numpy()[:2] ** 2,
                               np.diag(glm.cov_params())[1:] * G / (G - 1), rtol=1e-4)  # fmt: skip


def test_models_clm_scores_are_the_gradient_of_the_likelihood() -> None:
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    y, X, _ = _wine()
    yc = y - 1
    beta, theta = np.array([2.0, 1.0]), np.array([-1.0, 1.0, 3.0, 5.0])
    model = OrderedModel(yc, X.to_numpy(), distr="logit")

    def loglike(v: np.ndarray) -> float:
        th = v[2:]
        par = np.r_[v[:2], th[0], np.log(np.diff(th))]
        return float(model.loglike(par))

    v = np.r_[beta, theta]
    h = 1e-6
    numeric = [(loglike(v + h * e) - loglike(v - h * e)) / (2 * h) for e in np.eye(len(v))]
    analytic = _models.clm_scores(yc, X.to_numpy(), beta, theta).sum(axis=0)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6)


def test_models_separation_is_reported_not_hidden() -> None:
    # the outcome is 1 exactly when x is 1: no finite odds ratio exists
    g = np.repeat(np.arange(12), 5)
    x = (np.arange(60) % 2).astype(float)
    X = pd.DataFrame({"Intercept": 1.0, "x": x})
    fit = _models.gee(x.copy(), X, g, formula="y ~ x", clusters="conversations")
    row = fit.term("x")
    assert np.isinf(row["estimate"]) and np.isnan(row["ci_low"])
    assert "separation" in fit.note


def test_models_not_fitted_when_the_outcome_does_not_vary() -> None:
    X = pd.DataFrame({"Intercept": np.ones(10), "x": np.arange(10.0)})
    fit = _models.gee(np.zeros(10), X, np.arange(10), formula="y ~ x", clusters="users")
    assert fit.note.startswith("not fitted") and fit.terms["estimate"].isna().all()


def test_models_restricted_cubic_spline_is_linear_beyond_the_outer_knots() -> None:
    knots = np.array([1.0, 4.0, 9.0])
    x = np.linspace(-5, 20, 101)
    basis = _models.rcs_basis(x, knots)
    assert basis.shape == (101, 2)
    # Harrell's term: (x - t1)+^3 - (x - t2)+^3 (t3 - t1)/(t3 - t2) + (x - t3)+^3 (t2 - t1)/
    # (t3 - t2), scaled by (t3 - t1)^2: zero left of t1, linear right of t3
    t1, t2, t3 = knots
    hand = (
        np.clip(x - t1, 0, None) ** 3
        - np.clip(x - t2, 0, None) ** 3 * (t3 - t1) / (t3 - t2)
        + np.clip(x - t3, 0, None) ** 3 * (t2 - t1) / (t3 - t2)
    ) / (t3 - t1) ** 2
    np.testing.assert_allclose(basis[:, 1], hand)
    right = x > t3
    second = np.diff(basis[right, 1], 2)
    np.testing.assert_allclose(second, 0, atol=1e-9)
    assert (basis[x < t1, 1] == 0).all()


def test_models_wald_test_of_several_terms() -> None:
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(40), 6)
    grp = np.repeat(rng.integers(0, 3, 40), 6)
    y = (rng.random(len(g)) < np.where(grp == 2, 0.7, 0.3)).astype(float)
    X = pd.DataFrame({"Intercept": 1.0, "g[1]": (grp == 1) * 1.0, "g[2]": (grp == 2) * 1.0})
    fit = _models.gee(y, X, g, formula="y ~ g", clusters="users")
    f, p = fit.wald(["g[1]", "g[2]"])
    b = fit.terms["estimate"].to_numpy()[1:]
    v = fit.cov[1:, 1:]
    assert f == pytest.approx(float(b @ np.linalg.solve(v, b)) / 2)
    assert 0 <= p < 0.05
