"""The published layouts: hf-chat (WildChat, LMSYS), arena, prism, chatgpt-export, claude-export,
pippa, sillytavern. Fixtures are built in tests/importers/layouts.py from the layouts' dataset
cards and documentation (cited there); the WildChat prompts are a real third-party sample."""

from __future__ import annotations

import json
import warnings
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotate.errors import CorpusError
from annotate.importers import import_corpus
from tests.importers import layouts


def _quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return import_corpus(*args, **kwargs)


def _fields(corpus) -> list[dict]:
    return pq.read_table(corpus.path / "turn_fields.parquet").to_pylist()


@pytest.fixture
def wildchat_shards(tmp_path: Path) -> Path:
    folder = tmp_path / "wildchat" / "data"
    folder.mkdir(parents=True)
    rows = layouts.wildchat_rows("gardens")
    pq.write_table(layouts.table(rows[:2]), folder / "train-00000-of-00002.parquet")
    pq.write_table(layouts.table(rows[2:]), folder / "train-00001-of-00002.parquet")
    (folder / "README.md").write_text("not data")
    return folder


def test_hf_chat_wildchat_shards_and_traps(wildchat_shards: Path, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"\[W101\].*empty_turn 1"):
        corpus = import_corpus(wildchat_shards, "HF-Chat", out=tmp_path / "c")
    m = corpus.manifest
    assert [s["name"] for s in m["sources"]] == [
        "train-00000-of-00002.parquet",
        "train-00001-of-00002.parquet",
    ]
    assert m["counts"]["conversations"] == 3 and m["counts"]["turns"] == 7
    assert m["skipped"] == {"empty_turn": 1}  # the whitespace-only assistant turn
    assert m["repaired"] == {"moderation_length_mismatch": 1}  # row 2: 1 result, 2 turns
    assert m["observed"]["redacted_turn"] == 1 and m["observed"]["toxic_turn"] == 1
    assert m["observed"]["moderation_flagged_turn"] == 3  # row 1's three kept turns
    t = corpus.turns
    assert list(t.loc[t["role"] == "assistant", "model"].unique()) == ["gpt-4-0314"]
    assert t.loc[t["role"] == "user", "model"].isna().all()
    assert t["created_at"].dropna().unique().tolist() == [layouts.T0]
    fields = {(r["conversation_id"], r["turn_index"]): r for r in _fields(corpus)}
    flagged = fields[("gar001", 0)]["openai_moderation"]
    assert flagged["flagged"] is True and flagged["category_scores"]["self-harm"] == 0.93
    assert fields[("gar002", 0)]["openai_moderation"] is None  # dropped: length mismatch
    assert fields[("gar000", 0)]["hashed_ip"] == "iphash0"  # per-turn fields kept, typed
    assert fields[("gar000", 1)]["detoxify_moderation"] == {"toxicity": 0.01, "insult": 0.002}
    meta = corpus.conversation_meta("gar001")["meta"]
    assert meta["content_note"] == "flagged by moderation: self-harm"
    assert meta["toxic"] is True and meta["header"]["user-agent"] == "Browser/1"
    assert "content_note" not in corpus.conversation_meta("gar000")["meta"]


