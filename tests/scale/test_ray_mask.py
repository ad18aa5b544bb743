"""``annotate corpus mask --engine ray``: Ray Data's map_batches over the row groups writes the
same masked corpus as the local engine (tables, counts, row groups), names included."""

from __future__ import annotations

import copy
import json

import pyarrow.parquet as pq
import pytest
import spacy
from click.testing import CliRunner

import annotate
from annotate.cli import main
from annotate.nlp import mask_corpus

pytestmark = pytest.mark.slow

#: written for these tests by the team (not third-party text); three row groups' worth of turns
#: would need 130k rows, so the test corpus is small and the row-group logic is checked by the
#: LLM tests' tasks and by bench/bench_scale.py on 400k turns
TEXTS = [
    "Mail me at ana.lopez@example.org, or call +44 20 7946 0958.",
    "See https://example.com/a?b=1. Thanks!",
    "Nothing to hide here.",
    "My IP is 192.168.0.12 and I am @ana_l on the forum.",
    "Maria Garcia said hi to John Smith yesterday.",
    "Order 2024-03-01 arrived (a date, left as it is); call 555-0199 after six.",
]


def _corpus(tmp_path, n: int = 300):
    lines = []
    for i in range(n):
        msgs = [
            {"role": "user" if k % 2 == 0 else "assistant", "content": TEXTS[(i + k) % len(TEXTS)]}
            for k in range(4)
        ]
        lines.append(json.dumps({"id": f"c{i:04d}", "messages": msgs}))
    src = tmp_path / "src.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return annotate.import_corpus(src, "openai", out=tmp_path / "corpus")


def _same(a, b) -> None:
    for name in ("turns.parquet", "conversations.parquet"):
        ta, tb = pq.read_table(a.path / name), pq.read_table(b.path / name)
        assert ta.equals(tb), name
    ra, rb = pq.ParquetFile(a.path / "turns.parquet"), pq.ParquetFile(b.path / "turns.parquet")
    assert ra.metadata.num_row_groups == rb.metadata.num_row_groups
    ma, mb = copy.deepcopy(dict(a.manifest)), copy.deepcopy(dict(b.manifest))
    for m in (ma, mb):
        m.pop("created_at")
        m["masking"].pop("masked_at")
    assert ma == mb


def test_ray_mask_writes_the_local_engines_corpus(tmp_path, ray_address) -> None:
    corpus = _corpus(tmp_path)
    local = mask_corpus(corpus, tmp_path / "local", names=False, progress=False)
    # the command line (in this process, on the session's Ray: a driver process of its own
    # would start Ray workers of its own, tens of seconds here; joining a cluster from another
    # process is tested by test_ray_llm.py's SIGKILL test); 1,200 turns: two batches of
    # map_batches, whose counts the driver sums
    cli = ["corpus", "mask", str(corpus.path), "--out", str(tmp_path / "ray-cli"), "--engine",
           "ray", "--address", ray_address, "--no-names", "--json"]  # fmt: skip
    res = CliRunner().invoke(main, cli)
    assert res.exit_code == 0, (res.output, res.exception)
    assert json.loads(res.stdout)["masking"]["turns_changed"] == 800
    ray = annotate.load_corpus(tmp_path / "ray-cli")
    _same(local, ray)
    m = ray.manifest["masking"]
    assert m["counts"] == {"url": 200, "email": 200, "ip": 200, "phone": 400, "handle": 200}
    assert m["turns_changed"] == 800  # 4 of the 6 texts (x 200)
    texts = ray.conversation("c0005")["text"].tolist()
    assert texts[0] == "Order 2024-03-01 arrived (a date, left as it is); call [PHONE] after six."
    assert texts[1] == "Mail me at [EMAIL], or call [PHONE]."

    # names: a stand-in NER (an entity ruler named "ner"), run by nlp.pipe in the Ray tasks
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler", name="ner").add_patterns(
        [{"label": "PERSON", "pattern": p} for p in ("Maria Garcia", "John Smith")]
    )
    local = mask_corpus(corpus, tmp_path / "local-n", nlp=nlp, progress=False)
    ray = mask_corpus(corpus, tmp_path / "ray-n", nlp=nlp, engine="ray", progress=False)
    _same(local, ray)
    assert ray.manifest["masking"]["counts"]["name"] == 400
    assert "[NAME] said hi to [NAME]" in " ".join(ray.turns["text"])
