"""CLI command of calibration: ``annotate calibrate PROJECT`` (registered by annotate.cli).

Set up the calibration set (gold labels with explanations), the project's pass rule, and
score or certify a coder's attempt (the coding itself happens in the widget's calibration
mode or a :class:`annotate.widgets.calibration.CalibrationSession`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pandas as pd

from annotate.cli._printer import emit_json, emit_table, good, info, warn
from annotate.errors import Errors, ProjectError


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def gold_from_adjudication(project: Any, ids: list[str]) -> pd.DataFrame:
    """Gold of these conversations (adjudicated where adjudicated, else the coders' strict
    majority), with each adjudicated unit's memo as its explanation."""
    from annotate.adjudication import gold_labels

    gold = gold_labels(project, rule="majority", tie="none")
    gold = gold[gold["conversation_id"].isin(ids) & gold["value"].notna()].copy()
    memos: dict[tuple[Any, ...], str] = {}
    adjudicated = project.labels(annotator="gold")
    for unit, conv, turn, code, note in adjudicated[
        ["unit", "conversation_id", "turn_index", "code_id", "note"]
    ].itertuples(index=False):
        if isinstance(note, str) and note.startswith("{"):
            memo = json.loads(note).get("memo")
            if memo:
                memos[(unit, conv, None if pd.isna(turn) else int(turn), code)] = memo
    gold["explanation"] = [
        memos.get((u, c, None if pd.isna(t) else int(t), k))
        for u, c, t, k in gold[["unit", "conversation_id", "turn_index", "code_id"]].itertuples(
            index=False
        )
    ]
    return gold


def calibrate_cli(
    directory: str,
    *,
    coder: str | None = None,
    gold: str | None = None,
    from_adjudication: str | None = None,
    settings: dict[str, Any],
    new_attempt: bool = False,
    bootstrap: int | None = None,
    as_json: bool = False,
) -> None:
    from annotate.adjudication.calibration import certify, score
    from annotate.project import Calibration, Project

    project = Project.open(directory)
    cal = Calibration(project)
    doc: dict[str, Any] = {"project": str(project.path)}
    if settings:
        doc["settings"] = cal.configure(**settings)
    if gold is not None:
        path = Path(gold)
        if not path.is_file():
            raise ProjectError(Errors.E353.format(path=path, problem="does not exist"))
        try:
            events = pd.read_json(path, lines=True, dtype=False)
        except ValueError as exc:
            problem = f"is not JSON lines ({exc})"
            raise ProjectError(Errors.E353.format(path=path, problem=problem)) from exc
        doc["gold_events"] = len(cal.add_gold(events))
    if from_adjudication is not None:
        ids = [c.strip() for c in from_adjudication.split(",") if c.strip()]
        doc["gold_events"] = cal.add_gold_table(gold_from_adjudication(project, ids))
    doc["set"] = cal.conversations
    doc["rule"] = cal.settings
    if coder is not None:
        attempt = cal.attempt(coder, new=new_attempt)
        table = score(attempt, bootstrap=bootstrap)
        doc["attempt"] = {
            "number": attempt.number,
            "codebook": attempt.record["codebook"],
            "done": len(attempt.finished()),
            "total": len(attempt.record["conversations"]),
        }
        doc["scores"] = _records(table)
        if attempt.complete:
            doc["result"] = certify(attempt)
    doc["certified"] = _records(cal.certified())
    if as_json:
        emit_json(doc)
        return
    _print(doc)


def _print(doc: dict[str, Any]) -> None:
    if "gold_events" in doc:
        good(f"{doc['gold_events']} gold event(s) added")
    rule = doc["rule"]
    info(
        f"calibration set: {len(doc['set'])} conversation(s); pass rule: every assessable code "
        f"has {rule['criterion']} >= {rule['threshold']} (assessable: >= {rule['min_units']} "
        "units coded by both, alpha defined)"
    )
    if "attempt" in doc:
        a = doc["attempt"]
        info(f"attempt {a['number']} ({a['codebook']['id']} {a['codebook']['version']}): "
             f"{a['done']} of {a['total']} conversation(s) done")  # fmt: skip
        table = pd.DataFrame(doc["scores"])
        if len(table):
            view = table[["code_id", "role", "n_units", "alpha", "alpha_low", "alpha_high",
                          "percent_agreement", "passed"]].copy()  # fmt: skip
            view["passed"] = [
                "-" if p is None else ("pass" if p else "FAIL") for p in table["passed"]
            ]
            info("")
            emit_table(view.round(3), title="agreement with gold per code")
        result = doc.get("result")
        if result is None:
            info("")
            info("not certified yet: finish every conversation of the set")
        elif result["passed"]:
            good(f"PASS: certified for {a['codebook']['id']} {a['codebook']['version']} "
                 f"({result['codes_assessed']} code(s) assessed)")  # fmt: skip
        else:
            warn(f"FAIL: below the threshold on {', '.join(result['failed_codes']) or 'no code'}"
                 + ("" if result["codes_assessed"] else " (no code was assessable)"))  # fmt: skip
    certified = pd.DataFrame(doc["certified"])
    if len(certified):
        info("")
        emit_table(certified, title="certified coders per codebook version")


def register(main: click.Group) -> None:
    """Add the command to the main group."""

    @main.command("calibrate")
    @click.argument("directory", metavar="PROJECT")
    @click.option("--coder", default=None, help="Score (and, when complete, certify) this coder.")
    @click.option(
        "--gold",
        default=None,
        help="Add gold labels (JSON lines of label events; a label's note is its explanation; "
        "_status = done puts a conversation in the set).",
    )
    @click.option(
        "--gold-from-adjudication",
        "from_adjudication",
        default=None,
        metavar="IDS",
        help="Add these conversations (comma-separated) with the project's adjudicated gold "
        "(else the coders' majority) and the adjudication memos as explanations.",
    )
    @click.option("--threshold", type=float, default=None, help="Pass threshold (e.g. 0.8).")
    @click.option(
        "--criterion",
        type=click.Choice(["alpha", "alpha_low"]),
        default=None,
        help="Compare alpha, or the lower end of its bootstrap interval, with the threshold.",
    )
    @click.option("--min-units", type=int, default=None, help="Units a code needs to be assessed.")
    @click.option("--new-attempt", is_flag=True, help="Start a new attempt for --coder.")
    @click.option("--bootstrap", type=int, default=None, help="Resamples (default: the rule's).")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
    def calibrate_command(
        directory, coder, gold, from_adjudication, threshold, criterion, min_units,
        new_attempt, bootstrap, as_json,
    ):  # fmt: skip
        """Calibrate coders against gold: set up the calibration set and the pass rule, and
        score a coder's attempt per code (alpha against gold with a bootstrap interval; PASS or
        FAIL once every conversation of the set is done)."""
        settings = {
            k: v
            for k, v in (("threshold", threshold), ("criterion", criterion),
                         ("min_units", min_units))
            if v is not None
        }  # fmt: skip
        calibrate_cli(
            directory,
            coder=coder,
            gold=gold,
            from_adjudication=from_adjudication,
            settings=settings,
            new_attempt=new_attempt,
            bootstrap=bootstrap,
            as_json=as_json,
        )