def test_hf_chat_encodings_and_memory_pool(
    wildchat_shards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scores are written without a dictionary (they are nearly all distinct), flags and ids
    with one; the import runs on jemalloc and gives the caller's default pool back."""
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool().backend_name
    seen = []
    real = pq.ParquetWriter.write_table

    def spy(self, table, row_group_size=None):
        seen.append(pa.default_memory_pool().backend_name)
        return real(self, table, row_group_size=row_group_size)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", spy)
    corpus = _quiet(wildchat_shards, "hf-chat", out=tmp_path / "c")
    assert pa.default_memory_pool().backend_name == before
    if hasattr(pa, "jemalloc_memory_pool"):
        assert seen and set(seen) == {"jemalloc"}
    meta = pq.ParquetFile(corpus.path / "turn_fields.parquet").metadata
    encodings = {}
    for i in range(meta.num_columns):
        col = meta.row_group(0).column(i)
        encodings[col.path_in_schema] = col.encodings
    score = encodings["openai_moderation.category_scores.self-harm"]
    assert not any("DICTIONARY" in e for e in score), score
    assert any("DICTIONARY" in e for e in encodings["conversation_id"])
    assert any("DICTIONARY" in e for e in encodings["hashed_ip"])
    turns = pq.ParquetFile(corpus.path / "turns.parquet").metadata.row_group(0)
    by_name = {turns.column(i).path_in_schema: turns.column(i).encodings for i in range(9)}
    assert any("DICTIONARY" in e for e in by_name["role"])
    assert not any("DICTIONARY" in e for e in by_name["text"])


def test_hf_chat_user_id_options(wildchat_shards: Path, tmp_path: Path) -> None:
    by_ip = _quiet(wildchat_shards, "hf-chat", out=tmp_path / "ip", users="hashed_ip")
    convs = by_ip.conversations
    users = dict(zip(convs["conversation_id"], convs["user_id"], strict=True))
    assert users["gar000"] == users["gar002"] != users["gar001"]  # iphash0, iphash1, iphash0
    by_header = _quiet(wildchat_shards, "hf-chat", out=tmp_path / "h", users="hashed_ip+header")
    assert by_header.conversations["user_id"].nunique() == 3  # Browser/0 != Browser/2
    plain = _quiet(wildchat_shards, "hf-chat", out=tmp_path / "n")
    assert plain.conversations["user_id"].isna().all()


def test_hf_chat_glob_and_jsonl_give_the_same_corpus(wildchat_shards: Path, tmp_path: Path):
    a = _quiet(str(wildchat_shards / "train-*.parquet"), "hf-chat", out=tmp_path / "a")
    rows = layouts.wildchat_rows("gardens")
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows))
    b = _quiet(src, "hf-chat", out=tmp_path / "b")
    cols = ["conversation_id", "turn_index", "role", "text", "model"]
    assert a.turns[cols].astype(str).equals(b.turns[cols].astype(str))
    assert b.manifest["skipped"] == a.manifest["skipped"]


def test_hf_chat_wildchat_48m_naive_timestamps(tmp_path: Path) -> None:
    rows = layouts.wildchat_rows("rivers", n=1)
    t = layouts.table(rows)
    naive = pa.timestamp("us")
    t = t.set_column(2, "timestamp", t["timestamp"].cast(naive))
    pq.write_table(t, tmp_path / "w48.parquet")
    corpus = _quiet(tmp_path / "w48.parquet", "hf-chat", out=tmp_path / "c")
    assert corpus.manifest["observed"]["naive_timestamp_read_as_utc"] == 1
    assert corpus.conversations["started_at"].iloc[0] == layouts.T0


def test_hf_chat_lmsys_layout(tmp_path: Path) -> None:
    pq.write_table(layouts.table(layouts.lmsys_rows("kites")), tmp_path / "lm.parquet")
    corpus = _quiet(tmp_path / "lm.parquet", "hf-chat", out=tmp_path / "c")
    assert corpus.conversation_ids == ["lm0", "lm1"]
    assert corpus.conversation_meta("lm0")["meta"]["content_note"] == (
        "flagged by moderation: violence"
    )
    assert corpus.conversation_meta("lm1")["meta"]["redacted"] is True
    assert corpus.conversations["language"].tolist() == ["English", "English"]
    fields = _fields(corpus)
    assert [r["openai_moderation"]["flagged"] for r in fields if r["conversation_id"] == "lm0"] == [
        False,
        True,
    ]


def test_hf_chat_no_message_column_is_one_error(tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": [1], "b": ["x"]}), tmp_path / "x.parquet")
    with pytest.raises(CorpusError, match=r"\[E121\].*columns: a \(int64\), b \(string\)"):
        import_corpus(tmp_path / "x.parquet", "hf-chat", out=tmp_path / "c")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.parquet"]  # no run, no temp


def test_hf_chat_spills_runs_and_merges_them_in_order(tmp_path: Path, monkeypatch) -> None:
    import annotate.corpus._spill as spill

    monkeypatch.setattr(spill, "SPILL_BYTES", 1)  # every batch becomes a run
    monkeypatch.setattr(spill, "RUN_BATCH_ROWS", 2)
    rows = []
    for k in range(40):  # ids in scrambled order, so that runs must interleave
        for i, r in enumerate(layouts.wildchat_rows("walks", n=3)):
            rows.append(dict(r, conversation_hash=f"{(k * 7919 + i * 104729) % 1000003:07d}"))
    src = tmp_path / "many.parquet"
    pq.write_table(layouts.table(rows), src, row_group_size=5)
    seen = []
    real = spill.Runs.spill

    def spy(self):
        real(self)
        seen.append(len(self.files))

    monkeypatch.setattr(spill.Runs, "spill", spy)
    corpus = _quiet(src, "hf-chat", out=tmp_path / "c")
    assert max(seen) >= 10  # really merged from many runs
    ids = corpus.turns["conversation_id"].tolist()
    assert ids == sorted(ids) and len(corpus) == 120
    made = [f"{c}:{i}" for c, i in zip(ids, corpus.turns["turn_index"], strict=True)]
    assert corpus.turns["turn_id"].tolist() == made  # made after the merge, not carried in runs
    for cid in corpus.conversation_ids[:5]:
        conv = corpus.conversation(cid)
        assert conv["turn_index"].tolist() == list(range(len(conv)))
        assert conv["role"].iloc[0] == "user"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "many.parquet"]


