"""The annotation widget: one anywidget model per coder, rendered by ``js/annotator.js``
(bundled into ``static/annotator.js``).

Python owns the state (an :class:`AnnotationSession`); the front end sends small messages
(``model.send``) for every action and renders the synced traits. Every change is appended to the
label store before the ``ack`` message (with the event ids) goes back, so the indicator says
``saved`` only for labels that are durable on disk.

Messages from the front end (``type`` and fields):

=========  ===============================================================================
set        ``seq, code_id, value (str | list | null), turn_index (int | null), elapsed_ms``,
           optional ``note`` (the reason of a ``_flag``), optional ``evidence``: the code's
           spans on the turn, ``[{start, end}]`` offsets into ``turns.text`` (code points),
           replacing its spans (without it a code keeps them)
toggle     ``seq, code_id, turn_index, elapsed_ms`` (binary codes)
memo       ``seq, text, turn_index, elapsed_ms``
flag       ``seq, on, note, turn_index, elapsed_ms``
done       ``seq, elapsed_ms`` — mark the conversation done (and move on)
skip       ``seq, reason, elapsed_ms`` — skip it (and move on)
nav        ``seq, to``: ``"next"`` / ``"finish"`` (next, marking done after the last turn),
           ``"prev"`` or a queue position
focus      ``turn_index`` (no reply; records that the last turn was reached)
undo       ``seq``;  retry ``seq``;  pick ``annotator`` (when none was given)
score      ``seq`` — calibration mode: the score against gold so far (the ``score`` trait)
=========  ===============================================================================

Suggestions (docs/llm-coders.md, "Using LLM labels..."): the ``suggestions`` trait is
:meth:`AnnotationSession.suggestion_payload` of the open conversation, pushed with the labels
after every action, so a suggestion shown only ``after`` the coder's own label reaches the
browser only once that label is on disk (hidden ones are never sent, only their number).
Accepting a hint is an ordinary ``set`` with the suggested value.

Calibration mode (``mode="calibration"``): the session is a
:class:`~annotate.widgets.calibration.CalibrationSession` (queue = the calibration set, labels
in the attempt's own store). ``done`` (and ``nav`` ``finish`` after the last turn) marks the
conversation done and stays on it with the comparison with gold in the ``feedback`` trait; a
done conversation cannot change any more (E631); the next ``done`` or ``nav`` moves on. Once
every conversation is done the attempt is certified (``result`` trait, ``score`` its table).

Replies: ``{"type": "ack", "seq", "event_ids", "pending": n}`` or
``{"type": "error", "seq", "message", "pending": n}``.
"""

from __future__ import annotations

import math
import os
import pathlib
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from annotate.errors import AnnotateError, Errors, WidgetError
from annotate.widgets.render import code_payload, turn_payload
from annotate.widgets.session import FINISHED, AnnotationSession, Key

if TYPE_CHECKING:
    from annotate.codebook import Codebook
    from annotate.project import Project
    from annotate.types import FilePath

#: the front end, bundled by esbuild from annotate/widgets/js/ (``make bundle``)
STATIC = pathlib.Path(__file__).parent / "static"


