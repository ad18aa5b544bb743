"""Headless annotation session: the coder's queue, navigation, labels, undo and saving.

No ipywidgets here: the widget (annotator.py) is a thin view over an ``AnnotationSession``,
and everything a coder can do is testable without a browser.

Rules the session implements (README, section widget):

* **Blind.** The session reads only this coder's own labels (``project.labels(annotator=me)``),
  on the reliability sample and everywhere else.
* **Saving.** Every change becomes one label event, checked by the store's own validation
  (``project.store.validate``) *before* it is queued: a value the store would refuse is reported
  (E605, with the store's reason) and dropped, so it can never block later saves. The checked
  event, stamped with its id and time by the one clock (``annotate.clock.CLOCK``), is appended
  at once with ``project.append`` (durable when it returns). If the store fails, the events stay
  in ``pending`` (and the change stays visible) and are sent again, first, with the next change
  or on ``retry()``; a retry of an event the store did keep is dropped as a duplicate on reading.
* **Order.** Events are stamped by the process clock, which never runs backwards and never
  stamps before the latest label the session read, so the coder's last action always wins, even
  when the wall clock steps back.
* **Done.** A conversation counts as done when the coder marks it done (``mark_done``), or moves
  on with ``next(finish=True)`` after having reached its last turn; skipping (with a reason) also
  finishes it. Resume opens the first conversation in the queue without ``_status`` done/skipped.
* **Undo** restores the previous value of the last change made in the current conversation
  (it writes a new event; the history keeps both), with its evidence spans.
* **Evidence.** A turn code whose codebook entry has ``evidence: required`` or ``optional``
  takes evidence spans: ``[start, end)`` offsets into the turn's text (``turns.text``, code
  points), saved with the code's event together with the sha256 of the text there. A code
  with ``evidence: required`` is not saved without a span (E620). Spans stay with the code
  when its value changes and go when it is cleared.
* **Suggestions** (README, "LLM coders", Suggestions). The project's setting
  (``project.suggestions``: ``off``, ``after`` or ``before``, and the LLM coder whose labels are
  shown) decides which of that coder's values :meth:`AnnotationSession.suggestions` returns for
  the open conversation. ``before``: visible from the start; ``after``: a code's value on a unit
  is revealed once this coder's own label for it is saved (acknowledged by the store), and
  everything in a conversation once it is done or skipped. On the reliability sample ``after``
  applies whatever the setting. Once revealed a value stays revealed (a later session reads
  this coder's history). Every event the session writes records ``exposure``: what the coder
  had seen of the suggestion it concerns when making it (``none``, ``before``, ``after``; see
  :meth:`AnnotationSession.exposure`).
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from annotate.clock import CLOCK
from annotate.errors import CodebookError, Errors, LabelStoreError, WidgetError
from annotate.store import LabelStore, evidence_span

if TYPE_CHECKING:
    from annotate.project import Project

#: label key: (unit, conversation_id, turn_index or None, code_id)
Key = tuple[str, str, int | None, str]
#: evidence spans of a label as stored: ({"start", "end", "sha256"}, ...), sorted
Spans = tuple[dict[str, Any], ...]
FINISHED = ("done", "skipped")
#: ``set(..., evidence=KEEP)``: a code keeps its spans when its value changes
KEEP: Any = object()
#: the prefix of an LLM coder's rationale memo (annotate.llm.run.UnitCoder.events)
RATIONALE_MEMO = "LLM rationale"


@dataclass(frozen=True)
class Suggestion:
    """An LLM coder's label on a unit, as a coder may see it.

    Attributes
    ----------
    coder : str
        The LLM coder whose label it is.
    unit, conversation_id, turn_index, code_id
        The label's unit and code.
    value : str
        The LLM coder's value (a sorted JSON list for set codes).
    rationale : str or None
        The coder's rationale for this code, when it was asked for one.
    evidence : list of dict or None
        Evidence spans of the label (``start``, ``end``, ``sha256``), when it has any.
    shown : {"before", "after"}
        Visible before this coder's own label, or revealed after it was saved.
    """

    coder: str
    unit: str
    conversation_id: str
    turn_index: int | None
    code_id: str
    value: str
    rationale: str | None
    evidence: list[dict[str, Any]] | None
    shown: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AnnotationSession:
    """One coder's annotation session on a project.

    Parameters
    ----------
    project : annotate.project.Project
        The open project (corpus, codebook, queue, label store).
    annotator : str
        The coder's id; must be one of ``project.coders``.
    session_id : str, optional
        Recorded on every event; a new one per session by default.
    clock : callable, optional
        Monotonic seconds (tests pass a fake clock).

    Raises
    ------
    WidgetError
        E601 if ``annotator`` is not a coder of the project, E602 if the queue is empty.
    """

    def __init__(
        self,
        project: Project,
        annotator: str,
        *,
        session_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        coders = list(project.coders)
        if annotator not in coders:
            raise WidgetError(Errors.E601.format(annotator=annotator, coders=", ".join(coders)))
        self.project = project
        self.codebook = project.codebook
        self.annotator = annotator
        self.session_id = session_id or f"s-{CLOCK.event_id()}"
        self.queue: list[str] = list(project.queue(annotator))
        if not self.queue:
            raise WidgetError(Errors.E602.format(annotator=annotator))
        self._clock = clock
        self._roles: tuple[str | None, dict[int, str]] = (None, {})
        self._texts: tuple[str | None, dict[int, str]] = (None, {})
        self._evidence: dict[Key, Spans] = {}
        self._labels: dict[Key, tuple[str, str | None]] = self._read_labels()
        self.pending: list[dict[str, Any]] = []
        self._undo: list[tuple[Key, tuple[str, str | None] | None, Spans]] = []
        self.last_error: str | None = None
        self.index = self.resume_index()
        self._opened_at = clock()
        self.reached_end = False
        # suggestions: the setting, the LLM coder's labels (read on first need), what this
        # coder has had revealed
        self._suggest: dict[str, Any] = {}
        self._llm: dict[str, dict[tuple[str, int | None, str], Suggestion]] | None = None
        self._revealed: builtins.set[Key] = builtins.set()
        self._finished_seen: builtins.set[str] = builtins.set()
        self.refresh_suggestions()

    # --- reading ------------------------------------------------------------------------------
    def _read_labels(self) -> dict[Key, tuple[str, str | None]]:
        """This coder's current labels only (blind: other coders' labels are never read)."""
        # stamp later than anything this coder saved before, clears included (a wall clock
        # that stepped back since, or another machine's clock running ahead, must not make
        # new changes lose against old ones)
        latest = self.project.store.latest_us(self.annotator)
        if latest is not None:
            CLOCK.observe(latest)
        df = self.project.labels(annotator=self.annotator)
        out: dict[Key, tuple[str, str | None]] = {}
        if df is None or len(df) == 0:
            return out
        cols = ["unit", "conversation_id", "turn_index", "code_id", "value", "note", "evidence"]
        for unit, cid, ti, code_id, value, note, spans in df[cols].itertuples(index=False):
            key = (unit, cid, _int_or_none(ti), code_id)
            out[key] = (_opt(value) or "", _opt(note))
            if spans is not None and not isinstance(spans, float) and len(spans):
                self._evidence[key] = tuple(_span_dict(x) for x in spans)
        return out

    @property
    def conversation_id(self) -> str:
        """The id of the open conversation."""
        return self.queue[self.index]

    def turns(self, conversation_id: str | None = None) -> Any:
        """The turns (DataFrame, by turn_index) of a conversation (default: the open one)."""
        return self.project.corpus.conversation(conversation_id or self.conversation_id)

    def roles(self, conversation_id: str | None = None) -> dict[int, str]:
        """turn_index -> role of a conversation's turns (cached for the open conversation)."""
        cid = conversation_id or self.conversation_id
        if self._roles[0] != cid:
            t = self.turns(cid)
            self._roles = (cid, dict(zip(t["turn_index"].astype(int), t["role"], strict=True)))
        return self._roles[1]

    def text(self, turn_index: int, conversation_id: str | None = None) -> str:
        """The text of a turn as in the corpus (``turns.text``; cached for one conversation)."""
        cid = conversation_id or self.conversation_id
        if self._texts[0] != cid:
            t = self.turns(cid)
            texts = [x if isinstance(x, str) else "" for x in t["text"]]
            self._texts = (cid, dict(zip(t["turn_index"].astype(int), texts, strict=True)))
        return self._texts[1].get(int(turn_index), "")

    def info(self, conversation_id: str | None = None) -> dict[str, Any]:
        """The conversations row of a conversation (``model``, ``source``, parsed ``meta``...)."""
        row = self.project.corpus.conversation_meta(conversation_id or self.conversation_id)
        return row if isinstance(row, dict) else {}

    def meta(self, conversation_id: str | None = None) -> dict[str, Any]:
        """The conversation's meta dict (``content_note`` etc.); empty when there is none."""
        meta = self.info(conversation_id).get("meta")
        if isinstance(meta, str):
            meta = json.loads(meta) if meta.strip() else {}
        return meta if isinstance(meta, dict) else {}

    def is_reliability(self, conversation_id: str | None = None) -> bool:
        """Whether a conversation is in the reliability sample (cues are never shown there)."""
        return bool(self.project.is_reliability(conversation_id or self.conversation_id))

    def codes_for(self, unit: str, role: str | None = None) -> list[Any]:
        """The codebook codes a coder may set on a unit (turn codes: for that role)."""
        return list(self.codebook.codes_for(unit, role))

    def status(self, conversation_id: str | None = None) -> str | None:
        """``done``, ``skipped`` or None for a conversation."""
        got = self._labels.get(
            ("conversation", conversation_id or self.conversation_id, None, "_status")
        )
        return got[0] if got else None

    def value(self, code_id: str, turn_index: int | None = None) -> str | None:
        """The current value of a code on a unit of the open conversation (None: not set)."""
        got = self._labels.get(self._key(code_id, turn_index))
        return got[0] if got else None

    def labels(self, conversation_id: str | None = None) -> dict[Key, tuple[str, str | None]]:
        """Current labels (value, note) of one conversation, pending changes included."""
        cid = conversation_id or self.conversation_id
        return {k: v for k, v in self._labels.items() if k[1] == cid}

    def evidence(self, code_id: str, turn_index: int) -> list[tuple[int, int]]:
        """The evidence spans ``(start, end)`` of a code on a turn of the open conversation."""
        return [
            (x["start"], x["end"]) for x in self._evidence.get(self._key(code_id, turn_index), ())
        ]

    def evidence_labels(self, conversation_id: str | None = None) -> dict[Key, Spans]:
        """The evidence spans of one conversation's labels, pending changes included."""
        cid = conversation_id or self.conversation_id
        return {k: v for k, v in self._evidence.items() if k[1] == cid}

    def progress(self) -> tuple[int, int]:
        """(finished, total): conversations of the queue marked done or skipped."""
        return sum(self.status(c) in FINISHED for c in self.queue), len(self.queue)

    def resume_index(self) -> int:
        """Position of the first conversation in the queue not yet done or skipped."""
        for i, cid in enumerate(self.queue):
            if self.status(cid) not in FINISHED:
                return i
        return len(self.queue) - 1

    def elapsed_ms(self) -> int:
        """Milliseconds since the open conversation was opened."""
        return int((self._clock() - self._opened_at) * 1000)

    # --- navigation ---------------------------------------------------------------------------
    def goto(self, target: int | str) -> str:
        """Open a conversation of the queue by position or id; returns its id."""
        if isinstance(target, str):
            if target not in self.queue:
                raise WidgetError(Errors.E603.format(conversation_id=target))
            target = self.queue.index(target)
        if not 0 <= target < len(self.queue):
            raise WidgetError(Errors.E604.format(index=target, n=len(self.queue)))
        self.index = target
        self._opened_at = self._clock()
        self.reached_end = False
        self.refresh_suggestions()
        return self.conversation_id

    def next(self, *, finish: bool = False) -> list[str]:
        """Move to the next conversation; with ``finish`` (and the last turn reached) mark this
        one done first. At the end of the queue, go to the first unfinished conversation.
        Returns the ids of the events written."""
        ids: list[str] = []
        if finish and self.reached_end and self.status() not in FINISHED:
            ids = self.mark_done()
        if self.index + 1 < len(self.queue):
            self.goto(self.index + 1)
        elif (first_open := self.resume_index()) != self.index:
            self.goto(first_open)  # at the end of the queue: back to the first unfinished one
        return ids

    def focus(self, turn_index: int) -> None:
        """Record that the coder focused a turn (reaching the last one allows ``finish``)."""
        if int(turn_index) >= max(self.roles(), default=0):
            self.reached_end = True

    def previous(self) -> None:
        """Move to the previous conversation of the queue (stays at the first)."""
        if self.index > 0:
            self.goto(self.index - 1)

    # --- changes ------------------------------------------------------------------------------
    def set(
        self,
        code_id: str,
        value: str | list[str] | None,
        *,
        turn_index: int | None = None,
        note: str | None = None,
        elapsed_ms: int | None = None,
        evidence: Any = KEEP,
    ) -> list[str]:
        """Set (or, with ``value=None``, clear) a code on a unit of the open conversation.

        Parameters
        ----------
        code_id : str
            A codebook code, or a system code (``_status``, ``_flag``, ``_memo``).
        value : str, list of str or None
            A value id; a list for set codes (stored as a sorted JSON list); None clears.
        turn_index : int, optional
            The turn; None for the conversation unit.
        note : str, optional
            Stored in the event's note (skip reason, flag reason).
        elapsed_ms : int, optional
            Time on the unit before this change (the front end knows the focus); by default
            the time since the conversation was opened.
        evidence : list, optional
            The code's evidence spans on the turn, replacing its current ones: ``(start, end)``
            pairs or ``{"start", "end"}`` mappings, offsets into the turn's text (code points).
            By default a code keeps its spans (a clear drops them).

        Returns
        -------
        list of str
            Ids of every event the store acknowledged (pending ones from earlier included).

        Raises
        ------
        WidgetError
            E605 for a value the code does not allow, E620 for a code that needs evidence
            and has none, E621 for a span outside the turn's text, E606 when the store failed
            (the change is kept in ``pending`` and retried with the next change).
        """
        key = self._key(code_id, turn_index)
        value = self._checked(code_id, value, turn_index)
        old, old_spans = self._labels.get(key), self._evidence.get(key, ())
        spans = self._spans(key, value, evidence, old_spans)
        event = self._event(key, value, note, elapsed_ms, spans)  # refused: nothing changes
        self._undo.append((key, old, old_spans))
        return self._write(event, note)

    def mark(
        self, code_id: str, start: int, end: int, *, turn_index: int, value: str | None = None,
        **kw: Any,
    ) -> list[str]:  # fmt: skip
        """Add an evidence span ``[start, end)`` of the turn's text to a code, setting the code
        (to ``value``, by default its current value or a binary code's present value)."""
        code = self.codebook.code(code_id)
        current = self.value(code_id, turn_index)
        if value is None:
            value = current if current is not None else _present(code)
        spans = [*self.evidence(code_id, turn_index), (start, end)]
        return self.set(code_id, value, turn_index=turn_index, evidence=spans, **kw)

    def unmark(
        self, code_id: str, start: int, end: int, *, turn_index: int, **kw: Any
    ) -> list[str]:
        """Remove the evidence spans of a code on a turn that overlap ``[start, end)``."""
        current = self.value(code_id, turn_index)
        kept = [(s, e) for s, e in self.evidence(code_id, turn_index) if e <= start or s >= end]
        return self.set(code_id, current, turn_index=turn_index, evidence=kept, **kw)

    def toggle(self, code_id: str, *, turn_index: int | None = None, **kw: Any) -> list[str]:
        """Switch a binary code on (its present value) or off (a ``clear`` event)."""
        code = self.codebook.code(code_id)
        on = self.value(code_id, turn_index) == code.present_value
        return self.set(code_id, None if on else code.present_value, turn_index=turn_index, **kw)

    def memo(self, text: str, *, turn_index: int | None = None, **kw: Any) -> list[str]:
        """Write (or, when empty, clear) the memo of a unit."""
        text = (text or "").strip()
        return self.set("_memo", text or None, turn_index=turn_index, **kw)

    def flag(self, on: bool = True, *, note: str | None = None, **kw: Any) -> list[str]:
        """Flag a unit for discussion (or remove the flag)."""
        return self.set("_flag", "1" if on else None, note=note, **kw)

    def mark_done(self, **kw: Any) -> list[str]:
        """Mark the open conversation done (``_status`` = done)."""
        return self.set("_status", "done", **kw)

    def skip(self, reason: str, **kw: Any) -> list[str]:
        """Skip the open conversation with a reason (``_status`` = skipped, note = reason)."""
        if not (reason or "").strip():
            raise WidgetError(Errors.E607.format(conversation_id=self.conversation_id))
        return self.set("_status", "skipped", note=reason.strip(), **kw)

    def undo(self) -> list[str]:
        """Undo the last change made in the open conversation; [] when there is none."""
        for pos in range(len(self._undo) - 1, -1, -1):
            key, old, old_spans = self._undo[pos]
            if key[1] == self.conversation_id:
                del self._undo[pos]
                value, note = old if old else (None, None)
                spans = old_spans if value is not None else ()
                return self._write(self._event(key, value, note, None, spans), note)
        return []

    def retry(self) -> list[str]:
        """Send the pending events again; returns the acknowledged ids."""
        return self._flush()

    # --- internals ----------------------------------------------------------------------------
    def _key(self, code_id: str, turn_index: int | None) -> Key:
        unit = "conversation" if turn_index is None else "turn"
        return (
            unit,
            self.conversation_id,
            None if turn_index is None else int(turn_index),
            code_id,
        )

    def _checked(self, code_id: str, value: Any, turn_index: int | None) -> str | None:
        """Validate before anything is queued, so a bad value never blocks the pending queue."""
        role = None if turn_index is None else self.roles().get(int(turn_index))
        if turn_index is not None and role is None:
            raise WidgetError(Errors.E605.format(code_id=code_id, value=value, problem="no turn"))
        if code_id.startswith("_"):
            return _checked_system(code_id, value, turn_index)
        code = self.codebook.code(code_id)
        unit = "conversation" if turn_index is None else "turn"
        if code.unit != unit:
            raise WidgetError(Errors.E605.format(code_id=code_id, value=value, problem=unit))
        if role is not None and role not in code.applies_to:
            raise WidgetError(Errors.E605.format(code_id=code_id, value=value, problem=role))
        if value is None:
            return None
        if code.level == "set":
            items = json.loads(value) if isinstance(value, str) else value
            value = code.encode_set(sorted({str(v) for v in items}))
        try:
            code.check_value(value)
        except CodebookError as err:
            raise WidgetError(
                Errors.E605.format(code_id=code_id, value=value, problem=err)
            ) from err
        return value

    def _spans(self, key: Key, value: str | None, evidence: Any, old: Spans) -> Spans:
        """The evidence spans a change saves: kept, or given (checked against the turn's text,
        hashed); E620 when the code needs evidence and would have none."""
        unit, _cid, turn_index, code_id = key
        if value is None:
            return ()
        if evidence is KEEP:
            spans = old
        else:
            text = self.text(turn_index) if turn_index is not None else ""
            known = {(x["start"], x["end"]): x for x in old}
            made: dict[tuple[int, int], dict[str, Any]] = {}
            for item in evidence or ():
                start, end = _bounds(item, code_id)
                try:
                    made[(start, end)] = known.get((start, end)) or evidence_span(text, start, end)
                except LabelStoreError as err:
                    raise WidgetError(
                        Errors.E621.format(code_id=code_id, span=f"[{start}, {end})", problem=err)
                    ) from err
            spans = tuple(made[k] for k in sorted(made))
        code = None if code_id.startswith("_") else self.codebook.code(code_id)
        if code is not None and unit == "turn" and code.requires_evidence(value) and not spans:
            raise WidgetError(
                Errors.E620.format(label=code.label, code_id=code_id, turn=turn_index)
            )
        return spans

    def _event(
        self,
        key: Key,
        value: str | None,
        note: str | None,
        elapsed_ms: int | None,
        spans: Spans = (),
    ) -> dict[str, Any]:
        """The label event of a change, checked and stamped by the store (E605 if refused)."""
        unit, cid, turn_index, code_id = key
        event = {
            "annotator_id": self.annotator,
            "session_id": self.session_id,
            "unit": unit,
            "conversation_id": cid,
            "turn_index": turn_index,
            "code_id": code_id,
            "value": value,
            "op": "clear" if value is None else "set",
            "elapsed_ms": int(self.elapsed_ms() if elapsed_ms is None else elapsed_ms),
            "context": "full",
            "note": note,
            "evidence": [dict(x) for x in spans] or None,
            "exposure": self.exposure(code_id, turn_index, conversation_id=cid),
        }
        try:
            (checked,) = self.project.store.validate([event])
        except LabelStoreError as err:
            reason = err.failure_cases["reason"].iloc[0] if err.failure_cases is not None else err
            raise WidgetError(
                Errors.E605.format(code_id=code_id, value=value, problem=reason)
            ) from err
        return checked

    def _write(self, event: dict[str, Any], note: str | None) -> list[str]:
        key = (event["unit"], event["conversation_id"], event["turn_index"], event["code_id"])
        if event["value"] is None:
            self._labels.pop(key, None)
        else:
            self._labels[key] = (event["value"], note)
        if event.get("evidence"):
            self._evidence[key] = tuple(event["evidence"])
        else:
            self._evidence.pop(key, None)
        self.pending.append(event)
        return self._flush()

    def _flush(self) -> list[str]:
        """Append every pending event; on failure keep them all and raise E606."""
        if not self.pending:
            return []
        batch = list(self.pending)
        try:
            self.project.append(batch)
        except Exception as err:  # any store failure: keep the events, tell the coder
            self.last_error = f"{type(err).__name__}: {err}"
            raise WidgetError(Errors.E606.format(n=len(batch), error=self.last_error)) from err
        del self.pending[: len(batch)]
        self.last_error = None
        for e in batch:  # saved: what the setting reveals after a coder's own label
            self._saved(e)
        return [e["event_id"] for e in batch]

    # --- suggestions --------------------------------------------------------------------------
    def refresh_suggestions(self) -> dict[str, Any]:
        """Read the project's suggestions setting again (a lead may change it during a
        session); called on opening a conversation. Returns the setting."""
        setting = dict(self.project.suggestions)
        if setting.get("coder") != self._suggest.get("coder"):
            self._llm = None
        if setting.get("mode", "off") != "off" and not self._suggest.get("history_read"):
            self._read_revealed()
            setting["history_read"] = True
        elif self._suggest.get("history_read"):
            setting["history_read"] = True
        self._suggest = setting
        return {k: setting.get(k) for k in ("mode", "coder", "version")}

    def suggestion_mode(self, conversation_id: str | None = None) -> str:
        """What applies to a conversation: ``off``, ``after`` or ``before`` (the setting, but
        ``after`` on the reliability sample when the setting is ``before``)."""
        mode = self._suggest.get("mode", "off")
        if mode == "off" or not self._suggest.get("coder"):
            return "off"
        if mode == "before" and self.is_reliability(conversation_id):
            return "after"
        return str(mode)

    def suggestions(self, conversation_id: str | None = None) -> dict[tuple, Suggestion]:
        """The LLM coder's labels this coder may see now in a conversation (default: the open
        one), by ``(turn_index, code_id)`` (turn_index None for the conversation unit).

        Empty when the setting is ``off``. With ``before`` (outside the reliability sample)
        every label of the LLM coder in the conversation; with ``after`` (and on the
        reliability sample) only those of units and codes whose own label this coder has
        saved, or all of them once the conversation is done or skipped.
        """
        cid = conversation_id or self.conversation_id
        mode = self.suggestion_mode(cid)
        if mode == "off":
            return {}
        out = {}
        for (unit, ti, code_id), sug in self._llm_labels(cid).items():
            shown = self._shown((unit, cid, ti, code_id), mode)
            if shown:
                out[(ti, code_id)] = Suggestion(**{**asdict(sug), "shown": shown})
        return out

    def suggestion(self, code_id: str, turn_index: int | None = None) -> Suggestion | None:
        """The LLM coder's label of one code on a unit of the open conversation, if this coder
        may see it now (see :meth:`suggestions`)."""
        ti = None if turn_index is None else int(turn_index)
        return self.suggestions().get((ti, code_id))

    def suggestion_payload(self, conversation_id: str | None = None) -> dict[str, Any]:
        """What a view shows of the suggestions of a conversation (JSON-ready): the mode that
        applies, the LLM coder, the visible suggestions and how many are still hidden."""
        cid = conversation_id or self.conversation_id
        mode = self.suggestion_mode(cid)
        visible = self.suggestions(cid)
        total = len(self._llm_labels(cid)) if mode != "off" else 0
        return {
            "conversation_id": cid,
            "mode": mode,
            "coder": self._suggest.get("coder") if mode != "off" else None,
            "items": [s.to_dict() for s in visible.values()],
            "hidden": total - len(visible),
        }

    def exposure(
        self, code_id: str, turn_index: int | None = None, *, conversation_id: str | None = None
    ) -> str:
        """What this coder has seen, right now, of the suggestion(s) an event on this code and
        unit concerns: ``none``, ``before`` (visible before their own label) or ``after``
        (revealed after it was saved).

        A codebook code: its own suggestion on the unit. ``_memo`` and ``_flag``: any code's
        suggestion on that unit (``before`` over ``after``). ``_status``: the suggestions of
        the labels it completes (the implicit absences of the conversation): ``before`` when
        they were shown before (setting ``before``), ``after`` when the conversation had
        already been finished (all revealed), else ``none``.
        """
        cid = conversation_id or self.conversation_id
        mode = self.suggestion_mode(cid)
        if mode == "off":
            return "none"
        unit = "conversation" if turn_index is None else "turn"
        ti = None if turn_index is None else int(turn_index)
        labels = self._llm_labels(cid)
        if not code_id.startswith("_"):
            if (unit, ti, code_id) not in labels:
                return "none"
            return self._shown((unit, cid, ti, code_id), mode) or "none"
        if code_id == "_status":
            if not labels:
                return "none"
            if mode == "before":
                return "before"
            return "after" if cid in self._finished_seen else "none"
        seen = {self._shown((u, cid, t, c), mode) for (u, t, c) in labels if u == unit and t == ti}
        return "before" if "before" in seen else ("after" if "after" in seen else "none")

    def _shown(self, key: Key, mode: str) -> str | None:
        """``before``/``after`` when the suggestion of ``key`` is visible in ``mode``, else None."""
        if mode == "before":
            return "before"
        if mode == "after" and (key in self._revealed or key[1] in self._finished_seen):
            return "after"
        return None

    def _saved(self, event: dict[str, Any]) -> None:
        """After the store acknowledged an event: reveal what the setting reveals after it."""
        code_id = str(event["code_id"])
        if code_id == "_status" and event.get("value") in FINISHED:
            self._finished_seen.add(str(event["conversation_id"]))
        elif not code_id.startswith("_"):
            self._revealed.add(
                (event["unit"], event["conversation_id"], event["turn_index"], code_id)
            )

    def _read_revealed(self) -> None:
        """What earlier sessions of this coder revealed: every code key with an event in the
        history, and every conversation ever marked done or skipped."""
        df = self.project.labels(history=True, annotator=self.annotator)
        if df is None or len(df) == 0:
            return
        cols = ["unit", "conversation_id", "turn_index", "code_id", "value"]
        for unit, cid, ti, code_id, value in df[cols].itertuples(index=False):
            code_id = str(code_id)
            if code_id == "_status" and _opt(value) in FINISHED:
                self._finished_seen.add(str(cid))
            elif not code_id.startswith("_"):
                self._revealed.add((str(unit), str(cid), _int_or_none(ti), code_id))

    def _llm_labels(self, conversation_id: str) -> dict[tuple[str, int | None, str], Suggestion]:
        """The suggesting LLM coder's current labels in a conversation (read once, for the
        queue's conversations, from that coder's own files)."""
        coder = self._suggest.get("coder")
        if not coder:
            return {}
        if self._llm is None:
            self._llm = _read_llm_labels(self.project, str(coder), builtins.set(self.queue))
        return self._llm.get(conversation_id, {})

    def pending_keys(self) -> builtins.set[Key]:
        """Keys of the changes not yet acknowledged by the store."""
        return {
            (e["unit"], e["conversation_id"], e["turn_index"], e["code_id"]) for e in self.pending
        }