def test_hf_chat_real_wildchat_prompts(samples: Path, tmp_path: Path) -> None:
    src = samples / "wildchat-first-prompts-thirdparty" / "wildchat_prompts.jsonl"
    with pytest.warns(UserWarning, match=r"duplicate_conversation_id 20"):
        corpus = import_corpus(src, "hf-chat", out=tmp_path / "w")
    m = corpus.manifest
    assert m["counts"]["conversations"] == 989  # PROVENANCE: 989 prompts
    assert m["counts"]["turns_by_role"] == {"user": 989}
    assert m["observed"]["prompt_only_row"] == 989
    longest = max(len(x) for x in corpus.turns["text"])
    assert longest == 345_560  # PROVENANCE: prompt lengths up to 345,560 chars


def test_arena_two_conversations_per_battle(tmp_path: Path) -> None:
    pq.write_table(layouts.table(layouts.arena_rows("maps")), tmp_path / "arena.parquet")
    corpus = _quiet(tmp_path / "arena.parquet", "arena", out=tmp_path / "c")
    assert corpus.conversation_ids == ["q0-a", "q0-b", "q1-a", "q1-b", "q2-a", "q2-b"]
    won = {c: corpus.conversation_meta(c)["meta"].get("won") for c in corpus.conversation_ids}
    assert won == {"q0-a": True, "q0-b": False, "q1-a": False, "q1-b": True,
                   "q2-a": None, "q2-b": None}  # fmt: skip
    meta = corpus.conversation_meta("q2-b")["meta"]
    assert meta["pair_id"] == "q2" and meta["side"] == "b" and meta["opponent_model"] == "model-a"
    assert meta["winner"] == "tie (bothbad)" and meta["judge"] == "arena_user_2"
    assert meta["content_note"] == "flagged by moderation: harassment"
    assert corpus.conversations.set_index("conversation_id").loc["q1-b", "model"] == "model-b"
    started = corpus.conversations["started_at"].iloc[0]
    assert started == datetime.fromtimestamp(1682351591.1322, UTC).replace(microsecond=132200)


# --- PRISM --------------------------------------------------------------------------------------


def _prism_files(tmp_path: Path) -> Path:
    folder = tmp_path / "prism"
    folder.mkdir()
    convs = [
        layouts.prism_conversation("c1", "user1", "rivers"),
        layouts.prism_conversation("c2", "user2", "bridges", chosen=False),
        layouts.prism_conversation("c3", "user9", "clouds"),
    ]
    (folder / "conversations.jsonl").write_text("".join(json.dumps(c) + "\n" for c in convs))
    survey = [layouts.prism_survey("user1", "25-34 years old", "Chile"),
              layouts.prism_survey("user2", "55-64 years old", "Kenya")]  # fmt: skip
    (folder / "survey.jsonl").write_text("".join(json.dumps(s) + "\n" for s in survey))
    (folder / "utterances.jsonl").write_text("{}\n")
    return folder


def test_prism_chosen_path_alternatives_and_users(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"no_chosen_response 1"):
        corpus = import_corpus(_prism_files(tmp_path), "prism", out=tmp_path / "c")
    m = corpus.manifest
    assert m["observed"]["file_not_read"] == 1 and m["observed"]["user_without_survey"] == 1
    c1 = corpus.conversation("c1")
    assert c1["role"].tolist() == ["user", "assistant", "user", "assistant"]
    assert c1["model"].tolist()[1::2] == ["model-y", "model-y"]  # if_chosen
    alts = json.loads(c1["meta"].iloc[1])["alternatives"]
    assert sorted(a["model_name"] for a in alts) == ["model-x", "model-z"]
    # c2's last turn has no chosen response: the best-scored one is kept
    assert corpus.conversation("c2")["model"].iloc[3] == "model-y"
    users = corpus.users
    assert users["user_id"].tolist() == ["user1", "user2"]
    assert users["location.reside_country"].tolist() == ["Chile", "Kenya"]
    assert json.loads(users["lm_usecases"].iloc[0]) == ["writing", "coding"]
    joined = corpus.conversations.merge(users, on="user_id", how="left")
    per_age = joined.groupby("age", dropna=False)["n_turns"].sum().to_dict()
    assert (
        per_age == {"25-34 years old": 4, "55-64 years old": 4} or per_age["25-34 years old"] == 4
    )
    assert m["counts"]["users_table"] == 2


