"""Sampling a corpus for a project: a sampling frame (filters), strata, seeded draws.

The frame is the corpus's conversations that pass every filter of ``where``. Filters are a
small fixed vocabulary, never evaluated code:

=====================================  =======================================================
``language=en`` / ``language=en,de``   column equals one of the values (also ``source``,
                                       ``model``, ``user_id``, ``meta.KEY``)
``language!=en``                       column differs from every value (missing values pass)
``min_turns=4`` / ``max_turns=40``     number of turns at least / at most
``started_after=2024-01-01``           started at or after (ISO date or date-time, UTC)
``started_before=2024-07-01``          started before (missing start times fail both)
=====================================  =======================================================

A draw of ``n`` conversations is a simple random sample without replacement; with ``stratify``
it is stratified by that column (or ``meta.KEY``) with proportional allocation (largest
remainder), each stratum sampled without replacement. Later draws take conversations not yet in
the project, allocated in proportion to what is left of each stratum, so the union stays a
stratified sample whose inclusion probability in stratum h is (sampled in h) / (frame size of
h). Every draw is seeded from the project's seed and the draw number.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from annotate.clock import CLOCK
from annotate.errors import Errors, ProjectError

#: the conversation columns a filter or a stratum may name (besides ``meta.KEY``)
COLUMNS = ("source", "model", "language", "user_id")
NUMERIC = ("min_turns", "max_turns")
DATES = ("started_after", "started_before")
MISSING = "(missing)"
METHOD_SRS = "simple random sample without replacement"
METHOD_STRAT = (
    "stratified simple random sample without replacement, proportional allocation "
    "(largest remainder)"
)
_EXPR = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[^=!<>\s][^=!<>]*)?)\s*(!=|=)\s*(.*?)\s*")
_DRAW_SALT = 0x5A3  # keeps the sampling draws apart from the assignment draws of one seed


def _bad(option: str, value: Any, problem: str) -> ProjectError:
    return ProjectError(Errors.E312.format(option=option, value=value, problem=problem))


def _keys_help() -> str:
    return (
        f"filters are {', '.join(COLUMNS)} or meta.KEY (=V or =V1,V2 or !=V), "
        f"{', '.join(NUMERIC)} (=N), {', '.join(DATES)} (=YYYY-MM-DD)"
    )


def parse_where(where: Any) -> list[tuple[str, str, Any]]:
    """``where`` (a string, a list of strings or a dict) as (key, op, value) filters.

    Raises E312 for an unknown key, a bad operator or a bad value, before anything is read.
    """
    if where is None:
        return []
    items: list[tuple[str, str, Any]] = []
    if isinstance(where, dict):
        for key, value in where.items():
            vals = value if isinstance(value, list | tuple) else [value]
            items.append((str(key), "=", [str(v) for v in vals]))
    else:
        exprs = [where] if isinstance(where, str) else list(where)
        for expr in exprs:
            m = _EXPR.fullmatch(str(expr))
            if m is None:
                raise _bad("where", expr, f"write KEY=VALUE or KEY!=VALUE; {_keys_help()}")
            key, op, text = m.groups()
            items.append((key, op, [v.strip() for v in text.split(",")]))
    return [_check_filter(key, op, values) for key, op, values in items]


def _check_filter(key: str, op: str, values: list[str]) -> tuple[str, str, Any]:
    expr = f"{key}{op}{','.join(values)}"
    if not values or any(v == "" for v in values):
        raise _bad("where", expr, "give a value after the operator")
    if key in COLUMNS or key.startswith("meta."):
        if key.startswith("meta.") and len(key) == len("meta."):
            raise _bad("where", expr, "name the meta key, e.g. meta.topic=health")
        return (key, op, tuple(values))
    if key in NUMERIC or key in DATES:
        if op != "=" or len(values) != 1:
            raise _bad("where", expr, f"{key} takes one value with '=', e.g. {key}=4")
        if key in NUMERIC:
            if not re.fullmatch(r"\d{1,9}", values[0]):
                raise _bad("where", expr, f"{key} needs a whole number of turns, e.g. {key}=4")
            return (key, op, int(values[0]))
        return (key, op, _date(values[0], expr))
    raise _bad("where", expr, f"unknown filter '{key}'; {_keys_help()}")


def _date(text: str, expr: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(datetime.fromisoformat(text))
    except ValueError:
        raise _bad("where", expr, "use an ISO date such as 2024-01-01") from None
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)


def check_stratify(stratify: Any) -> str | None:
    """The stratum column (``source``, ``model``, ``language``, ``user_id``, ``meta.KEY``;
    a bare KEY that is not a column means ``meta.KEY``)."""
    if stratify is None:
        return None
    if not isinstance(stratify, str) or not stratify.strip() or stratify.strip() == "meta.":
        raise _bad("stratify", stratify, f"name a column ({', '.join(COLUMNS)}) or meta.KEY")
    s = stratify.strip()
    if s in COLUMNS or s.startswith("meta."):
        return s
    if s in ("conversation_id", "source_id", "started_at", "n_turns", "meta"):
        raise _bad("stratify", s, f"stratify by {', '.join(COLUMNS)} or meta.KEY")
    return f"meta.{s}"


def check_sample(sample: Any, option: str = "sample") -> int | None:
    if sample is None:
        return None
    if isinstance(sample, bool) or not isinstance(sample, int | np.integer) or sample < 1:
        raise _bad(option, sample, "give the number of conversations to draw, e.g. 200")
    return int(sample)


# --- the frame ---------------------------------------------------------------------------------


def _meta_column(conversations: pd.DataFrame, key: str) -> pd.Series:
    """The value of ``meta[key]`` per conversation, as text (missing: NA)."""
    out = []
    for raw in conversations["meta"].tolist():
        value = None
        if isinstance(raw, str) and raw:
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                value = doc.get(key)
        if value is None:
            out.append(pd.NA)
        elif isinstance(value, str):
            out.append(value)
        else:
            out.append(json.dumps(value, sort_keys=True))
    return pd.Series(out, index=conversations.index, dtype="string[pyarrow]")


def column(conversations: pd.DataFrame, key: str) -> pd.Series:
    """A filter or stratum column as text (``meta.KEY`` parsed from the meta JSON)."""
    if key.startswith("meta."):
        return _meta_column(conversations, key[len("meta.") :])
    return conversations[key].astype("string[pyarrow]")


def frame_mask(conversations: pd.DataFrame, filters: list[tuple[str, str, Any]]) -> np.ndarray:
    """Which conversations pass every filter."""
    keep = np.ones(len(conversations), dtype=bool)
    for key, op, value in filters:
        if key == "min_turns":
            keep &= conversations["n_turns"].to_numpy(dtype=np.int64) >= value
        elif key == "max_turns":
            keep &= conversations["n_turns"].to_numpy(dtype=np.int64) <= value
        elif key in DATES:
            started = pd.to_datetime(conversations["started_at"], utc=True)
            hit = (started >= value) if key == "started_after" else (started < value)
            keep &= hit.fillna(False).to_numpy(dtype=bool)
        else:
            col = column(conversations, key)
            isin = col.isin(list(value)).fillna(False).to_numpy(dtype=bool)
            keep &= isin if op == "=" else ~isin
    return keep


def strata(conversations: pd.DataFrame, stratify: str | None) -> np.ndarray:
    """The stratum of each conversation (``(missing)`` for no value; ``(all)`` unstratified)."""
    if stratify is None:
        return np.full(len(conversations), "(all)", dtype=object)
    col = column(conversations, stratify)
    return col.fillna(MISSING).to_numpy(dtype=object)


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Proportional allocation of ``n`` over strata of ``sizes`` (largest remainder; ties by
    stratum name), never more than a stratum holds."""
    total = sum(sizes.values())
    if total == 0 or n <= 0:
        return dict.fromkeys(sizes, 0)
    exact = {h: n * s / total for h, s in sizes.items()}
    out = {h: int(np.floor(e)) for h, e in exact.items()}
    rest = n - sum(out.values())
    order = sorted(sizes, key=lambda h: (-(exact[h] - out[h]), h))
    for h in order:
        if rest <= 0:
            break
        if out[h] < sizes[h]:
            out[h] += 1
            rest -= 1
    return out


