"""Move a running project to a new codebook version, migrating its labels through a map.

``Project.migrate(NEW.yaml, map=MAP.yaml)`` (``annotate project migrate``):

1. **Check.** The new version must be later than the current one; the map
   (:class:`annotate.codebook.CodebookMap`) is completed and checked against both codebooks.
2. **Claim.** The new version's frozen copy (``codebooks/<id>-<version>.yaml``) and then the
   migration record (``migrations/m000001.json``) are written exclusively (``link``, never
   replacing): two sessions migrating at once cannot both win; the loser re-reads and either
   finds the same migration (and finishes it) or stops (E342). From the record on, the
   project's current codebook is the new version.
3. **Translate.** Every current label of the old version (each coder's, gold's too) goes
   through the map: unambiguous changes become new label events under the new version, with
   ``note`` naming the migration and the old code and value (``session_id`` is the migration
   id; a label's evidence spans go with it where the new code takes evidence); the old events
   stay in the history. Ambiguous ones (a split, a changed definition, a
   value mapped to null, an added code to recode) become *recode items*: the unit and the new
   code. Memos, flags and ``_status`` are carried too, except that a conversation with recode
   items is not carried as finished: it is open again, so the coder's session (which resumes
   at the first unfinished conversation of the queue) brings the coder back to it.
4. **Store.** The events are appended through a label store that validates each against the
   new version (durable when it returns); the recode items go to
   ``migrations/m000001.recode.parquet``; ``m000001.done.json`` records what was done.
5. **Plan.** A plan version (compare-and-swap, :meth:`Project._change`) records the migration
   in the plan history.

Running the same migration again is safe: a label whose target already holds a value made
after the old label is skipped, so a run interrupted at any step is finished by running it
again, and old-version labels saved by sessions that were still open during the migration are
carried on the next run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from annotate.clock import CLOCK
from annotate.codebook import CodebookMap, Recode, load_codebook, load_map
from annotate.durable import check_real_path, fsync_dir, write_file
from annotate.errors import Errors, ProjectError, hint
from annotate.project import _codebooks, _turns
from annotate.project._codebooks import CODEBOOKS_DIR, MIGRATIONS_DIR, RECORD_FORMAT
from annotate.store import LabelStore
from annotate.types import SYSTEM_CODES

if TYPE_CHECKING:
    from annotate.codebook import Codebook
    from annotate.project import Project

RECODE_COLUMNS = (
    "annotator_id", "unit", "conversation_id", "turn_index", "code_id", "scope", "reason",
    "from_code", "from_value", "migration",
)  # fmt: skip
_CHUNK = 20_000
_KEY = ["annotator_id", "unit", "conversation_id", "turn_index", "code_id"]


def migrate(
    project: Project,
    codebook: Any,
    mapping: Any = None,
    *,
    modules: Any = None,
) -> dict[str, Any]:
    """Migrate ``project`` to ``codebook`` (a path or a Codebook) with ``mapping`` (a map file,
    a :class:`CodebookMap`, or None: every code kept as it is). Returns the summary that
    ``migrations/mNNNNNN.done.json`` holds."""
    project._reload_versions(warn=False)  # another session may have migrated it meanwhile
    versions = project._versions
    new = _load_new(project, codebook, modules)
    resume = _same_as_latest(project, new)
    old = versions.get(resume["from"]["version"]) if resume else versions.current
    if not resume:
        _check_order(old, new)
    m = _load_map(mapping, old, new)
    if resume and resume["map_hash"] != m.hash:
        raise ProjectError(
            Errors.E342.format(
                path=project.path,
                problem=f"it was migrated to {new.id} {new.version} with another map "
                f"({resume['id']})",
            )
        )
    record = resume or _claim(project, old, new, m)
    project._reload_versions(warn=False)
    summary = _run(project, old, new, m, record)
    return summary


# --- steps -----------------------------------------------------------------------------------


def _load_new(project: Project, codebook: Any, modules: Any) -> Codebook:
    path = codebook.path if hasattr(codebook, "codes") else Path(codebook)
    if path is None:
        raise ProjectError(
            Errors.E312.format(option="codebook", value=codebook.id, problem="give its file")
        )
    if modules is None:
        declared = {m.id for m in load_codebook(path, modules="all").modules}
        modules = [m for m in project.modules if m in declared]
    return load_codebook(path, modules=modules)


def _same_as_latest(project: Project, new: Codebook) -> dict[str, Any] | None:
    """The latest migration record when it migrated to ``new`` (run again: finish or catch up)."""
    records = project._versions.records
    if not records:
        return None
    last = records[-1]
    if (last["to"]["id"], last["to"]["version"]) != (new.id, str(new.version)):
        return None
    if last["to"]["hash"] != new.hash:
        raise ProjectError(
            Errors.E342.format(
                path=project.path,
                problem=f"it is on {new.id} {new.version} already, with other content (hash "
                f"{last['to']['hash'][:12]}, this file {new.hash[:12]}); give the new content "
                "a new version number",
            )
        )
    return last


def _check_order(old: Codebook, new: Codebook) -> None:
    if old.id == new.id and _codebooks.version_key(new) <= _codebooks.version_key(old):
        raise ProjectError(
            Errors.E343.format(old=f"{old.id} {old.version}", new=f"{new.id} {new.version}")
        )


def _load_map(mapping: Any, old: Codebook, new: Codebook) -> CodebookMap:
    if mapping is None:
        m = CodebookMap(
            old.id, str(old.version), new.id, str(new.version), {}, {},
            "(no map given: propose one with `annotate codebook diff OLD NEW --map MAP.yaml`)",
        )  # fmt: skip
    elif isinstance(mapping, CodebookMap):
        m = mapping
    else:
        m = load_map(mapping)
    return m.resolve(old, new)


def _claim(project: Project, old: Codebook, new: Codebook, m: CodebookMap) -> dict[str, Any]:
    """Write the frozen copy and the record (exclusively); the record makes ``new`` current."""
    root = project.path
    for name in (CODEBOOKS_DIR, MIGRATIONS_DIR):
        folder = root / name
        check_real_path(folder, root)
        if not folder.is_dir():
            folder.mkdir(exist_ok=True)
            fsync_dir(root)
    assert new.path is not None  # loaded from a file by _load_new
    data = Path(new.path).read_bytes()
    rel = f"{CODEBOOKS_DIR}/{new.id}-{new.version}.yaml"
    try:
        write_file(root / rel, data, exclusive=True)
    except FileExistsError:
        if (root / rel).read_bytes() != data:
            found = load_codebook(root / rel, modules="all")
            if found.hash != load_codebook(new.path, modules="all").hash:
                raise ProjectError(
                    Errors.E342.format(
                        path=root,
                        problem=f"{rel} exists with other content; give the new content a "
                        "new version number",
                    )
                ) from None
    numbers = _codebooks.record_numbers(root)
    number = len(project._versions.records) + 1
    if numbers and numbers[-1] >= number:  # a migration was claimed since the versions were read
        latest = _codebooks.read_record(root, numbers[-1])
        raise ProjectError(
            Errors.E342.format(
                path=root,
                problem=f"another session migrated it to {latest['to']['id']} "
                f"{latest['to']['version']} meanwhile ({latest['id']}); open it again",
            )
        )
    record = {
        "format": RECORD_FORMAT,
        "number": number,
        "id": f"m{number:06d}",
        "at": CLOCK.now().isoformat(timespec="seconds"),
        "from": _end(old),
        "to": {**_end(new), "file": rel, "source": str(new.path)},
        "map": m.to_dict(),
        "map_hash": m.hash,
        "map_source": m.source,
    }
    try:
        write_file(
            _codebooks.record_path(root, number),
            json.dumps(record, indent=2).encode() + b"\n",
            exclusive=True,
        )
    except FileExistsError:
        other = _codebooks.read_record(root, number)
        same = other["to"]["hash"] == new.hash and other["map_hash"] == m.hash
        if not same:
            raise ProjectError(
                Errors.E342.format(
                    path=root,
                    problem=f"another session migrated it to {other['to']['id']} "
                    f"{other['to']['version']} meanwhile ({other['id']})",
                )
            ) from None
        return other
    record["done"] = None
    return record


def _end(cb: Codebook) -> dict[str, Any]:
    return {
        "id": cb.id,
        "version": str(cb.version),
        "hash": cb.hash,
        "modules": list(cb.active_modules),
    }


def _run(
    project: Project, old: Codebook, new: Codebook, m: CodebookMap, record: dict[str, Any]
) -> dict[str, Any]:
    store = project.store
    events = store.events()
    old_cur = _codebooks.fold(_codebooks.in_version(events, old))
    new_cur = _codebooks.fold(_codebooks.in_version(events, new))
    out, recode, stats = plan_events(old_cur, new_cur, project.turns, m, new, record["id"])
    writer = LabelStore(
        project.path / "labels",
        new,
        versions=[cb for cb in project.codebooks if cb is not new],
        session_id=record["id"],
        turns=_turns.LazyTurnIndex(lambda: project.turns),
    )
    for start in range(0, len(out), _CHUNK):
        writer.append(out[start : start + _CHUNK])
    number = int(record["number"])
    recode_path = _codebooks.record_path(project.path, number, ".recode.parquet")
    previous = _read_recode(recode_path)
    items = pd.concat([previous, recode], ignore_index=True) if len(previous) else recode
    items = items.drop_duplicates(subset=[*_KEY, "scope"], keep="first")
    write_file(recode_path, _parquet_bytes(items))
    summary = {
        "id": record["id"],
        "from": f"{old.id} {old.version}",
        "to": f"{new.id} {new.version}",
        "finished_at": CLOCK.now().isoformat(timespec="seconds"),
        "events_written": len(out),
        "recode_items": len(items),
        "runs": int((record.get("done") or {}).get("runs", 0)) + 1,
        **stats,
    }
    done_path = _codebooks.record_path(project.path, number, ".done.json")
    write_file(done_path, json.dumps(summary, indent=2).encode() + b"\n")
    _record_in_plan(project, summary, items)
    project._reload_versions(warn=False)
    return summary


def _record_in_plan(project: Project, summary: dict[str, Any], items: pd.DataFrame) -> None:
    """One plan version saying what the migration did to the coders' queues."""
    from dataclasses import replace

    reopened = items[["annotator_id", "conversation_id"]].drop_duplicates()
    per = reopened.groupby("annotator_id").size().to_dict()
    what = (
        f"migrate codebook {summary['from']} -> {summary['to']} ({summary['id']}): "
        f"{len(reopened)} conversation(s) reopened for recoding"
    )

    def compute(state: Any) -> tuple[Any, None]:
        nxt = state.next(what)
        change = {**nxt.change, "migration": summary["id"], "reopened": {
            str(k): int(v) for k, v in per.items()}}  # fmt: skip
        return replace(nxt, change=change), None

    project._change(compute)


