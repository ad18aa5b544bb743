"""The agreement report at scale (DuckDB over the store's parquet files) equals the in-memory
report on real projects, and Krippendorff's alpha of the ``krippendorff`` package."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import annotate
from annotate.agreement import report
from annotate.analysis.scale import agreement_report
from annotate.cli import main
from annotate.codebook.yamlio import dump_yaml, read_yaml
from annotate.errors import AgreementError

REPO = Path(__file__).resolve().parents[2]
EXACT = [c for c in ("alpha_low", "alpha_high")]  # bootstrap bounds: sums in another order


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("scale_corpus")
    annotate.import_corpus(str(REPO / "corpora/demo/demo.jsonl"), "openai", out=str(work / "c"))
    return work / "c"


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory, corpus_dir) -> Path:
    """The demo project: default codebook, three simulated coders' labels (one mixed part)."""
    work = tmp_path_factory.mktemp("scale_demo")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # W321: no reliability sample drawn
        project = annotate.Project.create(
            work / "p", corpus=corpus_dir, codebook=REPO / "codebooks/sdt-socioaffective.yaml",
            coders=["alice", "bob", "carol"],
        )  # fmt: skip
    project.append(pd.read_json(REPO / "corpora/demo/labels/events.jsonl", lines=True))
    return work / "p"


def _value(rng: np.random.Generator, code, truth: int) -> str:
    ids = list(code.value_ids)
    if code.level == "set":
        k = rng.integers(0, 3)
        chosen = sorted(rng.choice(ids, size=k, replace=False).tolist()) if k else []
        return json.dumps(chosen)
    if rng.random() < 0.75:
        return ids[truth % len(ids)]
    return ids[int(rng.integers(0, len(ids)))]


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory, corpus_dir) -> Path:
    """Two coders on the toy codebook (binary, nominal, set, ordinal, interval codes), written
    in several appends with re-labels and clears, part of it compacted: Cohen's kappa is
    defined, conversations marked done get implicit absences."""
    work = tmp_path_factory.mktemp("scale_toy")
    data, _, _ = read_yaml((REPO / "codebooks/toy.yaml").read_text(encoding="utf-8"))
    for code in data["codes"]:  # two codes on both roles: rows per role and a pooled row
        if code["id"] in ("user_defers", "user_emotions"):
            code["applies_to"] = ["user", "assistant"]
    (work / "toy.yaml").write_text(dump_yaml(data), encoding="utf-8")
    p = annotate.Project.create(work / "p", corpus=corpus_dir, codebook=work / "toy.yaml",
                                coders=["ann", "bob"], reliability=1.0, seed=3)  # fmt: skip
    rng = np.random.default_rng(21)
    turns = p.turns
    convs = sorted(set(turns["conversation_id"]))[:40]
    batches: list[list[dict]] = [[], [], []]
    for conv in convs:
        rows = turns[turns["conversation_id"] == conv]
        for coder in ("ann", "bob"):
            batch = batches[int(rng.integers(0, 3))]
            for turn, role in zip(rows["turn_index"], rows["role"], strict=True):
                for code in p.codebook.codes:
                    if code.unit != "turn" or role not in code.applies_to:
                        continue
                    if code.level == "binary" and rng.random() < 0.6:
                        continue  # absent: implicit when the conversation is done
                    truth = hash((conv, int(turn), code.id)) % 7
                    batch.append({"annotator_id": coder, "unit": "turn", "conversation_id": conv,
                                  "turn_index": int(turn), "code_id": code.id,
                                  "value": _value(rng, code, truth)})  # fmt: skip
            for code in p.codebook.codes:
                if code.unit == "conversation":
                    truth = hash((conv, code.id)) % 7
                    value = _value(rng, code, truth)
                    batch.append({"annotator_id": coder, "unit": "conversation",
                                  "conversation_id": conv, "turn_index": None,
                                  "code_id": code.id, "value": value})  # fmt: skip
            if rng.random() < 0.8:
                batch.append({"annotator_id": coder, "unit": "conversation",
                              "conversation_id": conv, "turn_index": None, "code_id": "_status",
                              "value": "done"})  # fmt: skip
    p.append(batches[0])
    p.store.compact()
    p.append(batches[1])
    later = []
    first = [ev for ev in batches[0] if not ev["code_id"].startswith("_")]
    for ev in first[::7]:  # re-labelled: the later event wins
        later.append(ev | {"value": _value(rng, p.codebook.code(ev["code_id"]), 3)})
    for ev in first[3::11]:  # cleared: the label is gone
        later.append(ev | {"op": "clear", "value": None})
    p.append(later)
    p.append(batches[2])
    return work / "p"


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    rest = [c for c in a.columns if c not in EXACT]
    pd.testing.assert_frame_equal(a[rest], b[rest], check_exact=True)
    for c in EXACT:
        if c in a:
            np.testing.assert_allclose(a[c].to_numpy(float), b[c].to_numpy(float), rtol=1e-12)


