"""The versioned plan: every plan change publishes one new, complete, immutable version.

A plan version is one parquet file ``plan/v000007.parquet``: the assignment table
(``conversation_id, annotator_id, is_reliability, position``) with, in the file's metadata, the
plan (coders, per_item, reliability, reliability_coders, seed, blind, batches), the corpus it
was made for (path, counts, fingerprint), the sampling record and what changed. One file holds
both halves, so the coder list and the assignments can never disagree.

A change is a compare-and-swap: read the latest version N, compute N + 1 from it, publish it
with :func:`annotate.durable.write_file` ``exclusive=True`` (``link``: never replaces). When two
sessions change the plan at once, one wins the name and the other gets ``FileExistsError``,
reads the winner's version and computes its change again on top of it, so no change is lost.

Projects made before plan versions (``project.json`` + ``assignments.parquet``, "version 0") are
read as they are and migrated on their first plan change: version 1 is that state plus the
change.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from annotate.clock import CLOCK
from annotate.durable import check_real_path, fsync_dir, write_file
from annotate.errors import Errors, ProjectError, StorageError
from annotate.project._plan import ASSIGNMENT_COLUMNS, empty_assignments

PLAN_DIR = "plan"
LEGACY_ASSIGNMENTS = "assignments.parquet"
PLAN_FORMAT = "annotate-plan/1"
META_KEY = b"annotate.plan"
#: the plan fields every version records (the plan of project.json in the old layout)
PLAN_KEYS = ("coders", "per_item", "reliability", "reliability_coders", "seed", "blind", "batches")
_NAME = re.compile(r"v(\d{6,})\.parquet")


@dataclass(frozen=True)
class PlanState:
    """One version of the plan (``version`` 0: the old project.json + assignments layout)."""

    version: int
    plan: dict[str, Any]
    corpus: dict[str, Any]
    sampling: dict[str, Any] | None
    assignments: pd.DataFrame = field(repr=False)
    change: dict[str, Any] | None = None

    @property
    def coders(self) -> list[str]:
        return list(self.plan["coders"])

    def next(
        self,
        what: str,
        rows: pd.DataFrame | None = None,
        *,
        assignments: pd.DataFrame | None = None,
        **updates: Any,
    ) -> PlanState:
        """Version N + 1: ``rows`` appended (or the whole table given as ``assignments``),
        with ``plan`` / ``corpus`` / ``sampling`` replaced where given, and ``what`` recorded."""
        table = self.assignments if assignments is None else assignments
        if assignments is None and rows is not None and len(rows):
            table = pd.concat([table, rows], ignore_index=True)
        change = {
            "what": what,
            "at": CLOCK.now().isoformat(timespec="seconds"),
            "rows_added": len(table) - len(self.assignments),
            "from_version": self.version,
        }
        return replace(self, version=self.version + 1, assignments=table, change=change, **updates)


def plan_dir(project: Path) -> Path:
    return project / PLAN_DIR


def latest_version(project: Path) -> int | None:
    """The number of the latest plan version, or None when the project has no plan folder."""
    folder = plan_dir(project)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise ProjectError(
            Errors.E320.format(path=project, problem=f"'{folder}' is not a folder")
        ) from None
    found = [int(m.group(1)) for n in names if (m := _NAME.fullmatch(n))]
    return max(found) if found else None


def version_path(project: Path, version: int) -> Path:
    return plan_dir(project) / f"v{version:06d}.parquet"


def read_version(project: Path, version: int) -> PlanState:
    """Read one plan version (E320 when it is damaged; E003 when it is a planted link)."""
    path = version_path(project, version)
    check_real_path(path, project)
    try:
        table = pq.read_table(path)
        meta = json.loads((table.schema.metadata or {})[META_KEY])
        if meta.get("format") != PLAN_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {PLAN_FORMAT}")
        frame = _typed(table.select(list(ASSIGNMENT_COLUMNS)).to_pandas())
        plan = meta["plan"]
        missing = [k for k in PLAN_KEYS if k not in plan]
        if missing or int(meta["version"]) != version:
            raise ValueError(f"its metadata lacks {missing or 'the right version number'}")
        if len(frame) != int(meta["n_assignments"]):
            raise ValueError(f"{len(frame)} rows, {meta['n_assignments']} recorded")
    except (OSError, KeyError, ValueError, TypeError, pa.ArrowException) as exc:
        if isinstance(exc, StorageError):
            raise
        problem = f"'{path.name}' is damaged ({type(exc).__name__}: {exc})"
        raise ProjectError(Errors.E320.format(path=project, problem=problem)) from exc
    return PlanState(
        version=version,
        plan=plan,
        corpus=meta["corpus"],
        sampling=meta.get("sampling"),
        assignments=frame,
        change=meta.get("change"),
    )


def read_legacy(project: Path, doc: dict[str, Any]) -> PlanState:
    """Version 0: the plan of project.json and ``assignments.parquet`` (the old layout)."""
    path = project / LEGACY_ASSIGNMENTS
    check_real_path(path, project)
    try:
        frame = _typed(pd.read_parquet(path))
    except FileNotFoundError:
        problem = f"{LEGACY_ASSIGNMENTS} is missing"
        how = f"Restore {LEGACY_ASSIGNMENTS} from a backup: it holds who codes what."
        raise ProjectError(Errors.E311.format(path=project, problem=problem, hint=how)) from None
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        problem = f"{LEGACY_ASSIGNMENTS} is damaged ({exc})"
        raise ProjectError(Errors.E320.format(path=project, problem=problem)) from exc
    plan = {k: doc["plan"].get(k) for k in PLAN_KEYS}
    plan["batches"] = int(plan["batches"] or 1)
    return PlanState(
        version=0,
        plan=plan,
        corpus=doc["corpus"],
        sampling=doc.get("sampling"),
        assignments=frame,
    )


def publish(project: Path, state: PlanState) -> None:
    """Write ``state`` as its version, never replacing one: FileExistsError when another
    session published that version first (re-read and compute the change again)."""
    folder = plan_dir(project)
    check_real_path(folder, project)
    if not folder.is_dir():
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            from annotate.durable import storage_error

            raise storage_error(exc, folder, "create") from exc
        fsync_dir(project)
    write_file(version_path(project, state.version), version_bytes(state), exclusive=True)


def version_bytes(state: PlanState) -> bytes:
    """A plan version as the bytes of one parquet file (assignments + metadata)."""
    table = pa.Table.from_pandas(
        _typed(state.assignments)[list(ASSIGNMENT_COLUMNS)], preserve_index=False
    )
    meta = {
        "format": PLAN_FORMAT,
        "version": state.version,
        "plan": {k: state.plan[k] for k in PLAN_KEYS},
        "corpus": state.corpus,
        "sampling": state.sampling,
        "change": state.change,
        "n_assignments": table.num_rows,
    }
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[META_KEY] = json.dumps(meta, sort_keys=True).encode()
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(schema_meta), buf)
    return buf.getvalue()


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reindex(columns=list(ASSIGNMENT_COLUMNS))
    return frame.astype(empty_assignments().dtypes.to_dict()).reset_index(drop=True)


# --- consistency -------------------------------------------------------------------------------


def problems(state: PlanState) -> list[str]:
    """What is wrong with a plan (empty when it is consistent).

    * assignments for coders who are not in the coder list;
    * when the reliability sample goes to every coder (``reliability_coders`` unset), a coder
      without some of its conversations (e.g. a listed coder with an empty queue);
    * a coder assigned one conversation twice.
    """
    a = state.assignments
    coders = state.coders
    out = []
    unknown = sorted(set(a["annotator_id"].dropna()) - set(coders))
    if unknown:
        out.append(f"assignments for coder(s) {', '.join(unknown)} who are not in the coder list")
    if state.plan.get("reliability_coders") is None:
        rel = set(a.loc[a["is_reliability"], "conversation_id"])
        if rel:
            have = a[a["is_reliability"]].groupby("annotator_id")["conversation_id"].nunique()
            lacking = [c for c in coders if int(have.get(c, 0)) < len(rel)]
            if lacking:
                out.append(
                    f"coder(s) {', '.join(lacking)} lack reliability conversations that every "
                    f"coder codes ({len(rel)} in the sample)"
                )
    dup = a.duplicated(["conversation_id", "annotator_id"])
    if dup.any():
        out.append(f"{int(dup.sum())} conversation(s) assigned twice to the same coder")
    return out
