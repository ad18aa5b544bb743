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
=========  ===============================================================================

Replies: ``{"type": "ack", "seq", "event_ids", "pending": n}`` or
``{"type": "error", "seq", "message", "pending": n}``.
"""

from __future__ import annotations

import os
import pathlib
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from annotate.errors import AnnotateError, Errors, WidgetError
from annotate.widgets.render import code_payload, turn_payload
from annotate.widgets.session import AnnotationSession, Key

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

    Examples
    --------
    >>> annotate.Annotator(project, annotator="alice")  # doctest: +SKIP
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

    def __init__(
        self,
        project: Project | FilePath,
        annotator: str | None = None,
        *,
        break_after_minutes: float = 45,
        cues: bool = False,
        session_id: str | None = None,
    ) -> None:
        super().__init__()
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


def _clean(value: Any) -> str | None:
    """A non-empty string, or None."""
    return str(value) if isinstance(value, str) and value.strip() else None


def _key_text(key: Key) -> str:
    """A label key as the front end names it: ``c:CODE`` or ``t:TURN:CODE``."""
    _unit, _cid, ti, code_id = key
    return f"c:{code_id}" if ti is None else f"t:{ti}:{code_id}"
