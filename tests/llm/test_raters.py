"""The reliability table partitioned by raters, the gating table and validity against a
reference. Reference values come from the krippendorff package (an independent
implementation) and from hand counts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from annotate.agreement import report as agreement_report
from annotate.agreement.raters import rater_agreement
from annotate.agreement.validity import confusion, gating, validity
from annotate.codebook import load_codebook

krippendorff = pytest.importorskip("krippendorff")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo project's labels (alice, bob, carol); carol is declared an LLM here."""
    from annotate.demo import demo_project

    project = demo_project(tmp_path_factory.mktemp("demo"))
    return project.unit_labels(), project.codebook


def _matrix(labels: pd.DataFrame, code, coders: list[str]) -> np.ndarray:
    sub = labels[(labels["code_id"] == code.id) & labels["annotator_id"].isin(coders)]
    keys = ["conversation_id", "turn_index"]
    wide = sub.assign(turn_index=sub["turn_index"].astype("float")).pivot_table(
        index=keys, columns="annotator_id", values="value", aggfunc="first", dropna=False
    )
    ids = list(code.value_ids)
    return np.array(
        [[ids.index(v) if isinstance(v, str) else np.nan for v in wide[c]] for c in coders],
        dtype=float,
    )


@pytest.mark.parametrize("code_id", ["ai_empathy", "ai_primary_move", "conv_warmth"])
def test_raters_human_llm_with_one_human_is_the_two_coder_alpha(demo, code_id) -> None:
    """With one human, the human-llm alpha is the plain two-coder alpha (krippendorff)."""
    labels, cb = demo
    sub = labels[labels["annotator_id"].isin(["alice", "carol"])]
    row = rater_agreement(sub, cb, ["carol"], bootstrap=0).table
    row = row[(row["raters"] == "human-llm") & (row["code_id"] == code_id)].iloc[0]
    code = cb.code(code_id)
    level = "ordinal" if code.level == "ordinal" else "nominal"
    want = krippendorff.alpha(
        reliability_data=_matrix(labels, code, ["alice", "carol"]),
        level_of_measurement=level,
        value_domain=list(range(len(code.value_ids))),
    )
    assert row["alpha"] == pytest.approx(want, abs=1e-12)
    assert row["coder"] == "carol" and row["n_coders"] == 2


def test_raters_partition_rows_and_intervals(demo) -> None:
    labels, cb = demo
    report = rater_agreement(labels, cb, ["carol"], bootstrap=200, seed=1)
    t = report.table
    assert report.humans == ["alice", "bob"] and report.llms == ["carol"]
    per_code = t.groupby(["code_id", "role"], dropna=False)["raters"].apply(list)
    assert all(r == ["human", "human-llm", "all"] for r in per_code)  # one LLM: no llm rows
    assert any("no 'llm' rows" in n for n in report.settings["notes"])
    # the human rows are the report on the humans' labels alone; "all" the report on everyone
    plain = agreement_report(labels[labels["annotator_id"] != "carol"], cb, bootstrap=200, seed=1)
    human = t[t["raters"] == "human"].reset_index(drop=True)
    pd.testing.assert_series_equal(human["alpha"], plain.table["alpha"], check_names=False)
    pd.testing.assert_series_equal(human["alpha_low"], plain.table["alpha_low"], check_names=False)
    everyone = agreement_report(labels, cb, bootstrap=0).table
    np.testing.assert_allclose(t[t["raters"] == "all"]["alpha"], everyone["alpha"])
    # human-llm rows have intervals that contain the estimate, and agreement shares
    hl = t[(t["raters"] == "human-llm") & t["alpha"].notna()]
    assert len(hl) > 10
    assert (
        (hl["alpha_low"] <= hl["alpha"] + 1e-9) & (hl["alpha"] <= hl["alpha_high"] + 1e-9)
    ).all()
    assert hl["percent_agreement"].between(0, 1).all()
    assert "human-llm" in report.to_text() and "95% CI" in report.to_text()


def test_raters_two_llm_coders_get_llm_rows(demo) -> None:
    labels, cb = demo
    t = rater_agreement(labels, cb, ["bob", "carol"], bootstrap=0, codes=["ai_empathy"]).table
    assert list(t["raters"]) == ["human", "human-llm", "human-llm", "llm", "all"]
    assert list(t["coder"].fillna("-")) == ["-", "bob", "carol", "-", "-"]
    # the llm row is the plain alpha of bob and carol
    code = cb.code("ai_empathy")
    want = krippendorff.alpha(
        reliability_data=_matrix(labels, code, ["bob", "carol"]), level_of_measurement="nominal"
    )
    assert t[t["raters"] == "llm"]["alpha"].iloc[0] == pytest.approx(want, abs=1e-12)


