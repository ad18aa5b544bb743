"""No file the toolkit writes records an absolute path of this machine.

A demo run in a temporary folder goes through every step that writes files -- import (library
and CLI), masking, a sampled and a plain project, labels, a coder's session, adjudication,
exports in every format, `describe` with figures -- and then every file under the folder is
scanned for the folder's own path, the repository's path and the home folder. Parquet files
are decoded first (their pages are compressed, a byte scan would miss a path in a column).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import annotate
from annotate.adjudication import Adjudication, gold_labels
from annotate.analysis import describe
from annotate.cli import main
from annotate.nlp import mask_corpus
from annotate.widgets import AnnotationSession

matplotlib.use("Agg")
REPO = Path(__file__).resolve().parents[1]


def _text_of(path: Path) -> str:
    """What a file says: decoded parquet (cells and metadata), else its bytes as latin-1."""
    if path.suffix == ".parquet":
        f = pq.ParquetFile(path)
        meta = {
            k.decode(): v.decode("utf-8", "replace") for k, v in (f.metadata.metadata or {}).items()
        }
        cells = f.read().to_pandas().to_numpy().ravel().tolist()
        return json.dumps(meta) + "\n".join(map(str, cells))
    return path.read_bytes().decode("latin-1")


@pytest.mark.slow
def test_no_file_of_a_demo_run_records_a_machine_path(tmp_path: Path) -> None:
    work = tmp_path / "run"
    work.mkdir()
    # the inputs are copied in, so their (temporary) paths are paths of this run too
    source = work / "inputs" / "demo.jsonl"
    source.parent.mkdir()
    shutil.copy(REPO / "corpora/demo/demo.jsonl", source)
    codebook = work / "inputs" / "sdt.yaml"
    shutil.copy(REPO / "codebooks/sdt-socioaffective.yaml", codebook)
    events = pd.read_json(REPO / "corpora/demo/labels/events.jsonl", lines=True, dtype=False)

    corpus = annotate.import_corpus(source, "openai", out=work / "corpus", licence="CC0 1.0")
    mask_corpus(corpus, work / "masked", names=False)
    cli = CliRunner()
    for args in (
        ["import", "openai", str(source), "--out", str(work / "corpus-cli")],
        ["project", "init", str(work / "sampled"), "--corpus", str(work / "corpus-cli"),
         "--codebook", str(codebook), "--coders", "ann,ben", "--reliability", "0.5",
         "--sample", "20", "--stratify", "model", "--seed", "2"],
    ):  # fmt: skip
        result = cli.invoke(main, args)
        assert result.exit_code == 0, result.output
    project = annotate.Project.create(
        work / "project", corpus=work / "corpus", codebook=codebook,
        coders=["alice", "bob", "carol"], reliability=0.2, seed=1,
    )  # fmt: skip
    project.append(events)
    session = AnnotationSession(project, "alice")
    turns = session.turns()
    session.toggle("ai_empathy", turn_index=int(turns.loc[turns.role == "assistant"].iloc[0, 1]))
    session.memo("a memo", turn_index=int(turns["turn_index"].iloc[0]))
    adj = Adjudication(project, adjudicator="dana")
    adj.decide(adj.queue[0], next(iter(adj.queue[0].values.values())), kind="coder_error")
    for fmt in ("parquet", "csv", "jsonl"):
        annotate.export.write(project, work / f"export-{fmt}", format=fmt, labels="all",
                              bootstrap=20)  # fmt: skip
    result = cli.invoke(main, ["export", str(work / "sampled"), "--out", str(work / "ex-cli"),
                               "--labels", "all", "--bootstrap", "0"])  # fmt: skip
    # the sampled project has no labels yet: the export refuses (E503) and writes nothing
    assert "E503" in result.output
    describe(gold_labels(project), project.corpus, project.codebook, out=work / "describe",
             bootstrap=10, permutations=5)  # fmt: skip

    needles = {str(tmp_path), str(tmp_path.resolve()), str(REPO)}
    home = Path.home()
    if len(home.parts) > 2:  # not "/" or "/root"-like roots that every path starts with
        needles.add(str(home))
    written = [p for p in work.rglob("*") if p.is_file() and "inputs" not in p.parts]
    kinds = {p.suffix for p in written}
    assert {".json", ".parquet", ".csv", ".jsonl", ".md", ".png", ".svg", ".yaml"} <= kinds
    assert (work / "corpus" / "manifest.json").exists() and (work / "project/project.json").exists()
    leaks = {
        str(p.relative_to(work)): sorted(n for n in needles if n in text)
        for p in written
        if any(n in (text := _text_of(p)) for n in needles)
    }
    assert leaks == {}
    # what the manifests say instead: the file's name and checksum
    manifest = json.loads((work / "corpus" / "manifest.json").read_text())
    assert [s["name"] for s in manifest["sources"]] == ["demo.jsonl"]
    doc = json.loads((work / "project" / "project.json").read_text())
    assert doc["codebook"]["source"] == "sdt.yaml" and doc["corpus"]["path"] == "../corpus"
