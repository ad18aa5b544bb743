"""The demo project on codebook 1.0.0, migrated to 2.0.0 with the shipped map: labels carried or
queued for recoding as the map says, agreement per version, and (after the coders' recoding)
exactly the labels the demo ships for 2.0.0. Then on to 2.1.0 (evidence spans): every label
carried unchanged, nothing queued, and with the coders' evidence exactly the 2.1.0 demo."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from annotate.agreement import report
from annotate.codebook import load_codebook, load_map
from annotate.demo import demo_paths, demo_project, migrate_demo

REPO = Path(__file__).resolve().parents[2]
LABELS = REPO / "corpora" / "demo" / "labels"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):  # type: ignore[no-untyped-def]
    work = tmp_path_factory.mktemp("demo-migration")
    p = demo_project(work, version="1.0.0")
    before = {
        "units": p.unit_labels(),
        "report": report(p.unit_labels(), p.codebook).table,
        "labels": p.labels(),
    }
    summary = migrate_demo(p, recode=False)
    return p, before, summary


def test_demo_starts_on_1_0_0_and_moves_to_2_0_0(migrated) -> None:
    p, _, summary = migrated
    assert [str(cb.version) for cb in p.codebooks] == ["1.0.0", "2.0.0"]
    assert (
        summary["from"] == "sdt-socioaffective 1.0.0"
        and summary["to"] == "sdt-socioaffective 2.0.0"
    )
    assert p.codebook_history[-1]["finished"]
    assert summary["events_written"] > 1000


def test_unchanged_codes_are_carried_as_new_events(migrated) -> None:
    p, before, _ = migrated
    old = before["labels"]
    new = p.labels()
    for code in ("ai_empathy", "ai_control", "user_agency", "ai_primary_move", "conv_warmth"):
        a = old[old["code_id"] == code].set_index(["annotator_id", "conversation_id", "turn_index"])
        b = new[new["code_id"] == code].set_index(["annotator_id", "conversation_id", "turn_index"])
        assert a["value"].sort_index().equals(b["value"].sort_index()), code
        assert set(b["codebook_version"]) == {"2.0.0"}
        assert all(json.loads(n)["migration"] == "m000001" for n in b["note"])
    # the 1.0.0 events stay in the history as they were
    hist = p.labels(history=True)
    assert len(hist[hist["codebook_version"] == "1.0.0"]) == 3428


def test_map_decides_what_is_carried_and_what_is_queued(migrated) -> None:
    p, before, _ = migrated
    old = before["labels"]
    items = p.recoding()
    # every 1.0.0 disclosure is queued for both codes of the split; none is carried
    disc = old[old["code_id"] == "user_emotional_disclosure"]
    queued = items[items["code_id"] == "user_vulnerable_disclosure"]
    assert len(queued) == len(disc) > 0
    assert p.labels().query("code_id == 'user_emotional_disclosure'").empty
    # a dilemma rating of 3 is queued with its stake; 1, 2, 4, 5 carried with stake 1
    well = old[old["code_id"] == "conv_dilemma_wellbeing"]
    three = well[well["value"] == "3"]
    threes = set(zip(three["annotator_id"], three["conversation_id"], strict=True))
    q = items[items["code_id"] == "conv_dilemma_wellbeing_stake"]
    assert set(zip(q["annotator_id"], q["conversation_id"], strict=True)) == threes
    cur = p.labels()
    stake = cur[cur["code_id"] == "conv_dilemma_wellbeing_stake"]
    assert set(stake["value"]) == {"1"} and len(stake) == len(well) - len(threes)
    # the redefined dilemma 2 is queued wherever it was rated
    aut = items[items["code_id"] == "conv_dilemma_autonomy"]
    assert len(aut) == len(old[old["code_id"] == "conv_dilemma_autonomy"])
    # every conversation has something queued, so none is carried as finished
    assert cur.query("code_id == '_status'").empty
    # what the shipped map lists as uncoded is not coded anywhere yet
    m = load_map(demo_paths()["map"])
    for code in ("ai_mistake", "ai_retention_tactic", "conv_attunement"):
        assert code in m.added and cur.query("code_id == @code").empty


def test_agreement_per_version(migrated) -> None:
    p, before, _ = migrated
    v1 = report(p.unit_labels(version="1.0.0"), p.codebook_for("1.0.0")).table
    pd.testing.assert_frame_equal(v1, before["report"])
    v2 = report(p.unit_labels(), p.codebook).table.set_index("code_id")
    old = before["report"].set_index("code_id")
    assert (
        "user_vulnerable_disclosure" in v2.index and "user_vulnerable_disclosure" not in old.index
    )


def test_after_the_recoding_the_labels_are_the_shipped_2_0_0_labels(tmp_path) -> None:
    migrated = demo_project(tmp_path / "a", version="1.0.0")
    migrate_demo(migrated)
    direct = demo_project(tmp_path / "b", version="2.0.0")  # corpora/demo/labels/events.jsonl
    assert str(direct.codebook.version) == "2.0.0"
    pd.testing.assert_frame_equal(migrated.unit_labels(), direct.unit_labels())
    assert migrated.recoding().empty  # every queued conversation was finished again
    both = report(migrated.unit_labels(), migrated.codebook).table
    pd.testing.assert_frame_equal(both, report(direct.unit_labels(), direct.codebook).table)


def test_shipped_map_fits_the_shipped_codebooks() -> None:
    m = load_map(demo_paths()["map"])
    for modules in ("all", None, []):
        old = load_codebook(demo_paths("1.0.0")["codebook"], modules=modules)
        new = load_codebook(demo_paths("2.0.0")["codebook"], modules=modules)
        resolved = m.resolve(old, new)
        assert {r.action for r in resolved.rules.values()} >= {"keep", "split", "recode"}


@pytest.fixture(scope="module")
def on_2_1_0(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The 2.0.0 demo (a project pinned to 2.0.0), reopened and migrated to 2.1.0 with the
    shipped map, before the coders mark any evidence."""
    from annotate import Project

    work = tmp_path_factory.mktemp("demo-2.1.0")
    p = demo_project(work, version="2.0.0")
    before = {"labels": p.labels(), "units": p.unit_labels()}
    p = Project.open(p.path)  # a project pinned to 2.0.0 opens after the default moved on
    assert str(p.codebook.version) == "2.0.0"
    summary = migrate_demo(p, recode=False, to="2.1.0")
    return p, before, summary