class Annotator(anywidget.AnyWidget):
    """Code a coder's queue of conversations turn by turn, in a notebook.

    Parameters
    ----------
    project : Project or path
        The annotation project (``annotate.Project``) or its folder.
    annotator : str, optional
        The coder's id. When omitted, the widget first shows a picker of the project's coders.
    break_after_minutes : float, default 45
        Show a gentle break reminder after this many minutes of coding (0 turns it off).
    cues : bool, default False
        Start with cue highlighting on (never shown on the reliability sample).
    session_id : str, optional
        Recorded on every label event; one new id per Annotator by default.
    mode : {"annotate", "calibration"}, default "annotate"
        ``calibration``: code the project's calibration set (labels go to the coder's
        calibration attempt, never to the study's labels); after each conversation the widget
        shows where the coder differed from gold, with the explanations, and at the end the
        score per code and the certification.
    new_attempt : bool, default False
        Calibration mode: start a new attempt (e.g. a retake after failing) instead of
        resuming the open one.

    Examples
    --------
    >>> annotate.Annotator(project, annotator="alice")  # doctest: +SKIP
    >>> annotate.Annotator(project, annotator="alice", mode="calibration")  # doctest: +SKIP
    """

    _esm = STATIC / "annotator.js"  # a path: anywidget reloads it live with ANYWIDGET_HMR=1
    _css = STATIC / "annotator.css"

    annotator_id = traitlets.Unicode("").tag(sync=True)
    coders = traitlets.List(traitlets.Unicode()).tag(sync=True)
    codebook_data = traitlets.Dict().tag(sync=True)
    conversation = traitlets.Dict().tag(sync=True)
    labels = traitlets.Dict().tag(sync=True)
    progress = traitlets.Dict().tag(sync=True)
    queue_items: traitlets.List[Any] = traitlets.List().tag(sync=True)
    options = traitlets.Dict().tag(sync=True)
    save_state = traitlets.Dict({"status": "saved", "message": "", "pending": 0}).tag(sync=True)
    #: the LLM coder's suggestions the coder may see now (AnnotationSession.suggestion_payload)
    suggestions = traitlets.Dict().tag(sync=True)
    #: "annotate" or "calibration"
    mode = traitlets.Unicode("annotate").tag(sync=True)
    #: calibration mode: the attempt and the pass rule
    calibration = traitlets.Dict().tag(sync=True)
    #: calibration mode: gold vs the coder's labels of the open conversation, once it is done
    feedback = traitlets.Dict().tag(sync=True)
    #: calibration mode: the score per code against gold (on request, and at the end)
    score: traitlets.List[Any] = traitlets.List().tag(sync=True)
    #: calibration mode: the certification, once every conversation of the set is done
    result = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        project: Project | FilePath,
        annotator: str | None = None,
        *,
        break_after_minutes: float = 45,
        cues: bool = False,
        session_id: str | None = None,
        mode: str = "annotate",
        new_attempt: bool = False,
    ) -> None:
        super().__init__()
        if mode not in ("annotate", "calibration"):
            raise WidgetError(Errors.E630.format(mode=mode))
        self.mode = mode
        self._new_attempt = bool(new_attempt)
        self.project = _open_project(project, annotator)
        self.session: AnnotationSession | None = None
        self._session_id = session_id
        self.coders = list(self.project.coders)
        self.codebook_data = _codebook_payload(self.project.codebook)
        self.options = {
            "break_after_minutes": float(break_after_minutes or 0),
            "cues": bool(cues),
            "blind": True,
        }
        self.on_msg(self._on_msg)
        if annotator is not None:
            self._start(annotator)

    # --- state pushed to the front end --------------------------------------------------------
    def _start(self, annotator: str) -> None:
        if self.mode == "calibration":
            from annotate.widgets.calibration import CalibrationSession

            cal = CalibrationSession(
                self.project, annotator, new_attempt=self._new_attempt, session_id=self._session_id
            )
            self.session = cal
            rule = cal.calibration.settings
            cb = cal.codebook
            self.codebook_data = _codebook_payload(cb)
            self.calibration = {
                "attempt": cal.attempt.number,
                "codebook": f"{cb.id} {cb.version}",
                "threshold": rule["threshold"],
                "criterion": rule["criterion"],
                "min_units": rule["min_units"],
                "conversations": len(cal.queue),
            }
            existing = cal.attempt.result
            if existing is not None:  # an attempt scored already (all done): show its result
                self._push_result(existing)
        else:
            self.session = AnnotationSession(self.project, annotator, session_id=self._session_id)
        self.annotator_id = annotator
        self._push_conversation()

    def _push_conversation(self) -> None:
        s = self._require()
        cid = s.conversation_id
        rows = s.turns(cid).to_dict("records")
        info = s.info(cid)
        meta = s.meta(cid)
        turns = [turn_payload(r) for r in rows]
        conv_model = _clean(info.get("model"))
        for t in turns:  # the conversation's model stands in where a turn names none
            if t["role"] == "assistant" and not t["model"]:
                t["model"] = conv_model
        with self.hold_sync():
            self.conversation = {
                "id": cid,
                "index": s.index,
                "turns": turns,
                "content_note": str(meta.get("content_note") or "") or None,
                "reliability": s.is_reliability(cid),
                "status": s.status(cid),
            }
            self._push_feedback()
            self._push_labels()
            self.queue_items = [
                {"id": c, "status": s.status(c), "i": i} for i, c in enumerate(s.queue)
            ]

    def _push_labels(self) -> None:
        s = self._require()
        turns: dict[str, dict[str, str]] = {}
        conv: dict[str, str] = {}
        notes: dict[str, str] = {}
        for (_unit, _cid, ti, code_id), (value, note) in s.labels().items():
            (conv if ti is None else turns.setdefault(str(ti), {}))[code_id] = value
            if note:
                notes[_key_text((_unit, _cid, ti, code_id))] = note
        done, total = s.progress()
        evidence = {
            _key_text(k): [[x["start"], x["end"]] for x in spans]
            for k, spans in s.evidence_labels().items()
        }
        self.labels = {
            "conversation_id": s.conversation_id,
            "c": conv,
            "t": turns,
            "notes": notes,
            "ev": evidence,
            "unsaved": sorted(_key_text(k) for k in s.pending_keys()),
        }
        self.progress = {"done": done, "total": total, "index": s.index}
        self.save_state = {
            "status": "error" if s.pending else "saved",
            "message": s.last_error or "",
            "pending": len(s.pending),
        }
        self.suggestions = _plain(s.suggestion_payload())

    # --- calibration mode ---------------------------------------------------------------------
    def _calibration(self) -> Any:
        """The calibration session (calibration mode only)."""
        from annotate.widgets.calibration import CalibrationSession

        s = self._require()
        return s if isinstance(s, CalibrationSession) else None

    def _push_feedback(self) -> None:
        """Gold vs the coder's labels of the open conversation, once the coder finished it."""
        cal = self._calibration()
        if cal is None or cal.status() not in FINISHED:
            self.feedback = {}
            return
        rows = _records(cal.feedback())
        self.feedback = {"conversation_id": cal.conversation_id, "rows": rows}

    def _push_result(self, result: dict[str, Any]) -> None:
        result = _plain(result)
        self.result = result
        self.score = list(result.get("scores") or [])

    def _finish_calibration(self, s: Any, elapsed_ms: Any) -> list[str]:
        """Mark the open calibration conversation done and stay on it (the feedback shows);
        certify the attempt once the set is complete."""
        ids = s.mark_done(elapsed_ms=elapsed_ms)
        if s.complete:
            self._push_result(s.certify())
        return ids

    def _check_open(self, s: Any, kind: str) -> None:
        """A calibration conversation the coder finished cannot change (gold was shown)."""
        if kind in ("set", "toggle", "memo", "flag", "undo") and s.status() in FINISHED:
            raise WidgetError(Errors.E631.format(conversation_id=s.conversation_id))

    def _require(self) -> AnnotationSession:
        if self.session is None:
            raise WidgetError(Errors.E609.format(coders=", ".join(self.coders)))
        return self.session

    # --- messages from the front end ----------------------------------------------------------
    def _on_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any = None) -> None:
        """The comm handler: run one action, push the new state, then ack (or report)."""
        if not isinstance(content, dict):
            return
        kind, seq = content.get("type"), content.get("seq")
        if kind == "focus":
            if self.session is not None:
                self.session.focus(int(content.get("turn_index") or 0))
            return
        try:
            event_ids, moved = self.handle(content)
        except Exception as err:  # shown in the widget, never swallowed (the kernel has no UI)
            text = str(err) if isinstance(err, AnnotateError) else Errors.E610.format(error=err)
            with self.hold_sync():
                if self.session is not None:
                    self._push_labels()
                    self.save_state = {**self.save_state, "status": "error", "message": text}
            pending = len(self.session.pending) if self.session else 0
            self.send({"type": "error", "seq": seq, "message": text, "pending": pending})
            if not isinstance(err, AnnotateError):
                raise  # a bug: also let the comm machinery log it with its traceback
            return
        with self.hold_sync():
            if moved:
                self._push_conversation()
            elif self.session is not None:
                self._push_labels()
        pending = len(self.session.pending) if self.session else 0
        self.send({"type": "ack", "seq": seq, "event_ids": event_ids, "pending": pending})

    def handle(self, content: dict[str, Any]) -> tuple[list[str], bool]:
        """Run one front-end action on the session.

        Parameters
        ----------
        content : dict
            A message as the front end sends it (see the module docstring).

        Returns
        -------
        (event_ids, moved)
            The acknowledged event ids and whether another conversation was opened.
        """
        kind = content.get("type")
        if kind == "pick":
            self._start(str(content.get("annotator") or ""))
            return [], True
        s = self._require()
        cal = self._calibration()
        if cal is not None:
            got = self._calibration_action(cal, content)
            if got is not None:
                return got
        ti = content.get("turn_index")
        kw = {
            "turn_index": None if ti is None else int(ti),
            "elapsed_ms": content.get("elapsed_ms"),
        }
        if kind == "set":
            note = content.get("note")
            if "evidence" in content:
                kw["evidence"] = content["evidence"] or []
            return s.set(str(content["code_id"]), content.get("value"), note=note, **kw), False
        if kind == "toggle":
            return s.toggle(str(content["code_id"]), **kw), False
        if kind == "memo":
            return s.memo(str(content.get("text") or ""), **kw), False
        if kind == "flag":
            return s.flag(bool(content.get("on", True)), note=content.get("note"), **kw), False
        if kind == "done":
            ids = s.mark_done(elapsed_ms=kw["elapsed_ms"])
            s.next()
            return ids, True
        if kind == "skip":
            ids = s.skip(str(content.get("reason") or ""), elapsed_ms=kw["elapsed_ms"])
            s.next()
            return ids, True
        if kind == "undo":
            return s.undo(), False
        if kind == "retry":
            return s.retry(), False
        if kind == "nav":
            s.reached_end = s.reached_end or bool(content.get("reached_end"))
            return self._nav(s, content.get("to")), True
        raise WidgetError(Errors.E605.format(code_id="-", value=kind, problem="unknown action"))

    def _calibration_action(self, s: Any, content: dict[str, Any]) -> tuple[list[str], bool] | None:
        """What calibration mode does differently (None: as in the study)."""
        kind = content.get("type")
        self._check_open(s, str(kind))
        finished = s.status() in FINISHED
        if kind == "score":
            self.score = _records(s.score())
            return [], False
        if kind in ("done", "skip") and finished:  # the feedback was shown: go on
            s.next()
            return [], True
        if kind == "done":
            return self._finish_calibration(s, content.get("elapsed_ms")), True
        if kind == "skip":
            ids = s.skip(str(content.get("reason") or ""), elapsed_ms=content.get("elapsed_ms"))
            if s.complete:
                self._push_result(s.certify())
            return ids, True
        if kind == "nav" and content.get("to") == "finish" and not finished:
            s.reached_end = s.reached_end or bool(content.get("reached_end"))
            if s.reached_end:  # marks it done and stays: the coder sees the feedback first
                return self._finish_calibration(s, content.get("elapsed_ms")), True
        return None

    @staticmethod
    def _nav(s: AnnotationSession, to: Any) -> list[str]:
        ids: list[str] = []
        if to == "next":
            s.next()
        elif to == "finish":
            ids += s.next(finish=True)
        elif to == "prev":
            s.previous()
        else:
            s.goto(to if isinstance(to, str) else int(to))
        return ids


