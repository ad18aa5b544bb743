"""Creating a project: every option checked first, no half folder, clear errors and defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from annotate.cli import main
from annotate.errors import ProjectError, StorageError
from annotate.project import Project

REPO = Path(__file__).resolve().parents[2]


def _init(tmp_path: Path, corpus_dir: Path, toy_path: Path, *extra: str, out: str = "p"):  # type: ignore[no-untyped-def]
    args = ["project", "init", str(tmp_path / out), "--corpus", str(corpus_dir),
            "--codebook", str(toy_path), "--coders", "alice,bob", *extra]  # fmt: skip
    return CliRunner().invoke(main, args)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"seed": -1}, "E312.*seed"),
        ({"seed": 1.5}, "E312.*seed"),
        ({"blind": "yes"}, "E312.*blind"),
        ({"modules": ["nope"]}, "E207.*nope"),
        ({"modules": 3}, "E312.*modules"),
        ({"sample": 0}, "E312.*sample"),
        ({"sample": 11}, r"E312.*only 10 conversation"),
        ({"sample": 5, "where": ["colour=red"]}, "E312.*unknown filter 'colour'"),
        ({"sample": 5, "where": ["min_turns=many"]}, "E312.*whole number"),
        ({"sample": 5, "where": ["started_after=yesterday"]}, "E312.*ISO date"),
        ({"sample": 5, "where": "language=fr"}, "E312.*no conversation of the corpus passes"),
        ({"stratify": "model"}, "E312.*give the sample size"),
        ({"sample": 5, "stratify": "n_turns"}, "E312.*stratify"),
    ],
)
def test_init_checks_every_option_before_writing(tmp_path, corpus_dir, toy_path, kw, match) -> None:  # type: ignore[no-untyped-def]
    opts = {"coders": ["alice", "bob"], "reliability": 0.2, **kw}
    with pytest.raises(Exception, match=match):
        Project.create(tmp_path / "p", corpus=corpus_dir, codebook=toy_path, **opts)
    assert not (tmp_path / "p").exists()
    assert [n for n in os.listdir(tmp_path) if n != "corpus"] == []


def test_init_cli_negative_seed_is_one_clear_error(tmp_path, corpus_dir, toy_path) -> None:
    res = _init(tmp_path, corpus_dir, toy_path, "--seed", "-1")
    assert res.exit_code == 1 and "E312" in res.output and "seed" in res.output
    assert "Traceback" not in res.output and "ValueError" not in res.output
    assert not (tmp_path / "p").exists()


def test_init_failure_while_writing_leaves_nothing(
    tmp_path, corpus_dir, toy_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import annotate.project.project as mod

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mod._versions, "publish", boom)
    with pytest.raises(StorageError, match="E001"):
        Project.create(tmp_path / "p", corpus=corpus_dir, codebook=toy_path, coders="a,b",
                       reliability=0.2)  # fmt: skip
    assert sorted(os.listdir(tmp_path)) == ["corpus"]


def test_init_killed_leaves_no_folder_a_later_run_trips_over(
    tmp_path, corpus_dir, toy_path
) -> None:
    script = textwrap.dedent(
        f"""
        import os
        import annotate.project._versions as v
        from annotate.project import Project
        v.publish = lambda *a, **k: os._exit(9)  # killed in the middle of writing the folder
        Project.create({str(tmp_path / "p")!r}, corpus={str(corpus_dir)!r},
                       codebook={str(toy_path)!r}, coders="a,b", reliability=0.2)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert res.returncode == 9
    leftovers = [n for n in os.listdir(tmp_path) if n != "corpus"]
    assert leftovers and all(n.startswith(".p.tmp-") for n in leftovers)  # hidden, not "p"
    with pytest.raises(ProjectError, match=r"E311.*no such folder.*Check the path"):
        Project.open(tmp_path / "p")
    p = Project.create(tmp_path / "p", corpus=corpus_dir, codebook=toy_path, coders="a,b",
                       reliability=0.2)  # fmt: skip
    assert sorted(os.listdir(tmp_path)) == ["corpus", "p"]  # the dead init's folder is gone
    assert len(p.assignments) == 12


