"""Calibration against gold: the comparison after each conversation and the score per code.

The calibration set, attempts and results are stored by
:class:`annotate.project.Calibration`; this module compares an attempt with gold.

* :func:`compare`: after the coder marks a conversation of the set done, the units where the
  coder and gold differ and the gold values that are present, with the gold explanation
  (the gold label's note, else gold's memo on the unit).
* :func:`score`: per code, the coder's agreement with gold over the conversations coded so
  far, computed by :func:`annotate.agreement.report` with gold as the second coder:
  Krippendorff's alpha (the code's own metric) with a conversation-bootstrap interval, Cohen's
  kappa and percent agreement. A code is *assessable* when alpha is defined (gold and the coder
  together use two or more values) and at least ``min_units`` units were coded by both.
* :func:`certify`: a complete attempt passes when every assessable code's criterion
  (``alpha`` or its interval's lower end ``alpha_low``) reaches the project's threshold and at
  least one code is assessable; the result is recorded once per attempt, and
  ``annotate project status`` shows who is certified for which codebook version.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import pandas as pd

from annotate.agreement import report
from annotate.clock import CLOCK
from annotate.errors import Errors, ProjectError
from annotate.types import GOLD_ID

if TYPE_CHECKING:
    from annotate.project import Attempt

#: gold's name in the agreement report (the report leaves annotator ``gold`` out)
REFERENCE = "gold:calibration"
_KEY = ["unit", "conversation_id", "turn_index", "code_id"]
COMPARE_COLUMNS = (
    "conversation_id", "unit", "turn_index", "role", "code_id", "label", "gold", "yours",
    "agree", "explanation",
)  # fmt: skip


def compare(attempt: Attempt, conversation_id: str, *, every_unit: bool = False) -> pd.DataFrame:
    """How the coder's labels of one finished conversation compare with gold.

    Parameters
    ----------
    attempt : annotate.project.Attempt
        The coder's calibration attempt.
    conversation_id : str
        A conversation of the set that the coder marked done (E350 otherwise: feedback before
        coding would guide the coding).
    every_unit : bool
        Every (unit, code) of the conversation; by default only disagreements and the gold
        values that are present (binary presence, every value of other levels).

    Returns
    -------
    DataFrame
        ``COMPARE_COLUMNS``: ``gold`` and ``yours`` are value ids (missing: not coded),
        ``agree`` True/False, ``explanation`` gold's reason where one was written.
    """
    if conversation_id not in attempt.finished():
        raise ProjectError(Errors.E350.format(conversation_id=conversation_id))
    cal = attempt.calibration
    cb = attempt.codebook
    gold = cal.gold_units()
    gold = gold[gold["conversation_id"] == conversation_id]
    mine = attempt.unit_labels()
    mine = mine[mine["conversation_id"] == conversation_id]
    merged = gold.rename(columns={"value": "gold"})[[*_KEY, "role", "gold"]].merge(
        mine.rename(columns={"value": "yours"})[[*_KEY, "role", "yours"]],
        on=[*_KEY, "role"],
        how="outer",
    )
    merged["agree"] = (merged["gold"] == merged["yours"]).fillna(False).astype(bool)
    absent = {c.id: c.absent_value for c in cb.codes if c.level == "binary"}
    shown = merged["code_id"].map(absent)
    present = merged["gold"].notna() & (merged["gold"] != shown.fillna("\0"))
    if not every_unit:
        merged = merged[~merged["agree"] | present.to_numpy()]
    merged["label"] = [cb.code(c).label if c in cb else c for c in merged["code_id"]]
    merged["explanation"] = _explanations(cal, conversation_id, merged)
    order = {c: i for i, c in enumerate(cb.code_ids)}
    merged = merged.assign(_o=merged["code_id"].map(order)).sort_values(
        ["turn_index", "_o"], na_position="first", kind="stable"
    )
    return merged.reindex(columns=list(COMPARE_COLUMNS)).reset_index(drop=True)


def _explanations(cal: Any, conversation_id: str, rows: pd.DataFrame) -> list[str | None]:
    """The gold label's note, else gold's ``_memo`` on the unit."""
    cur = cal.gold_labels()
    cur = cur[cur["conversation_id"] == conversation_id]
    notes: dict[tuple[Any, ...], str] = {}
    memos: dict[tuple[Any, ...], str] = {}
    for unit, turn, code, value, note in cur[
        ["unit", "turn_index", "code_id", "value", "note"]
    ].itertuples(index=False):
        key = (unit, None if pd.isna(turn) else int(turn))
        if code == "_memo":
            memos[key] = str(value)
        elif isinstance(note, str) and note.strip():
            notes[(*key, code)] = note
    out = []
    for unit, turn, code in rows[["unit", "turn_index", "code_id"]].itertuples(index=False):
        key = (unit, None if pd.isna(turn) else int(turn))
        out.append(notes.get((*key, code)) or memos.get(key))
    return out


def score(
    attempt: Attempt, *, bootstrap: int | None = None, seed: int | None = None
) -> pd.DataFrame:
    """The coder's agreement with gold per code over the conversations finished so far.

    Returns
    -------
    DataFrame
        One row per code (and role) of the agreement report: ``n_units`` (coded by both),
        ``gold_distribution``, ``percent_agreement``, ``alpha`` with ``alpha_low`` /
        ``alpha_high`` (95 % conversation bootstrap), ``cohen_kappa``, ``assessable``,
        ``criterion`` (the value compared with the threshold), ``threshold`` and ``passed``
        (missing where not assessable), ``reason`` where alpha is undefined.
    """
    settings = attempt.calibration.settings
    bootstrap = int(settings["bootstrap"] if bootstrap is None else bootstrap)
    seed = int(settings["seed"] if seed is None else seed)
    finished = set(attempt.finished())
    gold = attempt.calibration.gold_units()
    gold = gold[gold["conversation_id"].isin(finished)].assign(annotator_id=REFERENCE)
    mine = attempt.unit_labels()
    mine = mine[mine["conversation_id"].isin(finished)]
    labels = pd.concat([mine, gold], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined rows carry their reason in the table
        table = report(labels, attempt.codebook, bootstrap=bootstrap, seed=seed).table
    table = table[table["n_coders"] > 0].copy() if len(table) else table
    threshold = float(settings["threshold"])
    criterion = "alpha_low" if settings["criterion"] == "alpha_low" and bootstrap else "alpha"
    table["assessable"] = table["alpha"].notna() & (table["n_units"] >= int(settings["min_units"]))
    table["criterion"] = table[criterion]
    table["threshold"] = threshold
    table["passed"] = pd.array(
        [bool(c >= threshold) if a else pd.NA for a, c in zip(table["assessable"],
                                                               table["criterion"], strict=True)],
        dtype="boolean",
    )  # fmt: skip
    table["gold_distribution"] = [_gold_values(gold, c) for c in table["code_id"]]
    cols = ["code_id", "unit", "role", "level", "n_units", "gold_distribution",
            "percent_agreement", "alpha", "alpha_low", "alpha_high", "cohen_kappa",
            "assessable", "criterion", "threshold", "passed", "reason"]  # fmt: skip
    return table.reindex(columns=cols).reset_index(drop=True)


def _gold_values(gold: pd.DataFrame, code_id: str) -> dict[str, int]:
    values = gold.loc[gold["code_id"] == code_id, "value"]
    return {str(k): int(v) for k, v in values.value_counts().sort_index().items()}


def certify(attempt: Attempt) -> dict[str, Any]:
    """Score a complete attempt against the project's pass rule and record the result.

    Raises
    ------
    ProjectError
        E352 when conversations of the set are still to code.
    """
    todo = [c for c in attempt.record["conversations"] if c not in set(attempt.finished())]
    if todo:
        raise ProjectError(
            Errors.E352.format(
                attempt=attempt.number, coder=attempt.coder, n=len(todo),
                total=len(attempt.record["conversations"]), ids=", ".join(todo[:5]),
            )
        )  # fmt: skip
    existing = attempt.result
    if existing is not None:
        return existing
    table = score(attempt)
    settings = attempt.calibration.settings
    assessed = table[table["assessable"]]
    passed = bool(len(assessed)) and bool(assessed["passed"].all())
    cb = attempt.codebook
    result = {
        "coder": attempt.coder,
        "attempt": attempt.number,
        "codebook": {"id": cb.id, "version": str(cb.version), "hash": cb.hash},
        "settings": settings,
        "passed": passed,
        "codes_assessed": len(assessed),
        "lowest": None if assessed.empty else float(assessed["criterion"].min()),
        "failed_codes": assessed.loc[~assessed["passed"].astype(bool), "code_id"].tolist(),
        "not_assessable": table.loc[~table["assessable"], "code_id"].tolist(),
        "at": CLOCK.now().isoformat(timespec="seconds"),
        "scores": _records(table),
    }
    return attempt.calibration.save_result(attempt, result)


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    clean = table.astype(object).where(table.notna(), None)
    return [
        {k: (v if not isinstance(v, float) else round(v, 6)) for k, v in row.items()}
        for row in clean.to_dict("records")
    ]


__all__ = ["COMPARE_COLUMNS", "GOLD_ID", "REFERENCE", "certify", "compare", "score"]
