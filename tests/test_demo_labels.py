"""The demo's illustrative labels (corpora/demo/labels/) fit the corpus, the codebook and the store.

reference-1.0.0.jsonl and reference.jsonl are the team's reference coding under codebook 1.0.0
and 2.0.0; events-1.0.0.jsonl holds three simulated coders' label events under 1.0.0,
events.jsonl their labels under 2.0.0 after the migration and their recoding
(recode-2.0.0.jsonl), evidence-2.1.0.jsonl the words they marked under 2.1.0 for their labels of
the codes that take evidence (from reference-evidence.jsonl), all written by make_labels.py (see
corpora/demo/labels/README.md). Every check of the label events runs for both versions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

import annotate
from annotate.codebook import load_codebook
from annotate.types import SYSTEM_CODES

REPO = Path(__file__).resolve().parents[1]
LABELS = REPO / "corpora" / "demo" / "labels"
FILES = {
    "2.0.0": (LABELS / "events.jsonl", LABELS / "reference.jsonl",
              REPO / "codebooks" / "sdt-socioaffective-2.0.0.yaml"),
    "1.0.0": (LABELS / "events-1.0.0.jsonl", LABELS / "reference-1.0.0.jsonl",
              REPO / "codebooks" / "sdt-socioaffective-1.0.0.yaml"),
}  # fmt: skip
EVENTS = LABELS / "events.jsonl"
SCRIPT = LABELS / "make_labels.py"
DEMO = REPO / "corpora" / "demo" / "demo.jsonl"

COLUMNS = [
    "annotator_id",
    "unit",
    "conversation_id",
    "turn_index",
    "code_id",
    "op",
    "value",
    "note",
    "elapsed_ms",
]
CODERS = {"alice", "bob", "carol"}
RELIABILITY = {
    "c002", "c005", "c007", "c054", "c010", "c011", "c016", "c019", "c021", "c024",
    "c025", "c028", "c029", "c031", "c032", "c034", "c036", "c040", "c042", "c049",
}  # fmt: skip


@pytest.fixture(scope="module", params=sorted(FILES, reverse=True))
def version(request) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def codebook(version):
    return load_codebook(FILES[version][2])


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "corpus"
    annotate.import_corpus(str(DEMO), "openai", out=str(out))
    return out


@pytest.fixture(scope="module")
def roles(corpus_dir) -> dict[tuple[str, int], str]:
    turns = annotate.load_corpus(corpus_dir).turns
    return {
        (c, int(t)): r
        for c, t, r in zip(
            turns["conversation_id"], turns["turn_index"], turns["role"], strict=True
        )
    }


@pytest.fixture(scope="module")
def events(version) -> list[dict]:
    path = FILES[version][0]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def reference(version) -> list[dict]:
    path = FILES[version][1]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _core(codebook):
    default_modules = {m.id for m in getattr(codebook, "modules", ()) if getattr(m, "default", 0)}
    return [c for c in codebook.codes if c.module is None or c.module in default_modules]


def test_events_parse_with_the_caller_columns(events):
    assert len(events) > 1000
    for e in events:
        assert list(e) == COLUMNS
        assert e["annotator_id"] in CODERS
        assert e["op"] == "set"
        assert isinstance(e["value"], str)
        assert e["note"] is None or isinstance(e["note"], str)
        assert isinstance(e["elapsed_ms"], int) and 0 < e["elapsed_ms"] < 600_000
        if e["unit"] == "conversation":
            assert e["turn_index"] is None
        else:
            assert e["unit"] == "turn" and isinstance(e["turn_index"], int)


def test_every_code_and_value_is_in_the_codebook(events, codebook):
    core = {c.id for c in _core(codebook)}
    for e in events:
        if e["code_id"] in SYSTEM_CODES:
            if e["code_id"] == "_status":
                assert e["value"] == "done" and e["unit"] == "conversation"
            elif e["code_id"] == "_flag":
                assert e["value"] == "1" and e["note"]
            else:
                assert e["value"].strip()
            continue
        code = codebook.code(e["code_id"])  # raises on an unknown id
        assert code.id in core, f"{code.id} belongs to a module that is off by default"
        assert code.unit == e["unit"]
        code.check_value(e["value"])


def test_speaker_scope_matches_the_imported_corpus(events, codebook, roles):
    for e in events:
        if e["unit"] != "turn":
            continue
        role = roles.get((e["conversation_id"], e["turn_index"]))
        assert role is not None, f"no turn {e['turn_index']} in {e['conversation_id']}"
        assert role != "system", e
        if e["code_id"] not in SYSTEM_CODES:
            assert role in codebook.code(e["code_id"]).applies_to, e


def test_design_reliability_sample_and_single_coding(events, roles):
    coders = defaultdict(set)
    done = defaultdict(set)
    for e in events:
        coders[e["conversation_id"]].add(e["annotator_id"])
        if e["code_id"] == "_status":
            done[e["conversation_id"]].add(e["annotator_id"])
    conversations = {c for c, _ in roles}
    assert set(coders) == conversations  # every conversation is coded
    assert done == coders  # every coder finished every conversation they started
    for cid in conversations:
        if cid in RELIABILITY:
            assert coders[cid] == CODERS, cid
        else:
            assert len(coders[cid]) == 1, cid
    load = defaultdict(int)
    for cid in conversations - RELIABILITY:
        load[next(iter(coders[cid]))] += 1
    assert max(load.values()) - min(load.values()) <= 1


def test_every_coder_codes_the_move_of_every_turn(events, roles):
    moves = defaultdict(set)
    for e in events:
        if e["code_id"].endswith("_primary_move"):
            moves[(e["annotator_id"], e["conversation_id"])].add(e["turn_index"])
    for (_, cid), turns in moves.items():
        want = {t for (c, t), r in roles.items() if c == cid and r != "system"}
        assert turns == want, cid


def test_reference_codes_every_turn_with_core_codes(reference, codebook, roles):
    assert [r["conversation_id"] for r in reference] == sorted({c for c, _ in roles})
    core = _core(codebook)
    conv_codes = {c.id for c in core if c.unit == "conversation"}
    for rec in reference:
        cid = rec["conversation_id"]
        want = {t for (c, t), r in roles.items() if c == cid and r != "system"}
        assert {int(t) for t in rec["turns"]} == want, cid
        for key, turn in rec["turns"].items():
            role = roles[(cid, int(key))]
            assert turn["role"] == role
            move = codebook.code("ai_primary_move" if role == "assistant" else "user_primary_move")
            move.check_value(turn["move"])
            assert len(set(turn["codes"])) == len(turn["codes"])
            for code_id in turn["codes"]:
                code = codebook.code(code_id)
                assert code in core and code.level == "binary" and role in code.applies_to
        # 2.0.0: a dilemma is rated only when its stake code says it is at stake
        unrated = {c[: -len("_stake")] for c, v in rec["conversation"].items()
                   if c.endswith("_stake") and v == "0"}  # fmt: skip
        assert set(rec["conversation"]) == conv_codes - unrated, cid
        for code_id, value in rec["conversation"].items():
            codebook.code(code_id).check_value(value)
        for turn in rec["turns"].values():
            for code_id, value in turn.get("sets", {}).items():
                code = codebook.code(code_id)
                assert code in core and code.level == "set"
                code.check_value(value)


def test_script_reproduces_the_events_files(tmp_path):
    out = tmp_path / "events.jsonl"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        check=True,
        cwd=REPO,
        capture_output=True,
    )
    for name in (
        "events.jsonl",
        "events-1.0.0.jsonl",
        "recode-2.0.0.jsonl",
        "enriched-2.0.0.jsonl",
        "evidence-2.1.0.jsonl",
    ):
        assert (tmp_path / name).read_bytes() == (LABELS / name).read_bytes(), name


def test_events_load_into_a_project(tmp_path, corpus_dir, version):
    project = annotate.Project.create(
        tmp_path / "project",
        corpus=corpus_dir,
        codebook=FILES[version][2],
        coders=sorted(CODERS),
        per_item=1,
        reliability=0.2,
        seed=1,
    )
    frame = pd.read_json(FILES[version][0], lines=True, dtype=False)
    stored = project.append(frame)  # validates every event against the codebook and corpus
    assert len(stored) == len(frame)
    units = project.unit_labels()
    assert set(units["annotator_id"]) == CODERS
    both = units[units["conversation_id"].isin(RELIABILITY)]
    assert both.groupby("conversation_id")["annotator_id"].nunique().eq(3).all()


# --- evidence spans under 2.1.0 ----------------------------------------------------------------


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def texts(corpus_dir) -> dict[tuple[str, int], str]:
    turns = annotate.load_corpus(corpus_dir).turns
    return {(c, int(t)): x for c, t, x in turns[["conversation_id", "turn_index", "text"]].values}


def test_reference_evidence_quotes_every_reference_positive_once(texts):
    """reference-evidence.jsonl holds, for every reference positive of a code that takes
    evidence, words of that turn that occur there exactly once."""
    v21 = load_codebook(REPO / "codebooks" / "sdt-socioaffective.yaml", modules="all")
    takes = {c.id for c in v21.codes if c.evidence != "none"}
    positives = {
        (r["conversation_id"], int(t), c)
        for r in _jsonl(LABELS / "reference.jsonl")
        for t, turn in r["turns"].items()
        for c in turn["codes"]
        if c in takes
    }
    quotes = {(q["conversation_id"], q["turn_index"], q["code_id"]): q["quote"]
              for q in _jsonl(LABELS / "reference-evidence.jsonl")}  # fmt: skip
    assert set(quotes) == positives and len(positives) >= 40
    assert {c for _, _, c in positives} == takes - {"ai_humanlike", "user_deference"}  # modules
    for (cid, ti, _), quote in quotes.items():
        assert texts[(cid, ti)].count(quote) == 1


def test_evidence_events_mark_words_behind_the_coders_own_labels(texts):
    import hashlib

    v21 = load_codebook(REPO / "codebooks" / "sdt-socioaffective.yaml", modules="all")
    held = {}
    for e in _jsonl(EVENTS):
        held[(e["annotator_id"], e["conversation_id"], e["turn_index"], e["code_id"])] = e["value"]
    quotes = {(q["conversation_id"], q["turn_index"], q["code_id"]): q["quote"]
              for q in _jsonl(LABELS / "reference-evidence.jsonl")}  # fmt: skip
    evidence = _jsonl(LABELS / "evidence-2.1.0.jsonl")
    on_reference = 0
    for e in evidence:
        assert list(e) == [*COLUMNS, "evidence"]
        assert (e["unit"], e["op"], e["value"]) == ("turn", "set", "1")
        assert v21.code(e["code_id"]).evidence == "optional"
        key = (e["conversation_id"], e["turn_index"], e["code_id"])
        assert held[(e["annotator_id"], *key)] == "1"  # the coder's own present label
        (span,) = e["evidence"]
        text = texts[key[:2]]
        words = text[span["start"] : span["end"]]
        assert words and words == words.strip()
        assert hashlib.sha256(words.encode()).hexdigest() == span["sha256"]
        if key in quotes:  # the reference's words, or a word or a sentence around them
            ref = text.index(quotes[key])
            assert span["start"] < ref + len(quotes[key]) and span["end"] > ref
            on_reference += 1
    assert on_reference >= 0.8 * len(evidence) and len(evidence) > 50
    # every coder marked words, in the reliability sample on the same turns as others
    assert {e["annotator_id"] for e in evidence} == CODERS
