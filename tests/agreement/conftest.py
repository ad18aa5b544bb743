"""Fixtures of the agreement tests: reliability-data strategies and small unit-labels tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import strategies as st

MAX_EXAMPLES = 40


@st.composite
def reliability_data(draw, *, min_coders=2, max_coders=5, max_units=25, q_max=5, p_missing=0.3):
    """(data units × coders as float with NaN, q): random values 0..q-1 with missing cells."""
    n_units = draw(st.integers(2, max_units))
    n_coders = draw(st.integers(min_coders, max_coders))
    q = draw(st.integers(2, q_max))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    data = rng.integers(0, q, size=(n_units, n_coders)).astype(float)
    data[rng.random(data.shape) < p_missing] = np.nan
    return data, q


def make_labels(
    codes: dict[str, np.ndarray],
    *,
    coders=None,
    unit="turn",
    role="assistant",
    turns_per_conversation=3,
    domains=None,
) -> pd.DataFrame:
    """A unit-labels table from {code_id: (n_units, n_coders) array of value strings or None}."""
    rows = []
    for code_id, mat in codes.items():
        mat = np.asarray(mat, dtype=object)
        names = coders or [f"c{j}" for j in range(mat.shape[1])]
        for u in range(mat.shape[0]):
            conv = f"conv{u // turns_per_conversation:03d}" if unit == "turn" else f"conv{u:03d}"
            turn = u % turns_per_conversation if unit == "turn" else None
            r = role[u % len(role)] if isinstance(role, list) else role
            for j, v in enumerate(mat[u]):
                if v is None:
                    continue
                rows.append(
                    {
                        "annotator_id": names[j],
                        "unit": unit,
                        "conversation_id": conv,
                        "turn_index": turn,
                        "role": r if unit == "turn" else None,
                        "code_id": code_id,
                        "value": str(v),
                    }
                )
    columns = ["annotator_id", "unit", "conversation_id", "turn_index", "role", "code_id", "value"]
    return pd.DataFrame(rows, columns=columns)  # the columns even when every value is missing


@pytest.fixture(scope="session")
def toy_codebook():
    from annotate.codebook import load_codebook, toy_codebook_path

    return load_codebook(toy_codebook_path())
