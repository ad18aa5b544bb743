"""The consent register of a corpus: ``consent.json`` inside the corpus folder.

It records, with no content of any conversation:

* ``participants``: per participant id (``--user-id``), the consent ``scope`` and date, each
  donation added (when, which format, how many conversations and turns, which source files by
  name and sha256), and ``withdrawn_at``;
* ``withdrawals``: who (the participant id), when, by whom (the operator's login), how many
  conversations, turns and user-table rows left the corpus, how many label events left each
  project's store, how many rows left each export, which registered places could not be
  reached, and the sha256 of each withdrawn conversation id (salted: ids themselves are not
  kept, yet a store found later can still be cleaned);
* ``uses``: the projects and exports made from the corpus (registered when they are created;
  see :func:`register_use`), which a withdrawal cleans.

The register is rewritten with the corpus whenever the corpus is (append, withdrawal), inside
the same atomic folder swap, so the two never disagree; a use is registered with one durable
file write. A register that cannot be written (a read-only corpus) does not stop a project
from being created: such a project must be named with ``--project`` when withdrawing.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from annotate.clock import CLOCK
from annotate.durable import write_file
from annotate.errors import CorpusError, Errors, StorageError

CONSENT_FILE = "consent.json"
FORMAT = "annotate-consent/1"
_SALT = b"annotate-withdrawal/1\x00"


def empty_register() -> dict[str, Any]:
    return {"format": FORMAT, "participants": {}, "withdrawals": [], "uses": []}


def read_register(folder: Path) -> dict[str, Any]:
    """The register of a corpus folder (an empty one when the folder has none)."""
    path = Path(folder) / CONSENT_FILE
    if not path.is_file():
        return empty_register()
    try:
        reg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorpusError(
            Errors.E111.format(path=folder, problem=f"{CONSENT_FILE}: {exc}")
        ) from exc
    if not isinstance(reg, dict) or reg.get("format") != FORMAT:
        raise CorpusError(
            Errors.E111.format(path=folder, problem=f"{CONSENT_FILE} is not a consent register")
        )
    for key, value in empty_register().items():
        reg.setdefault(key, value)
    return reg


def register_bytes(reg: dict[str, Any]) -> bytes:
    return (json.dumps(reg, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode()


def write_register(folder: Path, reg: dict[str, Any]) -> None:
    """Write the register durably (temp file, fsync, rename)."""
    write_file(Path(folder) / CONSENT_FILE, register_bytes(reg))


def now_iso() -> str:
    return CLOCK.now().isoformat(timespec="seconds")


def operator() -> str:
    """The login of whoever runs the command (recorded with a withdrawal)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def id_hash(conversation_id: str) -> str:
    """The salted sha256 of a conversation id, as kept in a withdrawal record."""
    return hashlib.sha256(_SALT + conversation_id.encode("utf-8", "surrogatepass")).hexdigest()


def use_path(corpus_folder: Path, use: dict[str, Any]) -> Path:
    """Where a registered project or export is (its path is relative to the corpus folder)."""
    return (Path(corpus_folder) / str(use["path"])).resolve()


def register_use(corpus: Any, path: Any, *, kind: str = "project") -> bool:
    """Record that a project (or an export) at ``path`` uses the corpus at ``corpus``.

    A withdrawal then cleans it without being told where it is. Returns False (and writes
    nothing) when the corpus folder's register cannot be written, e.g. a read-only shared
    corpus; such a place must be named when withdrawing (``--project``/``--export``).
    """
    folder = Path(getattr(corpus, "path", corpus))
    # relative to the corpus folder: the register records no path of this machine, and a
    # shared folder mounted elsewhere (or moved whole) still finds its projects
    where = os.path.relpath(Path(path).resolve(), folder.resolve())
    try:
        reg = read_register(folder)
        if any(u.get("path") == where and u.get("kind") == kind for u in reg["uses"]):
            return True
        reg["uses"].append({"kind": kind, "path": where, "registered_at": now_iso()})
        write_register(folder, reg)
    except (OSError, StorageError, CorpusError):
        return False
    return True


def add_donation(
    reg: dict[str, Any],
    user_id: str,
    donation: dict[str, Any],
    *,
    scope: str | None,
    consented_at: str | None,
) -> None:
    """Record one donation of ``user_id`` (E118 when that participant has withdrawn)."""
    entry = reg["participants"].get(user_id)
    if entry is not None and entry.get("withdrawn_at"):
        raise CorpusError(Errors.E118.format(user_id=user_id, when=entry["withdrawn_at"]))
    if entry is None:
        entry = reg["participants"][user_id] = {
            "scope": scope or "data donation",
            "consented_at": consented_at or now_iso(),
            "donations": [],
            "withdrawn_at": None,
        }
    else:
        if scope:
            entry["scope"] = scope
        if consented_at:
            entry["consented_at"] = consented_at
    entry["donations"].append(donation)
