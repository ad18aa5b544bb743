"""Cross-checks against independent implementations on random data with missing values.

Oracles: the ``krippendorff`` package (alpha; GPL, a test dependency only), statsmodels
(Cohen's weighted kappa, Fleiss' kappa) and irrCAC (Gwet's AC1/AC2, Fleiss, Conger,
Brennan–Prediger and Krippendorff in Gwet's formulation). Each live oracle skips only its own
tests when it is not installed. irrCAC pins numpy < 2, so it is not installed at all: its answers
on seeded random data sets are committed in tests/data/irrcac/ (generate.py says how they were
made, in an environment of their own) and compared here with ours on the same data, rebuilt from
the seeds.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings

from annotate.agreement import (
    alpha,
    brennan_prediger,
    cohen_kappa,
    conger_kappa,
    fleiss_kappa,
    gwet_ac,
    percent_agreement,
)
from annotate.agreement._alpha import alpha_from_coincidences
from annotate.agreement._matrix import coincidences, encode, value_counts
from annotate.agreement.distances import WEIGHTS
from annotate.agreement.distances import weights as agreement_weights
from annotate.agreement.kappa import contingency
from annotate.errors import AgreementError

from .conftest import MAX_EXAMPLES, reliability_data

IRRCAC = Path(__file__).resolve().parents[1] / "data" / "irrcac"


@pytest.fixture(scope="module")
def krippendorff() -> ModuleType:
    return pytest.importorskip("krippendorff")


@pytest.fixture(scope="module")
def sm() -> ModuleType:
    return pytest.importorskip("statsmodels.stats.inter_rater")


def _pairable_values_vary(data: np.ndarray) -> bool:
    pairable = (~np.isnan(data)).sum(axis=1) >= 2
    vals = data[pairable]
    return len(np.unique(vals[~np.isnan(vals)])) >= 2


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(case=reliability_data())
def test_oracles_alpha_matches_krippendorff_package(krippendorff, level, case) -> None:
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
def test_oracles_cohen_kappa_matches_statsmodels(sm, wt, case) -> None:
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
def test_oracles_fleiss_kappa_matches_statsmodels_on_complete_data(sm, case) -> None:
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


def _load_irrcac() -> tuple[ModuleType, dict]:
    """(tests/data/irrcac/generate.py as a module, the irrCAC values it wrote)."""
    spec = importlib.util.spec_from_file_location("irrcac_generate", IRRCAC / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = json.loads((IRRCAC / "irrcac_values.json").read_text(encoding="utf-8"))
    return module, doc


GENERATE, IRR = _load_irrcac()
VALUES = {c["seed"]: c for c in IRR["cases"]}


def _ours_alpha(data: np.ndarray, q: int, weights: str) -> float:
    """Krippendorff's alpha with delta² = 1 - w (Gwet's weighted alpha, irrCAC's krippendorff())."""
    codes, _ = encode(data, np.arange(q))
    o = coincidences(value_counts(codes, q))
    return alpha_from_coincidences(o, 1.0 - agreement_weights(weights, q))


OURS = {
    "gwet": gwet_ac,
    "fleiss": fleiss_kappa,
    "conger": conger_kappa,
    "bp": brennan_prediger,
}


def _pairable_units(data: np.ndarray) -> int:
    return int(((~np.isnan(data)).sum(axis=1) >= 2).sum())


def test_oracles_irrcac_values_are_for_the_data_the_seeds_rebuild() -> None:
    """The stored values belong to the data make_case() rebuilds under today's numpy."""
    assert IRR["generated_by"]["packages"] == GENERATE.PINNED  # made by the committed command
    assert list(VALUES) == list(GENERATE.SEEDS)
    assert set(IRR["weights"]) == set(GENERATE.WEIGHTS) == set(WEIGHTS)  # every family
    for seed, case in VALUES.items():
        data, q, _ = GENERATE.make_case(seed)
        assert (data.shape, q) == ((case["units"], case["coders"]), case["q"]), seed
        assert GENERATE.fingerprint(data) == case["sha256"], (
            f"seed {seed}: numpy rebuilt other data than irrCAC saw; regenerate the values "
            f"({IRR['generated_by']['command']})"
        )


@pytest.mark.parametrize("weights", IRR["weights"])
@pytest.mark.parametrize("method", list(IRR["parts"]))
def test_oracles_gwet_family_matches_irrcac(method: str, weights: str) -> None:
    """Each coefficient, and its pa, pe and SE, equals irrCAC's on 100 seeded data sets.

    Where irrCAC has no value (it raised, or gave a non-finite number) we refuse with E400, except
    on one pairable unit: there irrCAC's variance step divides by (pairable units - 1) and fails
    even where the coefficient itself is defined.
    """
    parts = IRR["parts"][method]
    compared, failures = 0, []
    for seed, case in VALUES.items():
        data, q, _ = GENERATE.make_case(seed)
        theirs = case["irrcac"][weights][method]
        try:
            if method == "krippendorff":
                got = {"coefficient_value": _ours_alpha(data, q, weights)}
            else:
                res = OURS[method](data, values=np.arange(q), weights=weights, full=True)
                got = {"coefficient_value": res.value, "pa": res.pa, "pe": res.pe, "se": res.se}
        except AgreementError as exc:
            got = exc
        if isinstance(theirs, dict) or theirs[0] is None:  # irrCAC: undefined
            if isinstance(theirs, dict) and _pairable_units(data) == 1:
                continue
            if not (isinstance(got, AgreementError) and "E400" in str(got)):
                failures.append(f"seed {seed}: irrCAC {theirs}, ours {got!r} (expected E400)")
            continue
        if isinstance(got, AgreementError):
            failures.append(f"seed {seed}: irrCAC {theirs}, ours refused: {got}")
            continue
        compared += 1
        for part, expected in zip(parts, theirs, strict=True):
            if got[part] != pytest.approx(expected, abs=1e-9):
                failures.append(f"seed {seed} {part}: ours {got[part]}, irrCAC {expected}")
    assert not failures, "\n".join(failures)
    assert compared >= 80, f"only {compared} of {len(VALUES)} data sets compared"


def test_oracles_named_alpha_levels_match_irrcac() -> None:
    """irrCAC's identity-weighted alpha is nominal alpha, quadratic-weighted is interval alpha."""
    compared = 0
    for seed, case in VALUES.items():
        data, q, _ = GENERATE.make_case(seed)
        for weights, level in (("identity", "nominal"), ("quadratic", "interval")):
            theirs = case["irrcac"][weights]["krippendorff"]
            if isinstance(theirs, dict) or theirs[0] is None:
                continue  # undefined: the refusal is checked in test_oracles_gwet_family_...
            got = alpha(data, level=level, values=np.arange(q))
            assert got == pytest.approx(theirs[0], abs=1e-9), (seed, weights)
            compared += 1
    assert compared >= 160


def test_oracles_percent_agreement_matches_irrcac() -> None:
    """Percent agreement is the pa of irrCAC's unweighted AC1."""
    compared = 0
    for seed, case in VALUES.items():
        data, q, _ = GENERATE.make_case(seed)
        theirs = case["irrcac"]["identity"]["gwet"]
        if isinstance(theirs, dict) or theirs[1] is None:
            continue
        got = percent_agreement(data, values=np.arange(q))
        assert got == pytest.approx(theirs[1], abs=1e-9), seed
        compared += 1
    assert compared >= 80