def test_prism_all_responses(tmp_path: Path) -> None:
    corpus = _quiet(_prism_files(tmp_path), "prism", out=tmp_path / "c", responses="all")
    c1 = corpus.conversation("c1")
    assert c1["role"].tolist() == ["user"] + ["assistant"] * 3 + ["user"] + ["assistant"] * 3
    assert [json.loads(x)["if_chosen"] for x in c1["meta"].iloc[1:4]] == [False, True, False]
    assert corpus.manifest["observed"]["consecutive_same_role"] == 3


def test_corpus_without_users_table_reads_empty(tmp_path: Path, jsonl) -> None:
    src = jsonl([{"id": "c1", "messages": [{"role": "user", "content": "Hi"}]}])
    corpus = import_corpus(src, "openai", out=tmp_path / "c")
    assert not (corpus.path / "users.parquet").exists()
    assert corpus.users.columns.tolist() == ["user_id"] and corpus.users.empty


# --- account exports ----------------------------------------------------------------------------


def _chatgpt(tmp_path: Path, *convs) -> Path:
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(list(convs)))
    return path


def test_chatgpt_export_current_branch_and_traps(tmp_path: Path) -> None:
    src = _chatgpt(tmp_path, layouts.chatgpt_conversation("cg1", "tulips"))
    with pytest.warns(UserWarning, match=r"\[W101\]"):
        corpus = import_corpus(src, "chatgpt-export", out=tmp_path / "c")
    m = corpus.manifest
    conv = corpus.conversation("cg1")
    assert conv["turn_id"].tolist() == ["ci", "u1", "a1b", "u2", "code", "out", "a2"]
    assert conv["role"].tolist() == [
        "user", "user", "assistant", "user", "assistant", "tool", "assistant",
    ]  # fmt: skip
    assert conv["text"].iloc[1] == "What is in this picture about tulips?"  # image dropped
    assert conv["text"].iloc[2] == "Regenerated answer on tulips."  # the current branch
    meta = [json.loads(x) for x in conv["meta"]]
    assert meta[0]["hidden"] and meta[0]["content_type"] == "user_editable_context"
    assert meta[4]["recipient"] == "python" and meta[4]["content_type"] == "code"
    assert meta[5]["hidden"] and conv["speaker"].iloc[5] == "python"
    assert m["repaired"] == {"non_text_part_dropped": 1}
    assert m["skipped"] == {"empty_system_placeholder": 1}
    assert m["observed"]["branch_not_kept"] == 1 and m["observed"]["hidden_message"] == 2
    assert conv["model"].iloc[6] == "gpt-4o"
    assert corpus.conversation_meta("cg1")["meta"]["title"] == "About tulips"


def test_chatgpt_export_every_branch(tmp_path: Path) -> None:
    src = _chatgpt(tmp_path, layouts.chatgpt_conversation("cg1", "tulips"))
    corpus = _quiet(src, "chatgpt-export", out=tmp_path / "c", branches="all")
    assert corpus.conversation_ids == ["cg1:a1", "cg1:a2"]
    metas = [corpus.conversation_meta(c)["meta"] for c in corpus.conversation_ids]
    assert [x["current"] for x in metas] == [False, True]
    assert corpus.conversation("cg1:a1")["text"].iloc[-1] == "First answer on tulips."


def test_chatgpt_export_zip_and_folder(tmp_path: Path) -> None:
    conv = layouts.chatgpt_conversation("cg1", "tulips")
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("conversations.json", json.dumps([conv]))
        z.writestr("user.json", json.dumps({"id": "user-x"}))
        z.writestr("chat.html", "<html></html>")
    a = _quiet(archive, "chatgpt-export", out=tmp_path / "a")
    folder = tmp_path / "unzipped"
    folder.mkdir()
    (folder / "conversations.json").write_text(json.dumps([conv]))
    (folder / "user.json").write_text(json.dumps({"id": "user-x"}))
    (folder / "chat.html").write_text("<html></html>")
    b = _quiet(folder, "chatgpt-export", out=tmp_path / "b")
    assert a.turns["text"].tolist() == b.turns["text"].tolist()
    assert b.manifest["observed"]["export_file_not_read"] == 1  # user.json