def _read_llm_labels(
    project: Any, coder: str, conversations: builtins.set[str]
) -> dict[str, dict[tuple[str, int | None, str], Suggestion]]:
    """An LLM coder's current labels (and rationales) in some conversations, by conversation.

    Read through a store scoped to that coder, so only that coder's files are read (the
    coder's own session stays blind to every other coder, human or model, except this one,
    which the project's setting declares)."""
    store = LabelStore(project.path / "labels", project.codebook, annotator=coder, blind=True)
    df = store.current(coder)
    if df is None or len(df) == 0:
        return {}
    df = df[df["conversation_id"].isin(list(conversations))]
    why: dict[tuple[str, str, int | None], dict[str, str]] = {}
    memos = df[df["code_id"] == "_memo"]
    for unit, cid, ti, value in memos[
        ["unit", "conversation_id", "turn_index", "value"]
    ].itertuples(index=False):
        text = _opt(value) or ""
        if text.startswith(RATIONALE_MEMO):
            lines = text.split("\n")[1:]
            pairs = (line.split(": ", 1) for line in lines if ": " in line)
            why[(str(unit), str(cid), _int_or_none(ti))] = {c: w for c, w in pairs}
    out: dict[str, dict[tuple[str, int | None, str], Suggestion]] = {}
    codes = df[~df["code_id"].astype(str).str.startswith("_") & df["value"].notna()]
    has_evidence = "evidence" in codes.columns
    for row in codes.itertuples(index=False):
        cid, ti, unit, code_id = (
            str(row.conversation_id),
            _int_or_none(row.turn_index),
            str(row.unit),
            str(row.code_id),
        )
        spans = getattr(row, "evidence", None) if has_evidence else None
        evidence = (
            [dict(s) for s in spans] if isinstance(spans, list | tuple | np.ndarray) else None
        ) or None
        out.setdefault(cid, {})[(unit, ti, code_id)] = Suggestion(
            coder=coder,
            unit=unit,
            conversation_id=cid,
            turn_index=ti,
            code_id=code_id,
            value=str(row.value),
            rationale=why.get((unit, cid, ti), {}).get(code_id),
            evidence=evidence,
            shown="",
        )
    return out


