"""Invariants of the coefficients, and refusals when a coefficient is undefined."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotate.agreement import (
    alpha,
    brennan_prediger,
    cohen_kappa,
    fleiss_kappa,
    gwet_ac,
    percent_agreement,
    scott_pi,
)
from annotate.agreement.distances import set_distance, weights
from annotate.errors import AgreementError

from .conftest import MAX_EXAMPLES, reliability_data

LEVELS = ["nominal", "ordinal", "interval", "ratio"]


def _defined(fn, *a, **k):
    try:
        return fn(*a, **k)
    except AgreementError:
        return None


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(case=reliability_data(), seed=st.integers(0, 1000))
def test_invariants_alpha_ignores_coder_and_unit_order(case, seed) -> None:
    data, q = case
    rng = np.random.default_rng(seed)
    shuffled = data[rng.permutation(len(data))][:, rng.permutation(data.shape[1])]
    for level in LEVELS:
        a = _defined(alpha, data + 1, level=level, values=np.arange(1, q + 1))
        b = _defined(alpha, shuffled + 1, level=level, values=np.arange(1, q + 1))
        assert (a is None and b is None) or a == pytest.approx(b, abs=1e-12)


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(case=reliability_data(), seed=st.integers(0, 1000))
def test_invariants_nominal_coefficients_ignore_relabelling(case, seed) -> None:
    data, q = case
    perm = np.random.default_rng(seed).permutation(q)
    names = np.array([f"v{k}" for k in range(q)], dtype=object)
    relabelled = np.where(np.isnan(data), None, names[perm[np.nan_to_num(data).astype(int)]])
    original = np.where(np.isnan(data), None, names[np.nan_to_num(data).astype(int)])
    for fn in (alpha, fleiss_kappa, gwet_ac, brennan_prediger, percent_agreement):
        a = _defined(fn, original, values=list(names))
        b = _defined(fn, relabelled, values=list(names))
        assert (a is None and b is None) or a == pytest.approx(b, abs=1e-12), fn.__name__


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(n_units=st.integers(2, 30), n_coders=st.integers(2, 6), seed=st.integers(0, 1000))
def test_invariants_perfect_agreement_gives_one(n_units, n_coders, seed) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, n_units).astype(float)
    truth[:2] = [0, 1]  # the values vary
    data = np.repeat(truth[:, None], n_coders, axis=1)
    data[rng.random(data.shape) < 0.2] = np.nan
    data[:2] = truth[:2, None]  # two complete units keep both values pairable
    values = np.arange(4)
    for level in LEVELS:
        assert alpha(data + 1, level=level, values=values + 1) == pytest.approx(1.0)
    for fn in (fleiss_kappa, gwet_ac, brennan_prediger, percent_agreement):
        assert fn(data, values=values) == pytest.approx(1.0)
    assert cohen_kappa(data[:, :2], values=values) == pytest.approx(1.0)
    assert scott_pi(data[:, :2], values=values, weights="quadratic") == pytest.approx(1.0)


def test_invariants_alpha_refuses_single_coder_units() -> None:
    with pytest.raises(AgreementError, match=r"E400.*two or more coders"):
        alpha([[1, None], [None, 2]])


def test_invariants_alpha_refuses_no_variation() -> None:
    with pytest.raises(AgreementError, match=r"E400.*alpha"):
        alpha([[1, 1], [1, 1], [1, None]])


def test_invariants_kappa_refuses_constant_ratings() -> None:
    with pytest.raises(AgreementError, match="E400"):
        cohen_kappa([["a", "a"], ["a", "a"]])


def test_invariants_unknown_value_is_refused() -> None:
    with pytest.raises(AgreementError, match=r"E401.*'x'"):
        alpha([["a", "x"], ["a", "a"]], values=["a", "b"])


def test_invariants_unknown_level_is_refused() -> None:
    with pytest.raises(AgreementError, match="E404"):
        alpha([[1, 2], [1, 1]], level="cardinal")


def test_invariants_unused_categories_change_bp_and_ac1_not_alpha() -> None:
    """AC1 and BP use q of the domain; alpha ignores values nobody used."""
    data = [["a", "a"], ["a", "b"], ["b", "b"], ["a", "a"]]
    small, large = ["a", "b"], ["a", "b", "c", "d"]
    assert alpha(data, values=small) == pytest.approx(alpha(data, values=large))
    assert brennan_prediger(data, values=small) == pytest.approx((0.75 - 0.5) / 0.5)
    assert brennan_prediger(data, values=large) == pytest.approx((0.75 - 0.25) / 0.75)
    assert gwet_ac(data, values=small) != pytest.approx(gwet_ac(data, values=large))


def test_invariants_ordinal_alpha_keeps_unused_ranks() -> None:
    """Krippendorff's ordinal metric sums the frequencies of the ranks in between: an unused
    middle rank adds nothing, so inserting it in the domain leaves alpha unchanged, while a
    different order changes it."""
    data = [[1, 1], [1, 3], [3, 3], [4, 4], [4, 4], [3, 4], [1, 1]]
    a = alpha(data, level="ordinal", values=[1, 3, 4])
    b = alpha(data, level="ordinal", values=[1, 2, 3, 4])
    c = alpha(data, level="ordinal", values=[3, 1, 4])
    assert a == pytest.approx(b)
    assert a != pytest.approx(c)


def test_invariants_set_alpha_equals_nominal_when_every_set_is_a_singleton() -> None:
    nominal = [["a", "b"], ["a", "a"], ["b", "b"], ["c", "b"]]
    sets = [[[v] for v in row] for row in nominal]
    # MASI of two different singletons is 1, like the nominal metric
    assert alpha(sets, level="set") == pytest.approx(alpha(nominal))


def test_invariants_set_distances_bounds() -> None:
    for kind in ("masi", "jaccard", "passonneau2004", "dkpro_masi"):
        assert set_distance({"a"}, {"a"}, kind) == 0.0
        assert set_distance({"a"}, {"b"}, kind) == 1.0
        assert set_distance([], [], kind) == 0.0


def test_invariants_quadratic_weights_alpha_is_interval_alpha() -> None:
    """Gwet: alpha with quadratic agreement weights equals Krippendorff's interval alpha."""
    from annotate.agreement._alpha import alpha_from_coincidences
    from annotate.agreement._matrix import coincidences, encode, value_counts

    data = [[1, 2, 1], [3, 3, None], [2, 4, 3], [4, 4, 4], [1, None, 2]]
    codes, dom = encode(data)
    o = coincidences(value_counts(codes, len(dom)))
    w = weights("quadratic", len(dom), scores=dom)
    assert alpha_from_coincidences(o, 1 - w) == pytest.approx(alpha(data, level="interval"))


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(a=st.integers(0, 30), b=st.integers(0, 30), c=st.integers(0, 30), d=st.integers(0, 30))
def test_invariants_specific_agreement_is_the_two_rater_formula(a, b, c, d) -> None:
    """Positive agreement 2a / (2a + b + c), negative 2d / (2d + b + c) (Cicchetti & Feinstein)."""
    from annotate.agreement import specific_agreement
    from annotate.agreement._matrix import contingency_to_data

    if a + b + c + d == 0:
        return
    got = specific_agreement(contingency_to_data([[d, b], [c, a]]), values=[0, 1])
    neg = 2 * d / (2 * d + b + c) if 2 * d + b + c else np.nan
    pos = 2 * a / (2 * a + b + c) if 2 * a + b + c else np.nan
    np.testing.assert_allclose(got, [neg, pos])