def test_chatgpt_conversations_json_failed_under_openai_before(tmp_path: Path) -> None:
    src = _chatgpt(tmp_path, layouts.chatgpt_conversation("cg1", "tulips"))
    with pytest.raises(CorpusError, match=r"\[E105\]"):
        _quiet(src, "openai", out=tmp_path / "o")
    assert len(_quiet(src, "chatgpt-export", out=tmp_path / "c")) == 1


def test_claude_export_blocks_attachments_and_branch(tmp_path: Path) -> None:
    src = tmp_path / "conversations.json"
    src.write_text(json.dumps([layouts.claude_conversation("cl1", "owls")]))
    with pytest.warns(UserWarning, match=r"non_text_block_dropped 1"):
        corpus = import_corpus(src, "claude-export", out=tmp_path / "c")
    conv = corpus.conversation("cl1")
    assert conv["text"].tolist() == [
        "Tell me about owls.",
        "Here is something on owls.",
        "Thanks, more on owls?",
        "More on owls.",
    ]
    assert conv["role"].tolist() == ["user", "assistant", "user", "assistant"]
    meta = [json.loads(x) for x in conv["meta"]]
    assert meta[0]["attachments"][0]["extracted_content"] == "my owls notes"
    assert meta[0]["files"] == ["photo.jpg"] and meta[1]["thinking"] == "Plan the answer."
    m = corpus.manifest
    assert m["observed"]["branch_not_kept"] == 1 and m["observed"]["file_not_in_export"] == 1
    assert conv["created_at"].iloc[0] == datetime(2024, 3, 1, 10, 1, tzinfo=UTC)


# --- companion logs -----------------------------------------------------------------------------


def test_pippa_persona_and_traps(tmp_path: Path, jsonl) -> None:
    src = jsonl([layouts.pippa_record("Mira", "chess")])
    with pytest.warns(UserWarning, match=r"empty_turn 1.*invalid_turn 1|invalid_turn 1"):
        corpus = import_corpus(src, "pippa", out=tmp_path / "c")
    (cid,) = corpus.conversation_ids
    conv = corpus.conversation(cid)
    assert conv["role"].tolist() == ["assistant", "user", "assistant"]
    assert conv["speaker"].tolist() == ["Mira", "user", "Mira"]
    meta = corpus.conversation_meta(cid)
    persona = meta["meta"]["persona"]
    assert persona["name"] == "Mira" and persona["definitions"].startswith("{{char}}: I like")
    assert meta["meta"]["submitted_at"] == "2023-07-01T00:00:00+00:00"
    assert meta["started_at"] is None  # the submission time is not the conversation's
    m = corpus.manifest
    assert m["observed"]["greeting_is_first_turn"] == 1
    assert m["observed"]["template_placeholder"] == 1
    assert m["skipped"] == {"empty_turn": 1, "invalid_turn": 1}


def test_sillytavern_chat_file(tmp_path: Path, jsonl) -> None:
    src = jsonl(layouts.sillytavern_lines("dragons"), name="Aria - 2024-6-1.jsonl")
    corpus = _quiet(src, "SillyTavern", out=tmp_path / "c")
    (cid,) = corpus.conversation_ids
    conv = corpus.conversation(cid)
    assert conv["role"].tolist() == ["assistant", "user", "system", "assistant"]
    assert conv["speaker"].tolist() == ["Aria", "Sam", "Narrator", "Aria"]
    assert conv["created_at"].tolist() == [
        datetime(2024, 6, 1, 15, 4, tzinfo=UTC),
        datetime(2024, 6, 1, 15, 5, tzinfo=UTC),
        datetime(2024, 6, 1, 15, 6, tzinfo=UTC),
        datetime(2024, 6, 1, 15, 7, tzinfo=UTC),
    ]
    meta = [json.loads(x) if isinstance(x, str) else {} for x in conv["meta"]]
    assert meta[0]["swipes"] == ["Hi!", "Welcome! Shall we talk about dragons?"]
    assert meta[2]["hidden"] is True and meta[3]["reasoning"] == "keep it short"
    assert conv["model"].iloc[3] == "gpt-4o-mini"
    info = corpus.conversation_meta(cid)
    assert info["started_at"] == datetime(2024, 6, 1, 15, 4, 12, 345000, tzinfo=UTC)
    assert info["meta"]["character_name"] == "Aria" and info["source_id"] == "Aria - 2024-6-1"
    obs = corpus.manifest["observed"]
    assert obs["message_with_swipes"] == 2 and obs["local_time_read_as_utc"] == 3
    dropped = _quiet(src, "sillytavern", out=tmp_path / "d", swipes="drop")
    assert "swipes" not in (dropped.turns["meta"].dropna().str.cat())
