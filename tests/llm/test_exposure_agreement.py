"""Human-llm agreement split by exposure: labels made with a suggestion in view (``before``)
against labels made without one (``none``), on events written by the real session."""

from __future__ import annotations

import sys
from pathlib import Path

import krippendorff
import pandas as pd
import pytest

from annotate.agreement.raters import by_exposure, label_exposure
from annotate.widgets.session import AnnotationSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "widgets"))

from widget_data import make_project

LLM = "gpt-x"


def _llm_value(turn_index: int) -> str:
    return "1" if turn_index % 4 == 1 else "0"


@pytest.fixture
def coded(tmp_path):
    """alice copies the model's ai_empathy where she sees it (outside the reliability sample,
    setting 'before') and marks every assistant turn empathic where she does not."""
    p = make_project(tmp_path, reliability=0.5)
    p.add_llm_coder(LLM, backend="openai", base_url="http://127.0.0.1:9/v1", model="x")
    events = []
    for cid in p.corpus.conversation_ids:
        for t in p.corpus.conversation(cid).itertuples():
            if t.role == "assistant":
                events.append({"annotator_id": LLM, "unit": "turn", "conversation_id": cid,
                               "turn_index": int(t.turn_index), "code_id": "ai_empathy",
                               "value": _llm_value(int(t.turn_index))})  # fmt: skip
    p.append(events)
    p.set_suggestions("before", LLM)
    s = AnnotationSession(p, "alice")
    for cid in s.queue:
        s.goto(cid)
        for t in s.turns().itertuples():
            if t.role != "assistant":
                continue
            if s.suggestion_mode() == "before":
                if s.suggestion("ai_empathy", int(t.turn_index)).value == "1":
                    s.toggle("ai_empathy", turn_index=int(t.turn_index))
            else:
                s.toggle("ai_empathy", turn_index=int(t.turn_index))
        s.mark_done()
    return p


def test_label_exposure_of_explicit_and_implicit_labels(coded) -> None:
    p = coded
    labels = label_exposure(p.unit_labels(), p.labels(history=True))
    alice = labels[(labels["annotator_id"] == "alice") & (labels["code_id"] == "ai_empathy")]
    for row in alice.itertuples():
        expected = "none" if p.is_reliability(row.conversation_id) else "before"
        assert row.exposure == expected, row
    # implicit absences (value 0, never set) outside the sample take the done event's 'before'
    implicit = alice[(alice["value"] == "0") & ~alice["conversation_id"].map(p.is_reliability)]
    assert len(implicit) and set(implicit["exposure"]) == {"before"}
    assert set(labels.loc[labels["annotator_id"] == LLM, "exposure"]) == {"not recorded"}


def _reference_alpha(labels: pd.DataFrame, units: pd.DataFrame) -> float:
    """Two-coder nominal alpha of alice and the model on these units (krippendorff package)."""
    pivot = labels.merge(units, on=["conversation_id", "turn_index"]).pivot_table(
        index="annotator_id",
        columns=["conversation_id", "turn_index"],
        values="value",
        aggfunc="first",
    )
    data = pivot.loc[["alice", LLM]].to_numpy(dtype=float)
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def test_by_exposure_splits_human_llm_agreement(coded) -> None:
    p = coded
    labels = p.unit_labels()
    table = by_exposure(labels, p.codebook, [LLM], events=p.labels(history=True),
                        codes=["ai_empathy"], bootstrap=200, seed=1)  # fmt: skip
    rows = table.set_index("exposure")
    assert list(table["exposure"]) == ["none", "before"] and set(table["coder"]) == {LLM}
    lab = label_exposure(labels, p.labels(history=True))
    lab = lab[lab["code_id"] == "ai_empathy"]
    for group in ("none", "before"):
        units = lab[(lab["annotator_id"] == "alice") & (lab["exposure"] == group)]
        units = units[["conversation_id", "turn_index"]]
        assert rows.loc[group, "n_units"] == len(units)
        expected = _reference_alpha(lab[["annotator_id", "conversation_id", "turn_index",
                                         "value"]], units)  # fmt: skip
        assert rows.loc[group, "alpha"] == pytest.approx(expected, nan_ok=True)
    # with the model's value in view she copied it: perfect percent agreement, against a
    # lower one where she coded blind
    assert rows.loc["before", "percent_agreement"] == 1.0
    assert rows.loc["none", "percent_agreement"] < 1.0


def test_by_exposure_needs_exposure(coded) -> None:
    from annotate.errors import AgreementError

    with pytest.raises(AgreementError, match=r"E460.*events="):
        by_exposure(coded.unit_labels(), coded.codebook, [LLM])
