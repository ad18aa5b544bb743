"""The codebook versions a project holds, and its labels per version.

A project starts with the codebook it was created with (``codebook.yaml``, frozen: its hash is
in ``project.json``). Each migration to a new version (:mod:`annotate.project._migrate`) adds::

    codebooks/<id>-<version>.yaml     the new version's frozen copy (written once)
    migrations/m000001.json           the migration record: from, to (file, hash, modules), the
                                      map, when; written once and exclusively (the claim)
    migrations/m000001.done.json      what it did, once every migrated label is stored
    migrations/m000001.recode.parquet the units queued for recoding

The latest record's ``to`` is the project's current codebook. Every label event names the
version it was made under, and the store validates each event against that version (old
versions stay valid for the history). Reads default to the current version:
:func:`current_labels` folds the events of one version, and a conversation's ``_status = done``
carried by a migration may list codes the coder never saw (``not_coded``), whose implicit
absences :func:`drop_not_coded` removes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from annotate.codebook import load_codebook
from annotate.codebook.model import Version
from annotate.durable import check_real_path
from annotate.errors import Errors, ProjectError
from annotate.store import KEY_COLUMNS, ORDER_COLUMNS

if TYPE_CHECKING:
    from annotate.codebook import Codebook
    from annotate.store import LabelStore

CODEBOOKS_DIR = "codebooks"
MIGRATIONS_DIR = "migrations"
RECORD_FORMAT = "annotate-migration/1"
_RECORD = re.compile(r"m(\d{6,})\.json")
_KEY = list(KEY_COLUMNS)


@dataclass(frozen=True)
class Versions:
    """The codebooks of a project, oldest first (``books[-1]`` is current), with the
    migration record that introduced each later one."""

    books: tuple[Codebook, ...]
    records: tuple[dict[str, Any], ...] = ()
    _by_key: dict[tuple[str, str], Codebook] = field(default_factory=dict, repr=False)

    @property
    def current(self) -> Codebook:
        return self.books[-1]

    @property
    def older(self) -> tuple[Codebook, ...]:
        return self.books[:-1]

    def get(self, version: str | None) -> Codebook:
        """The codebook of ``version`` (``"2.0.0"`` or ``"ID 2.0.0"``; None: the current)."""
        if version is None:
            return self.current
        text = str(version).strip()
        for cb in reversed(self.books):
            if text in (str(cb.version), f"{cb.id} {cb.version}"):
                return cb
        held = ", ".join(f"{cb.id} {cb.version}" for cb in self.books)
        raise ProjectError(Errors.E340.format(version=version, held=held))

    def is_current(self, cb: Codebook) -> bool:
        return (cb.id, str(cb.version)) == (self.current.id, str(self.current.version))


def record_path(project: Path, number: int, suffix: str = ".json") -> Path:
    return project / MIGRATIONS_DIR / f"m{number:06d}{suffix}"


def record_numbers(project: Path) -> list[int]:
    """Numbers of the migration records, in order."""
    folder = project / MIGRATIONS_DIR
    check_real_path(folder, project)
    try:
        names = [n for n in folder.iterdir() if not n.name.startswith(".")]
    except FileNotFoundError:
        return []
    return sorted(int(m.group(1)) for n in names if (m := _RECORD.fullmatch(n.name)))


def read_record(project: Path, number: int) -> dict[str, Any]:
    """A migration record with its outcome (``done``: the done file, or None if unfinished)."""
    path = record_path(project, number)
    check_real_path(path, project)
    try:
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if record.get("format") != RECORD_FORMAT:
            raise ValueError(f"format {record.get('format')!r}")
    except (OSError, ValueError) as exc:
        raise ProjectError(
            Errors.E341.format(path=path, problem=f"unreadable ({exc})", hint=_restore())
        ) from exc
    done = record_path(project, number, ".done.json")
    record["done"] = json.loads(done.read_text(encoding="utf-8")) if done.exists() else None
    return record


def read_versions(project: Path, base: Codebook) -> Versions:
    """The project's codebooks: ``base`` (the one it was created with) and one per migration,
    each frozen copy checked against the hash its record holds."""
    books = [base]
    records = []
    for number in record_numbers(project):
        record = read_record(project, number)
        to = record["to"]
        path = project / to["file"]
        check_real_path(path, project)
        if not path.is_file():
            problem = f"the codebook it migrated to ({to['file']}) is missing"
            raise ProjectError(Errors.E341.format(path=path, problem=problem, hint=_restore()))
        cb = load_codebook(path, modules=list(to["modules"]))
        if cb.hash != to["hash"]:
            raise ProjectError(
                Errors.E317.format(path=path, found=cb.hash[:12], expected=to["hash"][:12])
            )
        books.append(cb)
        records.append(record)
    keys = {(cb.id, str(cb.version)): cb for cb in books}
    return Versions(tuple(books), tuple(records), keys)


def _restore() -> str:
    return "Restore it from a backup; the migration records and frozen codebooks are written once."


def version_key(cb: Codebook) -> tuple[Any, ...]:
    return Version(str(cb.version)).key


# --- labels per version -------------------------------------------------------------------------


def fold(events: pd.DataFrame) -> pd.DataFrame:
    """Current labels of an event table: the latest event per key, clears removed."""
    if events.empty:
        return events
    order = events.sort_values(list(ORDER_COLUMNS), kind="stable")
    latest = order.drop_duplicates(_KEY, keep="last")
    latest = latest[latest["op"] != "clear"]
    return latest.sort_values(_KEY, kind="stable", na_position="first").reset_index(drop=True)


def in_version(frame: pd.DataFrame, cb: Codebook) -> pd.DataFrame:
    """The rows of ``frame`` made under ``cb``'s version."""
    if frame.empty:
        return frame
    mask = (frame["codebook_id"] == cb.id) & (frame["codebook_version"] == str(cb.version))
    return frame[mask.to_numpy(dtype=bool, na_value=False)].reset_index(drop=True)


