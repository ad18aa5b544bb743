"""Sampling a real-sized corpus: frame filters, strata, later draws, and the data card."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from annotate.cli import main
from annotate.errors import ProjectError
from annotate.project import Project, _sample

from .conftest import MODELS, make_large_corpus

REPO = Path(__file__).resolve().parents[2]
SDT = REPO / "codebooks" / "sdt-socioaffective.yaml"


@pytest.fixture(scope="module")
def corpus_17k(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    return make_large_corpus(tmp_path_factory.mktemp("c17k") / "corpus", 17_000)


def test_sampling_allocation_is_proportional_with_largest_remainder() -> None:
    # hand-computed: 10 * (5, 3, 2) / 10 = (5, 3, 2); 7 * (5, 3, 2) / 10 = (3.5, 2.1, 1.4)
    assert _sample.allocate({"a": 5, "b": 3, "c": 2}, 10) == {"a": 5, "b": 3, "c": 2}
    assert _sample.allocate({"a": 5, "b": 3, "c": 2}, 7) == {"a": 4, "b": 2, "c": 1}
    # remainders .5 and .5 tie: broken by stratum name, never above the stratum's size
    assert _sample.allocate({"x": 1, "y": 1}, 1) == {"x": 1, "y": 0}
    assert _sample.allocate({"a": 1, "b": 99}, 100) == {"a": 1, "b": 99}


def test_sampling_where_is_a_fixed_vocabulary_never_code() -> None:
    f = _sample.parse_where(["language=en,de", "model!=gpt-4", "min_turns=4",
                             "started_after=2024-01-01", "meta.topic=health"])  # fmt: skip
    assert [k for k, _, _ in f] == ["language", "model", "min_turns", "started_after",
                                    "meta.topic"]  # fmt: skip
    for bad in ["__import__('os').system('true')", "language", "n_turns>3", "meta.=x",
                "min_turns!=4", "language="]:  # fmt: skip
        with pytest.raises(ProjectError, match="E312"):
            _sample.parse_where([bad])
    assert _sample.parse_where({"language": ["en", "de"]}) == [("language", "=", ("en", "de"))]


def test_sampling_17k_corpus_sample_stratify_modules(corpus_17k, tmp_path) -> None:
    """Issue 14's done-when: --sample 200 --stratify model --modules trust on 17k
    conversations gives 200 conversations, the trust codes and the sample in the data card."""
    out = tmp_path / "study"
    res = CliRunner().invoke(
        main,
        ["project", "init", str(out), "--corpus", str(corpus_17k), "--codebook", str(SDT),
         "--coders", "ana,ben", "--reliability", "0.1", "--sample", "200", "--stratify",
         "model", "--modules", "trust", "--seed", "11"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    p = Project.open(out)
    assert p.assignments["conversation_id"].nunique() == 200
    assert p.modules == ["trust"]
    trust = {c.id for c in p.codebook.codes if getattr(c, "module", None) == "trust"}
    assert trust and trust <= set(p.codebook.code_ids)
    other = {c for c in p.codebook.code_ids if c.startswith("ai_companion")}
    assert not other
    s = p.sampling
    assert s["corpus_size"] == 17_000 and s["frame_size"] == 17_000 and s["sample_size"] == 200
    # 17,000 conversations: i % 10 in 8..9 have no model (3,400); the rest split over 4 models
    # (3,400 each); proportional allocation: 200 * 3400 / 17000 = 40 per stratum
    strata = {r["stratum"]: r for r in s["strata"]}
    assert set(strata) == {*MODELS, "(missing)"}
    assert all(r["frame"] == 3400 and r["sample"] == 40 for r in strata.values())
    assert all(
        r["inclusion_probability"] == pytest.approx(40 / 3400, abs=1e-6) for r in strata.values()
    )
    conv = p.corpus.conversations.set_index("conversation_id")
    drawn = conv.loc[sorted(set(p.assignments["conversation_id"]))]
    assert drawn["model"].fillna("(missing)").value_counts().to_dict() == dict.fromkeys(
        [*MODELS, "(missing)"], 40
    )
    doc = json.loads((out / "project.json").read_text())
    assert doc["sampling"]["strata"] == s["strata"] and doc["codebook"]["modules"] == ["trust"]
    # the widget codes with the project's codebook: the trust codes are among its codes
    from annotate.widgets.session import AnnotationSession

    session = AnnotationSession(p, "ana")
    assert trust <= set(session.project.codebook.code_ids)
    # status lists the modules and the sample
    res = CliRunner().invoke(main, ["project", "status", str(out)])
    assert "modules: trust" in res.output and "200 of 17000 conversations" in res.output
    assert "stratified by model (5 strata)" in res.output
    # the export's data card says what population the sample represents
    cid = p.queue("ana")[0]
    p.append({"annotator_id": "ana", "unit": "conversation", "conversation_id": cid,
              "code_id": "_status", "value": "done"})  # fmt: skip
    from annotate.export import write

    card = (write(p, tmp_path / "ds", bootstrap=0) / "README.md").read_text()
    section = card.split("## Sample", 1)[1].split("\n## ", 1)[0]
    assert "stratified simple random sample without replacement" in section
    assert "17000 conversations" in section and "**17000**" in section and "**200**" in section
    assert "stratified by `model`" in section and "seed 11" in section
    assert "| gpt-4 | 3400 | 40 | 0.01176 |" in section
    # and which modules of the codebook were loaded, also in the line to cite
    book = card.split("## Codebook", 1)[1].split("\n## ", 1)[0]
    assert "- modules loaded: trust" in book
    assert "(sdt-socioaffective v2.1.0, modules trust; sha256" in book


def test_sampling_where_and_later_draws(corpus_17k, tmp_path) -> None:
    p = Project.create(
        tmp_path / "p", corpus=corpus_17k, codebook=SDT, coders=["a", "b"], reliability=0.1,
        sample=100, stratify="language", seed=3,
        where=["language=en", "min_turns=6", "started_after=2024-01-01", "meta.topic=health"],
    )  # fmt: skip
    conv = p.corpus.conversations.set_index("conversation_id")
    ids = sorted(set(p.assignments["conversation_id"]))
    rows = conv.loc[ids]
    assert (rows["language"] == "en").all() and (rows["n_turns"] >= 6).all()
    assert (rows["started_at"] >= pd.Timestamp("2024-01-01", tz="UTC")).all()
    assert (rows["meta"] == '{"topic": "health"}').all()
    # the frame, counted independently of the sampler
    c = conv.reset_index()
    frame = c[(c["language"] == "en") & (c["n_turns"] >= 6)
              & (c["started_at"] >= pd.Timestamp("2024-01-01", tz="UTC"))
              & (c["meta"] == '{"topic": "health"}')]  # fmt: skip
    s = p.sampling
    assert s["frame_size"] == len(frame) and s["sample_size"] == 100
    assert s["where"] == ["language=en", "min_turns=6", "started_after=2024-01-01T00:00:00+00:00",
                          "meta.topic=health"]  # fmt: skip
    before = p.assignments
    new = p.add_conversations(sample=50)
    after = Project.open(p.path)
    a = after.assignments
    pd.testing.assert_frame_equal(a.iloc[: len(before)], before)  # nothing existing changed
    added = set(new["conversation_id"])
    assert len(added) == 50 and not added & set(ids)
    assert set(added) <= set(frame["conversation_id"])
    s2 = after.sampling
    assert s2["sample_size"] == 150 and len(s2["draws"]) == 2
    assert s2["strata"][0]["inclusion_probability"] == pytest.approx(150 / len(frame), abs=1e-6)
    # the same seed and draws give the same project
    q = Project.create(
        tmp_path / "q", corpus=corpus_17k, codebook=SDT, coders=["a", "b"], reliability=0.1,
        sample=100, stratify="language", seed=3,
        where=["language=en", "min_turns=6", "started_after=2024-01-01", "meta.topic=health"],
    )  # fmt: skip
    assert sorted(set(q.assignments["conversation_id"])) == ids
    with pytest.raises(ProjectError, match="is a sample of its corpus"):
        after.add_conversations()
    with pytest.raises(ProjectError, match=r"only \d+ conversation\(s\) in the frame"):
        after.add_conversations(sample=len(frame))
    after.add_conversations(["c00001"])
    assert Project.open(p.path).sampling["added_outside_design"] == 1


def test_sampling_cli_add_conversations(corpus_17k, tmp_path) -> None:
    out = tmp_path / "p"
    res = CliRunner().invoke(
        main,
        ["project", "init", str(out), "--corpus", str(corpus_17k), "--codebook", str(SDT),
         "--coders", "a,b", "--reliability", "0.1", "--sample", "40", "--where",
         "language=de", "--stratify", "meta.topic"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["project", "add-conversations", str(out), "--sample", "20",
                                    "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert len({r["conversation_id"] for r in doc["added"]}) == 20
    assert doc["plan"]["sampling"]["sample_size"] == 60
    assert {r["stratum"] for r in doc["plan"]["sampling"]["strata"]} == {"health", "work"}
    res = CliRunner().invoke(main, ["project", "add-conversations", str(out)])
    assert (
        res.exit_code == 1 and "--sample N" in res.output and "add_conversations(" not in res.output
    )
