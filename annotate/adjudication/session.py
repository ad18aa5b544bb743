"""A headless adjudication session: the queue of disagreements and the decisions on them.

Every decision is a label event of the reserved annotator id ``gold`` in the project's label
store, so the history stays auditable. The event's ``note`` is a JSON object::

    {"adjudicator": "dana", "kind": "codebook_gap", "memo": "...", "codebook_change": "..."}

The widget in :mod:`annotate.widgets` is a view over this session; notebooks and scripts can
use it directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from annotate.adjudication.gold import GOLD_ID, NO_TURN
from annotate.errors import Errors, ExportError
from annotate.store import ORDER_COLUMNS
from annotate.types import ANNOTATOR_ID_RE

if TYPE_CHECKING:
    from annotate.project import Project

#: the kinds of disagreement an adjudicator records
KINDS = ("ambiguous_text", "codebook_gap", "coder_error", "other")
KEY = ["unit", "conversation_id", "turn_index", "code_id"]


@dataclass(frozen=True)
class Item:
    """One unit × code on which coders disagree."""

    unit: str
    conversation_id: str
    turn_index: int | None
    code_id: str
    role: str | None
    values: dict[str, str]  # annotator_id -> value
    memos: dict[str, str] = field(default_factory=dict)  # annotator_id -> memo on the unit


def disagreements(labels: pd.DataFrame, events: pd.DataFrame | None = None) -> list[Item]:
    """Units where two or more coders gave different values, in corpus order.

    Parameters
    ----------
    labels : DataFrame
        Unit labels of all coders (docs/internals.md); gold rows are ignored.
    events : DataFrame, optional
        The label history; ``_memo`` events there are attached to the items.
    """
    coders = labels[(labels["annotator_id"] != GOLD_ID) & labels["value"].notna()]
    if coders.empty:
        return []
    # NA turn indexes (conversation units) do not match in index lookups: use the sentinel
    coders = coders.assign(
        turn_index=coders["turn_index"].astype("Int32").fillna(NO_TURN).astype("int32")
    )
    spread = coders.groupby(KEY, dropna=False)["value"].agg(["nunique", "size"])
    contested = spread[(spread["nunique"] > 1) & (spread["size"] > 1)].index
    memos = _memos(events)
    items = []
    sel = coders.set_index(KEY).loc[contested].reset_index() if len(contested) else coders[:0]
    for k, grp in sel.groupby(KEY, dropna=False, sort=False):
        unit, conv, turn, code = k
        turn = None if turn == NO_TURN else int(turn)
        items.append(
            Item(
                unit=unit, conversation_id=conv, turn_index=turn, code_id=code,
                role=grp["role"].iloc[0] if "role" in grp and pd.notna(grp["role"].iloc[0])
                else None,
                values=dict(sorted(zip(grp["annotator_id"], grp["value"], strict=True))),
                memos=memos.get((unit, conv, turn), {}),
            )
        )  # fmt: skip
    items.sort(key=lambda i: (i.conversation_id, -1 if i.turn_index is None else i.turn_index,
                              i.code_id))  # fmt: skip
    return items


def _memos(events: pd.DataFrame | None) -> dict[tuple, dict[str, str]]:
    """Latest memo per (unit, conversation, turn) and coder."""
    if events is None or events.empty:
        return {}
    m = events[(events["code_id"] == "_memo") & (events["annotator_id"] != GOLD_ID)]
    # in the order the events were made (the one clock), not by id: ids of different writers
    # need not sort in time order
    m = m.sort_values(list(ORDER_COLUMNS), kind="stable").drop_duplicates(
        ["annotator_id", "unit", "conversation_id", "turn_index"], keep="last"
    )
    out: dict[tuple, dict[str, str]] = {}
    for r in m.itertuples():
        if r.op == "clear" or r.value is None:
            continue
        turn = None if pd.isna(r.turn_index) else int(r.turn_index)
        out.setdefault((r.unit, r.conversation_id, turn), {})[r.annotator_id] = r.value
    return out


class Adjudication:
    """Adjudicate a project's disagreements, one decision at a time.

    Parameters
    ----------
    project : Project
        The open project.
    adjudicator : str
        The person deciding (recorded in every decision's note).

    Examples
    --------
    >>> adj = Adjudication(project, adjudicator="dana")       # doctest: +SKIP
    >>> item = adj.queue[0]                                     # doctest: +SKIP
    >>> adj.decide(item, "1", kind="coder_error", memo="clear bid for support")  # doctest: +SKIP
    """

    def __init__(self, project: Project, adjudicator: str) -> None:
        if not isinstance(adjudicator, str) or not ANNOTATOR_ID_RE.fullmatch(adjudicator):
            raise ExportError(
                Errors.E509.format(adjudicator=adjudicator, pattern=ANNOTATOR_ID_RE.pattern)
            )
        self.project = project
        self.adjudicator = adjudicator
        self.refresh()

    def refresh(self) -> None:
        """Re-read the labels (other coders or adjudicators may have written meanwhile)."""
        from annotate.adjudication.gold import people_labels

        # disagreements among people: an LLM coder's differing label is not a case to settle
        labels = people_labels(self.project)
        self.items = disagreements(labels, self.project.labels(history=True))
        gold = labels[labels["annotator_id"] == GOLD_ID]
        self.decided = {
            (r.unit, r.conversation_id, None if pd.isna(r.turn_index) else int(r.turn_index),
             r.code_id): r.value
            for r in gold.itertuples()
        }  # fmt: skip

    @property
    def queue(self) -> list[Item]:
        """Disagreements still without a gold value."""
        return [i for i in self.items if _key(i) not in self.decided]

    def decide(
        self,
        item: Item,
        value: str,
        *,
        kind: str,
        memo: str = "",
        codebook_change: str | None = None,
    ) -> pd.DataFrame:
        """Record the gold value of ``item`` (durable when this returns).

        Parameters
        ----------
        item : Item
            A disagreement from :attr:`queue` (or :attr:`items`, to revise a decision).
        value : str
            The gold value: one of the coders' values or any value the codebook allows.
        kind : {"ambiguous_text", "codebook_gap", "coder_error", "other"}
            The kind of disagreement.
        memo : str
            Why.
        codebook_change : str, optional
            A codebook change this decision caused (e.g. "1.1.0: clarified ai_empathy").
        """
        if kind not in KINDS:
            raise ExportError(
                Errors.E501.format(option="kind", value=kind, allowed=", ".join(KINDS))
            )
        note = {"adjudicator": self.adjudicator, "kind": kind, "memo": memo}
        if codebook_change:
            note["codebook_change"] = codebook_change
        event = {
            "annotator_id": GOLD_ID, "unit": item.unit, "conversation_id": item.conversation_id,
            "turn_index": item.turn_index, "code_id": item.code_id, "op": "set",
            "value": value, "note": json.dumps(note, sort_keys=True),
        }  # fmt: skip
        stored = self.project.append([event])
        self.decided[_key(item)] = value
        return stored

    def decisions(self) -> pd.DataFrame:
        """Every adjudication event with its note unpacked (adjudicator, kind, memo, change)."""
        ev = self.project.labels(history=True)
        ev = ev[ev["annotator_id"] == GOLD_ID].copy()
        notes = [
            json.loads(n) if isinstance(n, str) and n.startswith("{") else {} for n in ev["note"]
        ]
        for col in ("adjudicator", "kind", "memo", "codebook_change"):
            ev[col] = [n.get(col) for n in notes]
        return ev.reset_index(drop=True)


def _key(item: Item) -> tuple:
    return (item.unit, item.conversation_id, item.turn_index, item.code_id)
