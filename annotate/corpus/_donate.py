"""Data donation: add a participant's export to a corpus, and take it out again.

:func:`append_to` rewrites the whole corpus folder with the new conversations in a temp folder
beside it and swaps it in (:func:`annotate.durable.atomic_folder`): after a failure or a kill
the corpus is the old one or the new one, never a mix. The consent register
(:mod:`annotate.corpus._consent`) is rewritten in the same swap.

:func:`withdraw` removes a participant: their conversations and turns from the corpus, their
row from the user table, their labels from every project store that uses the corpus (through
the ``purge_labels`` callback: the store lives in a higher layer) and their rows from every
export made before. Order, so that a kill at any point is finished by running it again:

1. a *pending* withdrawal is recorded in the register (salted hashes of the conversation ids,
   no content), durably;
2. the stores and exports are cleaned (they are found by the register's ``uses`` plus the
   places given); a store is matched by the hashes, so a re-run still finds the labels after
   the corpus no longer holds the ids;
3. the corpus is rewritten without the conversations, and the withdrawal marked complete, in
   one atomic folder swap.

Exports made afterwards cannot hold the participant: the corpus and the stores no longer do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from annotate.clock import CLOCK
from annotate.corpus._consent import (
    add_donation,
    id_hash,
    now_iso,
    operator,
    read_register,
    use_path,
    write_register,
)
from annotate.corpus._io import (
    TURN_FIELDS_FILE,
    atomic_folder,
    read_tables,
    sort_tables,
    write_tables,
)
from annotate.corpus._model import load_corpus
from annotate.corpus._schema import dictionary_columns
from annotate.corpus._users import drop_users, merge_users, read_users
from annotate.errors import CorpusError, Errors
from annotate.types import FilePath

#: tallies of a manifest that an append adds up
_TALLIES = ("skipped", "repaired", "observed")


def append_to(
    out: Path,
    turns: pa.Table,
    conversations: pa.Table,
    manifest: dict[str, Any],
    *,
    users: pa.Table | None = None,
    fields: pa.Table | None = None,
    donation: tuple[Any, ...] = (None, None, None, None),
) -> None:
    """Add conversations (TURNS_SCHEMA turns, sorted; per-turn source fields) to the corpus
    at ``out``, atomically."""
    user_id, record, scope, when = donation

    def build(tmp: Path) -> None:
        reg = read_register(out)  # the latest: a use registered meanwhile is kept
        if user_id:
            add_donation(reg, user_id, record, scope=scope, consented_at=when)
        old_t, old_c = read_tables(out)
        old_m = load_corpus(out).manifest
        t, c = sort_tables(
            pa.concat_tables([old_t, turns]), pa.concat_tables([old_c, conversations])
        )
        u = merge_users(read_users(out), users if users is not None else read_users(tmp))
        write_tables(tmp, t, c, _merged_manifest(old_m, manifest, user_id), users=u)
        _write_fields(tmp, [_read_fields(out), fields])
        _copy_others(out, tmp)
        write_register(tmp, reg)

    atomic_folder(out, build, overwrite=True)


def _merged_manifest(
    old: dict[str, Any], new: dict[str, Any], user_id: str | None
) -> dict[str, Any]:
    m = dict(old)
    m.pop("counts", None)
    m["sources"] = [*old.get("sources", []), *new.get("sources", [])]
    for key in _TALLIES:
        total = dict(old.get(key) or {})
        for reason, n in (new.get(key) or {}).items():
            total[reason] = total.get(reason, 0) + n
        m[key] = dict(sorted(total.items()))
    formats = list(old.get("formats") or [old.get("format")])
    if new["format"] not in formats:
        formats.append(new["format"])
    m["formats"] = formats
    m.setdefault("appends", []).append(
        {
            "at": now_iso(),
            "format": new["format"],
            "user_id": user_id,
            "sources": [s["name"] for s in new.get("sources", [])],
            **{k: new.get(k) or {} for k in _TALLIES},
        }
    )
    m["updated_at"] = now_iso()
    return m


#: files a corpus rewrite writes itself; any other file of the folder is copied as it is
_OWN = {"turns.parquet", "conversations.parquet", "manifest.json", "users.parquet",
        "turn_fields.parquet", "consent.json"}  # fmt: skip


def _copy_others(src: Path, tmp: Path) -> None:
    """Keep files the user put into the corpus folder (a README, a licence) across a rewrite."""
    for f in src.iterdir():
        if f.is_file() and not f.is_symlink() and f.name not in _OWN:
            (tmp / f.name).write_bytes(f.read_bytes())


def _write_fields(tmp: Path, parts: list[pa.Table | None]) -> None:
    kept = [p for p in parts if p is not None and p.num_rows]
    if kept:
        table = pa.concat_tables(kept, promote_options="permissive")
        pq.write_table(
            table,
            tmp / TURN_FIELDS_FILE,
            compression="zstd",
            use_dictionary=dictionary_columns(table.schema),
        )


def _read_fields(folder: Path) -> pa.Table | None:
    path = folder / TURN_FIELDS_FILE
    return pq.read_table(path) if path.is_file() else None


# --- withdrawal -------------------------------------------------------------------------------

PurgeLabels = Callable[[Path, set[str]], int]


def withdraw(
    corpus: FilePath,
    user_id: str,
    *,
    projects: Iterable[FilePath] = (),
    exports: Iterable[FilePath] = (),
    purge_labels: PurgeLabels | None = None,
) -> dict[str, Any]:
    """Remove participant ``user_id`` from the corpus, every store and export that uses it.

    Parameters
    ----------
    corpus
        The corpus folder.
    user_id
        The participant (``conversations.user_id``).
    projects, exports
        Places to clean besides those registered in the corpus's consent register (a project
        made before registration existed, a corpus that was read-only).
    purge_labels
        ``purge_labels(labels_folder, conversation_ids) -> events removed``: the label store's
        withdrawal (:func:`annotate.store.withdraw_conversations`); without it the stores are
        not cleaned (the CLI always passes it).

    Returns
    -------
    dict
        The withdrawal record as written to the register: counts, places cleaned, places that
        could not be reached (``not_reached``), never content.
    """
    folder = Path(getattr(corpus, "path", corpus))
    load_corpus(folder)  # validates; finishes an interrupted swap
    reg = read_register(folder)
    _, convs = read_tables(folder)
    mine = pc.equal(convs["user_id"], user_id).fill_null(False)
    ids = set(convs.filter(mine)["conversation_id"].to_pylist())
    pending = [
        w for w in reg["withdrawals"] if w["user_id"] == user_id and not w.get("completed_at")
    ]
    if not ids and not pending and user_id not in reg["participants"]:
        known = sorted({u for u in convs["user_id"].to_pylist() if u})
        shown = ", ".join(known[:10]) + (" ..." if len(known) > 10 else "") or "none"
        raise CorpusError(Errors.E119.format(user_id=user_id, path=folder, known=shown))
    record = pending[-1] if pending else None
    if record is None:
        record = {
            "id": CLOCK.event_id(),
            "user_id": user_id,
            "requested_at": now_iso(),
            "by": operator(),
            "conversation_id_hashes": sorted(id_hash(c) for c in ids),
            "completed_at": None,
        }
        reg["withdrawals"].append(record)
        write_register(folder, reg)  # 1. durable before anything is removed
    # every earlier withdrawal of this participant too: a project found later (given with
    # --project) is cleaned of the conversations that left the corpus before
    hashes = {id_hash(c) for c in ids}
    for w in reg["withdrawals"]:
        if w["user_id"] == user_id:
            hashes.update(w.get("conversation_id_hashes", []))
    places = _places(folder, reg, projects, exports)
    cleaned: dict[str, Any] = {"projects": {}, "exports": {}, "not_reached": []}
    for kind, path in places:  # 2. stores and exports
        if not path.exists():
            cleaned["not_reached"].append(str(path))
            continue
        if kind == "project":
            labels = path / "labels"
            if purge_labels is None or not labels.is_dir():
                cleaned["not_reached"].append(str(path))
                continue
            found = _ids_in_store(labels, hashes) | ids
            cleaned["projects"][str(path)] = purge_labels(labels, found)
        else:
            cleaned["exports"][str(path)] = purge_export(path, hashes, user_id)
    result: dict[str, Any] = {}

    def build(tmp: Path) -> None:  # 3. the corpus and the register, in one swap
        latest = read_register(folder)
        turns, conversations = read_tables(folder)
        keep_c = pc.invert(
            pc.is_in(conversations["conversation_id"], pa.array(sorted(ids), pa.string()))
        )
        keep_t = pc.invert(pc.is_in(turns["conversation_id"], pa.array(sorted(ids), pa.string())))
        users = read_users(folder)
        kept_users = drop_users(users, {user_id})
        manifest = dict(load_corpus(folder).manifest)
        manifest.pop("counts", None)
        manifest["withdrawals"] = manifest.get("withdrawals", 0) + 1
        manifest["updated_at"] = now_iso()
        t, c = turns.filter(keep_t), conversations.filter(keep_c)
        write_tables(tmp, t, c, manifest, users=kept_users)
        old_fields = _read_fields(folder)
        if old_fields is not None:
            gone = pc.is_in(old_fields["conversation_id"], pa.array(sorted(ids), pa.string()))
            _write_fields(tmp, [old_fields.filter(pc.invert(gone))])
        _copy_others(folder, tmp)
        rec = next(
            (w for w in latest["withdrawals"] if w.get("id") == record["id"]),
            None,
        )  # fmt: skip
        if rec is None:
            rec = dict(record)
            latest["withdrawals"].append(rec)
        rec.update(
            completed_at=now_iso(),
            conversations=rec.get("conversations", 0) + (conversations.num_rows - c.num_rows),
            turns=rec.get("turns", 0) + (turns.num_rows - t.num_rows),
            users_rows=rec.get("users_rows", 0) + (users.num_rows - kept_users.num_rows),
            label_events=cleaned["projects"],
            export_rows=cleaned["exports"],
            not_reached=cleaned["not_reached"],
        )
        entry = latest["participants"].get(user_id)
        if entry is not None:
            entry["withdrawn_at"] = rec["completed_at"]
        else:
            latest["participants"][user_id] = {
                "scope": None, "consented_at": None, "donations": [],
                "withdrawn_at": rec["completed_at"],
            }  # fmt: skip
        write_register(tmp, latest)
        result.update(rec)

    atomic_folder(folder, build, overwrite=True)
    return result


def _places(
    folder: Path, reg: dict[str, Any], projects: Iterable[FilePath], exports: Iterable[FilePath]
) -> list[tuple[str, Path]]:
    seen: dict[Path, str] = {}
    for use in reg["uses"]:
        seen.setdefault(use_path(folder, use), use.get("kind", "project"))
    for p in projects:
        seen.setdefault(Path(p).resolve(), "project")
    for p in exports:
        seen.setdefault(Path(p).resolve(), "export")
    return [(kind, path) for path, kind in seen.items()]


def _ids_in_store(labels: Path, hashes: set[str]) -> set[str]:
    """The conversation ids in a store's files whose salted hash is withdrawn."""
    import pyarrow.parquet as pq

    found: set[str] = set()
    for f in labels.rglob("*.parquet"):
        try:
            col = pq.read_table(f, columns=["conversation_id"])["conversation_id"]
        except (pa.ArrowException, OSError, KeyError):
            continue
        for cid in pc.unique(col).to_pylist():
            if cid is not None and id_hash(cid) in hashes:
                found.add(cid)
    return found