@pytest.mark.parametrize("which", ["demo_dir", "toy_dir"])
def test_scale_report_equals_the_in_memory_report(which, request) -> None:
    p = annotate.Project.open(request.getfixturevalue(which))
    memory = report(p.unit_labels(), p.codebook, bootstrap=200, seed=5).table
    scaled = agreement_report(p, bootstrap=200, seed=5).table
    _same(memory, scaled)
    assert memory["alpha"].notna().sum() >= 10  # real coefficients were compared


def test_scale_report_covers_every_level_and_cohen(toy_dir) -> None:
    p = annotate.Project.open(toy_dir)
    t = agreement_report(p).table
    assert set(t["level"]) == {"binary", "nominal", "set", "ordinal", "interval"}
    assert t["cohen_kappa"].notna().sum() >= 5  # two coders: Cohen's kappa on the counts
    assert t.loc[t["level"] == "set", "alpha"].notna().all()
    pooled = t[t["role"] == "all"]
    assert set(pooled["code_id"]) == {"user_defers", "user_emotions"}
    assert pooled["alpha"].notna().all()


def test_scale_report_filters_equal_the_in_memory_filters(toy_dir) -> None:
    p = annotate.Project.open(toy_dir)
    units = p.unit_labels()
    for kw in ({"role": "user"}, {"unit": "conversation"}, {"codes": ["ai_move", "conv_warmth"]}):
        _same(report(units, p.codebook, **kw).table, agreement_report(p, **kw).table)


def _pivot(units: pd.DataFrame, code: str) -> np.ndarray:
    sub = units[units["code_id"] == code]
    keys = sub["conversation_id"].astype(str) + "/" + sub["turn_index"].fillna(-1).astype(str)
    wide = sub.assign(key=keys).pivot(index="key", columns="annotator_id", values="value")
    return wide.to_numpy(dtype=float).T  # coders x units, NaN = not coded


@pytest.mark.parametrize(
    ("code", "level"),
    [("ai_empathy", "nominal"), ("user_move", None), ("conv_autonomy_support", "ordinal"),
     ("conv_warmth", "interval")],
)  # fmt: skip
def test_scale_alpha_equals_the_krippendorff_package(toy_dir, code, level) -> None:
    p = annotate.Project.open(toy_dir)
    units = p.unit_labels()
    t = agreement_report(p, codes=[code]).table
    got = float(t["alpha"].iloc[0])
    if level is None:  # nominal strings: number them
        names = {v: i for i, v in enumerate(p.codebook.code(code).value_ids)}
        units = units.assign(value=units["value"].map(names))
        level = "nominal"
    expected = krippendorff.alpha(reliability_data=_pivot(units, code), level_of_measurement=level)
    assert got == pytest.approx(expected, abs=1e-12)


def test_scale_report_diagnostics_need_the_memory_path(toy_dir) -> None:
    p = annotate.Project.open(toy_dir)
    rep = agreement_report(p)
    for call in (lambda: rep.pairwise("ai_empathy"), rep.leave_one_out, rep.disagreements):
        with pytest.raises(AgreementError, match=r"\[E409\]"):
            call()


def test_scale_report_refuses_labels_outside_the_codebook(toy_dir) -> None:
    """A code the codebook lacks (E402): the same error as the in-memory report."""
    p = annotate.Project.open(toy_dir)
    from annotate.codebook import load_codebook

    other = load_codebook(REPO / "codebooks/sdt-socioaffective.yaml")
    with pytest.raises(AgreementError, match=r"\[E402\]") as memory:
        report(p.unit_labels(), other)
    from annotate.agreement._scale import report_at_scale
    from annotate.project._scale import unit_labels_view
    from annotate.store._sql import connect

    con = connect()
    with pytest.raises(AgreementError, match=r"\[E402\]") as scaled:
        report_at_scale(con, unit_labels_view(p, con), other)
    assert str(memory.value) == str(scaled.value)


def test_cli_agreement_engines_print_the_same_document(demo_dir) -> None:
    runner = CliRunner()
    args = ["agreement", str(demo_dir), "--json", "--bootstrap", "100", "--seed", "2"]
    memory = runner.invoke(main, [*args, "--engine", "memory"])
    scaled = runner.invoke(main, [*args, "--engine", "duckdb"])
    assert memory.exit_code == 0 and scaled.exit_code == 0, scaled.output
    a, b = json.loads(memory.output), json.loads(scaled.output)
    assert len(a["rows"]) == len(b["rows"]) > 30
    for ra, rb in zip(a["rows"], b["rows"], strict=True):
        for k, v in ra.items():
            if k in EXACT and v is not None:
                assert rb[k] == pytest.approx(v, rel=1e-12)
            else:
                assert rb[k] == v, k


def test_scale_report_with_patterns_as_lists(toy_dir, monkeypatch) -> None:
    """Patterns too wide to pack into one integer (many coders) are grouped as lists."""
    import annotate.agreement._scale as scale

    monkeypatch.setattr(scale, "PACK_BITS", 0)
    p = annotate.Project.open(toy_dir)
    _same(report(p.unit_labels(), p.codebook, bootstrap=100, seed=2).table,
          agreement_report(p, bootstrap=100, seed=2).table)  # fmt: skip
