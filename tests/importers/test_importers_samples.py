"""Every importer on the real samples of the shared folder; counts from each PROVENANCE.md."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from annotate.errors import CorpusError
from annotate.importers import import_corpus


def test_importers_hh_rlhf_chosen(samples: Path, tmp_path: Path) -> None:
    src = samples / "hh-rlhf-harmless-base-test" / "harmless-base_test.jsonl.gz"
    with pytest.warns(UserWarning, match=r"\[W101\].*empty_turn 4"):
        corpus = import_corpus(src, "hh-rlhf", out=tmp_path / "hh", licence="MIT")
    m = corpus.manifest
    assert len(corpus) == 2312  # PROVENANCE: 2,312 records
    # PROVENANCE: 11,520 turns by splitting; 4 of them are empty final Assistant turns
    assert m["counts"]["turns"] + m["skipped"]["empty_turn"] == 11520
    assert m["skipped"] == {"empty_turn": 4}
    assert m["observed"]["role_marker_inside_turn"] == 40  # PROVENANCE: 40 transcripts
    assert m["observed"]["consecutive_same_role"] == 8  # PROVENANCE: 8 transcripts
    assert m["sources"][0]["sha256"] == (
        "ebfaaed21162a4de120ae85366075b34425e2a6303fac59b99555002f7016f03"
    )
    assert m["licence"] == "MIT" and m["format"] == "hh-rlhf.v1"
    assert set(corpus.turns["speaker"].unique()) == {"Human", "Assistant"}
    first = json.loads(gzip.open(src).readline())["chosen"]
    cid = next(
        c
        for c in corpus.conversation_ids
        if corpus.conversation_meta(c)["meta"]["record"].endswith("line 1")
    )
    conv = corpus.conversation(cid)
    assert conv["text"].iloc[0] == first.split("\n\nHuman: ")[1].split("\n\nAssistant: ")[0]
    assert conv["role"].iloc[0] == "user"


def test_importers_hh_rlhf_both_variants(samples: Path, tmp_path: Path) -> None:
    src = samples / "hh-rlhf-harmless-base-test" / "harmless-base_test.jsonl.gz"
    with pytest.warns(UserWarning, match=r"\[W101\]"):
        corpus = import_corpus(src, "hh-rlhf", out=tmp_path / "hh", variant="both")
    assert len(corpus) == 2 * 2312
    metas = [json.loads(m) for m in corpus.conversations["meta"]]
    assert Counter(m["variant"] for m in metas) == {"chosen": 2312, "rejected": 2312}
    pairs = Counter(m["pair_id"] for m in metas)
    assert len(pairs) == 2312 and set(pairs.values()) == {2}


def test_importers_mathdial(samples: Path, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"\[W101\].*empty_turn 13"):
        corpus = import_corpus(
            samples / "mathdial-test" / "test.jsonl", "mathdial", out=tmp_path / "m"
        )
    m = corpus.manifest
    assert len(corpus) == 599  # PROVENANCE: 599 conversations
    empty = m["skipped"]["empty_turn"]  # teacher turns holding only an act tag, e.g. "(focus)"
    assert m["counts"]["turns"] + empty == 7028  # PROVENANCE: 7,028 turns
    assert m["counts"]["turns_by_role"] == {"user": 3699 - empty, "assistant": 3329}
    assert m["observed"]["student_named_speaker"] == 234  # PROVENANCE: 234 named student turns
    acts = Counter(json.loads(x)["act"] for x in corpus.turns["meta"].dropna())
    assert sum(acts.values()) == 3699 - empty
    assert set(acts) == {"focus", "probing", "generic", "telling"}
    assert not corpus.turns["text"].str.match(r"^\((focus|probing|generic|telling)\)").any()
    assert (corpus.conversations["source_id"].value_counts() > 1).sum() == 90  # 90 repeated qids


def test_importers_oasst_tree_best_path(samples: Path, tmp_path: Path) -> None:
    src = samples / "oasst1-en100-trees" / "en_100_tree.jsonl"
    corpus = import_corpus(src, "oasst", out=tmp_path / "o")
    assert len(corpus) == 100
    # the best path takes rank 0 at every assistant step
    tree = json.loads(src.open().readline())
    node, expected = tree["prompt"], []
    while True:
        expected.append(node["message_id"])
        if not node["replies"]:
            break
        node = min(node["replies"], key=lambda r: (r.get("rank") is None, r.get("rank") or 0))
    conv = corpus.conversation(tree["message_tree_id"])
    assert conv["turn_id"].tolist() == expected
    assert conv["role"].iloc[0] == "user" and conv["speaker"].iloc[0] == "prompter"


@pytest.mark.parametrize("name", ["en_100_tree.jsonl", "en_100_message.jsonl"])
def test_importers_oasst_all_paths(samples: Path, tmp_path: Path, name: str) -> None:
    src = samples / "oasst1-en100-trees" / name
    corpus = import_corpus(src, "oasst", out=tmp_path / "o", paths="all", deleted="keep")
    assert len(corpus) == 626  # PROVENANCE: 626 root-to-leaf paths
    meta = [json.loads(m) for m in corpus.turns["meta"]]  # not .map: pandas 3 infers a struct
    msgs = {mm["message_id"]: row for mm, row in zip(meta, corpus.turns["role"], strict=True)}
    assert len(msgs) == 1167  # PROVENANCE: 1,167 messages
    assert Counter(msgs.values()) == {"user": 480, "assistant": 687}
    synthetic = {m["message_id"] for m in meta if m.get("synthetic")}
    assert len(synthetic) == 22  # PROVENANCE: 22 synthetic messages
    assert corpus.turns["turn_id"].is_unique


def test_importers_oasst_two_exports_agree(samples: Path, tmp_path: Path) -> None:
    folder = samples / "oasst1-en100-trees"
    a = import_corpus(folder / "en_100_tree.jsonl", "oasst", out=tmp_path / "a")
    b = import_corpus(folder / "en_100_message.jsonl", "oasst", out=tmp_path / "b")
    assert a.turns["text"].tolist() == b.turns["text"].tolist()
    assert a.conversation_ids == b.conversation_ids


def test_importers_oasst_flat_orphans_and_deleted(samples: Path, tmp_path: Path) -> None:
    src = samples / "oasst1-en-validation-flat" / "en-validation.jsonl"
    with pytest.warns(UserWarning, match=r"\[W101\].*orphan_message 3"):
        corpus = import_corpus(src, "oasst", out=tmp_path / "o", paths="all")
    m = corpus.manifest
    assert m["skipped"]["orphan_message"] == 3  # PROVENANCE: 3 orphans
    rows = [json.loads(line) for line in src.open()]
    deleted = {r["message_id"] for r in rows if r["deleted"]}
    assert len(deleted) == 40  # PROVENANCE: 40 deleted messages
    kept = {json.loads(x)["message_id"] for x in corpus.turns["meta"]}
    assert not kept & deleted
    n_lost = sum(m["skipped"].get(k, 0) for k in m["skipped"])
    assert len(kept) == 2022 - n_lost
    assert len(corpus.conversations["source_id"].unique()) <= 188  # 188 roots
    assert m["counts"]["first_at"].startswith("2023-01-19")
    assert corpus.conversations["user_id"].notna().all()


def test_importers_oasst_flat_keep_deleted(samples: Path, tmp_path: Path) -> None:
    src = samples / "oasst1-en-validation-flat" / "en-validation.jsonl"
    with pytest.warns(UserWarning, match=r"orphan_message 3\. "):
        corpus = import_corpus(src, "oasst", out=tmp_path / "o", paths="all", deleted="keep")
    meta = [json.loads(m) for m in corpus.turns["meta"]]  # not .map: pandas 3 infers a struct
    flagged = {m["message_id"] for m in meta if m.get("deleted")}
    assert len(flagged) == 40
    assert corpus.manifest["skipped"] == {"orphan_message": 3}
    # columnar emojis/labels of the flat export become the dict shape of the tree export
    labelled = next(m for m in meta if "labels" in m)
    assert all(isinstance(v, dict) and "value" in v for v in labelled["labels"].values())


def test_importers_convokit(samples: Path, tmp_path: Path) -> None:
    src = samples / "convokit-subreddit-cornell-sample"
    with pytest.warns(UserWarning, match=r"\[W101\].*empty_turn 7"):
        corpus = import_corpus(src, "convokit", out=tmp_path / "c")
    m = corpus.manifest
    assert len(corpus) == 50  # PROVENANCE: 50 conversations
    assert m["counts"]["turns"] + m["skipped"]["empty_turn"] == 1519  # 1,519 utterances, 7 empty
    assert m["observed"]["pseudo_speaker_deleted"] == 157
    assert m["observed"]["placeholder_text_deleted_or_removed"] == 78
    assert m["observed"]["corpus_json_counts_differ"] == 1
    assert m["counts"]["first_at"].startswith("2011-09-06")
    assert set(corpus.turns["role"].unique()) == {"user"}
    assert "o0ss4" in corpus.conversation_ids
    conv = corpus.conversation("o0ss4")
    assert conv["turn_id"].iloc[0] == "o0ss4"
    assert conv["created_at"].is_monotonic_increasing
    assert corpus.conversation_meta("o0ss4")["meta"]["title"] == "oh look.. a picture!"


def test_importers_convokit_all_paths_and_assistant(samples: Path, tmp_path: Path) -> None:
    src = samples / "convokit-subreddit-cornell-sample"
    with pytest.warns(UserWarning, match=r"\[W101\]"):
        corpus = import_corpus(
            src, "convokit", out=tmp_path / "c", paths="all", assistant_speakers=["moon_river"]
        )
    utts = [json.loads(line) for line in (src / "utterances.jsonl").open()]
    parents = {u["reply-to"] for u in utts if u["reply-to"]}
    leaves = [u for u in utts if u["id"] not in parents]
    assert len(corpus) == len(leaves)
    mine = corpus.turns[corpus.turns["speaker"] == "moon_river"]
    assert len(mine) and set(mine["role"]) == {"assistant"}


def test_importers_convokit_rejects_other_folder(samples: Path, tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"\[E108\].*no utterances.jsonl \(found: PROVENANCE"):
        import_corpus(samples / "mathdial-test", "convokit", out=tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_importers_wildchat_prompts_are_not_openai(samples: Path, tmp_path: Path) -> None:
    """A real file of another shape: one clear error, nothing written."""
    src = samples / "wildchat-first-prompts-thirdparty" / "wildchat_prompts.jsonl"
    with pytest.raises(CorpusError, match=r"\[E105\].*invalid_record 989"):
        import_corpus(src, "openai", out=tmp_path / "w")
    assert list(tmp_path.iterdir()) == []


def test_importers_demo_corpus(repo_root: Path, tmp_path: Path) -> None:
    src = repo_root / "corpora" / "demo" / "demo.jsonl"
    if not src.exists():
        pytest.skip("the demo corpus is not written yet")
    corpus = import_corpus(src, "openai", out=tmp_path / "demo")
    records = [json.loads(line) for line in src.open(encoding="utf-8")]
    assert len(corpus) == len(records)
    assert corpus.manifest["counts"]["turns"] == sum(len(r["messages"]) for r in records)
    assert corpus.manifest["counts"]["users"] == len({r["user_id"] for r in records})
    noted = {r["id"]: r["meta"]["content_note"] for r in records if r["meta"].get("content_note")}
    for cid, note in noted.items():
        assert corpus.conversation_meta(cid)["meta"]["content_note"] == note
    first = records[0]
    meta = corpus.conversation_meta(first["id"])
    assert meta["user_id"] == first["user_id"] and meta["model"] == first["model"]
    assert meta["started_at"].isoformat().replace("+00:00", "Z") == first["created_at"]