# --- exports made before ----------------------------------------------------------------------


def purge_export(folder: Path, hashes: set[str], user_id: str) -> int:
    """Rewrite the tables of an earlier export without the withdrawn conversations.

    Every table with a ``conversation_id`` column loses those rows (and ``users``-like tables
    with a ``user_id`` column the participant's); ``export.json`` gets the new sha256 of each
    file and a ``withdrawals`` note, and the data card a closing note that its statistics
    predate the withdrawal. The folder is rewritten whole and swapped in atomically. Returns
    the number of rows removed.
    """
    import pandas as pd

    removed = 0
    tables = [
        f for f in sorted(folder.iterdir())
        if f.is_file() and f.suffix in (".parquet", ".csv", ".jsonl")
    ]  # fmt: skip

    def build(tmp: Path) -> None:
        nonlocal removed
        for f in sorted(folder.iterdir()):
            if f.is_file() and f not in tables:
                (tmp / f.name).write_bytes(f.read_bytes())
        for f in tables:
            df = _read_frame(pd, f)
            drop = pd.Series(False, index=df.index)
            if "conversation_id" in df.columns:
                drop |= (
                    df["conversation_id"]
                    .map(lambda c: isinstance(c, str) and id_hash(c) in hashes)
                    .astype(bool)
                )
            if "user_id" in df.columns:
                drop |= (df["user_id"] == user_id).fillna(False).astype(bool)
            removed += int(drop.sum())
            _write_frame(df[~drop.to_numpy()], tmp / f.name)
        _update_export_notes(tmp, user_id)

    atomic_folder(folder, build, overwrite=True)
    return removed


def _read_frame(pd: Any, path: Path) -> Any:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return pd.read_json(path, lines=True, dtype=False)


def _write_frame(df: Any, path: Path) -> None:
    df = df.reset_index(drop=True)
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False, compression="zstd")
    elif path.suffix == ".csv":
        df.to_csv(path, index=False, lineterminator="\n")
    else:
        df.to_json(path, orient="records", lines=True, date_format="iso", force_ascii=False)


def _update_export_notes(tmp: Path, user_id: str) -> None:
    meta = tmp / "export.json"
    if meta.is_file():
        doc = json.loads(meta.read_text(encoding="utf-8"))
        doc.setdefault("withdrawals", []).append({"at": now_iso(), "user_id": user_id})
        doc["files"] = {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(tmp.iterdir())
            if p.name != "export.json"
        }
        meta.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    card = tmp / "README.md"
    if card.is_file():
        note = (
            f"\n\n## Withdrawal ({now_iso()})\n\nA participant withdrew after this export was "
            "written: their conversations and labels were removed from its tables. Counts and "
            "agreement statistics above were computed before that; export again for current "
            "figures.\n"
        )
        card.write_text(card.read_text(encoding="utf-8") + note, encoding="utf-8")
