"""The audit log of LLM runs, the response cache read from it, and the one-run-per-coder lock.

**Audit log.** Every run of an LLM coder writes ``<project>/llm/<coder_id>/audit/<run_id>.jsonl``:
one JSON record per line, appended and fsync'd before the unit's labels are stored, so what a
label came from is on disk before the label is. Records:

* ``{"type": "system", "hash", "content"}``: a system message, once per run (requests name it
  by hash: a system message is long and the same for every unit of a kind);
* ``{"type": "request", ...}``: one per attempt at a unit: the unit, the cache key, prompt
  hash, model, backend, decoding settings (seed, temperature, top_p, max_tokens), the user
  message, the raw answer and the server's response body, timing, tokens, the server's
  ``system_fingerprint``, whether the answer was valid (and why not), whether it came from the
  cache, and whether it was the unit's last attempt.

A run killed while writing leaves at most an incomplete last line, which readers skip (W701).

**Cache.** An answer is reused whenever the same model gets the same request for the same unit:
the key is the sha256 of (model id, messages, schema, decoding settings, unit). The index is
read from every LLM coder's audit logs in the project, so a re-run, a resumed run or a second
coder with identical settings costs no model call, and the cache is exactly the audit trail.
Answers may also come from the audit logs of other projects (``cache_from``, or the folders
listed in the ``ANNOTATE_LLM_CACHE_FROM`` environment variable, separated like ``PATH``): a
pilot project, or the project a notebook re-creates on every run. The key names the model's
file hash and the whole request, so only an identical request finds an answer there; a unit
answered so is logged with ``cached: true`` and the run it came from.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotate.clock import CLOCK
from annotate.durable import fsync_dir, open_dir, storage_error
from annotate.errors import Errors, LLMError, Warnings

AUDIT_DIR = "audit"
#: other projects (or folders holding projects) whose audit logs feed every run's cache
CACHE_FROM_ENV = "ANNOTATE_LLM_CACHE_FROM"
LOCK = "run.lock"
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
_FLAGS |= getattr(os, "O_CLOEXEC", 0)


def digest(obj: Any) -> str:
    """sha256 of the canonical JSON of ``obj`` (sorted keys, no spaces)."""
    data = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


class AuditLog:
    """The append-only log of one run (one writer: the run's main thread)."""

    def __init__(self, coder_folder: Path, run_id: str) -> None:
        self.folder = Path(coder_folder) / AUDIT_DIR
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, self.folder, "create") from exc
        self.path = self.folder / f"{run_id}.jsonl"
        dir_fd = open_dir(self.folder)
        try:
            self._fd = os.open(self.path.name, _FLAGS, 0o664, dir_fd=dir_fd)
        except OSError as exc:
            raise storage_error(exc, self.path, "create") from exc
        finally:
            os.close(dir_fd)
        fsync_dir(self.folder)
        self._systems: set[str] = set()

    def write(self, records: list[dict[str, Any]]) -> None:
        """Append records and make them durable (one write and one fsync for the batch)."""
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as exc:
            raise storage_error(exc, self.path, "append to") from exc

    def system_record(self, content: str) -> tuple[str, dict[str, Any] | None]:
        """The hash of a system message, and its record when this run has not logged it yet."""
        h = hashlib.sha256(content.encode("utf-8")).hexdigest()
        if h in self._systems:
            return h, None
        self._systems.add(h)
        return h, {"type": "system", "hash": h, "content": content}

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_log(path: Path) -> Iterator[dict[str, Any]]:
    """The records of one audit file; an incomplete last line is skipped with W701."""
    with open(path, "rb") as fh:
        lines = fh.read().split(b"\n")
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            warnings.warn(Warnings.W701.format(path=path, line=i), stacklevel=3)
            continue
        if isinstance(rec, dict):
            yield rec


#: audit logs of behavioural checks (annotate.llm.checks): ``llm/<id>/checks/audit/*.jsonl``;
#: never read as a coder's runs, but their answers are cached
CHECKS_DIR = "checks"


def audit_files(
    project_path: Path, coder_id: str | None = None, *, kind: str = AUDIT_DIR
) -> list[Path]:
    """Audit files of one LLM coder (or of every one), oldest run first; ``kind`` =
    ``"checks"`` for the logs of behavioural checks."""
    root = Path(project_path) / "llm"
    sub = AUDIT_DIR if kind == AUDIT_DIR else f"{kind}/{AUDIT_DIR}"
    pattern = f"{coder_id or '*'}/{sub}/*.jsonl"
    return sorted(root.glob(pattern), key=lambda p: p.name)


