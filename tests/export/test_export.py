"""Export: files, data card, reproducibility, loaders, redaction and clean failures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import annotate
from annotate.adjudication import gold_labels
from annotate.cli import main
from annotate.errors import ExportError
from annotate.store import LabelStore


def test_export_gold_parquet_tables(demo_project, tmp_path: Path) -> None:
    out = annotate.export.write(demo_project, tmp_path / "out", bootstrap=200, seed=3)
    names = {p.name for p in out.iterdir()}
    assert {
        "README.md", "codebook.yaml", "export.json", "turns.parquet", "conversations.parquet",
        "labels_long.parquet", "labels_turns_wide.parquet", "labels_conversations_wide.parquet",
        "agreement.parquet", "coders.parquet", "label_sources.parquet", "code_counts.parquet",
    } == names  # fmt: skip
    gold = gold_labels(demo_project)
    long = pd.read_parquet(out / "labels_long.parquet")
    assert set(long["annotator_id"]) == {"gold"}
    assert len(long) == len(gold)
    # every resolved gold value appears in the wide table of its unit
    wide = pd.read_parquet(out / "labels_turns_wide.parquet")
    turns = pd.read_parquet(out / "turns.parquet")
    assert len(wide) == len(turns)
    assert wide[["conversation_id", "turn_index"]].duplicated().sum() == 0
    turn_codes = [c.id for c in demo_project.codebook.codes if c.unit == "turn"]
    assert set(turn_codes) <= set(wide.columns)
    resolved = gold[(gold["unit"] == "turn") & gold["value"].notna()]
    merged = resolved.merge(
        wide.melt(id_vars=["conversation_id", "turn_index", "role", "text"], var_name="code_id"),
        on=["conversation_id", "turn_index", "code_id"], suffixes=("", "_wide"),
    )  # fmt: skip
    assert len(merged) == len(resolved)
    assert (merged["value"] == merged["value_wide"]).all()
    conv_wide = pd.read_parquet(out / "labels_conversations_wide.parquet")
    assert conv_wide["conversation_id"].is_unique
    assert len(conv_wide) == demo_project.unit_labels()["conversation_id"].nunique()


def test_export_data_card_says_how_it_was_made(demo_project, tmp_path: Path) -> None:
    out = annotate.export.write(demo_project, tmp_path / "out", bootstrap=100, seed=3)
    card = (out / "README.md").read_text(encoding="utf-8")
    cb = demo_project.codebook
    for needle in (cb.id, str(cb.version), cb.hash, "`alice`", "`bob`", "`carol`",
                   f"annotate {annotate.__version__}", "sha256", "unanimous", "majority",
                   "no masking was applied", "100-resample"):  # fmt: skip
        assert needle in card, needle
    assert "None" not in card
    # the design in numbers: 20 % of the demo's 60 conversations
    assert (
        "reliability sample: 12 conversations (20 %) of the project's 60, each coded "
        "independently by every coder" in card
    )
    assert str(Path(__file__).resolve().parents[2]) not in card  # no absolute paths published
    assert "demo.jsonl" in card
    agreement = pd.read_parquet(out / "agreement.parquet")
    # the card names every code of the agreement table, under its verdict
    for code in agreement["code_id"].unique():
        assert f"`{code}`" in card
    assert "Every coefficient of every code: `agreement.parquet`." in card
    assert {"verdict", "few_cases", "informative_units"} <= set(agreement.columns)
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["codebook"]["hash"] == cb.hash
    assert set(manifest["files"]) == {p.name for p in out.iterdir()} - {"export.json"}


def test_export_is_reproducible(demo_project, tmp_path: Path) -> None:
    for fmt in ("parquet", "csv"):
        a = annotate.export.write(demo_project, tmp_path / f"a-{fmt}", format=fmt, bootstrap=50)
        b = annotate.export.write(demo_project, tmp_path / f"b-{fmt}", format=fmt, bootstrap=50)
        for f in sorted(a.iterdir()):
            assert f.read_bytes() == (b / f.name).read_bytes(), f.name


def test_export_all_keeps_every_coder(demo_project, tmp_path: Path) -> None:
    out = annotate.export.write(demo_project, tmp_path / "out", labels="all", format="jsonl",
                          bootstrap=0)  # fmt: skip
    long = pd.read_json(out / "labels_long.jsonl", lines=True, dtype=False)
    assert {"alice", "bob", "carol", "gold"} <= set(long["annotator_id"])
    coders = long[long["source"] == "coder"]
    assert len(coders) == len(demo_project.unit_labels())
    ua = pd.read_json(out / "unit_agreement.jsonl", lines=True, dtype=False)
    multi = ua[ua["n_coders"] >= 2]
    assert not multi.empty and multi["pair_agreement"].between(0, 1).all()
    assert (ua.loc[ua["n_values"] == 1, "pair_agreement"].dropna() == 1).all()
    events = pd.read_json(out / "events.jsonl", lines=True, dtype=False)
    assert len(events) == len(demo_project.labels(history=True))


def test_export_loads_in_duckdb_and_polars(demo_project, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    polars = pytest.importorskip("polars")
    out = annotate.export.write(demo_project, tmp_path / "out", bootstrap=0)
    n = duckdb.sql(f"select count(*) from '{out / 'labels_long.parquet'}'").fetchall()[0][0]
    assert n == len(pd.read_parquet(out / "labels_long.parquet"))
    assert polars.read_parquet(out / "turns.parquet").height == len(
        pd.read_parquet(out / "turns.parquet")
    )
    csv = annotate.export.write(demo_project, tmp_path / "csv", format="csv", bootstrap=0)
    assert polars.read_csv(csv / "labels_turns_wide.csv").height > 0
    assert (
        duckdb.sql(f"select count(*) from read_csv_auto('{csv / 'turns.csv'}')").fetchall()[0][0]
        > 0
    )


def test_export_loads_in_hugging_face_datasets(demo_project, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")  # a local file: nothing may be downloaded
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    out = annotate.export.write(demo_project, tmp_path / "out", bootstrap=0)
    for name in ("labels_long", "labels_turns_wide", "turns"):
        frame = pd.read_parquet(out / f"{name}.parquet")
        ds = datasets.load_dataset(
            "parquet", data_files=str(out / f"{name}.parquet"), split="train",
            cache_dir=str(tmp_path / "hf-cache"),
        )  # fmt: skip
        assert ds.num_rows == len(frame)
        assert set(ds.column_names) == set(frame.columns)
    row = ds[0]
    assert row["conversation_id"] == frame["conversation_id"].iloc[0]


def test_export_redact_masks_text(demo_project, tmp_path: Path) -> None:
    plain = annotate.export.write(demo_project, tmp_path / "plain", bootstrap=0)
    red = annotate.export.write(demo_project, tmp_path / "red", bootstrap=0, redact=True)
    t0 = pd.read_parquet(plain / "turns.parquet")["text"]
    t1 = pd.read_parquet(red / "turns.parquet")["text"]
    had = t0.str.contains(r"[\w.]+@example\.com", regex=True)
    assert had.any()
    assert not t1.str.contains(r"[\w.]+@example\.com", regex=True).any()
    assert (t0[~had & (t0 == t1)].size) > 0  # text without personal data is unchanged
    assert "masked" in (red / "README.md").read_text()


def test_export_refuses_bad_input_and_leaves_nothing(demo_project, tmp_path: Path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ExportError, match="E502"):
        annotate.export.write(demo_project, out)
    with pytest.raises(ExportError, match="E501"):
        annotate.export.write(demo_project, tmp_path / "x", format="xlsx")

    exp = sys.modules["annotate.export._writer"]  # the module that writes the tables

    calls = {"n": 0}
    real = exp._write_table

    def flaky(df, stem, fmt):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(df, stem, fmt)

    monkeypatch.setattr(exp, "_write_table", flaky)
    with pytest.raises(OSError):
        annotate.export.write(demo_project, tmp_path / "half")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "out", "project"]


def test_export_refuses_empty_project_and_foreign_labels(tmp_path: Path, demo_project_dir):
    repo = Path(__file__).resolve().parents[2]
    empty = annotate.Project.create(
        tmp_path / "empty", corpus=demo_project_dir.parent / "corpus",
        codebook=repo / "codebooks/sdt-socioaffective.yaml", coders=["alice"],
    )  # fmt: skip
    with pytest.raises(ExportError, match="E503"):
        annotate.export.write(empty, tmp_path / "o1")
    # labels written with another codebook (the toy one) name codes the project does not have
    toy = annotate.load_codebook(repo / "codebooks/toy.yaml")
    shared = toy.code("conv_warmth")  # in both codebooks: the codebook id tells them apart
    store = LabelStore(empty.path / "labels", toy)
    store.append(
        [{"annotator_id": "alice", "unit": "conversation", "conversation_id": "c001",
          "code_id": shared.id, "op": "set", "value": shared.value_ids[0]}]
    )  # fmt: skip
    with pytest.raises(ExportError, match="E505"):
        annotate.export.write(annotate.Project.open(empty.path), tmp_path / "o2")
    code = toy.code("conv_human_bonds")  # only in the toy codebook
    store.append(
        [{"annotator_id": "alice", "unit": "conversation", "conversation_id": "c001",
          "code_id": code.id, "op": "set", "value": code.value_ids[0]}]
    )  # fmt: skip
    with pytest.raises(ExportError, match="E504"):
        annotate.export.write(annotate.Project.open(empty.path), tmp_path / "o3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_export_cli(demo_project, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["export", str(demo_project.path), "--out", str(tmp_path / "o"),
                               "--format", "csv", "--bootstrap", "0", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert "README.md" in doc["files"] and "labels_long.csv" in doc["files"]
    res = runner.invoke(main, ["export", str(tmp_path / "nope"), "--out", str(tmp_path / "o2")])
    assert res.exit_code == 1
    assert "Traceback" not in res.output and res.output.count("\n") <= 2


_KILL_MID_OVERWRITE = """
import os, signal, sys
from annotate import durable
from annotate.cli import main

real = os.rename
def rename(src, dst, *a, **kw):
    real(src, dst, *a, **kw)
    if ".old-" in str(dst):  # the old export is moved away: die before the new one is in
        os.kill(os.getpid(), signal.SIGKILL)
durable.os.rename = rename
main(["export", sys.argv[1], "--out", sys.argv[2], "--overwrite", "--bootstrap", "0",
      "--format", "csv"])
"""


def test_export_overwrite_killed_mid_swap_is_restored(demo_project, tmp_path: Path) -> None:
    """A kill between the two renames of --overwrite: the next run restores a complete export
    (never neither), then replaces it as asked."""
    import signal
    import subprocess

    out = tmp_path / "export"
    args = ["export", str(demo_project.path), "--out", str(out), "--bootstrap", "0"]
    assert CliRunner().invoke(main, args).exit_code == 0
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_MID_OVERWRITE, str(demo_project.path), str(out)],
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    res = CliRunner().invoke(main, args)  # no --overwrite: the restored export is in the way
    assert res.exit_code == 1 and "E502" in res.output
    assert (out / "labels_long.csv").is_file()  # the finished new export (csv) was restored
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".export")) == []