# --- the translation ---------------------------------------------------------------------------


def plan_events(
    old_cur: pd.DataFrame,
    new_cur: pd.DataFrame,
    turns: pd.DataFrame,
    m: CodebookMap,
    new: Codebook,
    migration: str,
) -> tuple[list[dict[str, Any]], pd.DataFrame, dict[str, Any]]:
    """The label events a migration writes, the units to recode, and counts per code.

    Parameters
    ----------
    old_cur, new_cur : DataFrame
        Current labels (every column of the label events) under the old and the new version.
    turns : DataFrame
        ``conversation_id, turn_index, role`` of the corpus.
    m : CodebookMap
        The resolved map.
    new : Codebook
        The new version (events are stamped with it).
    migration : str
        The migration id, written into every event's note and session.
    """
    labels = old_cur[~old_cur["code_id"].isin(SYSTEM_CODES)]
    known = set(new.code_ids)
    cache: dict[tuple[str, str], list[Any]] = {}
    carried: dict[tuple[Any, ...], dict[str, Any]] = {}
    recodes: dict[tuple[Any, ...], dict[str, Any]] = {}
    counts: dict[str, dict[str, int]] = {}
    cols = ["annotator_id", "unit", "conversation_id", "turn_index", "code_id", "value",
            "context", "created_at", "evidence"]  # fmt: skip
    if "evidence" not in labels.columns:
        labels = labels.assign(evidence=None)
    rows = labels[cols].itertuples(index=False)
    for ann, unit, conv, turn, code, value, context, at, evidence in rows:
        ti = None if pd.isna(turn) else int(turn)
        outs = cache.get((code, value))
        if outs is None:
            outs = cache[(code, value)] = m.translate(code, value)
        tally = counts.setdefault(code, {"labels": 0, "carried": 0, "recode": 0, "dropped": 0})
        tally["labels"] += 1
        if not outs:
            tally["dropped"] += 1
        for o in outs:
            tcode = o.code_id if isinstance(o, Recode) else o[0]
            if tcode not in known:
                continue
            key = (ann, unit, conv, ti, tcode)
            src = {"from_code": code, "from_value": value, "at": at, "context": context,
                   "evidence": _spans(evidence)}  # fmt: skip
            if isinstance(o, Recode):
                recodes[key] = {**src, "reason": o.reason}
                tally["recode"] += 1
            else:
                _merge_value(carried, recodes, key, o[1], src, new)
                tally["carried"] += 1
        for added, values in m.recode_where().get(code, ()):
            if value in values and added in known:
                key = (ann, unit, conv, ti, added)
                recodes[key] = {"from_code": code, "from_value": value, "at": at,
                                "context": context, "reason": f"new code {added}"}  # fmt: skip
    for key in list(carried):
        if key in recodes:
            del carried[key]
    status = old_cur[old_cur["code_id"] == "_status"]
    everywhere = [c for c in m.recode_everywhere() if c in known]
    for ann, conv, at in status[["annotator_id", "conversation_id", "created_at"]].itertuples(
        index=False
    ):
        for code in everywhere:
            unit = new.code(code).unit
            recodes[(ann, unit, conv, None, code, "conversation")] = {
                "from_code": None, "from_value": None, "at": at, "context": "full",
                "reason": f"{code}: to code in the whole conversation",
            }  # fmt: skip
    newer, finished = _newer_index(new_cur, migration)
    carried = {k: v for k, v in carried.items() if not _superseded(newer, finished, k, v["at"])}
    recodes = {k: v for k, v in recodes.items() if not _superseded(newer, finished, k, v["at"])}
    reopened = {(k[0], k[2]) for k in recodes}
    system = _system_events(old_cur, reopened, newer, m.not_coded(), known)
    events = [_event(k, v["value"], v, migration, new, _note(migration, v)) for k, v in
              carried.items()]  # fmt: skip
    events += [_event(k, v["value"], v, migration, new, v["note"]) for k, v in system.items()]
    # statuses last: a run stopped between two appends never leaves a conversation carried
    # as finished without its labels
    events.sort(key=lambda e: (e["code_id"] == "_status", e["conversation_id"],
                               e["annotator_id"], -1 if e["turn_index"] is None else
                               e["turn_index"]))  # fmt: skip
    recode = _recode_frame(recodes, migration)
    stats = {
        "codes": counts,
        "not_coded": list(m.not_coded()),
        "recode_everywhere": everywhere,
        "reopened": len(reopened),
        "carried_finished": sum(1 for k in system if k[4] == "_status"),
    }
    return events, recode, stats