def _open_project(project: Project | FilePath, annotator: str | None) -> Project:
    """A Project as given, or opened from a folder path (as the coder's session when the coder
    is known, so that the project itself enforces blind mode)."""
    if isinstance(project, str | os.PathLike):
        from annotate.project import Project as _Project

        return _Project.open(project, coder=annotator)
    if hasattr(project, "queue") and hasattr(project, "append"):
        return project
    raise WidgetError(Errors.E608.format(project=type(project).__name__))


def _codebook_payload(codebook: Codebook) -> dict[str, Any]:
    """Every code with its guidance, and the ids by unit and role (codes_for)."""
    roles = ("user", "assistant", "system", "tool")
    return {
        "id": codebook.id,
        "version": codebook.version,
        "title": codebook.title,
        "codes": {c.id: code_payload(c) for c in codebook.codes},
        "turn": {r: [c.id for c in codebook.codes_for("turn", r)] for r in roles},
        "conversation": [c.id for c in codebook.codes_for("conversation")],
    }


def _plain(value: Any) -> Any:
    """A JSON-ready copy: NaN, pandas NA and numpy scalars as plain Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy scalars and arrays
        return _plain(value.tolist())
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if value is None or isinstance(value, str | int | bool):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _records(frame: Any) -> list[dict[str, Any]]:
    """A DataFrame's rows as JSON-ready dicts."""
    return [_plain(r) for r in frame.astype(object).to_dict("records")]


def _clean(value: Any) -> str | None:
    """A non-empty string, or None."""
    return str(value) if isinstance(value, str) and value.strip() else None


def _key_text(key: Key) -> str:
    """A label key as the front end names it: ``c:CODE`` or ``t:TURN:CODE``."""
    _unit, _cid, ti, code_id = key
    return f"c:{code_id}" if ti is None else f"t:{ti}:{code_id}"
