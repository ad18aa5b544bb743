"""Helpers of the analysis tests: a small codebook built in code and label-table builders."""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace

import pandas as pd

from annotate.codebook.model import Code, Codebook, CodeValue, Version


def _code(cid: str, unit: str, roles: tuple[str, ...], level: str, values: Iterable[str]) -> Code:
    return Code(
        id=cid,
        label=cid,
        unit=unit,
        applies_to=roles,
        level=level,
        values=tuple(CodeValue(v, v) for v in values),
        groups=(),
        definition=cid,
        codebook_id="mini",
    )


def make_codebook() -> Codebook:
    codes = (
        _code("bid", "turn", ("user",), "binary", ("0", "1")),
        _code("push", "turn", ("user",), "binary", ("0", "1")),
        _code("emp", "turn", ("assistant",), "binary", ("0", "1")),
        _code("ref", "turn", ("assistant",), "binary", ("0", "1")),
        _code("move", "turn", ("assistant",), "nominal", ("listen", "advise", "other")),
        _code("feel", "turn", ("user",), "set", ("sad", "glad")),
        _code("ctx", "conversation", ("assistant",), "nominal", ("task", "support")),
        _code("warm", "conversation", ("assistant",), "ordinal", ("1", "2", "3")),
    )
    return Codebook(
        id="mini",
        version=Version("1.0.0"),
        title="mini",
        description=None,
        groups=(),
        modules=(),
        codes=codes,
        active_modules=(),
        hash="0" * 64,
    )


def turn_rows(conv: str, spec: list[tuple[str, dict[str, str]]], annotator: str = "a") -> list:
    """Rows of the unit-labels table for one conversation: spec = [(role, {code: value})]."""
    rows = []
    for t, (role, values) in enumerate(spec):
        for code_id, value in values.items():
            rows.append((annotator, "turn", conv, t, role, code_id, value))
    return rows


def conv_rows(conv: str, values: dict[str, str], annotator: str = "a") -> list:
    return [(annotator, "conversation", conv, None, None, c, v) for c, v in values.items()]


def frame(rows: list) -> pd.DataFrame:
    df = pd.DataFrame(
        rows,
        columns=[
            "annotator_id",
            "unit",
            "conversation_id",
            "turn_index",
            "role",
            "code_id",
            "value",
        ],
    )
    df["turn_index"] = df["turn_index"].astype("Int32")
    return df


def corpus_of(conversations: pd.DataFrame, turns: pd.DataFrame | None = None) -> SimpleNamespace:
    """A stand-in with the Corpus attributes the analyses read (turns, conversations)."""
    if turns is None:
        turns = pd.DataFrame(columns=["conversation_id", "turn_index", "role", "model"])
    return SimpleNamespace(turns=turns, conversations=conversations)


def user(values: dict[str, str]) -> tuple[str, dict[str, str]]:
    """A user turn of a ``turn_rows`` spec."""
    return ("user", values)


def ai(values: dict[str, str]) -> tuple[str, dict[str, str]]:
    """An assistant turn of a ``turn_rows`` spec."""
    return ("assistant", values)


def ratings_corpus(n_users: int = 8, sessions: int = 5) -> tuple[pd.DataFrame, object]:
    """A conversation-level ordinal rating (warm, 1-3) that rises by session for every user,
    one assistant turn per conversation; users start on different days."""
    rows, convs = [], []
    start = pd.Timestamp("2025-01-01", tz="UTC")
    for u in range(n_users):
        for k in range(sessions - (u % 3)):  # users have 5, 4 or 3 sessions
            cid = f"u{u}s{k}"
            rating = 1 + min(2, (k + u % 2) // 2)
            rows += turn_rows(cid, [ai({"emp": "1" if k >= 2 else "0"})])
            rows += conv_rows(cid, {"warm": str(rating)})
            convs.append({"conversation_id": cid, "user_id": f"u{u}",
                          "started_at": start + pd.Timedelta(days=u + 3 * k)})  # fmt: skip
    return frame(rows), corpus_of(pd.DataFrame(convs))