def _merge_value(
    carried: dict[tuple[Any, ...], dict[str, Any]],
    recodes: dict[tuple[Any, ...], dict[str, Any]],
    key: tuple[Any, ...],
    value: str,
    src: dict[str, Any],
    new: Codebook,
) -> None:
    """Two old labels landing on one new unit (a merge): equal values are one event; for a
    binary target presence wins (the merged code is their union); otherwise recode."""
    have = carried.get(key)
    if have is None or have["value"] == value:
        spans = _union(have["evidence"], src["evidence"]) if have else src["evidence"]
        carried[key] = {**src, "value": value, "evidence": spans,
                        "at": max(src["at"], have["at"]) if have else src["at"]}  # fmt: skip
        return
    code = new.code(key[4])
    if code.level == "binary":
        if value == code.present_value:
            carried[key] = {**src, "value": value, "at": max(src["at"], have["at"])}
        return
    recodes[key] = {**src, "reason": f"merged codes disagree ({have['value']} vs {value})"}


def _newer_index(
    new_cur: pd.DataFrame, migration: str
) -> tuple[dict[tuple[Any, ...], Any], dict[tuple[str, str], Any]]:
    """Key -> created_at of the labels already held under the new version, and (coder,
    conversation) -> when the coder finished it under the new version (statuses this
    migration wrote itself left out)."""
    newer: dict[tuple[Any, ...], Any] = {}
    finished: dict[tuple[str, str], Any] = {}
    if new_cur.empty:
        return newer, finished
    cols = [*_KEY, "created_at", "session_id"]
    for ann, unit, conv, turn, code, at, session in new_cur[cols].itertuples(index=False):
        newer[(ann, unit, conv, None if pd.isna(turn) else int(turn), code)] = at
        if code == "_status" and session != migration:
            finished[(ann, conv)] = at
    return newer, finished