def test_init_interrupted_by_an_older_version_is_named_and_replaced(
    tmp_path, corpus_dir, toy_path
) -> None:
    half = tmp_path / "p"
    (half / "labels" / "parts").mkdir(parents=True)
    (half / "labels" / "compacted").mkdir()
    (half / "codebook.yaml").write_bytes(toy_path.read_bytes())
    with pytest.raises(ProjectError, match=r"E319.*interrupted.*codebook\.yaml, labels"):
        Project.open(half)
    res = CliRunner().invoke(main, ["project", "status", str(half)])
    assert res.exit_code == 1 and "E319" in res.output
    assert "`annotate project init" in res.output and "Project.create" not in res.output
    assert _init(tmp_path, corpus_dir, toy_path, "--reliability", "0.2").exit_code == 0
    assert Project.open(half).coders == ["alice", "bob"]


def test_init_refuses_a_folder_with_other_content(tmp_path, corpus_dir, toy_path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "notes.txt").write_text("mine")
    with pytest.raises(ProjectError, match=r"E323.*notes\.txt"):
        Project.create(tmp_path / "p", corpus=corpus_dir, codebook=toy_path, coders="a,b",
                       reliability=0.2)  # fmt: skip
    assert (tmp_path / "p" / "notes.txt").read_text() == "mine"
    # a folder holding labels but no project.json is somebody's work: not replaced either
    (tmp_path / "q" / "labels" / "parts").mkdir(parents=True)
    (tmp_path / "q" / "labels" / "parts" / "1-alice-x.parquet").write_bytes(b"x")
    with pytest.raises(ProjectError, match=r"E311.*no project\.json"):
        Project.open(tmp_path / "q")
    with pytest.raises(ProjectError, match="E323"):
        Project.create(tmp_path / "q", corpus=corpus_dir, codebook=toy_path, coders="a,b",
                       reliability=0.2)  # fmt: skip


def test_init_in_an_existing_empty_folder_keeps_its_permissions(
    tmp_path, corpus_dir, toy_path
) -> None:
    (tmp_path / "p").mkdir()
    os.chmod(tmp_path / "p", 0o2770)
    Project.create(tmp_path / "p", corpus=corpus_dir, codebook=toy_path, coders="a,b",
                   reliability=0.2)  # fmt: skip
    assert (tmp_path / "p" / "project.json").is_file()
    assert (tmp_path / "p").stat().st_mode & 0o7777 == 0o2770


def test_init_errors_point_the_right_way(tmp_path, corpus_dir, toy_path) -> None:
    assert (
        _init(tmp_path, corpus_dir, toy_path, "--reliability", "0.2", out="study1").exit_code == 0
    )
    res = CliRunner().invoke(main, ["project", "status", str(tmp_path / "studdy1")])
    assert res.exit_code == 1 and "E311" in res.output
    assert "no such folder" in res.output and "study1" in res.output  # names the near project
    assert "project init" not in res.output  # a typo is not an invitation to create a project there
    res = _init(tmp_path, corpus_dir, toy_path, out="study1")
    assert "E310" in res.output and "annotate project status" in res.output
    assert "Project.open" not in res.output
    with pytest.raises(ProjectError, match=r"E310.*Project\.open"):
        Project.create(tmp_path / "study1", corpus=corpus_dir, codebook=toy_path, coders="a,b")
    p = Project.open(tmp_path / "study1")
    with pytest.raises(ProjectError, match=r"E314.*p\.add_coders\(\['zed'\]\)"):
        p.queue("zed")
    with pytest.raises(ProjectError, match=r"E314.*Check the spelling") as info:
        p.queue("Zed Z")
    assert "add_coders" not in str(info.value)
    from annotate.errors import WidgetError
    from annotate.widgets.session import AnnotationSession

    with pytest.raises(WidgetError, match="E601") as info:
        AnnotationSession(p, "Bob X")
    assert "Bob X'" not in str(info.value).split("Coders:")[1]  # never suggests the bad id
    assert "annotate project add-coders DIR ID" in str(info.value)