def _checked_system(code_id: str, value: Any, turn_index: int | None) -> str | None:
    """System codes: ``_memo`` and ``_flag`` on any unit, ``_status`` on a conversation."""
    ok = code_id in ("_memo", "_flag") or (
        code_id == "_status" and turn_index is None and value in (*FINISHED, None)
    )
    if not ok:
        raise WidgetError(Errors.E605.format(code_id=code_id, value=value, problem="system"))
    return value


def _present(code: Any) -> str:
    """The value a code gets when a span is attached to it unset: a binary code's present
    value; other codes need a value (E605)."""
    if code.level == "binary":
        return str(code.present_value)
    raise WidgetError(
        Errors.E605.format(
            code_id=code.id, value=None, problem=f"a {code.level} code needs a value"
        )
    )


def _bounds(item: Any, code_id: str) -> tuple[int, int]:
    """(start, end) of a span given as a pair or a mapping with start and end (E621 if not)."""
    pair: Any = (item.get("start"), item.get("end")) if isinstance(item, dict) else item
    if isinstance(pair, list | tuple) and len(pair) == 2:
        start, end = pair
        if all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)):
            return int(start), int(end)
    raise WidgetError(
        Errors.E621.format(code_id=code_id, span=repr(item), problem="not a (start, end) pair")
    )


def _span_dict(span: Any) -> dict[str, Any]:
    """A stored span (a mapping read from parquet) as a plain dict."""
    return {"start": int(span["start"]), "end": int(span["end"]), "sha256": str(span["sha256"])}


def _opt(value: Any) -> str | None:
    """A string, or None for null-likes (None, NaN, pandas NA)."""
    if value is None:
        return None
    try:
        if value != value:  # NaN
            return None
    except TypeError:  # pandas NA compares ambiguously
        return None
    return str(value)


def _int_or_none(value: Any) -> int | None:
    """turn_index from a DataFrame cell (Int32 with NA, float with NaN, or int)."""
    text = _opt(value)
    return None if text is None else int(float(text))
