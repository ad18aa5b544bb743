"""Durable writes: the one way annotate puts a file or a folder on disk.

Every writer (label store, project plan, corpus, export, widget session) goes through here:

* :func:`write_file` -- temp file (random name, ``O_EXCL | O_NOFOLLOW``), fsync, atomic rename,
  fsync of the folder. When it returns the file is complete and on disk; a crash at any point
  leaves the old file or the new one, never a mix (at worst a hidden ``.tmp`` leftover). With
  ``exclusive=True`` the file is published by ``link`` instead of ``rename``, so it never replaces
  an existing file: two writers racing for one name get one winner and one
  :class:`FileExistsError` (compare-and-swap for versioned files).
* :func:`atomic_folder` -- build a folder under a temp name, fsync it whole, and swap it in for an
  existing one. The swap takes two renames; a kill between them is repaired by
  :func:`recover_folder`, which every reader and the next writer call: it restores the complete
  folder (the new one if it was finished, else the old one).
* No write follows a symbolic link planted in a project: folders are opened with
  ``O_NOFOLLOW | O_DIRECTORY`` and files are created relative to that descriptor, so a link in
  place of a project's folder or file is refused (E003) instead of writing elsewhere.
* Disk full, read-only and permission errors become :class:`StorageError` with an E-code that
  says what happened and what to do; the temp file of a failed write is removed first.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from annotate.errors import Errors, StorageError

__all__ = [
    "TMP_SUFFIX",
    "atomic_folder",
    "check_real_path",
    "fsync_dir",
    "open_dir",
    "recover_folder",
    "storage_error",
    "write_file",
]

T = TypeVar("T")

#: temp files of a save in progress end with this (``.<name>.<token>.tmp``)
TMP_SUFFIX = ".tmp"
#: leftover temp folders of a killed folder build are removed after this long
STALE_FOLDER_SECONDS = 3600.0

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def storage_error(exc: OSError, path: Path | str, action: str = "write") -> StorageError:
    """The catalogue error for an OS error while writing ``path`` (disk full, read-only, ...)."""
    if isinstance(exc, StorageError):
        return exc
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        msg = Errors.E001.format(path=path, action=action, folder=Path(path).parent)
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM):
        msg = Errors.E002.format(path=path, action=action, problem=os.strerror(code or 0))
    elif code in (errno.ELOOP, errno.ENOTDIR) and _is_link(Path(path)):
        msg = Errors.E003.format(path=_first_link(Path(path)))
    else:
        msg = Errors.E004.format(path=path, action=action, problem=exc)
    err = StorageError(code or 0, msg)
    err.filename = str(path)
    return err


def open_dir(folder: Path) -> int:
    """A descriptor of ``folder`` that is guaranteed not to be a symbolic link (E003)."""
    try:
        return os.open(folder, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and folder.is_symlink():
            raise StorageError(exc.errno, Errors.E003.format(path=folder)) from exc
        raise storage_error(exc, folder, "open") from exc


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable."""
    fd = open_dir(folder)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(
    path: Path | str, data: bytes, *, exclusive: bool = False, mode: int = 0o664
) -> Path:
    """Write ``data`` as ``path``: temp file, fsync, atomic rename, fsync of the folder.

    Parameters
    ----------
    path
        The file to write; its folder must exist and must not be a symbolic link.
    data
        The complete content.
    exclusive
        Publish with ``link`` (never replaces): :class:`FileExistsError` if ``path`` exists.
    mode
        Permission bits of a new file (before the umask).

    Raises
    ------
    StorageError
        E001 disk full, E002 read-only or no permission, E003 a symbolic link in the way, E004
        other I/O errors. Nothing is left behind (the temp file is removed).
    FileExistsError
        With ``exclusive=True``, when ``path`` exists.
    """
    path = Path(path)
    name = path.name
    tmp = f".{name}.{os.urandom(6).hex()}{TMP_SUFFIX}"
    dir_fd = open_dir(path.parent)
    try:
        try:
            fd = os.open(
                tmp,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC,
                mode,
                dir_fd=dir_fd,
            )
        except OSError as exc:
            raise storage_error(exc, path) from exc
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            if exclusive:
                os.link(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
                os.unlink(tmp, dir_fd=dir_fd)
            else:
                os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.fsync(dir_fd)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            if isinstance(exc, FileExistsError) and exclusive:
                raise
            if isinstance(exc, OSError):
                raise storage_error(exc, path) from exc
            raise
    finally:
        os.close(dir_fd)
    return path


def check_real_path(path: Path, root: Path) -> None:
    """Refuse (E003) when ``path`` or a folder between ``root`` and it is a symbolic link.

    ``root`` itself may be reached through links (the user chose it); what lies inside may not,
    since a link there could only have been planted to redirect the project's writes.
    """
    rel = path.relative_to(root) if path != root else Path()
    here = root
    for part in rel.parts:
        here = here / part
        if here.is_symlink():
            raise StorageError(errno.ELOOP, Errors.E003.format(path=here))


# --- folders ---------------------------------------------------------------------------------


def atomic_folder(
    out: Path | str,
    write: Callable[[Path], T],
    *,
    replace: bool = False,
) -> T:
    """Run ``write(tmp)`` on a fresh temp folder beside ``out``, make it durable, swap it in.

    A failure or a kill at any point leaves ``out`` as it was (or, for a kill in the middle of
    the swap, a state :func:`recover_folder` repairs on the next read or write). An existing
    ``out`` is replaced only with ``replace=True``; the caller decides what "exists" means
    before calling (e.g. an empty folder may be fine).
    """
    out = Path(out)
    parent = out.parent.resolve()
    out = parent / out.name
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, parent, "create") from exc
    recover_folder(out)
    tmp = parent / f".{out.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        tmp.mkdir()
        result = write(tmp)
        _fsync_tree(tmp)
        new = parent / f".{out.name}.new-{os.urandom(4).hex()}"
        os.rename(tmp, new)  # from here on the new folder is known to be complete
        fsync_dir(parent)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, StorageError):
            raise storage_error(exc, out) from exc
        raise
    _swap_in(new, out, replace=replace)
    return result


