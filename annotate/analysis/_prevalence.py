"""Prevalence: the share of turns and of conversations with each code (or each value).

For a turn-level item the share of **turns** is sum_c k_c / sum_c n_c over conversations c,
where k_c is the number of the conversation's turns with the item and n_c the number of its
turns coded for the item's code (a ratio estimator: conversations count in proportion to
their coded turns). The share of **conversations** is the share of conversations with at
least one such turn among those with a coded turn (the "any" aggregation of EmoClassifiers;
codebook-research.md §b.2). Conversation-level codes are shared over conversations.

Intervals are percentile bootstrap intervals that resample whole conversations (turns are
nested in conversations, so resampling turns would understate the uncertainty; Field &
Welsh 2007; Davison & Hinkley 1997, §3.8). With a conversation attribute in ``by`` the
conversations are resampled within each group (a stratified bootstrap), so group sizes stay
fixed as in the sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.analysis._frame import LabelFrame, conv_sums, prepare, resolve_items
from annotate.analysis._groups import as_list, check_option, group_keys, strata, weights_for
from annotate.analysis._stats import percentile_interval

if TYPE_CHECKING:
    from annotate.codebook import Codebook
    from annotate.corpus import Corpus

UNITS = ("turn", "conversation")
COLUMNS = (
    "unit",
    "code_id",
    "value",
    "item",
    "code_level",
    "n_conversations",
    "n",
    "count",
    "share",
    "ci_low",
    "ci_high",
)


def prevalence(
    labels: pd.DataFrame | LabelFrame,
    codebook: Codebook,
    *,
    corpus: Corpus | None = None,
    annotator: str | None = None,
    by: str | Sequence[str] | None = None,
    codes: Sequence[str] | None = None,
    unit: str | Sequence[str] = UNITS,
    bootstrap: int = 1000,
    level: float = 0.95,
    seed: int | None = None,
) -> pd.DataFrame:
    """Share of turns and of conversations with each code, with conversation-bootstrap CIs.

    Parameters
    ----------
    labels
        One coder's (or gold) unit labels, or a prepared LabelFrame.
    codebook
        The codebook the labels were coded with.
    corpus, annotator
        See :func:`annotate.analysis.prepare`.
    by
        ``None``, or one or more of ``"role"`` and conversation attributes: a conversation-level
        code id (e.g. the context code), ``model``, ``corpus``/``source``, ``user_id``, another
        conversations column, or a key of conversations.meta (``context``).
    codes
        Codes (``CODE``) or items (``CODE=VALUE``) to report; default all that were coded.
    unit
        ``"turn"``, ``"conversation"`` or both (default): what the share counts.
    bootstrap
        Number of bootstrap replicates (0: no intervals).
    level
        Confidence level of the percentile intervals.
    seed
        Seed of the bootstrap (same seed, same intervals).

    Returns
    -------
    pandas.DataFrame
        One row per (group, unit, item): the ``by`` columns, ``unit``, ``code_id``, ``value``
        (the present value for binary codes), ``item``, ``code_level``, ``n_conversations``
        (conversations with a coded unit), ``n`` (coded units), ``count`` (units with the
        item), ``share`` = count / n, ``ci_low``, ``ci_high``. For nominal and ordinal codes
        the shares of a code's values sum to 1 within a group and unit.
    """
    frame = prepare(labels, codebook, corpus=corpus, annotator=annotator)
    units = [unit] if isinstance(unit, str) else list(unit)
    for u in units:
        check_option("unit", u, UNITS)
    by_list = as_list(by)
    conv_by = [b for b in by_list if b != "role"]
    keys = group_keys(frame, conv_by)
    roles = _roles(frame) if "role" in by_list else [None]
    turn_sel = _selected(frame, codes, "turn")
    conv_sel = _selected(frame, codes, "conversation")
    rng = np.random.default_rng(seed)
    rows: list[pd.DataFrame] = []
    for key, members in strata(keys):
        weights = weights_for(members, bootstrap, rng)
        for role in roles:
            mask = None if role is None else (frame.turns["role"] == role).to_numpy()
            num, den = conv_sums(frame, mask)
            num, den = num[:, turn_sel], den[:, turn_sel]
            items = [frame.items[k] for k in turn_sel]
            parts = []
            if "turn" in units:
                parts.append(_rows(num, den, members, weights, level, items, "turn"))
            if "conversation" in units:
                anyn, anyd = (num > 0).astype(float), (den > 0).astype(float)
                parts.append(_rows(anyn, anyd, members, weights, level, items, "conversation"))
            for part in parts:
                _label(part, by_list, conv_by, key, role)
            rows.extend(parts)
        if "conversation" in units and conv_sel:
            C = frame.C[:, conv_sel]
            part = _rows(
                (C == 1).astype(float),
                (C >= 0).astype(float),
                members,
                weights,
                level,
                [frame.conv_items[k] for k in conv_sel],
                "conversation",
            )
            _label(part, by_list, conv_by, key, None)
            rows.append(part)
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=COLUMNS)
    out = out[out["n"] > 0].reset_index(drop=True)
    return out[[*by_list, *COLUMNS]]


def _roles(frame: LabelFrame) -> list[str]:
    present = set(frame.turns["role"].dropna().tolist())
    order = ["user", "assistant", "system", "tool"]
    return [r for r in order if r in present] + sorted(present - set(order))


def _selected(frame: LabelFrame, codes: Sequence[str] | None, unit: str) -> list[int]:
    if codes is None:
        return resolve_items(frame, None, unit)
    items = frame.items if unit == "turn" else frame.conv_items
    names = {it.code_id for it in items} | {it.name for it in items}
    mine = [c for c in codes if c in names]
    other = frame.conv_items if unit == "turn" else frame.items
    other_names = {it.code_id for it in other} | {it.name for it in other}
    unknown = [c for c in codes if c not in names and c not in other_names]
    if unknown:
        resolve_items(frame, unknown, unit)  # raises E457 listing what exists
    return resolve_items(frame, mine, unit) if mine else []


def _rows(
    num: np.ndarray,
    den: np.ndarray,
    members: np.ndarray,
    weights: np.ndarray,
    level: float,
    items: list[Any],
    unit: str,
) -> pd.DataFrame:
    num, den = num[members], den[members]
    count, n = num.sum(axis=0), den.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, count / np.where(n > 0, n, 1), np.nan)
        if weights.shape[0]:
            reps = (weights @ num.astype(np.float32)) / (weights @ den.astype(np.float32))
            lo, hi = percentile_interval(reps.astype(float), level)
        else:
            lo = hi = np.full(len(items), np.nan)
    return pd.DataFrame(
        {
            "unit": unit,
            "code_id": [it.code_id for it in items],
            "value": [it.value for it in items],
            "item": [it.name for it in items],
            "code_level": [it.level for it in items],
            "n_conversations": (den > 0).sum(axis=0).astype(int),
            "n": n.astype(int),
            "count": count.astype(int),
            "share": share,
            "ci_low": lo,
            "ci_high": hi,
        }
    )


def _label(part: pd.DataFrame, by_list: list[str], conv_by: list[str], key: Any, role: Any) -> None:
    values = dict(zip(conv_by, key if conv_by else (), strict=False))
    for name in by_list:
        part[name] = role if name == "role" else values.get(name)
