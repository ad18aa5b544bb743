"""Data donation: donors appended atomically, a consent register, withdrawal that leaves no
byte of the participant in any file the toolkit wrote, keyed pseudonymisation."""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import annotate.corpus._donate as donate
from annotate.cli import main
from annotate.corpus import load_corpus, read_register
from annotate.errors import CorpusError
from annotate.importers import import_corpus
from annotate.project import Project
from annotate.store import withdraw_conversations
from tests.importers import layouts

TOY = Path(__file__).resolve().parents[2] / "codebooks" / "toy.yaml"
#: words only in one donor's data (their texts, titles, attachments, label memos)
GONE, KEPT = "zebrafinch", "kingfisher"


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def _donations(tmp_path: Path) -> tuple[Path, Path]:
    """Two donors' exports, outside the study folder (they are not files the toolkit wrote)."""
    src = tmp_path / "donations"
    src.mkdir()
    a = src / "p017-conversations.json"
    a.write_text(json.dumps([layouts.chatgpt_conversation("cg-17", GONE)]))
    b = src / "p018-conversations.json"
    b.write_text(json.dumps([layouts.claude_conversation("cl-18", KEPT)]))
    return a, b


def _study(tmp_path: Path) -> Path:
    a, b = _donations(tmp_path)
    corpus = tmp_path / "study" / "corpus"
    res = _run("import", "chatgpt-export", str(a), "--out", str(corpus), "--user-id", "P017",
               "--append", "--consent-scope", "research use, 5 years", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    res = _run("import", "claude-export", str(b), "--out", str(corpus), "--user-id", "P018",
               "--append", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    return corpus


def test_donation_append_two_donors(tmp_path: Path) -> None:
    corpus = load_corpus(_study(tmp_path))
    convs = corpus.conversations.set_index("conversation_id")
    assert convs.loc["cg-17", "user_id"] == "P017" and convs.loc["cl-18", "user_id"] == "P018"
    assert convs.loc["cg-17", "source"] == "chatgpt-export.v1"
    assert convs.loc["cl-18", "source"] == "claude-export.v1"
    m = corpus.manifest
    assert m["formats"] == ["chatgpt-export.v1", "claude-export.v1"]
    assert [a["user_id"] for a in m["appends"]] == ["P018"]
    assert len(m["sources"]) == 2 and m["counts"]["users"] == 2
    reg = read_register(corpus.path)
    p17 = reg["participants"]["P017"]
    assert p17["scope"] == "research use, 5 years" and p17["withdrawn_at"] is None
    assert p17["donations"][0]["conversations"] == 1
    assert p17["donations"][0]["sources"][0]["name"] == "p017-conversations.json"
    res = _run("corpus", "info", str(corpus.path), "--json")
    info = json.loads(res.stdout)
    assert info["consent"] == {"participants": 2, "withdrawn": 0, "projects_and_exports": 0}
    res = _run("corpus", "consent", str(corpus.path))
    assert "P017" in res.stdout and "research use, 5 years" in res.stdout


def test_donation_append_is_all_or_nothing(tmp_path: Path, monkeypatch) -> None:
    corpus = _study(tmp_path)
    before = {p.name: p.read_bytes() for p in corpus.iterdir()}
    extra = tmp_path / "donations" / "p019.json"
    extra.write_text(json.dumps([layouts.claude_conversation("cl-19", "heron")]))

    def crash(folder, *args, **kwargs):
        (folder / "turns.parquet").write_bytes(b"half")
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(donate, "write_tables", crash)
    with pytest.raises(OSError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import_corpus(extra, "claude-export", out=corpus, user_id="P019", append=True)
    assert {p.name: p.read_bytes() for p in corpus.iterdir()} == before
    assert sorted(p.name for p in corpus.parent.iterdir()) == ["corpus"]  # no temp left


def _label_everything(project: Project) -> None:
    rows = []
    for cid in project.corpus.conversation_ids:
        conv = project.corpus.conversation(cid)
        marker = GONE if cid.startswith("cg") else KEPT
        ai = int(conv.loc[conv["role"] == "assistant", "turn_index"].iloc[0])
        for who in ("alice", "bob"):
            rows += [
                {"annotator_id": who, "unit": "turn", "conversation_id": cid, "turn_index": ai,
                 "code_id": "ai_empathy", "value": "1"},
                {"annotator_id": who, "unit": "turn", "conversation_id": cid, "turn_index": ai,
                 "code_id": "_memo", "value": f"{who}'s memo on {marker}"},
                {"annotator_id": who, "unit": "conversation", "conversation_id": cid,
                 "code_id": "_status", "value": "done"},
            ]  # fmt: skip
    project.append(rows[: len(rows) // 2])
    project.store.compact(full=True)  # some labels in compacted files, some in parts
    project.append(rows[len(rows) // 2 :])


def _found(root: Path, word: str) -> list[str]:
    """Every file under ``root`` whose bytes, or decoded parquet values, hold ``word``."""
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if word.encode() in data or word.encode("utf-16-le") in data:
            hits.append(str(path))
        elif data[:4] == b"PAR1":
            table = pq.read_table(path)
            if word in json.dumps(table.to_pylist(), default=str):
                hits.append(f"{path} (decoded)")
    return hits


def test_withdrawal_leaves_no_byte_of_the_participant(tmp_path: Path) -> None:
    corpus = _study(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        project = Project.create(tmp_path / "study" / "project", corpus=corpus, codebook=TOY,
                                 coders=["alice", "bob"], per_item=2)  # fmt: skip
        _label_everything(project)
        from annotate.export import write as export

        export(project, tmp_path / "study" / "export-csv", format="csv", labels="all",
               bootstrap=0)  # fmt: skip
        export(project, tmp_path / "study" / "export-pq", labels="all", bootstrap=0)
    stale = project.path / "labels" / "parts" / ".0001-x.parquet.1f2e.tmp"
    stale.write_bytes(f"a killed save: alice's memo on {GONE}".encode())
    os.utime(stale, (time.time() - 600, time.time() - 600))
    uses = read_register(corpus)["uses"]
    assert sorted(u["kind"] for u in uses) == ["export", "export", "project"]
    study = tmp_path / "study"
    assert _found(study, GONE) and _found(study, KEPT)  # the search finds what is there

    res = _run("corpus", "withdraw", str(corpus), "--user-id", "P017", "--json")

    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["user_id"] == "P017" and doc["conversations"] == 1 and doc["turns"] == 7
    assert doc["label_events"] == {str(project.path.resolve()): 6}
    assert set(doc["export_rows"]) == {str((study / "export-csv").resolve()),
                                       str((study / "export-pq").resolve())}  # fmt: skip
    assert doc["not_reached"] == [] and doc["by"] and doc["completed_at"]
    assert _found(study, GONE) == []  # no text, title, attachment or memo of P017 anywhere
    assert _found(study, KEPT)  # P018 is still there
    reg = read_register(corpus)
    assert reg["participants"]["P017"]["withdrawn_at"] == doc["completed_at"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reopened = Project.open(project.path)
        labels = reopened.labels()
        # the plan still records the withdrawn conversation; no coder is offered it again
        assert "cg-17" in set(reopened._state().assignments["conversation_id"])
        assert reopened.withdrawn_conversations() == {"cg-17"}
        assert reopened.queue("alice") == ["cl-18"] and reopened.queue("bob") == ["cl-18"]
        assert set(reopened.assignments["conversation_id"]) == {"cl-18"}
        status = reopened.status()
    assert set(labels["conversation_id"]) == {"cl-18"}
    assert status["coders"]["assigned"].tolist() == [1, 1]
    assert load_corpus(corpus).conversation_ids == ["cl-18"]
    card = (study / "export-csv" / "README.md").read_text()
    assert "## Withdrawal" in card
    exported = pd.read_csv(study / "export-csv" / "turns.csv")
    assert set(exported["conversation_id"]) == {"cl-18"}
    # the same participant cannot be added again
    again = tmp_path / "donations" / "p017-conversations.json"
    res = _run("import", "chatgpt-export", str(again), "--out", str(corpus), "--user-id",
               "P017", "--append")  # fmt: skip
    assert res.exit_code == 1 and "[E118] Participant 'P017' withdrew" in res.stderr


def test_withdrawal_interrupted_is_finished_by_running_it_again(tmp_path, monkeypatch) -> None:
    corpus = _study(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        project = Project.create(tmp_path / "study" / "project", corpus=corpus, codebook=TOY,
                                 coders=["alice", "bob"], per_item=2)  # fmt: skip
        _label_everything(project)

    def killed(*args, **kwargs):
        raise OSError(28, "No space left on device")

    real = donate.atomic_folder
    monkeypatch.setattr(donate, "atomic_folder", killed)
    res = _run("corpus", "withdraw", str(corpus), "--user-id", "P017")
    assert res.exit_code == 1
    pending = read_register(corpus)["withdrawals"]
    assert len(pending) == 1 and pending[0]["completed_at"] is None
    assert "cg-17" in load_corpus(corpus).conversation_ids  # the corpus is untouched
    monkeypatch.setattr(donate, "atomic_folder", real)
    res = _run("corpus", "withdraw", str(corpus), "--user-id", "P017", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["conversations"] == 1
    (record,) = read_register(corpus)["withdrawals"]
    assert record["completed_at"] and len(record["conversation_id_hashes"]) == 1
    assert _found(tmp_path / "study", GONE) == []


def test_withdrawal_of_an_unknown_participant(tmp_path: Path) -> None:
    corpus = _study(tmp_path)
    with pytest.raises(CorpusError, match=r"\[E119\].*Participants with conversations: P017, P018"):
        donate.withdraw(corpus, "P0l7")


def test_withdrawal_reaches_an_unregistered_project_given_by_path(tmp_path: Path) -> None:
    corpus = _study(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        project = Project.create(tmp_path / "study" / "project", corpus=corpus, codebook=TOY,
                                 coders=["alice", "bob"], per_item=2)  # fmt: skip
        _label_everything(project)
    reg = read_register(corpus)
    reg["uses"] = []  # as for a project made before registration existed
    (corpus / "consent.json").write_text(json.dumps(reg))
    res = _run("corpus", "withdraw", str(corpus), "--user-id", "P017", "--project",
               str(project.path), "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert list(json.loads(res.stdout)["label_events"].values()) == [6]
    assert _found(tmp_path / "study", GONE) == []


def test_pseudonymise_keyed_and_consistent(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    text = ("I am Ana Lopez, write to ana.lopez@example.org or +44 20 7946 0958; "
            "ask @ana_l or Ana Lopez again. Ben Okafor agrees.")  # fmt: skip
    src.write_text(json.dumps({"id": "c1", "messages": [{"role": "user", "content": text}]}))
    key = tmp_path / "keys" / "study.key"
    names = ["Ana Lopez", "Ben Okafor"]
    one = import_corpus(src, "openai", out=tmp_path / "a", pseudonymise=key, names=names)
    got = one.turns["text"].iloc[0]
    assert got == ("I am [PERSON_1], write to [EMAIL_1] or [PHONE_1]; ask [HANDLE_1] or "
                   "[PERSON_1] again. [PERSON_2] agrees.")  # fmt: skip
    stored = key.read_text()
    assert "Ana" not in stored and "example.org" not in stored  # only HMACs and numbers
    other = tmp_path / "in2.jsonl"
    other.write_text(json.dumps({"id": "c2", "messages": [
        {"role": "user", "content": "Ben Okafor and carla@example.org"}]}))  # fmt: skip
    two = import_corpus(other, "openai", out=tmp_path / "b", pseudonymise=key, names=names)
    assert two.turns["text"].iloc[0] == "[PERSON_2] and [EMAIL_2]"
    assert one.manifest["masking"]["counts"] == {"EMAIL": 1, "HANDLE": 1, "PERSON": 3, "PHONE": 1}
    with pytest.raises(CorpusError, match=r"\[E120\].*inside the corpus folder"):
        import_corpus(other, "openai", out=tmp_path / "c", pseudonymise=tmp_path / "c" / "k")


def test_withdrawal_from_a_published_corpus_keeps_the_others_turn_fields(tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    pq.write_table(layouts.table(layouts.wildchat_rows("hedges")), src / "w.parquet")
    corpus = tmp_path / "study" / "corpus"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = import_corpus(src / "w.parquet", "hf-chat", out=corpus, users="hashed_ip")
    (corpus / "README.md").write_text("our notes on this corpus")
    uid = c.conversation_meta("hed001")["user_id"]
    record = donate.withdraw(corpus, uid)
    assert record["conversations"] == 1 and record["turns"] == 3
    after = load_corpus(corpus)
    assert after.conversation_ids == ["hed000", "hed002"]
    assert set(after.turn_fields["conversation_id"]) == {"hed000", "hed002"}
    assert len(after.turn_fields) == len(after.turns)
    assert (corpus / "README.md").read_text() == "our notes on this corpus"
    assert "hedges 1" not in json.dumps(pq.read_table(corpus / "turn_fields.parquet").to_pylist())
    # a donation appended to it keeps every table
    more = tmp_path / "more.parquet"
    pq.write_table(layouts.table(layouts.lmsys_rows("reeds")), more)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grown = import_corpus(more, "hf-chat", out=corpus, append=True, user_id="P030")
    assert grown.conversation_ids == ["hed000", "hed002", "lm0", "lm1"]
    assert set(grown.turn_fields["conversation_id"]) == {"hed000", "hed002", "lm0", "lm1"}
    assert (corpus / "README.md").exists()


def test_withdrawal_run_again_cleans_a_project_found_later(tmp_path: Path) -> None:
    corpus = _study(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        project = Project.create(tmp_path / "study" / "project", corpus=corpus, codebook=TOY,
                                 coders=["alice", "bob"], per_item=2)  # fmt: skip
        _label_everything(project)
    reg = read_register(corpus)
    reg["uses"] = []  # the project was not registered (e.g. a read-only corpus then)
    (corpus / "consent.json").write_text(json.dumps(reg))
    first = donate.withdraw(corpus, "P017")
    assert first["conversations"] == 1 and first["label_events"] == {}
    assert _found(tmp_path / "study", GONE)  # the unregistered project still holds labels
    again = donate.withdraw(
        corpus, "P017", projects=[project.path], purge_labels=withdraw_conversations
    )
    assert again["conversations"] == 0 and list(again["label_events"].values()) == [6]
    assert _found(tmp_path / "study", GONE) == []
