"""The demo's shipped replicate run and prompt-sensitivity table (corpora/demo/llm/).

``make_replicates.py`` there produced them with the real test model; these tests read the
files only (no model needed): the coders' records say what made the labels, and every alpha
of the table is Krippendorff's alpha of the shipped labels, computed by the ``krippendorff``
package (the test oracle), not by annotate.
"""

from __future__ import annotations

import hashlib
import json

import krippendorff
import numpy as np
import pandas as pd
import pytest

from annotate.demo import demo_paths
from annotate.llm import read_paraphrases
from annotate.llm.prompt import DEFAULT_TEMPLATE, template_hash

PATHS = demo_paths()
FOLDER = PATHS["stability"].parent
CODES = ["user_emotional_disclosure", "user_support_seeking"]
IDS = ["smol-v1", "smol-v1.r1", "smol-v1.r2", "smol-v1.p1"]


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    rows = [json.loads(line) for line in PATHS["replicates"].read_text("utf-8").splitlines()]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def meta() -> dict:
    return json.loads((FOLDER / "coders.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return pd.read_csv(PATHS["stability"])


def test_demo_replicate_records_say_what_made_the_labels(meta) -> None:
    coders = {c["id"]: c for c in meta["coders"]}
    assert list(coders) == IDS
    parent = coders["smol-v1"]
    assert parent["parent"] is None and parent["temperature"] == 0.0 and parent["seed"] == 0
    assert parent["prompt_source"] == "default"
    assert parent["prompt_hash"] == template_hash(DEFAULT_TEMPLATE)
    assert parent["codes"] == CODES and parent["codebook"]["version"] == "2.0.0"
    for run, seed in (("smol-v1.r1", 1), ("smol-v1.r2", 2)):
        c = coders[run]
        assert c["parent"] == "smol-v1" and c["temperature"] == 0.7 and c["seed"] == seed
        assert c["prompt_hash"] == parent["prompt_hash"]
    para = coders["smol-v1.p1"]
    (template,) = read_paraphrases(FOLDER / "paraphrase.txt")
    assert para["parent"] == "smol-v1" and para["temperature"] == 0.0
    assert para["prompt_hash"] == template_hash(template) != parent["prompt_hash"]
    # one model file for all, named by its hash; no machine path in the records
    assert {c["model_sha256"] for c in coders.values()} == {parent["model_sha256"]}
    assert "model_path" not in parent and "/" not in parent["model"]


def test_demo_replicate_model_is_the_test_model(meta) -> None:
    """The shipped labels came from the model of the llm-demo extra (when it is installed)."""
    from annotate.errors import LLMError
    from annotate.llm.models import smollm2_path

    try:
        path = smollm2_path()
    except LLMError:
        pytest.skip("needs the llm-demo extra (the model file)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert meta["coders"][0]["model_sha256"] == digest


def test_demo_replicate_labels_cover_the_same_units(events, meta) -> None:
    assert set(events["annotator_id"]) == set(IDS)
    assert set(events["code_id"]) == set(CODES)
    assert set(events["value"]) <= {"0", "1"}
    assert set(events["conversation_id"]) <= set(meta["conversations"])
    assert len(meta["conversations"]) == 6
    assert (events["unit"] == "turn").all()
    key = ["conversation_id", "turn_index", "code_id"]
    assert not events.duplicated(["annotator_id", *key]).any()  # current labels: one per unit
    units = {a: set(map(tuple, g[key].to_numpy())) for a, g in events.groupby("annotator_id")}
    # each replicate coded (at most) the parent's units; a unit may miss an invalid answer
    for rid in IDS[1:]:
        assert units[rid] <= units["smol-v1"]
        assert len(units[rid]) >= 0.9 * len(units["smol-v1"])
    assert len(units["smol-v1"]) >= 50  # two codes on about thirty user turns


def _oracle(events: pd.DataFrame, coders: list[str], code: str) -> tuple[float, int]:
    """Krippendorff's alpha (nominal: binary codes) by the krippendorff package, and the number
    of units coded by at least two of ``coders``."""
    sub = events[events["annotator_id"].isin(coders) & (events["code_id"] == code)]
    wide = sub.pivot_table(
        index="annotator_id",
        columns=["conversation_id", "turn_index"],
        values="value",
        aggfunc="first",
    ).reindex(coders)
    data = wide.apply(lambda col: col.map({"0": 0.0, "1": 1.0})).to_numpy(dtype=float)
    pairable = int((np.sum(~np.isnan(data), axis=0) >= 2).sum())
    if np.unique(data[~np.isnan(data)]).size < 2:
        return float("nan"), pairable  # one value only: alpha is undefined
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")), (
        pairable
    )


def test_demo_stability_table_is_krippendorffs_alpha_of_the_labels(events, table) -> None:
    assert set(zip(table["facet"], table["prompt"], table["coders"], strict=True)) == {
        ("runs", "original", "smol-v1.r1, smol-v1.r2"),
        ("paraphrases", "all", "smol-v1, smol-v1.p1"),
    }
    assert sorted(table["code_id"]) == sorted(CODES * 2)
    checked = 0
    for row in table.itertuples():
        coders = row.coders.split(", ")
        alpha, n_units = _oracle(events, coders, row.code_id)
        assert row.n_units == n_units, row
        if np.isnan(alpha):  # the tiny model gave every unit the same value
            assert np.isnan(row.alpha) and row.flag == "undefined", row
            continue
        assert row.alpha == pytest.approx(alpha, abs=1e-12), row
        assert row.alpha_low <= row.alpha <= row.alpha_high
        checked += 1
    # the sampled runs disagree on user_support_seeking: at least that alpha is defined
    assert checked >= 1
