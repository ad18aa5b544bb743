"""Calibration: train and certify coders against gold labels with explanations.

Everything lives under ``<project>/calibration/``, apart from the study's labels, so that
calibration labels never enter the study's agreement, analyses or exports::

    calibration/
      settings.json               the pass rule of this project (threshold, criterion, ...)
      gold/                       a label store: the gold labels of the calibration set
                                  (annotator ``gold``; a label's note is its explanation, or
                                  the unit's ``_memo``); ``_status = done`` puts a
                                  conversation into the set
      attempts/<coder>/a0001.json  an attempt: coder, codebook version, the set's conversations
      attempts/<coder>/a0001/     a label store: the coder's labels in that attempt
      results/<coder>-a0001.json  the scored attempt (written once): per-code scores, passed

An attempt quacks like a :class:`~annotate.project.Project` for the headless annotation
session (``queue``, ``labels``, ``append``, ``store``, ``corpus``...), so the widget codes a
calibration attempt exactly as it codes the study; the comparison with gold and the scores
are computed in :mod:`annotate.adjudication.calibration` (they need the agreement cores).
"""

from __future__ import annotations

import json
import re
import warnings
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from annotate.clock import CLOCK
from annotate.durable import check_real_path, fsync_dir, write_file
from annotate.errors import Errors, ProjectError, Warnings, hint
from annotate.project import _turns, _units
from annotate.store import LabelStore
from annotate.types import GOLD_ID

if TYPE_CHECKING:
    from annotate.codebook import Codebook
    from annotate.corpus import Corpus
    from annotate.project import Project

CALIBRATION_DIR = "calibration"
#: the pass rule when a project sets none: every assessable code reaches Krippendorff's
#: alpha >= .800 against gold (the level Krippendorff 2004 recommends relying on)
DEFAULT_SETTINGS: dict[str, Any] = {
    "threshold": 0.8,
    "criterion": "alpha",  # or "alpha_low": the lower end of the bootstrap interval
    "min_units": 10,  # fewer units coded by both the coder and gold: not assessable
    "bootstrap": 1000,
    "seed": 0,
}
_CRITERIA = ("alpha", "alpha_low")
_ATTEMPT = re.compile(r"a(\d{4,})\.json")


