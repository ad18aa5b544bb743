"""Cross-checks against independent implementations on random data with missing values.

Oracles: the ``krippendorff`` package (alpha; GPL, a test dependency only), statsmodels
(Cohen's weighted kappa, Fleiss' kappa) and irrCAC (Gwet's AC1/AC2, Fleiss, Conger,
Brennan–Prediger and Krippendorff in Gwet's formulation).
"""

from __future__ import annotations

import warnings

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from statsmodels.stats import inter_rater as sm

from annotate.agreement import (
    alpha,
    brennan_prediger,
    cohen_kappa,
    conger_kappa,
    fleiss_kappa,
    gwet_ac,
    percent_agreement,
)
from annotate.agreement.kappa import contingency
from annotate.errors import AgreementError

from .conftest import MAX_EXAMPLES, reliability_data

irr_raw = pytest.importorskip("irrCAC.raw")


def _pairable_values_vary(data: np.ndarray) -> bool:
    pairable = (~np.isnan(data)).sum(axis=1) >= 2
    vals = data[pairable]
    return len(np.unique(vals[~np.isnan(vals)])) >= 2


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(case=reliability_data())
def test_oracles_alpha_matches_krippendorff_package(level, case) -> None:
    data, q = case
    values = np.arange(1, q + 1, dtype=float)  # 1..q: ratio needs non-zero values
    data = data + 1
    if not _pairable_values_vary(data):
        with pytest.raises(AgreementError, match="E400"):
            alpha(data, level=level, values=values)
        return
    expected = krippendorff.alpha(
        reliability_data=data.T, level_of_measurement=level, value_domain=values
    )
    assert alpha(data, level=level, values=values) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("wt", [None, "linear", "quadratic"])
@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(case=reliability_data(min_coders=2, max_coders=2, max_units=40, p_missing=0.1))
def test_oracles_cohen_kappa_matches_statsmodels(wt, case) -> None:
    data, q = case
    values = np.arange(q)
    both = ~np.isnan(data).any(axis=1)
    if not both.any():
        return
    table = contingency(data, values) * both.sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.cohens_kappa(table, wt=wt)
    ours_fn = lambda: cohen_kappa(data, values=values, weights=wt or "identity")  # noqa: E731
    if not np.isfinite(res.kappa):
        with pytest.raises(AgreementError):
            ours_fn()
        return
    assert ours_fn() == pytest.approx(res.kappa, abs=1e-9)


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(case=reliability_data(min_coders=3, max_coders=6, p_missing=0.0))
def test_oracles_fleiss_kappa_matches_statsmodels_on_complete_data(case) -> None:
    data, q = case
    counts = np.stack([(data == k).sum(axis=1) for k in range(q)], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = sm.fleiss_kappa(counts, method="fleiss")
    if not np.isfinite(expected):
        with pytest.raises(AgreementError):
            fleiss_kappa(data, values=np.arange(q))
        return
    assert fleiss_kappa(data, values=np.arange(q)) == pytest.approx(expected, abs=1e-9)


def _irr(data: np.ndarray, q: int, weights: str):
    frame = pd.DataFrame(data + 1)  # irrCAC drops all-missing rows itself
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return irr_raw.CAC(frame, weights=weights, categories=list(range(1, q + 1)), digits=12)


@pytest.mark.parametrize("weights", ["identity", "linear", "quadratic"])
@settings(max_examples=MAX_EXAMPLES // 2, deadline=None)
@given(case=reliability_data(min_coders=2, max_coders=5, p_missing=0.25))
def test_oracles_gwet_family_matches_irrcac(weights, case) -> None:
    data, q = case
    if ((~np.isnan(data)).sum(axis=1) >= 2).sum() < 2:
        return
    data = data[:, (~np.isnan(data)).any(axis=0)]  # irrCAC's Conger divides by 0 otherwise
    cac = _irr(data, q, weights)
    kw = {"values": np.arange(q), "weights": weights}
    pairs = [
        (gwet_ac, cac.gwet),
        (brennan_prediger, cac.bp),
        (fleiss_kappa, cac.fleiss),
        (conger_kappa, cac.conger),
    ]
    for ours, theirs in pairs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                expected = theirs()["est"]["coefficient_value"]
            except ZeroDivisionError:  # irrCAC fails where the coefficient is undefined
                with pytest.raises(AgreementError, match="E400"):
                    ours(data, **kw)
                continue
        try:
            got = ours(data, **kw)
        except AgreementError:
            continue  # irrCAC returns a value on 0/0 cases (it adds 1e-15); we refuse
        assert got == pytest.approx(expected, abs=1e-9), ours.__name__
        if ours is not conger_kappa:  # Gwet's (2014) standard error, as irrCAC computes it
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                se = theirs()["est"]["se"]
            ours_se = ours(data, full=True, **kw).se
            if se > 1e-14:  # irrCAC reports 1e-15 for a zero SE
                assert ours_se == pytest.approx(se, abs=1e-9), ours.__name__
    if weights == "identity":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pa = cac.gwet()["est"]["pa"]
        assert percent_agreement(data, values=np.arange(q)) == pytest.approx(pa, abs=1e-9)


@settings(max_examples=MAX_EXAMPLES // 2, deadline=None)
@given(case=reliability_data(min_coders=2, max_coders=5, p_missing=0.25))
def test_oracles_alpha_matches_irrcac_quadratic_weights(case) -> None:
    """irrCAC's quadratic-weighted alpha is Krippendorff's interval alpha."""
    data, q = case
    if not _pairable_values_vary(data) or ((~np.isnan(data)).sum(axis=1) >= 2).sum() < 2:
        return  # irrCAC's variance step divides by (n - 1) with one pairable unit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _irr(data, q, "quadratic").krippendorff()["est"]["coefficient_value"]
    got = alpha(data, level="interval", values=np.arange(q))
    assert got == pytest.approx(expected, abs=1e-9)