def _superseded(
    newer: dict[tuple[Any, ...], Any],
    finished: dict[tuple[str, str], Any],
    key: tuple[Any, ...],
    at: Any,
) -> bool:
    """Whether the new version already decided this unit after the old label was made: it
    holds the unit with a later label, or the coder finished the conversation since."""
    got = newer.get(key[:5])
    if got is not None and got >= at:
        return True
    done = finished.get((key[0], key[2]))
    return done is not None and done >= at


def _system_events(
    old_cur: pd.DataFrame,
    reopened: set[tuple[str, str]],
    newer: dict[tuple[Any, ...], Any],
    not_coded: tuple[str, ...],
    known: set[str],
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Memos, flags and statuses carried; a reopened conversation is not carried as done."""
    rows = old_cur[old_cur["code_id"].isin(SYSTEM_CODES)]
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    missing = [c for c in not_coded if c in known]
    cols = [*_KEY, "value", "note", "context", "created_at"]
    for ann, unit, conv, turn, code, value, note, context, at in rows[cols].itertuples(index=False):
        key = (ann, unit, conv, None if pd.isna(turn) else int(turn), code)
        if code == "_status" and (ann, conv) in reopened:
            continue
        got = newer.get(key)
        if got is not None and got >= at:
            continue
        if code == "_status" and value == "done":
            note = json.dumps({"not_coded": missing}) if missing else None
        out[key] = {"value": value, "note": None if pd.isna(note) else note,
                    "context": context, "at": at}  # fmt: skip
    return out


def _spans(value: Any) -> list[dict[str, Any]] | None:
    """A label's evidence cell (None, NaN, or a list or array of span mappings) as plain dicts."""
    if value is None or isinstance(value, float) or value is pd.NA:
        return None
    spans = [{"start": int(s["start"]), "end": int(s["end"]), "sha256": str(s["sha256"])}
             for s in value]  # fmt: skip
    return spans or None


def _union(a: list[dict[str, Any]] | None, b: list[dict[str, Any]] | None) -> Any:
    """The spans of two labels merged into one (each span once)."""
    if not a or not b:
        return a or b
    seen = {(s["start"], s["end"], s["sha256"]): s for s in [*a, *b]}
    return [seen[k] for k in sorted(seen)]


def _note(migration: str, src: dict[str, Any]) -> str:
    return json.dumps(
        {"migration": migration, "from": f"{src['from_code']}={src['from_value']}"},
        sort_keys=True,
    )


def _event(
    key: tuple[Any, ...],
    value: str,
    src: dict[str, Any],
    migration: str,
    new: Codebook,
    note: str | None,
) -> dict[str, Any]:
    ann, unit, conv, turn, code = key[:5]
    spans = src.get("evidence")
    if spans and (unit != "turn" or code not in new.code_ids or new.code(code).evidence == "none"):
        spans = None  # the new version takes no evidence here (the old events keep the spans)
    return {
        "annotator_id": ann,
        "session_id": migration,
        "unit": unit,
        "conversation_id": conv,
        "turn_index": turn,
        "code_id": code,
        "value": value,
        "op": "set",
        "codebook_id": new.id,
        "codebook_version": str(new.version),
        "context": src.get("context") or "full",
        "note": note,
        "evidence": spans or None,
    }


def _recode_frame(recodes: dict[tuple[Any, ...], dict[str, Any]], migration: str) -> pd.DataFrame:
    rows = []
    for key, v in recodes.items():
        ann, unit, conv, turn, code = key[:5]
        scope = key[5] if len(key) > 5 else "unit"
        rows.append((ann, unit, conv, turn, code, scope, v["reason"], v["from_code"],
                     v["from_value"], migration))  # fmt: skip
    frame = pd.DataFrame(rows, columns=list(RECODE_COLUMNS))
    frame = frame.astype({c: "string[pyarrow]" for c in RECODE_COLUMNS if c != "turn_index"})
    frame["turn_index"] = pd.array(frame["turn_index"].tolist(), dtype="Int32")
    order = ["annotator_id", "conversation_id", "turn_index", "code_id"]
    return frame.sort_values(order, kind="stable", na_position="first").reset_index(drop=True)


def _read_recode(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(columns=list(RECODE_COLUMNS))
    return pd.read_parquet(path)


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    import io

    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


# --- reading what the migrations left ------------------------------------------------------------


def recoding(
    project: Project, annotator: str | None = None, *, open_only: bool = True
) -> pd.DataFrame:
    """The recode items of every migration, with ``open``: True until the coder marks the
    conversation done (or skipped) again under the current version."""
    frames = []
    for number in _codebooks.record_numbers(project.path):
        path = _codebooks.record_path(project.path, number, ".recode.parquet")
        check_real_path(path, project.path)
        if path.exists():
            frames.append(pd.read_parquet(path))
    if not frames:
        empty = pd.DataFrame(columns=[*RECODE_COLUMNS, "open"])
        return empty
    items = pd.concat(frames, ignore_index=True)
    if annotator is not None:
        items = items[items["annotator_id"] == annotator]
    current = project.labels(annotator=annotator)
    finished = current[(current["code_id"] == "_status")]
    done = set(zip(finished["annotator_id"], finished["conversation_id"], strict=True))
    pairs = zip(items["annotator_id"], items["conversation_id"], strict=True)
    items = items.assign(open=[pair not in done for pair in pairs])
    if open_only:
        items = items[items["open"]]
    return items.reset_index(drop=True)


def history(project: Project) -> list[dict[str, Any]]:
    """The codebook versions of a project with what each migration did (data card, status)."""
    books = project.codebooks
    out = [{"version": f"{books[0].id} {books[0].version}", "hash": books[0].hash,
            "since": "project created", "migration": None}]  # fmt: skip
    for cb, record in zip(books[1:], project._versions.records, strict=True):
        done = record.get("done")
        out.append(
            {
                "version": f"{cb.id} {cb.version}",
                "hash": cb.hash,
                "since": record["at"],
                "migration": record["id"],
                "from": f"{record['from']['id']} {record['from']['version']}",
                "map": record["map"],
                "finished": done is not None,
                "summary": done,
            }
        )
    return out


def unfinished_hint(project: Project) -> str:
    return hint(
        f"Run the same p.migrate(...) again to finish it (project {project.path}).",
        f"Run the same `annotate project migrate {project.path} --codebook ...` again to "
        "finish it.",
    )