class Calibration:
    """The calibration set, attempts and results of a project (see the module docstring)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.path = project.path / CALIBRATION_DIR

    # --- settings -------------------------------------------------------------------------
    @property
    def settings(self) -> dict[str, Any]:
        """The pass rule (defaults where the project set nothing)."""
        path = self.path / "settings.json"
        check_real_path(path, self.project.path)
        stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        return {**DEFAULT_SETTINGS, **stored}

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Set the project's pass rule: ``threshold`` (0-1), ``criterion`` (``alpha`` or
        ``alpha_low``), ``min_units`` (>= 2), ``bootstrap`` (>= 0), ``seed`` (>= 0)."""
        unknown = set(changes) - set(DEFAULT_SETTINGS)
        if unknown:
            raise ProjectError(
                Errors.E312.format(option=sorted(unknown)[0], value=changes[sorted(unknown)[0]],
                                   problem=f"use one of {', '.join(DEFAULT_SETTINGS)}")
            )  # fmt: skip
        settings = {**self.settings, **changes}
        _check_settings(settings)
        self._mkdir(self.path)
        write_file(self.path / "settings.json", json.dumps(settings, indent=2).encode() + b"\n")
        return settings

    # --- the gold set ---------------------------------------------------------------------
    @cached_property
    def gold_store(self) -> LabelStore:
        self._mkdir(self.path)
        return self._store(self.path / "gold", annotator=GOLD_ID)

    def _store(self, folder: Path, *, annotator: str, session: str | None = None) -> LabelStore:
        p = self.project
        check_real_path(folder, p.path)
        return LabelStore(
            folder,
            p.codebook,
            turns=_turns.LazyTurnIndex(lambda: p.turns),
            annotator=annotator,
            blind=True,
            versions=p._versions.older,
            session_id=session,
        )

    def add_gold(self, events: Any) -> pd.DataFrame:
        """Append gold labels (label events; ``annotator_id`` is ``gold``). The note of a label
        is its explanation; ``_status = done`` on a conversation puts it into the set (its
        binary codes left off then count as absent, as for coders). W350 when a conversation
        is also in the study's plan (the coder will meet it twice)."""
        rows = pd.DataFrame(events) if not isinstance(events, pd.DataFrame) else events.copy()
        if "annotator_id" not in rows:
            rows["annotator_id"] = GOLD_ID
        saved = self.gold_store.append(rows)
        in_plan = set(self.project.assignments["conversation_id"]) & set(rows["conversation_id"])
        if in_plan:
            shown = ", ".join(sorted(in_plan)[:5])
            warnings.warn(Warnings.W350.format(n=len(in_plan), ids=shown), stacklevel=2)
        return saved

    def add_gold_table(self, table: pd.DataFrame) -> int:
        """Gold from a unit-labels table (conversation_id, unit, turn_index, code_id, value and
        optionally ``explanation``), e.g. adjudicated gold labels; every conversation in it
        joins the set. Binary absences are left implicit. Returns the events written."""
        cb = self.project.codebook
        absent = {c.id: c.absent_value for c in cb.codes if c.level == "binary"}
        explain = table["explanation"] if "explanation" in table else [None] * len(table)
        events = []
        for row, note in zip(table.itertuples(index=False), explain, strict=True):
            if pd.isna(row.value) or absent.get(row.code_id) == row.value:
                continue
            turn = None if pd.isna(row.turn_index) else int(row.turn_index)
            note = None if note is None or pd.isna(note) or not str(note).strip() else str(note)
            events.append(_gold_event(row.conversation_id, row.unit, turn, row.code_id,
                                      str(row.value), note))  # fmt: skip
        for cid in dict.fromkeys(table["conversation_id"]):
            events.append(_gold_event(cid, "conversation", None, "_status", "done", None))
        self.add_gold(events)
        return len(events)

    def gold_labels(self) -> pd.DataFrame:
        """Current gold labels of the current codebook version (history of other versions
        kept)."""
        cur = self.gold_store.current(GOLD_ID)
        cb = self.project.codebook
        keep = (cur["codebook_id"] == cb.id) & (cur["codebook_version"] == str(cb.version))
        return cur[keep.to_numpy(dtype=bool, na_value=False)].reset_index(drop=True)

    @property
    def conversations(self) -> list[str]:
        """The calibration set: conversations gold marked done (current codebook version)."""
        gold = self.gold_labels()
        done = gold[(gold["code_id"] == "_status") & (gold["value"] == "done")]
        return sorted(done["conversation_id"].tolist())

    def gold_units(self) -> pd.DataFrame:
        """Gold unit labels (implicit absences made explicit) of the set."""
        return _units.unit_labels(self.gold_labels(), self.project.turns, self.project.codebook)

    # --- attempts -------------------------------------------------------------------------
    def attempts(self, coder: str) -> list[int]:
        folder = self.path / "attempts" / coder
        check_real_path(folder, self.project.path)
        if not folder.is_dir():
            return []
        return sorted(
            int(m.group(1)) for n in folder.iterdir() if (m := _ATTEMPT.fullmatch(n.name))
        )

    def attempt(self, coder: str, *, new: bool = False) -> Attempt:
        """The coder's open attempt (the latest one not yet scored, made under the current
        codebook version), or a new one (``new=True``, or none open). E351 when the
        calibration set is empty."""
        if coder not in self.project.coders:
            self.project._unknown_coder(coder)
        numbers = self.attempts(coder)
        if numbers and not new:
            last = Attempt(self, coder, numbers[-1])
            if last.result is None and last.current:
                return last
        members = self.conversations
        if not members:
            raise ProjectError(Errors.E351.format(path=self.path, hint=_gold_hint(self.project)))
        number = (numbers[-1] if numbers else 0) + 1
        cb = self.project.codebook
        record = {
            "coder": coder,
            "number": number,
            "started_at": CLOCK.now().isoformat(timespec="seconds"),
            "codebook": {"id": cb.id, "version": str(cb.version), "hash": cb.hash},
            "conversations": members,
        }
        folder = self.path / "attempts" / coder
        self._mkdir(folder)
        try:
            write_file(folder / f"a{number:04d}.json", json.dumps(record, indent=2).encode(),
                       exclusive=True)  # fmt: skip
        except FileExistsError:  # another session of this coder started it: use it
            pass
        return Attempt(self, coder, number)

    # --- results --------------------------------------------------------------------------
    def save_result(self, attempt: Attempt, result: dict[str, Any]) -> dict[str, Any]:
        """Record a scored attempt (once: a second scoring of the same attempt is refused)."""
        folder = self.path / "results"
        self._mkdir(folder)
        path = folder / f"{attempt.coder}-a{attempt.number:04d}.json"
        try:
            write_file(path, json.dumps(result, indent=2, default=str).encode() + b"\n",
                       exclusive=True)  # fmt: skip
        except FileExistsError:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        return result

    def results(self) -> list[dict[str, Any]]:
        folder = self.path / "results"
        check_real_path(folder, self.project.path)
        if not folder.is_dir():
            return []
        out = []
        for path in sorted(folder.glob("*.json")):
            out.append(json.loads(path.read_text(encoding="utf-8")))
        return out

    def certified(self) -> pd.DataFrame:
        """Per coder and codebook version: the latest scored attempt, passed or not."""
        rows = [
            {
                "annotator_id": r["coder"],
                "codebook_version": f"{r['codebook']['id']} {r['codebook']['version']}",
                "attempt": r["attempt"],
                "certified": bool(r["passed"]),
                "lowest": r.get("lowest"),
                "codes_assessed": r.get("codes_assessed"),
                "at": r["at"],
            }
            for r in self.results()
        ]
        cols = ["annotator_id", "codebook_version", "attempt", "certified", "lowest",
                "codes_assessed", "at"]  # fmt: skip
        if not rows:
            return pd.DataFrame(columns=cols)
        frame = pd.DataFrame(rows, columns=cols).sort_values(["annotator_id", "at", "attempt"])
        latest = frame.drop_duplicates(["annotator_id", "codebook_version"], keep="last")
        return latest.reset_index(drop=True)

    def _mkdir(self, folder: Path) -> None:
        check_real_path(folder, self.project.path)
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            fsync_dir(folder.parent)