def draw(
    conversations: pd.DataFrame,
    *,
    n: int,
    filters: list[tuple[str, str, Any]],
    where_text: list[str],
    stratify: str | None,
    seed: int,
    known: set[str],
    previous: dict[str, Any] | None,
    option: str = "sample",
) -> tuple[list[str], dict[str, Any]]:
    """Draw ``n`` conversations of the frame that are not in ``known``.

    Returns the ids (in corpus order) and the updated sampling record (``previous`` plus this
    draw), which goes into the plan and the data card.
    """
    mask = frame_mask(conversations, filters)
    frame = conversations.loc[mask, "conversation_id"].astype(str).to_numpy(dtype=object)
    groups = strata(conversations.loc[mask], stratify)
    frame_sizes = _counts(groups)
    if len(frame) == 0:
        raise _bad("where", where_text, "no conversation of the corpus passes these filters")
    free = np.array([cid not in known for cid in frame], dtype=bool)
    remaining = _counts(groups[free])
    n_free = int(free.sum())
    if n > n_free:
        what = "in the sampling frame" if not known else "in the frame that are not yet drawn"
        raise _bad(
            option,
            n,
            f"only {n_free} conversation(s) {what} (corpus {len(conversations)}, frame "
            f"{len(frame)}); draw at most {n_free}",
        )
    number = 1 + len((previous or {}).get("draws", []))
    rng = np.random.default_rng([seed, _DRAW_SALT, number])
    keys = rng.random(len(frame))
    want = allocate({h: remaining.get(h, 0) for h in frame_sizes}, n)
    chosen = np.zeros(len(frame), dtype=bool)
    for h, k in want.items():
        if k:
            idx = np.flatnonzero(free & (groups == h))
            chosen[idx[np.argsort(keys[idx], kind="stable")[:k]]] = True
    ids = [str(c) for c in frame[chosen]]
    record = _record(
        previous,
        where_text=where_text,
        stratify=stratify,
        seed=seed,
        corpus_size=len(conversations),
        frame_sizes=frame_sizes,
        drawn=_counts(groups[chosen]),
        already=_counts(groups[~free]),
        number=number,
    )
    return ids, record