def read_audit(project_path: Path, coder_id: str | None = None) -> list[dict[str, Any]]:
    """Every request record of a coder's runs (or of every LLM coder), in run order."""
    out: list[dict[str, Any]] = []
    for path in audit_files(project_path, coder_id):
        out.extend(r for r in read_log(path) if r.get("type") == "request")
    return out


def cache_roots(cache_from: Any = None) -> tuple[Path, ...]:
    """The folders whose audit logs also feed a cache: ``cache_from`` (a path or a list of
    paths), else the ``ANNOTATE_LLM_CACHE_FROM`` environment variable; each must exist."""
    if cache_from is None:
        raw = os.environ.get(CACHE_FROM_ENV, "")
        where = f"environment variable {CACHE_FROM_ENV}"
        cache_from = [p for p in raw.split(os.pathsep) if p.strip()]
    else:
        where = "cache_from"
        if isinstance(cache_from, (str, os.PathLike)):
            cache_from = [cache_from]
    roots = tuple(Path(p).expanduser() for p in cache_from)
    for root in roots:
        if not root.is_dir():
            raise LLMError(Errors.E716.format(path=root, where=where))
    return roots


class ResponseCache:
    """Answers by cache key, read from the project's audit logs (see the module docstring),
    and from those of the projects under ``also`` (:func:`cache_roots`)."""

    FIELDS = (
        "text",
        "finish_reason",
        "prompt_tokens",
        "completion_tokens",
        "model",
        "fingerprint",
        "latency_ms",
        "run_id",
        "coder_id",
    )

    def __init__(
        self,
        project_path: Path,
        *,
        enabled: bool = True,
        kinds: tuple[str, ...] = (AUDIT_DIR,),
        also: tuple[Path, ...] = (),
    ) -> None:
        self.project_path = Path(project_path)
        self.also = tuple(also)
        self.enabled = enabled
        #: which logs feed the index: the runs' (``audit``), and the checks' (``checks``)
        self.kinds = kinds
        self._index: dict[str, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._index is None:
                index: dict[str, dict[str, Any]] = {}
                paths = [p for k in self.kinds for p in audit_files(self.project_path, kind=k)]
                for root in self.also:
                    for k in self.kinds:
                        sub = AUDIT_DIR if k == AUDIT_DIR else f"{k}/{AUDIT_DIR}"
                        paths.extend(sorted(root.rglob(f"llm/*/{sub}/*.jsonl")))
                for path in paths:
                    for rec in read_log(path):
                        if rec.get("type") == "request" and rec.get("key") and "text" in rec:
                            index.setdefault(rec["key"], {k: rec.get(k) for k in self.FIELDS})
                self._index = index
            return self._index

    def get(self, key: str) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        return self._load().get(key)

    def add(self, key: str, record: dict[str, Any]) -> None:
        if self.enabled:
            self._load().setdefault(key, {k: record.get(k) for k in self.FIELDS})

    def __len__(self) -> int:
        return len(self._load())


# --- one run per coder -----------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class RunLock:
    """``<coder folder>/run.lock``: one run per LLM coder at a time (E710 while another runs).

    A lock left by a killed run (same host, process gone) is taken over.
    """

    def __init__(self, coder_folder: Path, coder_id: str, run_id: str) -> None:
        self.path = Path(coder_folder) / LOCK
        self.coder_id = coder_id
        self.doc = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": CLOCK.now().isoformat(timespec="seconds"),
            "run_id": run_id,
        }
        self._held = False

    def acquire(self) -> None:
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o664)
            except FileExistsError:
                self._check_stale()
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(self.doc, fh)
                fh.flush()
                os.fsync(fh.fileno())
            self._held = True
            return
        self._check_stale()  # raises E710 unless the lock is stale
        raise LLMError(
            Errors.E710.format(coder=self.coder_id, pid="?", host="?", since="?", path=self.path)
        )

    def _check_stale(self) -> None:
        try:
            other = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            other = {}
        same_host = other.get("host") == self.doc["host"]
        pid = other.get("pid")
        if same_host and isinstance(pid, int) and not _alive(pid):
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # the run that held it was killed
            return
        raise LLMError(
            Errors.E710.format(
                coder=self.coder_id,
                pid=pid,
                host=other.get("host"),
                since=other.get("since"),
                path=self.path,
            )
        )

    def release(self) -> None:
        if self._held:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self._held = False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