def test_init_without_reliability_warns_and_one_can_be_added(
    tmp_path, corpus_dir, toy_path
) -> None:
    res = _init(tmp_path, corpus_dir, toy_path)
    assert res.exit_code == 0
    assert "W321" in res.output and "agreement cannot be measured" in res.output
    assert (
        "annotate project add-reliability" in res.output and "p.add_reliability" not in res.output
    )
    with pytest.warns(UserWarning, match=r"W321.*add_reliability\(0\.1\)"):
        Project.create(tmp_path / "q", corpus=corpus_dir, codebook=toy_path, coders="a,b")
    # two coders per conversation: agreement is possible, no warning
    Project.create(tmp_path / "r", corpus=corpus_dir, codebook=toy_path, coders="a,b",
                   per_item=2)  # fmt: skip
    p = Project.open(tmp_path / "p")
    p.append({"annotator_id": p.assignments["annotator_id"].iloc[0], "unit": "conversation",
              "conversation_id": p.assignments["conversation_id"].iloc[0],
              "code_id": "_status", "value": "done"})  # fmt: skip
    before = p.assignments
    res = CliRunner().invoke(main, ["project", "add-reliability", str(p.path), "--fraction", "0.3",
                                    "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    q = Project.open(p.path)
    a = q.assignments
    rel = a[a["is_reliability"]]
    assert rel["conversation_id"].nunique() == 3
    assert (rel.groupby("conversation_id")["annotator_id"].nunique() == 2).all()
    # who codes what and in which order is unchanged; the new rows come after each queue
    old = a.iloc[: len(before)]
    assert old[["conversation_id", "annotator_id", "position"]].equals(
        before[["conversation_id", "annotator_id", "position"]]
    )
    for coder in ("alice", "bob"):
        new = a.iloc[len(before) :]
        assert (new[new["annotator_id"] == coder]["position"]
                > before[before["annotator_id"] == coder]["position"].max()).all()  # fmt: skip
    assert q.plan["reliability"] == 0.3 and q.plan_history[-1]["what"] == "add_reliability 0.3"
    with pytest.raises(ProjectError, match="already holds 3 of 10"):
        q.add_reliability(0.2)


def test_init_json_records_the_project_as_created(tmp_path, corpus_dir, toy_path) -> None:
    res = _init(tmp_path, corpus_dir, toy_path, "--reliability", "0.2", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "p" / "project.json").read_text())
    assert doc["format"] == "annotate-project/2" and doc["plan_folder"] == "plan"
    assert doc["plan"]["coders"] == ["alice", "bob"] and doc["sampling"] is None
    assert json.loads(res.output)["plan"]["version"] == 1


def test_init_killed_in_an_existing_folder_is_an_interrupted_init(
    tmp_path, corpus_dir, toy_path
) -> None:
    target = tmp_path / "p"
    target.mkdir()
    script = textwrap.dedent(
        f"""
        import os
        import annotate.project._versions as v
        from annotate.project import Project
        v.publish = lambda *a, **k: os._exit(9)
        Project.create({str(target)!r}, corpus={str(corpus_dir)!r},
                       codebook={str(toy_path)!r}, coders="a,b", reliability=0.2)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert res.returncode == 9
    assert [n.startswith(".init-tmp-") for n in os.listdir(target)] == [True]
    with pytest.raises(ProjectError, match=r"E319.*unfinished init"):
        Project.open(target)
    Project.create(target, corpus=corpus_dir, codebook=toy_path, coders="a,b", reliability=0.2)
    assert sorted(os.listdir(target)) == ["codebook.yaml", "labels", "plan", "project.json"]
    # somebody's hidden files next to init leftovers: never deleted, the folder is refused
    other = tmp_path / "q"
    (other / ".git").mkdir(parents=True)
    (other / "codebook.yaml").write_text("x")
    with pytest.raises(ProjectError, match=r"E323.*\.git"):
        Project.create(other, corpus=corpus_dir, codebook=toy_path, coders="a,b", reliability=0.2)
    assert (other / ".git").is_dir()