def test_2_0_0_to_2_1_0_carries_every_label_unchanged(on_2_1_0) -> None:
    p, before, summary = on_2_1_0
    assert [str(cb.version) for cb in p.codebooks] == ["2.0.0", "2.1.0"]
    assert summary["to"] == "sdt-socioaffective 2.1.0"
    assert p.recoding().empty  # nothing to recode: only evidence flags differ
    key = ["annotator_id", "unit", "conversation_id", "turn_index", "code_id"]
    old = before["labels"].set_index(key).sort_index()
    new = p.labels().set_index(key).sort_index()
    assert old.index.equals(new.index)  # every label, memo, flag and status, and nothing else
    assert old["value"].equals(new["value"])
    assert set(new["codebook_version"]) == {"2.1.0"}
    assert set(old["codebook_version"]) == {"2.0.0"}
    # every conversation is still finished, so implicit absences stay what they were
    pd.testing.assert_frame_equal(p.unit_labels(), before["units"])
    hist = p.labels(history=True)
    assert len(hist[hist["codebook_version"] == "2.0.0"]) == len(
        pd.read_json(LABELS / "events.jsonl", lines=True, dtype=False)
    )


def test_with_the_coders_evidence_it_is_the_2_1_0_demo(on_2_1_0, tmp_path) -> None:
    p, _, _ = on_2_1_0
    evidence = pd.read_json(LABELS / "evidence-2.1.0.jsonl", lines=True, dtype=False)
    p.append(evidence)
    direct = demo_project(tmp_path)  # 2.1.0: events.jsonl and evidence-2.1.0.jsonl
    assert str(direct.codebook.version) == "2.1.0"
    pd.testing.assert_frame_equal(p.unit_labels(), direct.unit_labels())
    key = ["annotator_id", "conversation_id", "turn_index", "code_id"]

    def spans(project) -> pd.Series:  # type: ignore[no-untyped-def]
        cur = project.labels()
        cur = cur[cur["evidence"].notna()].set_index(key).sort_index()
        return cur["evidence"].map(lambda e: [(s["start"], s["end"], s["sha256"]) for s in e])

    assert len(spans(p)) == len(evidence) > 0
    pd.testing.assert_series_equal(spans(p), spans(direct))


def test_requiring_evidence_later_keeps_every_span(tmp_path) -> None:
    """A study that moves the 2.1.0 demo to its own copy of the codebook with evidence
    required (docs/codebook.md, "Evidence spans in the default codebook") keeps every label and
    every span: the migration carries a label's spans where the new code takes evidence."""
    from annotate.export import quote_bank

    p = demo_project(tmp_path / "demo")
    before = {"labels": p.labels(), "bank": quote_bank(p)}
    text = demo_paths()["codebook"].read_text(encoding="utf-8")
    mine = (
        text.replace("\nid: sdt-socioaffective\n", "\nid: sdt-socioaffective-mystudy\n")
        .replace("\nversion: 2.1.0\n", "\nversion: 1.0.0\n")
        .replace("    evidence: optional\n", "    evidence: required\n")
    )
    (tmp_path / "mine.yaml").write_text(mine, encoding="utf-8")
    (tmp_path / "map.yaml").write_text(
        "from: {id: sdt-socioaffective, version: 2.1.0}\n"
        "to: {id: sdt-socioaffective-mystudy, version: 1.0.0}\ncodes: {}\n",
        encoding="utf-8",
    )
    p.migrate(tmp_path / "mine.yaml", tmp_path / "map.yaml")
    required = {c.id for c in p.codebook.codes if c.evidence == "required"}
    assert len(required) >= 5 and p.recoding().empty
    key = ["annotator_id", "unit", "conversation_id", "turn_index", "code_id"]
    old = before["labels"].set_index(key).sort_index()
    new = p.labels().set_index(key).sort_index()
    assert old["value"].equals(new["value"])
    assert set(new["codebook_id"]) == {"sdt-socioaffective-mystudy"}

    def spans(frame: pd.DataFrame) -> pd.Series:
        held = frame["evidence"].dropna()
        return held.map(lambda e: [(s["start"], s["end"], s["sha256"]) for s in e])

    assert len(spans(new)) == len(spans(old)) > 50
    pd.testing.assert_series_equal(spans(new), spans(old))
    bank = quote_bank(p).drop(columns=["codebook_id", "codebook_version"])
    pd.testing.assert_frame_equal(
        bank, before["bank"].drop(columns=["codebook_id", "codebook_version"])
    )
