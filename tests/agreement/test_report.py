"""The whole-codebook report on unit-labels tables built in code."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from annotate.agreement import AgreementReport, alpha, cohen_kappa, gwet_ac
from annotate.agreement import report as agreement_report
from annotate.errors import AgreementError, CodebookError

from .conftest import make_labels, reliability_data

# Krippendorff (2011) 4 coders × 12 units, values 1..5 (published alpha in the docstrings)
C = [[1, 1, None, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2],
     [1, 2, 3, 4], [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [None, 5, 5, 5],
     [None, None, 1, 1], [None, None, 3, None]]  # fmt: skip


@pytest.fixture(scope="module")
def both_roles_codebook():
    from annotate.codebook import codebook_from_data

    return codebook_from_data(
        {
            "id": "t",
            "version": "1.0.0",
            "title": "T",
            "codes": [
                {"id": "warm", "label": "Warm", "unit": "turn", "level": "binary",
                 "applies_to": ["user", "assistant"], "definition": "x"},
                {"id": "never", "label": "Never coded", "unit": "turn", "level": "binary",
                 "applies_to": ["assistant"], "definition": "x"},
            ],
        }
    )  # fmt: skip


def _binary(n_units, seed, n_coders=3, p_flip=0.1, missing=0.0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n_units)
    m = np.repeat(truth[:, None], n_coders, axis=1)
    flip = rng.random(m.shape) < p_flip
    m[flip] = 1 - m[flip]
    out = m.astype(object)
    out[rng.random(m.shape) < missing] = None
    return out


def test_report_ordinal_conversation_code_reproduces_krippendorff(toy_codebook) -> None:
    labels = make_labels({"conv_autonomy_support": C}, unit="conversation")
    report = agreement_report(labels, toy_codebook, codes=["conv_autonomy_support"])
    row = report.table.iloc[0]
    assert row["alpha"] == pytest.approx(0.815, abs=5e-4)  # Krippendorff 2011, ordinal
    assert (row["n_units"], row["n_coders"], row["n_pairable"]) == (11, 4, 40)
    assert row["level"] == "ordinal" and row["metric"] == "ordinal"
    assert row["weights"] == "linear"
    expected = gwet_ac(C, weights="linear", values=[1, 2, 3, 4, 5])
    assert row["gwet_ac"] == pytest.approx(expected)
    assert np.isnan(row["cohen_kappa"])  # four coders


def test_report_interval_code_uses_the_interval_metric(toy_codebook) -> None:
    labels = make_labels({"conv_warmth": C}, unit="conversation")
    row = agreement_report(labels, toy_codebook, codes=["conv_warmth"]).table.iloc[0]
    assert row["alpha"] == pytest.approx(0.849, abs=5e-4)  # Krippendorff 2011, interval


def test_report_one_row_per_code_with_undefined_rows_kept(toy_codebook) -> None:
    labels = make_labels({"ai_pressure": _binary(30, 1)})
    report = agreement_report(labels, toy_codebook)
    assert len(report.table) == len(toy_codebook.codes)
    pressure = report.table.set_index("code_id").loc["ai_pressure"]
    assert pressure["flag"] in {"reliable", "tentative", "unreliable"}
    empty = report.table.set_index("code_id").loc["ai_empathy"]
    assert np.isnan(empty["alpha"]) and empty["flag"] == "undefined"
    assert "no labels" in empty["reason"]


def test_report_no_variation_is_nan_with_reason(toy_codebook) -> None:
    constant = np.full((10, 2), "0", dtype=object)
    labels = make_labels({"ai_pressure": constant, "ai_empathy": _binary(30, 2)})
    t = agreement_report(labels, toy_codebook, codes=["ai_pressure", "ai_empathy"]).table
    assert np.isnan(t.loc[0, "alpha"]) and "alpha" in t.loc[0, "reason"]
    assert t.loc[0, "percent_agreement"] == 1.0
    assert np.isfinite(t.loc[1, "alpha"])


def test_report_binary_prevalence_and_two_coder_kappa(toy_codebook) -> None:
    m = np.array([["1", "1"], ["1", "0"], ["0", "0"], ["0", "0"], ["1", "1"]], dtype=object)
    row = agreement_report(
        make_labels({"ai_pressure": m}), toy_codebook, codes=["ai_pressure"]
    ).table
    row = row.iloc[0]
    assert row["prevalence"] == pytest.approx(5 / 10)
    # a = 2 (both present), b + c = 1, d = 2: 2a / (2a + b + c) and 2d / (2d + b + c)
    assert row["positive_agreement"] == pytest.approx(4 / 5)
    assert row["negative_agreement"] == pytest.approx(4 / 5)
    assert row["percent_agreement"] == pytest.approx(0.8)
    assert row["cohen_kappa"] == pytest.approx(cohen_kappa(m.astype(int), values=[0, 1]))
    assert row["alpha"] == pytest.approx(alpha(m))


def test_report_pooled_row_for_codes_on_both_roles(both_roles_codebook) -> None:
    m = _binary(40, 3)
    labels = make_labels({"warm": m}, role=["user", "assistant"], turns_per_conversation=4)
    t = agreement_report(labels, both_roles_codebook, codes=["warm"]).table
    assert t["role"].tolist() == ["user", "assistant", "all"]
    assert t.loc[2, "n_units"] == 40
    assert t.loc[2, "alpha"] == pytest.approx(alpha(m))
    assert t.loc[0, "alpha"] == pytest.approx(alpha(m[0::2]))
    only_user = agreement_report(labels, both_roles_codebook, role="user").table
    assert only_user["role"].tolist() == ["user"]


def test_report_set_code_uses_masi(toy_codebook) -> None:
    sets = [['["sadness"]', '["sadness"]'], ['["sadness","anxiety"]', '["sadness"]'],
            ["[]", "[]"], ['["joy"]', "[]"], ['["anger"]', '["anger"]']]  # fmt: skip
    labels = make_labels({"user_emotions": sets}, role="user")
    row = agreement_report(labels, toy_codebook, codes=["user_emotions"]).table.iloc[0]
    as_lists = [[__import__("json").loads(v) for v in r] for r in sets]
    assert row["metric"] == "masi"
    assert row["alpha"] == pytest.approx(alpha(as_lists, level="set"))
    assert row["percent_agreement"] == pytest.approx(3 / 5)
    assert np.isnan(row["gwet_ac"])


def test_report_refuses_values_outside_the_domain(toy_codebook) -> None:
    labels = make_labels({"ai_move": [["listen", "shout"], ["ask", "ask"]]})
    with pytest.raises(AgreementError, match=r"E401.*shout"):
        agreement_report(labels, toy_codebook)


def test_report_refuses_codes_outside_the_codebook(toy_codebook) -> None:
    labels = make_labels({"made_up": [["1", "1"]]})
    with pytest.raises(AgreementError, match=r"E402.*made_up"):
        agreement_report(labels, toy_codebook)


def test_report_refuses_missing_columns(toy_codebook) -> None:
    with pytest.raises(AgreementError, match="E403"):
        agreement_report(pd.DataFrame({"annotator_id": ["a"]}), toy_codebook)


def test_report_refuses_duplicate_labels(toy_codebook) -> None:
    labels = make_labels({"ai_pressure": [["1", "0"]]})
    with pytest.raises(AgreementError, match="E405"):
        agreement_report(pd.concat([labels, labels]), toy_codebook)


def test_report_unknown_code_selection_names_the_codes(toy_codebook) -> None:
    with pytest.raises(CodebookError):
        agreement_report(make_labels({"ai_pressure": [["1", "0"]]}), toy_codebook, codes=["nope"])


def test_report_leaves_out_gold_and_system_codes(toy_codebook) -> None:
    labels = make_labels({"ai_pressure": _binary(20, 4)})
    extra = labels[labels.annotator_id == "c0"].assign(annotator_id="gold")
    status = labels.iloc[:1].assign(code_id="_status", value="done", unit="conversation")
    a = agreement_report(labels, toy_codebook, codes=["ai_pressure"]).table
    b = agreement_report(
        pd.concat([labels, extra, status]), toy_codebook, codes=["ai_pressure"]
    ).table
    assert a.loc[0, "alpha"] == b.loc[0, "alpha"] and b.loc[0, "n_coders"] == 3


def test_report_bootstrap_is_seeded_and_independent_of_other_codes(toy_codebook) -> None:
    labels = make_labels({"ai_pressure": _binary(90, 5), "ai_empathy": _binary(90, 6)})
    one = agreement_report(labels, toy_codebook, codes=["ai_pressure"], bootstrap=200, seed=3).table
    both = agreement_report(labels, toy_codebook, bootstrap=200, seed=3).table.set_index("code_id")
    again = agreement_report(
        labels, toy_codebook, codes=["ai_pressure"], bootstrap=200, seed=3
    ).table
    assert one.loc[0, "alpha_low"] == again.loc[0, "alpha_low"]
    assert one.loc[0, "alpha_low"] == both.loc["ai_pressure", "alpha_low"]
    assert one.loc[0, "alpha_low"] <= one.loc[0, "alpha"] <= one.loc[0, "alpha_high"]


def test_report_pairwise_matrix(toy_codebook) -> None:
    m = _binary(60, 7, n_coders=3)
    m[:, 2] = np.where(np.random.default_rng(0).random(60) < 0.5, "0", "1")  # coder c2 guesses
    report = agreement_report(make_labels({"ai_pressure": m}), toy_codebook, codes=["ai_pressure"])
    pw = report.pairwise("ai_pressure")
    assert list(pw.columns) == ["c0", "c1", "c2"]
    assert pw.loc["c0", "c1"] == pytest.approx(alpha(m[:, :2]))
    assert pw.loc["c0", "c1"] > pw.loc["c0", "c2"]
    kappa = report.pairwise("ai_pressure", coefficient="kappa")
    assert kappa.loc["c1", "c2"] == pytest.approx(cohen_kappa(m[:, 1:].astype(int)))
    assert np.isnan(pw.loc["c0", "c0"])


def test_report_leave_one_out_finds_the_drifting_coder(toy_codebook) -> None:
    m = _binary(60, 8, n_coders=4, p_flip=0.05)
    m[:, 3] = np.where(np.random.default_rng(1).random(60) < 0.5, "0", "1")
    report = agreement_report(make_labels({"ai_pressure": m}), toy_codebook, codes=["ai_pressure"])
    loo = report.leave_one_out()
    assert len(loo) == 4
    assert loo.sort_values("change").iloc[-1]["coder"] == "c3"
    assert loo.loc[loo.coder == "c3", "alpha_without"].item() == pytest.approx(alpha(m[:, :3]))


class _Corpus:
    def conversation(self, conversation_id):
        return pd.DataFrame(
            {
                "turn_index": [0, 1, 2],
                "role": ["user", "assistant", "user"],
                "text": [f"{conversation_id} t{i}" for i in range(3)],
            }
        )


def test_report_disagreements_with_context(toy_codebook) -> None:
    m = np.array([["1", "1"], ["1", "0"], [None, "1"], ["0", "0"]], dtype=object)
    report = agreement_report(make_labels({"ai_pressure": m}), toy_codebook, codes=["ai_pressure"])
    d = report.disagreements()
    assert len(d) == 1
    assert d.loc[0, ["conversation_id", "turn_index", "c0", "c1"]].tolist() == [
        "conv000",
        1,
        "1",
        "0",
    ]
    ctx = report.disagreements(corpus=_Corpus())
    assert ctx.loc[0, "text"] == "conv000 t1"
    assert ctx.loc[0, "previous_text"] == "conv000 t0" and ctx.loc[0, "previous_role"] == "user"


def test_report_outputs_text_html_dict_plot(toy_codebook, tmp_path) -> None:
    labels = make_labels({"ai_pressure": _binary(30, 9)})
    report = agreement_report(labels, toy_codebook, bootstrap=50, seed=1)
    assert isinstance(report, AgreementReport)
    text = report.to_text()
    assert (
        "ai_pressure" in text and "undefined:" in text and ".800" in text.replace("0.800", ".800")
    )
    html = report._repr_html_()
    assert "<table" in html and "ai_pressure" in html
    doc = report.to_dict()
    assert len(doc["rows"]) == len(report.table) and doc["settings"]["seed"] == 1
    fig = report.plot()
    for ext in ("png", "svg"):
        fig.savefig(tmp_path / f"forest.{ext}")
        assert (tmp_path / f"forest.{ext}").stat().st_size > 1000
    ax = fig.axes[0]
    assert {round(line.get_xdata()[0], 3) for line in ax.lines if len(line.get_xdata()) == 2
            and line.get_xdata()[0] == line.get_xdata()[1]} >= {0.667, 0.8}  # fmt: skip


def test_report_unit_filter(toy_codebook) -> None:
    labels = make_labels({"ai_pressure": _binary(10, 1)})
    t = agreement_report(labels, toy_codebook, unit="conversation").table
    assert set(t["unit"]) == {"conversation"}
    with pytest.raises(AgreementError, match="E404"):
        agreement_report(labels, toy_codebook, unit="sentence")


def test_report_annotate_agreement_is_a_plain_module(toy_codebook) -> None:
    import annotate
    import annotate.agreement as m

    assert m is annotate.agreement and type(m) is types.ModuleType
    labels = make_labels({"ai_pressure": _binary(20, 11)})
    report = annotate.agreement.report(labels, toy_codebook, codes=["ai_pressure"])
    assert isinstance(report, AgreementReport)
    assert report.table.iloc[0]["code_id"] == "ai_pressure"


@settings(max_examples=25, deadline=None)
@given(case=reliability_data(max_coders=4, max_units=30, q_max=6, p_missing=0.3))
def test_report_alpha_equals_the_core_on_random_labels(toy_codebook, case) -> None:
    data, _ = case
    ids = toy_codebook.code("ai_move").value_ids
    values = np.where(
        np.isnan(data), None, np.array(ids, dtype=object)[np.nan_to_num(data, nan=0).astype(int)]
    )
    labels = make_labels({"ai_move": values})
    row = agreement_report(labels, toy_codebook, codes=["ai_move"]).table.iloc[0]
    try:
        expected = alpha(values, values=list(ids))
    except AgreementError:
        assert np.isnan(row["alpha"]) and row["reason"]
        return
    assert row["alpha"] == pytest.approx(expected, abs=1e-12)
    assert row["gwet_ac"] == pytest.approx(gwet_ac(values, values=list(ids)), abs=1e-12)


def test_report_empty_labels_give_undefined_rows(toy_codebook) -> None:
    empty = pd.DataFrame(
        columns=[
            "annotator_id",
            "unit",
            "conversation_id",
            "turn_index",
            "role",
            "code_id",
            "value",
        ]
    )
    t = agreement_report(empty, toy_codebook).table
    assert len(t) == len(toy_codebook.codes) and (t["flag"] == "undefined").all()


def test_report_refuses_labels_on_the_wrong_unit(toy_codebook) -> None:
    labels = make_labels({"conv_warmth": [["3", "4"], ["2", "2"]]}, unit="turn")
    with pytest.raises(AgreementError, match=r"E408.*conv_warmth"):
        agreement_report(labels, toy_codebook)


def _table_values(report) -> pd.DataFrame:
    cols = ["code_id", "role", "n_units", "n_coders", "n_pairable", "alpha", "percent_agreement"]
    cols += ["gwet_ac", "brennan_prediger", "fleiss_kappa", "cohen_kappa", "prevalence"]
    return report.table[cols]


def test_report_is_the_same_whatever_the_row_order(both_roles_codebook) -> None:
    """The pivot reads a code's labels as one block or scattered: same table, same diagnostics
    (per-role and pooled rows)."""
    labels = make_labels(
        {"warm": _binary(60, 5, missing=0.2), "never": _binary(30, 6)},
        role=["user", "assistant"],
        turns_per_conversation=4,
    )
    labels = labels[(labels.code_id == "warm") | (labels.role == "assistant")]
    shuffled = labels.sample(frac=1.0, random_state=3).reset_index(drop=True)
    a = agreement_report(labels, both_roles_codebook)
    b = agreement_report(shuffled, both_roles_codebook)
    assert a.table["role"].tolist() == ["user", "assistant", "all", "assistant"]
    pd.testing.assert_frame_equal(_table_values(a), _table_values(b))
    # (coders are listed in order of appearance)
    pa, pb = a.pairwise("warm"), b.pairwise("warm").loc[["c0", "c1", "c2"], ["c0", "c1", "c2"]]
    pd.testing.assert_frame_equal(pa, pb)
    order = ["code_id", "role", "coder"]
    la = a.leave_one_out().sort_values(order).reset_index(drop=True)
    lb = b.leave_one_out().sort_values(order).reset_index(drop=True)
    pd.testing.assert_frame_equal(la, lb)
    key = ["code_id", "conversation_id", "turn_index"]
    da = a.disagreements().sort_values(key).reset_index(drop=True)
    db = b.disagreements().sort_values(key).reset_index(drop=True)[list(da.columns)]
    assert len(da) > 0 and set(da["role"]) == {"user", "assistant"}
    pd.testing.assert_frame_equal(da, db)


def test_report_with_sparse_turn_indexes_equals_dense(toy_codebook) -> None:
    """Turn indexes far apart (the unit keys cannot be ranked by a dense table) change
    nothing but the turn indexes reported."""
    labels = make_labels({"ai_pressure": _binary(40, 9, missing=0.1)})
    sparse = labels.assign(turn_index=labels["turn_index"] * 1_000_003)
    a = agreement_report(labels, toy_codebook, codes=["ai_pressure"])
    b = agreement_report(sparse, toy_codebook, codes=["ai_pressure"])
    pd.testing.assert_frame_equal(_table_values(a), _table_values(b))
    da, db = a.disagreements(), b.disagreements()
    assert len(da) > 0 and (db["turn_index"] == da["turn_index"] * 1_000_003).all()


def test_report_names_the_duplicated_label(toy_codebook) -> None:
    labels = make_labels({"ai_pressure": [["1", "0"], ["0", "0"]]})
    twice = pd.concat([labels, labels.iloc[[3]]], ignore_index=True)  # c1's label of turn 1
    with pytest.raises(AgreementError, match=r"E405.*1 label.*c1 / conv000 / 1 / ai_pressure"):
        agreement_report(twice, toy_codebook)


@pytest.mark.parametrize("column", ["annotator_id", "conversation_id"])
def test_report_refuses_labels_without_coder_or_conversation(toy_codebook, column) -> None:
    labels = make_labels({"ai_pressure": [["1", "0"], ["0", "0"]]}).astype({column: object})
    labels.loc[1, column] = None
    with pytest.raises(AgreementError, match=rf"E406.*{column}.*1 label"):
        agreement_report(labels, toy_codebook)


def test_report_refuses_set_values_that_are_not_lists(toy_codebook) -> None:
    labels = make_labels({"user_emotions": [['["joy"]', "1"], ["[]", "[]"]]}, role="user")
    with pytest.raises(AgreementError, match=r"E401.*'1'.*user_emotions"):
        agreement_report(labels, toy_codebook)


@pytest.mark.parametrize(
    ("code_id", "weights"),
    [("ai_move", "identity"), ("conv_autonomy_support", "linear"), ("conv_warmth", "quadratic")],
)
def test_report_companions_equal_the_cores(toy_codebook, code_id, weights) -> None:
    """Observed agreement and category shares are shared by the companions of a row: each
    still equals its own core function (weighted for ordinal and interval codes)."""
    from annotate.agreement import brennan_prediger, fleiss_kappa, percent_agreement

    code = toy_codebook.code(code_id)
    ids = list(code.value_ids)
    rng = np.random.default_rng(11)
    truth = rng.integers(0, len(ids), 60)
    m = np.where(rng.random((60, 4)) < 0.7, truth[:, None], rng.integers(0, len(ids), (60, 4)))
    values = np.array(ids, dtype=object)[m]
    values[rng.random(values.shape) < 0.15] = None
    unit = code.unit
    labels = make_labels({code_id: values}, unit=unit)
    row = agreement_report(labels, toy_codebook, codes=[code_id]).table.iloc[0]
    kw = {"weights": weights, "values": ids}
    if code.level == "interval":
        kw["scores"] = [float(v) for v in ids]
    assert row["percent_agreement"] == pytest.approx(percent_agreement(values, values=ids))
    assert row["gwet_ac"] == pytest.approx(gwet_ac(values, **kw), abs=1e-12)
    assert row["brennan_prediger"] == pytest.approx(brennan_prediger(values, **kw), abs=1e-12)
    assert row["fleiss_kappa"] == pytest.approx(fleiss_kappa(values, **kw), abs=1e-12)


def test_report_companions_are_exactly_rounded() -> None:
    """On 200,000 units x 3 coders with missing values, alpha and the companions agree with
    exact rational arithmetic (Python fractions over the same counts) to a few ulps: sums over
    units are exact, so the error does not grow with the number of units."""
    from fractions import Fraction

    from annotate.codebook import codebook_from_data

    q, n = 8, 200_000
    rng = np.random.default_rng(2)
    truth = rng.integers(0, q, n)
    codes = np.where(rng.random((n, 3)) < 0.7, truth[:, None], rng.integers(0, q, (n, 3)))
    codes[rng.random((n, 3)) < 0.1] = -1
    ids = [str(v) for v in range(q)]
    cb = codebook_from_data({"id": "t", "version": "1.0.0", "title": "T", "codes": [
        {"id": "move", "label": "Move", "definition": "x", "unit": "conversation",
         "level": "nominal", "values": [{"value": v, "label": v} for v in ids]}]})  # fmt: skip
    unit, coder = np.nonzero(codes >= 0)
    labels = pd.DataFrame({
        "annotator_id": np.array(["a", "b", "c"])[coder], "unit": "conversation",
        "conversation_id": [f"c{u:06d}" for u in unit], "turn_index": None, "role": None,
        "code_id": "move", "value": np.array(ids)[codes[unit, coder]],
    })  # fmt: skip
    row = agreement_report(labels, cb).table.iloc[0]

    counts = np.zeros((n, q), dtype=np.int64)
    np.add.at(counts, (unit, codes[unit, coder]), 1)
    m = counts.sum(axis=1)
    F = Fraction
    pairable = {k: counts[m == k] for k in (2, 3)}
    pa = sum(F(int((c * (c - 1)).sum()), k * (k - 1)) for k, c in pairable.items())
    pa /= sum(len(c) for c in pairable.values())
    pi = [sum(F(int(counts[m == k, j].sum()), k) for k in (1, 2, 3)) / int((m > 0).sum())
          for j in range(q)]  # fmt: skip
    o = [[sum(F(int((c[:, i] * c[:, j]).sum() - (i == j) * c[:, i].sum()), k - 1)
               for k, c in pairable.items()) for j in range(q)] for i in range(q)]  # fmt: skip
    n_c = [sum(r) for r in o]
    total = sum(n_c)
    d_o = sum(o[i][j] for i in range(q) for j in range(q) if i != j)
    d_e = sum(n_c[i] * n_c[j] for i in range(q) for j in range(q) if i != j) / (total - 1)
    pe_fleiss = sum(p * p for p in pi)
    pe_gwet = sum(p * (1 - p) for p in pi) / (q - 1)
    exact = {
        "alpha": 1 - d_o / d_e,
        "percent_agreement": pa,
        "fleiss_kappa": (pa - pe_fleiss) / (1 - pe_fleiss),
        "gwet_ac": (pa - pe_gwet) / (1 - pe_gwet),
        "brennan_prediger": (pa - F(1, q)) / (1 - F(1, q)),
    }
    for name, value in exact.items():
        assert row[name] == pytest.approx(float(value), rel=2e-15, abs=0), name
