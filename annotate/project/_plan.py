"""Who codes what, in which order: the assignment plan of a project.

Policy (docs/projects.md):

* Each batch of conversations (the corpus at ``init``; later ``add_conversations``) is split
  reproducibly from the seed: ``round(reliability * n)`` conversations (at least one when the
  fraction is above zero) form the reliability sample and go to ``reliability_coders`` coders
  (default: every coder); every other conversation goes to ``per_item`` coders.
* Coders are dealt round-robin over a shuffled list that starts with the least-loaded coders, so
  loads differ by at most one per batch and no coder gets a conversation twice.
* A coder's queue is their regular conversations in a seeded random order (so corpus order,
  such as one user's sessions in a row, does not drive coding order), with their reliability
  conversations spread evenly through it (the i-th of R at about (i + 0.5) / R of the way
  along), in one shared order across coders. New batches go after the existing queue; existing
  assignments and positions never change.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from annotate.errors import Errors, ProjectError, hint
from annotate.types import ANNOTATOR_ID_RE, GOLD_ID


def check_coders(coders: Any, where: str) -> list[str]:
    """Validated coder ids (a list, or a comma-separated string), duplicates refused."""
    if isinstance(coders, str):
        coders = [c.strip() for c in coders.split(",") if c.strip()]
    coders = list(coders or [])
    for c in coders:
        if not isinstance(c, str) or not ANNOTATOR_ID_RE.fullmatch(c):
            raise ProjectError(Errors.E313.format(value=c, where=where))
    if len(set(coders)) != len(coders):
        raise ProjectError(
            Errors.E312.format(option="coders", value=coders, problem="a coder is listed twice")
        )
    if RESERVED_IDS & set(coders):
        problem = "'gold' is reserved for adjudicated labels; give the coder another id"
        raise ProjectError(Errors.E312.format(option="coders", value=coders, problem=problem))
    return coders


def check_plan(coders: list[str], per_item: int, reliability: float, k_rel: int | None) -> None:
    def bad(option: str, value: Any, problem: str) -> ProjectError:
        return ProjectError(Errors.E312.format(option=option, value=value, problem=problem))

    if not coders:
        example = hint("coders=['alice', 'bob']", "--coders alice,bob")
        raise bad("coders", coders, f"give at least one coder id, e.g. {example}")
    if not isinstance(per_item, int) or not 1 <= per_item <= len(coders):
        raise bad("per_item", per_item, f"use a whole number from 1 to {len(coders)} (coders)")
    if not isinstance(reliability, int | float) or not 0 <= reliability <= 1:
        raise bad("reliability", reliability, "use a fraction from 0 to 1, e.g. 0.2")
    if reliability > 0 and len(coders) < 2:
        raise bad("reliability", reliability, "a reliability sample needs two or more coders")
    if k_rel is not None and (not isinstance(k_rel, int) or not 2 <= k_rel <= len(coders)):
        raise bad("reliability_coders", k_rel, f"use a number from 2 to {len(coders)} (coders)")


#: annotator ids that are not coders (adjudicated labels are written as "gold")
RESERVED_IDS = frozenset({GOLD_ID})

ASSIGNMENT_COLUMNS = ("conversation_id", "annotator_id", "is_reliability", "position")


def empty_assignments() -> pd.DataFrame:
    """An empty assignment table with the right dtypes."""
    return pd.DataFrame(
        {
            "conversation_id": pd.Series([], dtype="string[pyarrow]"),
            "annotator_id": pd.Series([], dtype="string[pyarrow]"),
            "is_reliability": pd.Series([], dtype=bool),
            "position": pd.Series([], dtype="int64"),
        }
    )


def _deal(items: list[str], coders: list[str], k: int, start: int) -> list[tuple[str, str]]:
    """Round-robin: item i gets coders[(start + i*k + r) % C] for r < k (k <= C: distinct)."""
    n_c = len(coders)
    return [
        (cid, coders[(start + i * k + r) % n_c]) for i, cid in enumerate(items) for r in range(k)
    ]


def _coder_order(coders: list[str], existing: pd.DataFrame, rng: np.random.Generator) -> list[str]:
    """Coders shuffled, then stably sorted by current load (least loaded first)."""
    shuffled = [coders[i] for i in rng.permutation(len(coders))]
    loads = existing["annotator_id"].value_counts().to_dict() if len(existing) else {}
    return sorted(shuffled, key=lambda c: loads.get(c, 0))


def _interleave(regular: list[str], rel: list[str]) -> list[str]:
    """Spread ``rel`` evenly through ``regular``: the i-th at about (i + 0.5) / R of the queue."""
    total = len(regular) + len(rel)
    slots = {int((i + 0.5) * total / len(rel)) for i in range(len(rel))} if rel else set()
    out, reg, rl = [], iter(regular), iter(rel)
    for pos in range(total):
        out.append(next(rl) if pos in slots else next(reg))
    return out


def plan_batch(
    conversation_ids: list[str],
    coders: list[str],
    existing: pd.DataFrame,
    *,
    per_item: int,
    reliability: float,
    reliability_coders: int | None,
    seed: int,
    batch: int,
) -> pd.DataFrame:
    """Assign a batch of new conversations, appending to the coders' existing queues.

    Parameters
    ----------
    conversation_ids : list of str
        The new conversations, in corpus order.
    coders : list of str
        All coders of the project.
    existing : DataFrame
        The current assignments (columns ``ASSIGNMENT_COLUMNS``); they are not changed.
    per_item, reliability, reliability_coders, seed
        The plan (see :meth:`annotate.project.Project.create`).
    batch : int
        The batch number (0 at creation), mixed into the seed so that every batch draws anew.

    Returns
    -------
    DataFrame
        The new rows only, with ``ASSIGNMENT_COLUMNS``.
    """
    if not conversation_ids or not coders:
        return empty_assignments()
    rng = np.random.default_rng([seed, batch])
    n = len(conversation_ids)
    n_rel = 0 if reliability <= 0 else min(n, max(1, round(reliability * n)))
    perm = rng.permutation(n)
    rel = [conversation_ids[i] for i in perm[:n_rel]]  # the shared reliability order
    rel_set = set(rel)
    regular = [
        conversation_ids[i] for i in rng.permutation(n) if conversation_ids[i] not in rel_set
    ]
    order = _coder_order(coders, existing, rng)
    pairs = _deal(regular, order, per_item, 0)
    k_rel = len(coders) if reliability_coders is None else reliability_coders
    rel_pairs = _deal(rel, order, k_rel, len(pairs))
    return queue_rows(pairs, rel_pairs, existing)


def queue_rows(
    pairs: list[tuple[str, str]], rel_pairs: list[tuple[str, str]], existing: pd.DataFrame
) -> pd.DataFrame:
    """Turn (conversation, coder) pairs into queue rows placed after each coder's queue."""
    start = existing.groupby("annotator_id")["position"].max().to_dict() if len(existing) else {}
    by_coder: dict[str, tuple[list[str], list[str]]] = {}
    for cid, coder in pairs:
        by_coder.setdefault(coder, ([], []))[0].append(cid)
    for cid, coder in rel_pairs:
        by_coder.setdefault(coder, ([], []))[1].append(cid)
    rows = []
    rel_ids = {cid for cid, _ in rel_pairs}
    for coder, (reg, rl) in by_coder.items():
        first = int(start.get(coder, -1)) + 1
        for pos, cid in enumerate(_interleave(reg, rl), start=first):
            rows.append((cid, coder, cid in rel_ids, pos))
    frame = pd.DataFrame(rows, columns=list(ASSIGNMENT_COLUMNS))
    return frame.astype(empty_assignments().dtypes.to_dict())


def reliability_for_new_coders(
    new_coders: list[str], existing: pd.DataFrame, reliability_coders: int | None
) -> pd.DataFrame:
    """When every coder codes the reliability sample, give it to the new coders too."""
    if reliability_coders is not None or not len(existing) or not new_coders:
        return empty_assignments()
    rel = existing[existing["is_reliability"]]
    order = rel.groupby("conversation_id")["position"].min().sort_values().index.tolist()
    pairs = [(cid, coder) for coder in new_coders for cid in order]
    return queue_rows([], pairs, existing)