def test_raters_llm_declared_for_some_codes_has_rows_for_those_only(demo) -> None:
    """An LLM coder run on two codes (``codes=``) has human-llm rows and gating rows for those
    two, not undefined rows for every other code of the codebook."""
    labels, cb = demo
    mine = ["ai_empathy", "user_primary_move"]
    carol = labels["annotator_id"] == "carol"
    sub = labels[~carol | labels["code_id"].isin(mine)]
    report = rater_agreement(sub, cb, ["carol"], bootstrap=0)
    hl = report.table[report.table["raters"] == "human-llm"]
    assert sorted(hl["code_id"]) == sorted(mine) and hl["alpha"].notna().all()
    assert sorted(report.gating()["code_id"]) == sorted(mine)
    # the human rows are those of the whole codebook still
    full = rater_agreement(labels, cb, ["carol"], bootstrap=0).table
    assert report.table["raters"].eq("human").sum() == full["raters"].eq("human").sum()


def test_raters_set_codes_and_bootstrap_seed(repo_root) -> None:
    """Set codes use MASI; the same seed gives the same interval."""
    cb = load_codebook(repo_root / "codebooks" / "toy.yaml")
    rows = []
    sets = {"h1": ["[]", '["joy"]', '["sadness"]', '["anger","joy"]'] * 3}
    sets["h2"] = ["[]", '["joy"]', '["anxiety"]', '["anger"]'] * 3
    sets["m"] = ["[]", '["joy"]', '["sadness"]', '["anger","joy"]'] * 3
    for coder, values in sets.items():
        for i, v in enumerate(values):
            rows.append(
                {"annotator_id": coder, "unit": "turn", "conversation_id": f"c{i // 2}",
                 "turn_index": i % 2 * 2, "role": "user", "code_id": "user_emotions", "value": v}
            )  # fmt: skip
    labels = pd.DataFrame(rows)
    a = rater_agreement(labels, cb, ["m"], bootstrap=100, seed=5, codes=["user_emotions"]).table
    b = rater_agreement(labels, cb, ["m"], bootstrap=100, seed=5, codes=["user_emotions"]).table
    hl = a[a["raters"] == "human-llm"].iloc[0]
    assert (
        hl["alpha"] == hl["alpha"]
        and hl["alpha_low"] == b[b["raters"] == "human-llm"].iloc[0]["alpha_low"]
    )
    # m equals h1 everywhere: with h1 alone as the human, alpha is 1
    only = labels[labels["annotator_id"] != "h2"]
    one = rater_agreement(only, cb, ["m"], bootstrap=0, codes=["user_emotions"]).table
    assert one[one["raters"] == "human-llm"]["alpha"].iloc[0] == pytest.approx(1.0)


def _table(rows: list[tuple]) -> pd.DataFrame:
    cols = [
        "raters",
        "coder",
        "code_id",
        "unit",
        "role",
        "alpha",
        "alpha_low",
        "alpha_high",
        "reason",
    ]
    return pd.DataFrame(rows, columns=cols)


def test_gating_rule() -> None:
    """Stand in only when the lower bound clears the threshold and the model is at most
    `margin` below the humans."""
    t = _table(
        [
            ("human", None, "a", "turn", "user", 0.85, 0.80, 0.90, None),
            ("human-llm", "m", "a", "turn", "user", 0.83, 0.70, 0.90, None),  # passes
            ("human", None, "b", "turn", "user", 0.90, 0.85, 0.95, None),
            ("human-llm", "m", "b", "turn", "user", 0.80, 0.70, 0.88, None),  # .10 below
            ("human", None, "c", "turn", "user", 0.75, 0.60, 0.85, None),
            ("human-llm", "m", "c", "turn", "user", 0.74, 0.60, 0.85, None),  # bound .60
            ("human", None, "d", "turn", "user", float("nan"), float("nan"), float("nan"), "x"),
            ("human-llm", "m", "d", "turn", "user", 0.9, 0.8, 0.95, None),  # humans undefined
            ("human", None, "e", "turn", "user", 0.8, 0.7, 0.9, None),
            ("human-llm", "m", "e", "turn", "user", 0.8, float("nan"), float("nan"), None),
        ]
    )
    g = gating(t).set_index("code_id")
    assert list(g["may_stand_in"]) == [True, False, False, False, False]
    assert "below the humans'" in g.loc["b", "reason"] and g.loc["b", "meets_threshold"]
    assert "lower bound 0.600 < 0.667" in g.loc["c", "reason"]
    assert "humans' alpha is undefined" in g.loc["d", "reason"]
    assert "no interval" in g.loc["e", "reason"]
    assert gating(t, margin=0.2).set_index("code_id").loc["b", "may_stand_in"]
    assert gating(t, threshold=0.5).set_index("code_id").loc["c", "may_stand_in"]