def _swap_in(new: Path, out: Path, *, replace: bool) -> None:
    parent = out.parent
    old: Path | None = None
    try:
        if out.exists() or out.is_symlink():
            if not replace:
                raise FileExistsError(errno.EEXIST, "exists", str(out))
            old = parent / f".{out.name}.old-{os.urandom(4).hex()}"
            os.rename(out, old)
            fsync_dir(parent)
        try:
            os.rename(new, out)
        except FileNotFoundError:
            if not out.exists():  # else a reader's recover_folder finished the swap for us
                raise
        fsync_dir(parent)
    except BaseException as exc:
        # put back what was there; anything left over is repaired by recover_folder
        with contextlib.suppress(OSError):
            if old is not None and not out.exists():
                os.rename(old, out)
                old = None
        shutil.rmtree(new, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, (StorageError, FileExistsError)):
            raise storage_error(exc, out) from exc
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover_folder(out: Path) -> bool:
    """Finish or undo a folder swap that was interrupted; clean stale temp folders.

    When ``out`` is missing but a complete new folder (``.<name>.new-*``) or the replaced one
    (``.<name>.old-*``) is beside it, the new one (else the old one) is renamed back to ``out``.
    Returns True when something was restored.
    """
    out = Path(out)
    parent = out.parent
    try:
        names = os.listdir(parent)
    except OSError:
        return False
    prefix = f".{out.name}."
    mine = [n for n in names if n.startswith(prefix)]
    if not mine:
        return False
    restored = False
    if not (out.exists() or out.is_symlink()):
        for kind in ("new-", "old-"):
            found = sorted(
                (p for p in (parent / n for n in mine if n[len(prefix) :].startswith(kind))),
                key=_mtime,
                reverse=True,
            )
            if found:
                with contextlib.suppress(OSError):
                    os.rename(found[0], out)
                    fsync_dir(parent)
                    restored = True
                    break
    if out.exists():
        for n in mine:
            rest = n[len(prefix) :]
            path = parent / n
            if rest.startswith("old-") or (
                rest.startswith(("new-", "tmp-")) and _stale(path, rest)
            ):
                shutil.rmtree(path, ignore_errors=True)
    else:
        for n in mine:
            if n[len(prefix) :].startswith("tmp-") and _stale(parent / n, n[len(prefix) :]):
                shutil.rmtree(parent / n, ignore_errors=True)
    return restored


def _stale(path: Path, rest: str) -> bool:
    """A temp folder whose writer is gone: its process is dead, or it is over an hour old."""
    if rest.startswith("tmp-"):
        pid = rest[4:].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            return True
    return time.time() - _mtime(path) > STALE_FOLDER_SECONDS


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def _fsync_tree(folder: Path) -> None:
    """fsync every file and folder under ``folder`` (folders after their contents)."""
    for f in _walk_files(folder):
        fd = os.open(f, os.O_RDONLY | _CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for dirpath, _, _ in sorted(os.walk(folder), key=lambda t: -len(t[0])):
        fsync_dir(Path(dirpath))


def _walk_files(folder: Path) -> Iterator[Path]:
    for dirpath, _, files in os.walk(folder):
        for f in files:
            yield Path(dirpath) / f


def _is_link(path: Path) -> bool:
    return _first_link(path) != path or path.is_symlink()


def _first_link(path: Path) -> Path:
    for p in [*reversed(path.parents), path]:
        if p.is_symlink():
            return p
    return path
