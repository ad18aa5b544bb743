"""The multiverse check: one comparison under several LLM coders; a coder whose errors depend
on the group reverses the conclusion, and the corrected comparison does not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import corpus_of, frame

from annotate.analysis import compare_groups, multiverse
from annotate.errors import AnalysisError


def _labels(seed: int = 3):
    """Planted: the code is .15 more frequent with persona kai. Coders 'good' and 'ok' err
    evenly; 'skewed' misses most of it with kai and over-reports it with mia."""
    rng = np.random.default_rng(seed)
    rows, convs = [], []
    accuracy = {
        "good": {"kai": (0.9, 0.05), "mia": (0.9, 0.05)},
        "ok": {"kai": (0.8, 0.1), "mia": (0.8, 0.1)},
        "skewed": {"kai": (0.4, 0.05), "mia": (0.95, 0.3)},
    }
    for u in range(150):
        p = rng.beta(2, 6)
        for k in range(2):
            cid = f"u{u:03d}c{k}"
            persona = "kai" if (u + k) % 2 else "mia"
            convs.append({"conversation_id": cid, "user_id": f"u{u}", "persona": persona})
            coded = rng.random() < 0.3
            for t in range(int(rng.integers(2, 6))):
                y = int(rng.random() < p + (0.15 if persona == "kai" else 0.0))
                for coder, acc in accuracy.items():
                    sens, fpr = acc[persona]
                    f = int(rng.random() < (sens if y else fpr))
                    rows.append((coder, "turn", cid, 2 * t, "user", "bid", str(f)))
                if coded:
                    rows.append(("h", "turn", cid, 2 * t, "user", "bid", str(y)))
    return frame(rows), corpus_of(pd.DataFrame(convs))


def test_multiverse_flags_a_conclusion_that_flips(codebook) -> None:
    labels, corpus = _labels()
    rep = multiverse(
        labels,
        codebook,
        coders=["good", "ok", "skewed"],
        by="persona",
        reference="mia",
        corpus=corpus,
        codes=["bid"],
        bootstrap=300,
        seed=1,
    )
    row = rep.table.iloc[0]
    assert (row["group_1"], row["group_2"]) == ("kai", "mia")
    assert row["n_universes"] == 3 and row["flips"] and row["sign_flips"]
    assert row["n_positive"] == 2 and row["n_negative"] == 1
    assert "sign" in row["verdict"] and len(rep.flipped) == 1
    # each universe is that coder's own comparison
    u = rep.universes.set_index("coder")
    own = compare_groups(
        labels[labels["annotator_id"] == "good"],
        codebook,
        by="persona",
        reference="mia",
        corpus=corpus,
        codes=["bid"],
        model=False,
        bootstrap=300,
        seed=1,
    )
    assert u.loc["good", "estimate"] == pytest.approx(own["risk_difference"].iloc[0])
    assert u.loc["good", "ci_low"] == pytest.approx(own["rd_ci_low"].iloc[0])
    assert u.loc["skewed", "estimate"] < 0 < u.loc["good", "estimate"]
    assert "1 of 1 conclusion(s) flip" in rep.to_text()


def test_multiverse_corrected_comparisons_agree(codebook) -> None:
    labels, corpus = _labels()
    rep = multiverse(
        labels,
        codebook,
        coders=["good", "ok", "skewed"],
        by="persona",
        reference="mia",
        corpus=corpus,
        codes=["bid"],
        corrected=True,
        humans=["h"],
    )
    row = rep.table.iloc[0]
    assert not row["sign_flips"] and row["n_positive"] == 3
    assert (rep.universes["estimate"] > 0.05).all()
    assert rep.settings["analysis"] == "corrected_compare_groups"


def test_multiverse_needs_two_universes(codebook) -> None:
    labels, corpus = _labels()
    with pytest.raises(AnalysisError, match="E460"):
        multiverse(labels, codebook, coders=["good"], by="persona", corpus=corpus)