def _counts(values: np.ndarray) -> dict[str, int]:
    if len(values) == 0:
        return {}
    names, counts = np.unique(values.astype(str), return_counts=True)
    return {str(h): int(c) for h, c in zip(names, counts, strict=True)}


def _record(
    previous: dict[str, Any] | None,
    *,
    where_text: list[str],
    stratify: str | None,
    seed: int,
    corpus_size: int,
    frame_sizes: dict[str, int],
    drawn: dict[str, int],
    already: dict[str, int],
    number: int,
) -> dict[str, Any]:
    draws = list((previous or {}).get("draws", []))
    draws.append(
        {
            "draw": number,
            "at": CLOCK.now().isoformat(timespec="seconds"),
            "corpus_size": corpus_size,
            "frame_size": sum(frame_sizes.values()),
            "sample_size": sum(drawn.values()),
        }
    )
    sampled = {h: already.get(h, 0) + drawn.get(h, 0) for h in frame_sizes}
    grew = any(d["frame_size"] != draws[-1]["frame_size"] for d in draws)
    return {
        "method": METHOD_STRAT if stratify else METHOD_SRS,
        "where": list(where_text),
        "stratify": stratify,
        "seed": seed,
        "corpus_size": corpus_size,
        "frame_size": sum(frame_sizes.values()),
        "sample_size": sum(sampled.values()),
        "strata": [
            {
                "stratum": h,
                "frame": frame_sizes[h],
                "sample": sampled[h],
                "inclusion_probability": round(sampled[h] / frame_sizes[h], 6),
            }
            for h in sorted(frame_sizes)
        ],
        "draws": draws,
        "added_outside_design": int((previous or {}).get("added_outside_design", 0)),
        "note": (
            "the frame changed between draws (the corpus grew); inclusion probabilities are "
            "computed against the latest frame and are approximate"
            if grew
            else None
        ),
    }


def where_texts(filters: list[tuple[str, str, Any]]) -> list[str]:
    """The filters as the canonical ``KEY=VALUE`` strings recorded in the plan."""
    out = []
    for key, op, value in filters:
        if isinstance(value, tuple):
            out.append(f"{key}{op}{','.join(value)}")
        elif isinstance(value, pd.Timestamp):
            out.append(f"{key}{op}{value.isoformat()}")
        else:
            out.append(f"{key}{op}{value}")
    return out