def test_validity_against_majority_and_gold(repo_root) -> None:
    """Precision, recall, F1 and the confusion matrix, counted by hand."""
    cb = load_codebook(repo_root / "codebooks" / "toy.yaml")
    human = ["1", "1", "0", "0", "1", "0"]
    llm = ["1", "0", "1", "0", "1", "0"]
    rows = []
    for coder, values in (("h1", human), ("h2", human), ("m", llm)):
        for i, v in enumerate(values):
            rows.append(
                {"annotator_id": coder, "unit": "turn", "conversation_id": f"c{i}",
                 "turn_index": 0, "role": "user", "code_id": "user_defers", "value": v}
            )  # fmt: skip
    gold = [dict(r, annotator_id="gold", value="1") for r in rows[:6]]
    labels = pd.DataFrame(rows + gold)
    v = validity(labels, cb, ["m"], codes=["user_defers"]).iloc[0]
    # reference 1,1,0,0,1,0 vs 1,0,1,0,1,0: tp 2, fp 1, fn 1, tn 2
    assert (v["n_units"], v["accuracy"]) == (6, pytest.approx(4 / 6))
    assert (v["precision"], v["recall"], v["f1"]) == (pytest.approx(2 / 3),) * 3
    m = confusion(labels, cb, "m", "user_defers")
    assert m.loc["1", "1"] == 2 and m.loc["1", "0"] == 1 and m.loc["0", "1"] == 1
    g = validity(labels, cb, ["m"], reference="gold", codes=["user_defers"]).iloc[0]
    assert (g["accuracy"], g["precision"], g["recall"]) == (0.5, 1.0, 0.5)
    # a tie between two humans gives no reference for that unit
    tie = pd.DataFrame(rows[:6] + [dict(r, annotator_id="h2", value="0") for r in rows[:1]]
                       + rows[7:])  # fmt: skip
    assert validity(tie, cb, ["m"], codes=["user_defers"]).iloc[0]["n_units"] == 5


def test_validity_nominal_macro_and_sets(repo_root) -> None:
    cb = load_codebook(repo_root / "codebooks" / "toy.yaml")
    ref = ["ask", "ask", "inform", "listen"]
    got = ["ask", "inform", "inform", "ask"]
    sets_ref = ['["joy"]', '["joy","sadness"]', "[]", '["anger"]']
    sets_got = ['["joy"]', '["joy"]', '["joy"]', '["anger"]']
    rows = []
    for coder, a, s in (("h", ref, sets_ref), ("m", got, sets_got)):
        for i in range(4):
            rows.append(
                {
                    "annotator_id": coder,
                    "unit": "turn",
                    "conversation_id": f"c{i}",
                    "turn_index": 1,
                    "role": "assistant",
                    "code_id": "ai_move",
                    "value": a[i],
                }
            )
            rows.append(
                {
                    "annotator_id": coder,
                    "unit": "turn",
                    "conversation_id": f"c{i}",
                    "turn_index": 0,
                    "role": "user",
                    "code_id": "user_emotions",
                    "value": s[i],
                }
            )
    labels = pd.DataFrame(rows)
    v = validity(labels, cb, ["m"], codes=["ai_move", "user_emotions"]).set_index("code_id")
    # ask: tp1 fp1 fn1 -> .5/.5; inform: tp1 fp1 fn0 -> .5/1; listen: tp0 fn1 -> p undefined, r 0
    assert v.loc["ai_move", "precision"] == pytest.approx((0.5 + 0.5) / 2)
    assert v.loc["ai_move", "recall"] == pytest.approx((0.5 + 1 + 0) / 3)
    # sets, micro: tp 3 (joy, joy, anger), fp 1 (joy in []), fn 1 (sadness)
    assert v.loc["user_emotions", "precision"] == pytest.approx(3 / 4)
    assert v.loc["user_emotions", "recall"] == pytest.approx(3 / 4)
    assert v.loc["user_emotions", "accuracy"] == pytest.approx(2 / 4)
    m = confusion(labels, cb, "m", "user_emotions", humans=["h"]).set_index("value")
    assert m.loc["joy", "tp"] == 2 and m.loc["joy", "fp"] == 1 and m.loc["sadness", "fn"] == 1
    assert json.loads(sets_ref[1]) == ["joy", "sadness"]
