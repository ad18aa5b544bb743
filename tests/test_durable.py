"""The one durable-write module: files, folder swaps, links, full disks, and real kills."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from annotate import durable
from annotate.durable import atomic_folder, recover_folder, write_file
from annotate.errors import StorageError

REPO = Path(__file__).resolve().parents[1]


def test_durable_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    write_file(tmp_path / "a.json", b"one")
    write_file(tmp_path / "a.json", b"two")
    assert (tmp_path / "a.json").read_bytes() == b"two"
    assert os.listdir(tmp_path) == ["a.json"]


def test_durable_exclusive_never_replaces(tmp_path: Path) -> None:
    write_file(tmp_path / "plan-1.json", b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        write_file(tmp_path / "plan-1.json", b"second", exclusive=True)
    assert (tmp_path / "plan-1.json").read_bytes() == b"first"
    assert os.listdir(tmp_path) == ["plan-1.json"]


def test_durable_refuses_a_symlinked_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    (project / "labels").symlink_to(outside, target_is_directory=True)
    with pytest.raises(StorageError, match=r"\[E003\].*symbolic link"):
        write_file(project / "labels" / "x.parquet", b"data")
    assert os.listdir(outside) == []


def test_durable_never_follows_a_planted_file_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "project.json").symlink_to(victim)
    write_file(tmp_path / "project.json", b"{}")
    assert victim.read_text() == "precious"  # the link was replaced, not followed
    assert not (tmp_path / "project.json").is_symlink()


def test_durable_disk_full_removes_the_temp_file(tmp_path: Path, monkeypatch) -> None:
    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(durable.os, "write", full)
    with pytest.raises(StorageError, match=r"\[E001\] No space left") as info:
        write_file(tmp_path / "x.parquet", b"data")
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    assert os.listdir(tmp_path) == []


def test_durable_read_only_folder_says_what_to_do(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores permission bits; the E002 mapping is tested below")
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(StorageError, match=r"\[E002\].*permission"):
            write_file(tmp_path / "x", b"data")
    finally:
        tmp_path.chmod(0o700)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_durable_read_only_errors_map_to_e002(tmp_path: Path, code: int) -> None:
    err = durable.storage_error(OSError(code, os.strerror(code)), tmp_path / "f")
    assert str(err).startswith("[E002]") and "write access" in str(err)


def test_durable_folder_swap_replaces_whole(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    atomic_folder(out, lambda d: (d / "f.txt").write_text("old"))
    with pytest.raises(FileExistsError):
        atomic_folder(out, lambda d: (d / "f.txt").write_text("new"))
    atomic_folder(out, lambda d: (d / "f.txt").write_text("new"), replace=True)
    assert (out / "f.txt").read_text() == "new"
    assert os.listdir(tmp_path) == ["corpus"]


def test_durable_failed_build_leaves_the_old_folder(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    atomic_folder(out, lambda d: (d / "f.txt").write_text("old"))

    def boom(d: Path) -> None:
        (d / "half").write_text("x")
        raise RuntimeError("killed halfway")

    with pytest.raises(RuntimeError):
        atomic_folder(out, boom, replace=True)
    assert (out / "f.txt").read_text() == "old"
    assert os.listdir(tmp_path) == ["corpus"]


def test_durable_recover_rolls_forward_or_back(tmp_path: Path) -> None:
    out = tmp_path / "c"
    new, old = tmp_path / ".c.new-1", tmp_path / ".c.old-2"
    new.mkdir()
    (new / "v").write_text("new")
    old.mkdir()
    (old / "v").write_text("old")
    assert recover_folder(out)  # the new folder was complete: it wins
    assert (out / "v").read_text() == "new" and sorted(os.listdir(tmp_path)) == ["c"]
    out2, old2 = tmp_path / "d", tmp_path / ".d.old-3"
    old2.mkdir()
    (old2 / "v").write_text("old")
    assert recover_folder(out2)  # only the old one: it comes back
    assert (out2 / "v").read_text() == "old"


def test_durable_stale_temp_folder_of_a_dead_writer_is_cleaned(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f".c.tmp-{dead.stdout.strip()}-abcd"
    stale.mkdir()
    atomic_folder(tmp_path / "c", lambda d: (d / "f").write_text("x"))
    assert sorted(os.listdir(tmp_path)) == ["c"]


_KILL_BETWEEN_RENAMES = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from annotate import durable

    real = os.rename
    def rename(src, dst, *a, **kw):
        real(src, dst, *a, **kw)
        if ".old-" in str(dst):  # the old folder is moved away: die before the new one is in
            os.kill(os.getpid(), signal.SIGKILL)
    durable.os.rename = rename
    out = Path(sys.argv[1])
    durable.atomic_folder(out, lambda d: (d / "v").write_text("new"), replace=True)
    """
)


def test_durable_kill_between_the_two_renames_is_repaired(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    atomic_folder(out, lambda d: (d / "v").write_text("old"))
    proc = subprocess.run([sys.executable, "-c", _KILL_BETWEEN_RENAMES, str(out)], cwd=REPO)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()  # the window the swap has to survive
    assert recover_folder(out)
    assert (out / "v").read_text() == "new"  # the new folder was complete: it is kept
    assert sorted(os.listdir(tmp_path)) == ["corpus"]