class Attempt:
    """One calibration attempt of one coder: the calibration set as the coder's queue, with
    its own label store. Has what :class:`annotate.widgets.session.AnnotationSession` uses."""

    blind = True

    def __init__(self, calibration: Calibration, coder: str, number: int) -> None:
        self.calibration = calibration
        self.coder = coder
        self.number = number
        folder = calibration.path / "attempts" / coder
        self.path = folder / f"a{number:04d}"
        self.record = json.loads((folder / f"a{number:04d}.json").read_text(encoding="utf-8"))
        self.project = calibration.project
        self.codebook: Codebook = self.project.codebook_for(
            f"{self.record['codebook']['id']} {self.record['codebook']['version']}"
        )
        self.coders = [coder]

    def __repr__(self) -> str:
        return f"<calibration attempt {self.number} of {self.coder!r}>"

    @property
    def current(self) -> bool:
        """Made under the project's current codebook version."""
        cb = self.project.codebook
        return (cb.id, str(cb.version)) == (self.codebook.id, str(self.codebook.version))

    @cached_property
    def store(self) -> LabelStore:
        return self.calibration._store(self.path, annotator=self.coder)

    @property
    def corpus(self) -> Corpus:
        return self.project.corpus

    @property
    def turns(self) -> pd.DataFrame:
        return self.project.turns

    def queue(self, annotator: str) -> list[str]:
        if annotator != self.coder:
            self.project._unknown_coder(annotator)
        return list(self.record["conversations"])

    def is_reliability(self, conversation_id: str) -> bool:
        return False

    @property
    def suggestions(self) -> dict[str, Any]:
        """Calibration never shows an LLM coder's labels: the coder is tested alone."""
        return {"mode": "off", "coder": None, "version": 0}

    @property
    def coder_kinds(self) -> dict[str, str]:
        return {self.coder: "human"}

    def labels(self, history: bool = False, annotator: str | None = None) -> pd.DataFrame:
        return self.store.events(annotator) if history else self.store.current(annotator)

    def append(self, events: Any) -> pd.DataFrame:
        return self.store.append(events)

    def unit_labels(self) -> pd.DataFrame:
        return _units.unit_labels(self.store.current(self.coder), self.turns, self.codebook)

    def finished(self) -> list[str]:
        """Conversations of the set the coder marked done (or skipped)."""
        cur = self.store.current(self.coder)
        return sorted(set(cur.loc[cur["code_id"] == "_status", "conversation_id"]))

    @property
    def complete(self) -> bool:
        return set(self.record["conversations"]) <= set(self.finished())

    @property
    def result(self) -> dict[str, Any] | None:
        path = self.calibration.path / "results" / f"{self.coder}-a{self.number:04d}.json"
        return dict(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else None


def _gold_event(
    cid: str, unit: str, turn: int | None, code: str, value: str, note: str | None
) -> dict[str, Any]:
    return {
        "annotator_id": GOLD_ID,
        "unit": unit,
        "conversation_id": cid,
        "turn_index": turn,
        "code_id": code,
        "value": value,
        "note": note,
    }


def _check_settings(s: dict[str, Any]) -> None:
    def bad(option: str, problem: str) -> ProjectError:
        return ProjectError(Errors.E312.format(option=option, value=s[option], problem=problem))

    t = s["threshold"]
    if isinstance(t, bool) or not isinstance(t, int | float) or not -1 <= t <= 1:
        raise bad("threshold", "use a number from -1 to 1, e.g. 0.8")
    if s["criterion"] not in _CRITERIA:
        raise bad("criterion", f"use one of {', '.join(_CRITERIA)}")
    for option, low in (("min_units", 2), ("bootstrap", 0), ("seed", 0)):
        v = s[option]
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise bad(option, f"use a whole number, {low} or more")


def _gold_hint(project: Project) -> str:
    return hint(
        "Add gold with annotate.project.Calibration(p).add_gold(events) (mark each "
        "conversation _status = done).",
        f"Add gold with `annotate calibrate {project.path} --gold FILE.jsonl` or "
        f"`--gold-from-adjudication IDS`.",
    )
