"""The adjudication widget: a view over the headless :class:`~annotate.adjudication.Adjudication`.

It shows each disagreement in its conversation (the chat view of the annotation widget, the
unit's turn highlighted), every coder's value and memo side by side, and a form for the gold
value, the kind of disagreement, a memo and an optional codebook change. Python owns the state;
the front end (``js/adjudicator.js``, bundled into ``static/``) sends small messages and renders
the synced traits. A decision is appended to the label store (``Adjudication.decide``) before the
``ack`` goes back, so the indicator says ``saved`` only for decisions that are durable on disk.

Messages from the front end (``type`` and fields):

======  ==========================================================================================
decide  ``seq, index, value (str | list of str for set codes), kind, memo, codebook_change``
nav     ``seq, to``: ``"next"``, ``"prev"``, ``"next_open"`` (next undecided) or an item position
======  ==========================================================================================

Replies: ``{"type": "ack", "seq", "event_ids"}`` or ``{"type": "error", "seq", "message"}``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from annotate.adjudication.session import KINDS, Adjudication, Item, _key
from annotate.errors import AnnotateError, Errors, WidgetError
from annotate.store import ORDER_COLUMNS
from annotate.widgets.annotator import STATIC, _clean, _codebook_payload, _open_project
from annotate.widgets.render import turn_payload

if TYPE_CHECKING:
    from annotate.project import Project
    from annotate.types import FilePath


class Adjudicator(anywidget.AnyWidget):
    """Settle the coders' disagreements one by one, each shown in its conversation.

    Parameters
    ----------
    project : Project or path
        The annotation project (``annotate.Project``) or its folder.
    adjudicator : str
        The person deciding (recorded in every decision's note).

    Examples
    --------
    >>> annotate.Adjudicator(project, adjudicator="dana")  # doctest: +SKIP
    """

    _esm = STATIC / "adjudicator.js"  # a path: anywidget reloads it live with ANYWIDGET_HMR=1
    _css = STATIC / "adjudicator.css"

    adjudicator_id = traitlets.Unicode("").tag(sync=True)
    codebook_data = traitlets.Dict().tag(sync=True)
    kinds = traitlets.List(traitlets.Unicode()).tag(sync=True)
    conversation = traitlets.Dict().tag(sync=True)
    item = traitlets.Dict().tag(sync=True)
    items_index: traitlets.List[Any] = traitlets.List().tag(sync=True)
    progress = traitlets.Dict().tag(sync=True)

    def __init__(self, project: Project | FilePath, adjudicator: str) -> None:
        super().__init__()
        self.project = _open_project(project, None)
        self.session = Adjudication(self.project, adjudicator)
        self.adjudicator_id = adjudicator
        self.kinds = list(KINDS)
        self.codebook_data = _codebook_payload(self.project.codebook)
        self.index = 0
        open_ = [i for i, it in enumerate(self.items) if _key(it) not in self.session.decided]
        if open_:
            self.index = open_[0]
        self.on_msg(self._on_msg)
        self._push(new_item=True)

    # --- state pushed to the front end --------------------------------------------------------
    @property
    def items(self) -> list[Item]:
        """Every disagreement (decided ones stay here so they can be revised)."""
        return self.session.items

    def _push(self, new_item: bool = False) -> None:
        items = self.items
        decided = self.session.decided
        with self.hold_sync():
            self.progress = {
                "decided": sum(_key(i) in decided for i in items),
                "total": len(items),
                "index": self.index,
            }
            self.items_index = [
                {
                    "i": n,
                    "label": _item_label(it),
                    "decided": _key(it) in decided,
                }
                for n, it in enumerate(items)
            ]
            if not items:
                self.item = {}
                return
            it = items[self.index]
            if new_item and self.conversation.get("id") != it.conversation_id:
                self.conversation = self._conversation(it.conversation_id)
            self.item = self._item_payload(it)

    def _conversation(self, cid: str) -> dict[str, Any]:
        rows = self.project.corpus.conversation(cid).to_dict("records")
        meta = self.project.corpus.conversation_meta(cid)
        turns = [turn_payload(r) for r in rows]
        conv_model = _clean(meta.get("model"))
        for t in turns:
            if t["role"] == "assistant" and not t["model"]:
                t["model"] = conv_model
        note = (meta.get("meta") or {}).get("content_note")
        return {"id": cid, "turns": turns, "content_note": str(note) if note else None}

    def _item_payload(self, it: Item) -> dict[str, Any]:
        gold = self.session.decided.get(_key(it))
        return {
            "index": self.index,
            "key": "|".join(str(k) for k in _key(it)),
            "unit": it.unit,
            "conversation_id": it.conversation_id,
            "turn_index": it.turn_index,
            "code_id": it.code_id,
            "role": it.role,
            "values": dict(it.values),
            "memos": dict(it.memos),
            "gold": gold,
            "decision": self._last_decision(it) if gold is not None else None,
        }

    def _last_decision(self, it: Item) -> dict[str, Any] | None:
        """The note of the item's latest gold event (to prefill a revision)."""
        ev = self.project.labels(history=True)
        ev = ev[
            (ev["annotator_id"] == "gold")
            & (ev["conversation_id"] == it.conversation_id)
            & (ev["code_id"] == it.code_id)
            & (ev["unit"] == it.unit)
        ]
        if it.turn_index is None:
            ev = ev[ev["turn_index"].isna()]
        else:
            ev = ev[ev["turn_index"] == it.turn_index]
        if ev.empty:
            return None
        note = ev.sort_values(list(ORDER_COLUMNS), kind="stable")["note"].iloc[-1]
        try:
            data = json.loads(note) if isinstance(note, str) else {}
        except ValueError:
            data = {}
        return {k: data.get(k) for k in ("adjudicator", "kind", "memo", "codebook_change")}

    # --- messages from the front end ----------------------------------------------------------
    def _on_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any = None) -> None:
        """The comm handler: run one action, push the new state, then ack (or report)."""
        if not isinstance(content, dict):
            return
        seq = content.get("seq")
        try:
            event_ids = self.handle(content)
        except Exception as err:  # shown in the widget, never swallowed
            if isinstance(err, AnnotateError):
                text = str(err)
            elif isinstance(err, OSError):
                text = Errors.E615.format(error=err)
            else:
                text = Errors.E610.format(error=err)
            self.send({"type": "error", "seq": seq, "message": text})
            if not isinstance(err, AnnotateError | OSError):
                raise  # a bug: also let the comm machinery log it with its traceback
            return
        self.send({"type": "ack", "seq": seq, "event_ids": event_ids})

    def handle(self, content: dict[str, Any]) -> list[str]:
        """Run one front-end action (see the module docstring); returns the stored event ids."""
        kind = content.get("type")
        if kind == "nav":
            self._nav(content.get("to"))
            return []
        if kind == "decide":
            return self._decide(content)
        raise WidgetError(Errors.E614.format(action=kind))

    def _nav(self, to: Any) -> None:
        n = len(self.items)
        if not n:
            return
        if to == "next":
            self.index = min(n - 1, self.index + 1)
        elif to == "prev":
            self.index = max(0, self.index - 1)
        elif to == "next_open":
            decided = self.session.decided
            order = [*range(self.index + 1, n), *range(self.index + 1)]
            self.index = next((i for i in order if _key(self.items[i]) not in decided), self.index)
        else:
            try:
                i = int(to)
            except (TypeError, ValueError):
                i = -1
            if not 0 <= i < n:
                raise WidgetError(Errors.E613.format(index=to, n=n))
            self.index = i
        self._push(new_item=True)

    def _decide(self, content: dict[str, Any]) -> list[str]:
        i = content.get("index", self.index)
        if not isinstance(i, int) or not 0 <= i < len(self.items):
            raise WidgetError(Errors.E613.format(index=i, n=len(self.items)))
        it = self.items[i]
        code = self.project.codebook.code(it.code_id)
        value = content.get("value")
        if code.level == "set" and isinstance(value, list):
            bad = [v for v in value if str(v) not in code.value_ids]
            if bad:
                raise WidgetError(Errors.E611.format(value=bad, code_id=code.id))
            value = code.encode_set([str(v) for v in value])
        elif value is None or str(value) not in code.value_ids:
            raise WidgetError(Errors.E611.format(value=value, code_id=code.id))
        kind = content.get("kind")
        if kind not in KINDS:
            raise WidgetError(Errors.E612.format(kind=kind, kinds=", ".join(KINDS)))
        stored = self.session.decide(
            it,
            str(value),
            kind=kind,
            memo=str(content.get("memo") or "").strip(),
            codebook_change=str(content.get("codebook_change") or "").strip() or None,
        )
        self.index = i
        self._push()
        return [str(e) for e in stored["event_id"]]


def _item_label(it: Item) -> str:
    where = "conversation" if it.turn_index is None else f"turn {it.turn_index}"
    return f"{it.conversation_id} · {where} · {it.code_id}"
