"""Calibration: a gold set with explanations, a coder's attempt in a headless session, the
comparison after each conversation, scores per code, certification, kept apart from the study."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from click.testing import CliRunner

from annotate.cli import main
from annotate.errors import ProjectError
from annotate.project import Calibration, Project
from annotate.widgets.calibration import CalibrationSession

sys.path.insert(0, str(Path(__file__).resolve().parent))
from migrate_helpers import TOY, ev

GOLD_CONVERSATIONS = ("c006", "c007", "c008", "c009")


def _project(tmp_path: Path, corpus_dir: Path) -> Project:
    p = Project.create(tmp_path / "p", corpus=corpus_dir, codebook=TOY, coders=["ann", "bob"],
                       reliability=1.0, seed=3)  # fmt: skip
    return p


def _gold(cal: Calibration) -> None:
    events = []
    for i, cid in enumerate(GOLD_CONVERSATIONS):
        events += [
            ev("gold", cid, 1, "ai_empathy", "1", note=f"names the feeling in {cid}"),
            ev("gold", cid, 0, "user_seeks_support", "1" if i % 2 else "0"),
            ev("gold", cid, 1, "ai_move", "listen"),
            ev("gold", cid, 3, "ai_move", "advise"),
            ev("gold", cid, None, "_status", "done"),
        ]
    events.append(ev("gold", "c006", 3, "_memo", "an offer with a reason: autonomy support"))
    events.append(ev("gold", "c006", 3, "ai_autonomy_support", "1"))
    cal.add_gold(events)


@pytest.fixture()
def study(tmp_path, corpus_dir):  # type: ignore[no-untyped-def]
    p = _project(tmp_path, corpus_dir)  # the study codes every conversation of the corpus
    cal = Calibration(p)
    cal.configure(min_units=4, bootstrap=200)
    with pytest.warns(UserWarning, match=r"\[W350\] 4 calibration conversation"):
        _gold(cal)
    return p


def _code_attempt(s: CalibrationSession, *, empathy: dict[str, str]) -> None:
    """The coder codes every conversation of the set: ai_empathy as given, the rest as gold
    except ai_move on turn 3 of c009."""
    for i, cid in enumerate(s.queue):
        s.goto(cid)
        if empathy.get(cid) == "1":
            s.toggle("ai_empathy", turn_index=1)
        if i % 2:
            s.toggle("user_seeks_support", turn_index=0)
        if cid == "c006":
            s.toggle("ai_autonomy_support", turn_index=3)
        s.set("ai_move", "listen", turn_index=1)
        s.set("ai_move", "advise" if cid != "c009" else "inform", turn_index=3)
        s.mark_done()


def test_the_calibration_set_is_the_coders_queue(study) -> None:
    s = CalibrationSession(study, "ann")
    assert s.queue == list(GOLD_CONVERSATIONS)
    assert s.attempt.number == 1 and not s.complete
    with pytest.raises(ProjectError, match=r"\[E350\].*c006"):
        s.feedback("c006")


def test_feedback_after_each_conversation_shows_differences_and_explanations(study) -> None:
    s = CalibrationSession(study, "ann")
    s.goto("c006")
    s.set("ai_move", "listen", turn_index=1)
    s.set("ai_move", "inform", turn_index=3)
    s.mark_done()
    fb = s.feedback("c006")
    rows = {(r.turn_index, r.code_id): r for r in fb.itertuples()}
    missed = rows[(1, "ai_empathy")]
    assert (missed.gold, missed.yours, missed.agree) == ("1", "0", False)
    assert missed.explanation == "names the feeling in c006"
    move = rows[(3, "ai_move")]
    assert (move.gold, move.yours, move.agree) == ("advise", "inform", False)
    assert move.explanation == "an offer with a reason: autonomy support"  # the unit's memo
    assert rows[(1, "ai_move")].agree  # a gold value that is present, agreed
    # agreed absences are not shown unless asked for
    assert (0, "user_seeks_support") not in rows
    every = s.feedback("c006", every_unit=True)
    assert len(every) > len(fb)


def test_score_per_code_matches_krippendorff_package(study) -> None:
    s = CalibrationSession(study, "ann")
    _code_attempt(s, empathy={"c006": "1", "c007": "1", "c008": "1"})  # misses c009
    table = s.score(bootstrap=0)
    row = table[table["code_id"] == "ai_empathy"].iloc[0]
    # reliability data: gold vs ann on the 8 assistant turns of the set (turn 1 and 3)
    gold = [1, 0, 1, 0, 1, 0, 1, 0]
    ann = [1, 0, 1, 0, 1, 0, 0, 0]
    expected = krippendorff.alpha(
        np.array([gold, ann], dtype=float), level_of_measurement="nominal"
    )
    assert row["alpha"] == pytest.approx(expected)
    assert row["n_units"] == 8 and row["assessable"]
    assert row["percent_agreement"] == pytest.approx(7 / 8)


def test_certify_needs_a_complete_attempt_and_applies_the_pass_rule(study) -> None:
    s = CalibrationSession(study, "ann")
    s.goto("c006")
    s.mark_done()
    with pytest.raises(ProjectError, match=r"\[E352\].*3 of 4"):
        s.certify()
    s2 = CalibrationSession(study, "bob")
    _code_attempt(s2, empathy={c: "1" for c in GOLD_CONVERSATIONS})
    result = s2.certify()
    assert result["passed"] is False  # ai_move on c009 disagrees: alpha below .8
    assert result["failed_codes"] == ["ai_move"]
    assert result["codebook"]["version"] == "1.0.0"
    assert s2.certify() == result  # recorded once per attempt
    # a lower threshold and a new attempt
    Calibration(study).configure(threshold=0.5)
    s3 = CalibrationSession(study, "bob", new_attempt=True)
    assert s3.attempt.number == 2 and s3.labels() == {}
    _code_attempt(s3, empathy={c: "1" for c in GOLD_CONVERSATIONS})
    assert s3.certify()["passed"] is True
    cert = study.status()["certified"]
    assert cert.to_dict("records")[0] | {"at": None, "lowest": None} == {
        "annotator_id": "bob", "codebook_version": "toy 1.0.0", "attempt": 2,
        "certified": True, "lowest": None, "codes_assessed": 4, "at": None,
    }  # fmt: skip


def test_calibration_labels_never_enter_the_study(study) -> None:
    before = study.labels(history=True)
    s = CalibrationSession(study, "ann")
    _code_attempt(s, empathy={c: "1" for c in GOLD_CONVERSATIONS})
    after = Project.open(study.path)
    assert len(after.labels(history=True)) == len(before) == 0
    assert after.unit_labels().empty
    assert not (study.path / "labels" / "parts" / "ann").exists()
    assert (study.path / "calibration" / "attempts" / "ann" / "a0001" / "parts").is_dir()


def test_cli_calibrate(study, tmp_path) -> None:
    s = CalibrationSession(study, "bob")
    _code_attempt(s, empathy={c: "1" for c in GOLD_CONVERSATIONS})
    run = CliRunner().invoke(main, ["calibrate", str(study.path), "--coder", "bob",
                                    "--threshold", "0.5", "--bootstrap", "0"])  # fmt: skip
    assert run.exit_code == 0, run.output
    assert "calibration set: 4 conversation(s)" in run.output
    assert "agreement with gold per code" in run.output and "ai_empathy" in run.output
    assert "PASS: certified for toy 1.0.0" in run.output
    doc = json.loads(
        CliRunner().invoke(main, ["calibrate", str(study.path), "--coder", "ann", "--json"]).output
    )
    assert doc["attempt"] == {"number": 1, "codebook": doc["attempt"]["codebook"], "done": 0,
                              "total": 4}  # fmt: skip
    assert "result" not in doc
    status = CliRunner().invoke(main, ["project", "status", str(study.path)])
    assert "calibration: certified coders per codebook version" in status.output


def test_cli_gold_file_and_errors(tmp_path, corpus_dir) -> None:
    p = _project(tmp_path, corpus_dir)
    empty = CliRunner().invoke(main, ["calibrate", str(p.path), "--coder", "ann"])
    assert empty.exit_code == 1 and "[E351]" in empty.output and "--gold" in empty.output
    gold = tmp_path / "gold.jsonl"
    rows = [ev("gold", "c009", 1, "ai_empathy", "1", note="why"),
            ev("gold", "c009", None, "_status", "done")]  # fmt: skip
    gold.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    run = CliRunner().invoke(main, ["calibrate", str(p.path), "--gold", str(gold)])
    assert run.exit_code == 0, run.output
    assert "2 gold event(s) added" in run.output and "calibration set: 1" in run.output
    assert "[W350]" in run.output  # c009 is in the study's plan too
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n", encoding="utf-8")
    bad = CliRunner().invoke(main, ["calibrate", str(p.path), "--gold", str(broken)])
    assert bad.exit_code == 1 and "[E353]" in bad.output and "Traceback" not in bad.output
    rule = CliRunner().invoke(main, ["calibrate", str(p.path), "--threshold", "2"])
    assert rule.exit_code == 1 and "threshold" in rule.output


def test_gold_from_adjudication_keeps_the_memos(tmp_path, corpus_dir) -> None:
    from annotate.adjudication import Adjudication

    p = _project(tmp_path, corpus_dir)
    p.append([ev("ann", "c001", 1, "ai_empathy", "1"), ev("ann", "c001", None, "_status", "done"),
              ev("bob", "c001", None, "_status", "done")])  # fmt: skip
    adj = Adjudication(p, adjudicator="dana")
    item = next(i for i in adj.queue if i.code_id == "ai_empathy")
    adj.decide(item, "1", kind="coder_error", memo="bob missed the reflection of feeling")
    run = CliRunner().invoke(
        main, ["calibrate", str(p.path), "--gold-from-adjudication", "c001", "--json"]
    )
    assert run.exit_code == 0, run.output
    cal = Calibration(Project.open(p.path))
    assert cal.conversations == ["c001"]
    gold = cal.gold_labels()
    row = gold[(gold["code_id"] == "ai_empathy")].iloc[0]
    assert (row["value"], row["note"]) == ("1", "bob missed the reflection of feeling")
    units = cal.gold_units()
    assert set(units.loc[units["code_id"] == "ai_pressure", "value"]) == {"0"}
