"""Codebook versions in a running project: migration through a map, recoding, per version."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from annotate.agreement import report
from annotate.codebook import load_codebook, load_map, parse_map
from annotate.errors import CodebookError, LabelStoreError, ProjectError
from annotate.project import Project

sys.path.insert(0, str(Path(__file__).resolve().parent))
from migrate_helpers import MAP_TEXT, TOY, ev, write_toy_v2


@pytest.fixture()
def v2(tmp_path: Path) -> tuple[Path, Path]:
    return write_toy_v2(tmp_path / "v2")


def _project(tmp_path: Path, corpus_dir: Path) -> Project:
    p = Project.create(tmp_path / "p", corpus=corpus_dir, codebook=TOY, coders=["ann", "bob"],
                       reliability=1.0, seed=3)  # fmt: skip
    events = []
    for coder in ("ann", "bob"):
        events += [
            ev(coder, "c000", 1, "ai_pressure", "1"),
            ev(coder, "c000", 0, "user_seeks_support", "1"),
            ev(coder, "c000", 1, "ai_move", "direct"),
            ev(coder, "c000", None, "conv_human_bonds", "0"),
            ev(coder, "c001", 1, "ai_pressure", "1" if coder == "ann" else "0"),
            ev(coder, "c001", None, "conv_human_bonds", "1"),
            ev(coder, "c001", 1, "_memo", f"{coder}'s memo"),
            ev(coder, "c002", 3, "ai_empathy", "1"),
        ]
        events += [ev(coder, c, None, "_status", "done") for c in ("c000", "c001", "c002")]
    p.append(events)
    return p


def _strip(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_migrate_carries_unambiguous_labels_as_new_events(tmp_path, corpus_dir, v2) -> None:
    p = _project(tmp_path, corpus_dir)
    before_units = p.unit_labels()
    before_events = p.labels(history=True)
    summary = p.migrate(v2[0], v2[1])
    assert summary["id"] == "m000001" and summary["to"] == "toy 2.0.0"
    assert str(p.codebook.version) == "2.0.0"
    assert [str(cb.version) for cb in p.codebooks] == ["1.0.0", "2.0.0"]
    cur = p.labels()
    control = cur[(cur["code_id"] == "ai_control") & (cur["annotator_id"] == "ann")]
    assert sorted(control["conversation_id"]) == ["c000", "c001"]
    assert set(control["value"]) == {"1"}
    note = json.loads(control["note"].iloc[0])
    assert note == {"migration": "m000001", "from": "ai_pressure=1"}
    assert set(control["codebook_version"]) == {"2.0.0"}
    assert set(control["session_id"]) == {"m000001"}
    # the old events are still in the history, untouched
    history = p.labels(history=True)
    old = history[history["codebook_version"] == "1.0.0"]
    pd.testing.assert_frame_equal(_strip(old), _strip(before_events))
    # bob's explicit absence of ai_pressure on c001 is carried as an absence of ai_control
    bob = cur[(cur["annotator_id"] == "bob") & (cur["code_id"] == "ai_control")]
    assert dict(zip(bob["conversation_id"], bob["value"], strict=True)) == {
        "c000": "1",
        "c001": "0",
    }
    # values carried: conv_human_bonds=1 -> 1, and conv_bonds_at_stake derived as 1
    c001 = cur[(cur["conversation_id"] == "c001") & (cur["annotator_id"] == "ann")]
    assert (
        dict(zip(c001["code_id"], c001["value"], strict=True)).items()
        >= {
            "conv_human_bonds": "1",
            "conv_bonds_at_stake": "1",
            "_memo": "ann's memo",
            "_status": "done",
        }.items()
    )
    # the old version's labels and agreement are as they were
    pd.testing.assert_frame_equal(p.unit_labels(version="1.0.0"), before_units)
    old_report = report(before_units, load_codebook(TOY)).table
    again = report(p.unit_labels(version="1.0.0"), p.codebook_for("1.0.0")).table
    pd.testing.assert_frame_equal(old_report, again)


def test_migrate_queues_splits_redefinitions_and_ambiguous_values(tmp_path, corpus_dir, v2) -> None:
    p = _project(tmp_path, corpus_dir)
    p.migrate(v2[0], v2[1])
    items = p.recoding(open_only=False)
    ann = items[items["annotator_id"] == "ann"]
    got = {(r.conversation_id, None if pd.isna(r.turn_index) else int(r.turn_index), r.code_id)
           for r in ann.itertuples()}  # fmt: skip
    assert got == {
        ("c000", 0, "user_seeks_support"),  # split
        ("c000", 0, "user_vents"),
        ("c000", None, "conv_human_bonds"),  # '0' was neutral or not at stake
        ("c000", None, "conv_bonds_at_stake"),
        ("c002", 3, "ai_empathy"),  # definition changed
        ("c002", 3, "ai_flattery"),  # added, recoded where ai_empathy was present
    }
    assert items["open"].all()
    # conversations with items are open again; the others carried as finished
    cur = p.labels()
    status = cur[cur["code_id"] == "_status"]
    assert sorted(set(status["conversation_id"])) == ["c001"]
    assert set(p.status()["recoding"]["conversations_open"]) == {2}
    # in the coder's session the reopened conversations are unfinished again (to do)
    from annotate.widgets.session import AnnotationSession

    s = AnnotationSession(p, "ann")
    assert [s.status(c) for c in ("c000", "c001", "c002")] == [None, "done", None]


def test_not_coded_added_codes_get_no_implicit_absence(tmp_path, corpus_dir, v2) -> None:
    p = _project(tmp_path, corpus_dir)
    p.migrate(v2[0], v2[1])
    units = p.unit_labels()
    c001 = units[(units["conversation_id"] == "c001") & (units["annotator_id"] == "ann")]
    assert "ai_mistake" not in set(c001["code_id"])  # added, uncoded: unknown, not absent
    assert "ai_autonomy_support" in set(c001["code_id"])  # kept: implicit absence stays
    # a conversation the coder finishes again under 2.0.0 has every code decided
    p.append([ev("ann", "c001", None, "_status", "done")])
    units = p.unit_labels()
    c001 = units[(units["conversation_id"] == "c001") & (units["annotator_id"] == "ann")]
    assert set(c001.loc[c001["code_id"] == "ai_mistake", "value"]) == {"0"}


def test_recoding_closes_when_the_coder_finishes_the_conversation(tmp_path, corpus_dir, v2) -> None:
    p = _project(tmp_path, corpus_dir)
    p.migrate(v2[0], v2[1])
    p.append(
        [
            ev("ann", "c000", 0, "user_vents", "1"),
            ev("ann", "c000", None, "conv_bonds_at_stake", "0"),
            ev("ann", "c000", None, "_status", "done"),
        ]
    )
    open_items = p.recoding("ann")
    assert "c000" not in set(open_items["conversation_id"])
    assert set(open_items["conversation_id"]) == {"c002"}
    units = p.unit_labels()
    c000 = units[(units["conversation_id"] == "c000") & (units["annotator_id"] == "ann")]
    assert set(c000.loc[c000["code_id"] == "user_seeks_support", "value"]) == {"0"}


def test_migrate_again_is_idempotent_and_catches_up_late_old_labels(
    tmp_path, corpus_dir, v2
) -> None:
    p = _project(tmp_path, corpus_dir)
    first = p.migrate(v2[0], v2[1])
    n = len(p.labels(history=True))
    second = p.migrate(v2[0], v2[1])
    assert second["events_written"] == 0 and second["runs"] == 2
    assert len(p.labels(history=True)) == n
    assert second["recode_items"] == first["recode_items"]
    # a session still open on 1.0.0 saves a label after the migration (old version named)
    p.append([ev("bob", "c003", 1, "ai_pressure", "1", codebook_version="1.0.0")])
    third = p.migrate(v2[0], v2[1])
    assert third["events_written"] == 1
    cur = p.labels()
    got = cur[(cur["annotator_id"] == "bob") & (cur["conversation_id"] == "c003")]
    assert list(got["code_id"]) == ["ai_control"]
    assert len(p.plan_history) == 4  # create + one plan version per run


def test_store_validates_each_event_against_the_version_it_names(tmp_path, corpus_dir, v2) -> None:
    p = _project(tmp_path, corpus_dir)
    p.migrate(v2[0], v2[1])
    p.append([ev("ann", "c004", 1, "ai_pressure", "1", codebook_version="1.0.0")])
    with pytest.raises(LabelStoreError, match=r"ai_pressure.*not a code of codebook 'toy' 2\.0"):
        p.append([ev("ann", "c004", 1, "ai_pressure", "1")])
    with pytest.raises(LabelStoreError, match=r"the project holds toy 1\.0\.0, toy 2\.0\.0"):
        p.append([ev("ann", "c004", 1, "ai_control", "1", codebook_version="3.0.0")])
    with pytest.raises(LabelStoreError, match=r"ai_control.*not a code of codebook 'toy' 1\.0"):
        p.append([ev("ann", "c004", 1, "ai_control", "1", codebook_version="1.0.0")])
    # reopening the project keeps both versions
    again = Project.open(p.path)
    assert str(again.codebook.version) == "2.0.0"
    assert [str(c.version) for c in again.codebooks] == ["1.0.0", "2.0.0"]


def test_map_problems_are_reported_together(tmp_path, corpus_dir, v2) -> None:
    p = _project(tmp_path, corpus_dir)
    bad = MAP_TEXT.replace("  ai_pressure: {action: rename, into: ai_control}\n", "")
    bad = bad.replace('"1": "1", "2": "2"}', '"1": "1", "2": "9"}')
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(CodebookError) as err:
        p.migrate(v2[0], path)
    text = str(err.value)
    assert "[E231]" in text and "2 problem(s)" in text
    assert "codes.ai_pressure: not in toy 2.0.0" in text
    assert "2: 9: not values of conv_human_bonds" in text
    assert str(p.codebook.version) == "1.0.0"  # nothing was claimed
    assert not (p.path / "migrations").exists()
    with pytest.raises(CodebookError, match=r"(?s)\[E231\].*no map given.*ai_pressure: not in"):
        p.migrate(v2[0])  # no map: every code must stay as it is


def test_map_file_errors_name_the_line(tmp_path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(MAP_TEXT.replace("action: rename", "action: rebrand"), encoding="utf-8")
    with pytest.raises(CodebookError, match=r"line 4\).*'rebrand' is not an action"):
        load_map(path)
    with pytest.raises(CodebookError, match="split needs into: a list of two"):
        parse_map(MAP_TEXT.replace("[user_seeks_support, user_vents]", "user_vents"))


def test_version_must_be_later(tmp_path, corpus_dir) -> None:
    p = _project(tmp_path, corpus_dir)
    with pytest.raises(ProjectError, match=r"\[E343\].*toy 1.0.0 is not later than toy 1.0.0"):
        p.migrate(TOY)


def test_another_sessions_migration_wins_the_claim(tmp_path, corpus_dir, v2) -> None:
    p = _project(tmp_path, corpus_dir)
    other = Project.open(p.path)
    p.migrate(v2[0], v2[1])
    # the other session still believes the project is on 1.0.0 and migrates elsewhere
    text = v2[0].read_text(encoding="utf-8").replace("version: 2.0.0", "version: 2.1.0")
    elsewhere = tmp_path / "toy-2.1.0.yaml"
    elsewhere.write_text(text, encoding="utf-8")
    with pytest.raises((ProjectError, CodebookError)):
        other.migrate(elsewhere, MAP_TEXT_21(tmp_path))
    assert str(Project.open(p.path).codebook.version) == "2.0.0"


def MAP_TEXT_21(tmp_path: Path) -> Path:  # noqa: N802 - a fixture-like helper
    path = tmp_path / "to21.yaml"
    path.write_text(MAP_TEXT.replace("version: 2.0.0", "version: 2.1.0"), encoding="utf-8")
    return path


def test_an_interrupted_migration_is_finished_by_running_it_again(
    tmp_path, corpus_dir, v2, monkeypatch
) -> None:
    from annotate.project import _migrate
    from annotate.store import LabelStore

    clean = _project(tmp_path / "clean", corpus_dir)
    clean.migrate(v2[0], v2[1])
    p = _project(tmp_path, corpus_dir)
    calls = {"n": 0}
    real = LabelStore.append

    def failing(self, events):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(self, events)

    monkeypatch.setattr(_migrate, "_CHUNK", 5)
    monkeypatch.setattr(LabelStore, "append", failing)
    with pytest.raises(OSError):
        p.migrate(v2[0], v2[1])
    monkeypatch.setattr(LabelStore, "append", real)
    with pytest.warns(UserWarning, match=r"\[W340\].*did not finish"):
        reopened = Project.open(p.path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reopened.migrate(v2[0], v2[1])
        done = Project.open(p.path)
    cols = ["annotator_id", "unit", "conversation_id", "turn_index", "code_id", "value"]
    pd.testing.assert_frame_equal(_strip(done.labels()[cols]), _strip(clean.labels()[cols]))
    assert len(done.labels(history=True)) == len(clean.labels(history=True))


def test_export_of_a_migrated_project_lists_the_versions(tmp_path, corpus_dir, v2) -> None:
    import annotate

    p = _project(tmp_path, corpus_dir)
    p.migrate(v2[0], v2[1])
    out = annotate.export.write(p, tmp_path / "export", bootstrap=0, labels="all")
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "## Codebook versions" in card
    assert "m000001: toy 1.0.0 → toy 2.0.0" in card
    assert "| ai_pressure | rename | ai_control |" in card
    assert "`ai_mistake` (uncoded)" in card
    assert load_codebook(out / "codebook.yaml").version == "2.0.0"
    assert load_codebook(out / "codebook-1.0.0.yaml").version == "1.0.0"
    events = pd.read_parquet(out / "events.parquet")
    assert set(events["codebook_version"]) == {"1.0.0", "2.0.0"}
    wide = pd.read_parquet(out / "labels_turns_wide.parquet")
    assert "ai_control" in wide.columns and "ai_pressure" not in wide.columns