def current_labels(
    store: LabelStore, versions: Versions, version: str | None, annotator: str | None
) -> pd.DataFrame:
    """Current labels made under one codebook version (default: the current one).

    A project with one version reads the store's current labels as they are. After a
    migration, the current version's labels are the store's current labels made under it (a
    key whose latest event is of another version is not a label of this one); an older
    version's are its own events folded, as they were before the migration.
    """
    cb = versions.get(version)
    if len(versions.books) == 1:
        return store.current(annotator)
    if versions.is_current(cb):
        return in_version(store.current(annotator), cb)
    return fold(in_version(store.events(annotator), cb))


def history(
    store: LabelStore, versions: Versions, version: str | None, annotator: str | None
) -> pd.DataFrame:
    """Every event (of one version when ``version`` is given)."""
    events = store.events(annotator)
    if version is None or len(versions.books) == 1:
        return events
    return in_version(events, versions.get(version))


def not_coded(current: pd.DataFrame) -> pd.DataFrame:
    """(annotator_id, conversation_id, code_id) that a migration carried as finished although
    the coder never coded the code there (from the ``_status`` notes)."""
    status = current[current["code_id"] == "_status"]
    rows = []
    notes = status["note"].dropna()
    if notes.empty or not notes.str.contains('"not_coded"', regex=False).any():
        return pd.DataFrame(columns=["annotator_id", "conversation_id", "code_id"])
    for ann, conv, note in status[["annotator_id", "conversation_id", "note"]].itertuples(
        index=False
    ):
        if isinstance(note, str) and '"not_coded"' in note:
            try:
                codes = json.loads(note).get("not_coded") or []
            except (ValueError, AttributeError):
                continue
            rows += [(ann, conv, c) for c in codes]
    return pd.DataFrame(rows, columns=["annotator_id", "conversation_id", "code_id"])


def drop_not_coded(units: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Remove implicit absences of codes a migration marked as not coded in a conversation
    (explicit labels stay: a value carried by the migration, or set since)."""
    missing = not_coded(current)
    if missing.empty or units.empty:
        return units
    explicit = current.loc[current["code_id"].isin(missing["code_id"].unique()), _KEY]
    cand = units.reset_index(drop=True)
    hit = (
        cand[["annotator_id", "conversation_id", "code_id"]]
        .merge(missing.drop_duplicates(), how="left", indicator=True)["_merge"]
        .eq("both")
    )
    if not hit.any():
        return units
    keys = cand.loc[hit.to_numpy(), _KEY].reset_index()
    keys = keys.merge(explicit.astype(keys[_KEY].dtypes.to_dict()), on=_KEY, how="left",
                      indicator=True)  # fmt: skip
    drop = keys.loc[keys["_merge"] == "left_only", "index"].to_numpy()
    return cand.drop(index=drop).reset_index(drop=True)
