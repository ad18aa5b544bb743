"""Fixtures of the store tests: the toy codebook and a spawner of real writer processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotate.codebook import load_codebook

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def codebook():  # type: ignore[no-untyped-def]
    return load_codebook(REPO / "codebooks" / "toy.yaml")


class Spawner:
    """Talks to tests/store/_spawner.py, which forks writer and compactor processes."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_spawner.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            cwd=REPO,
        )

    def run(self, command: str, until: str) -> tuple[list[tuple[str, int, str]], str]:
        """Send a command; collect ``ack`` lines until the line starting with ``until``."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        acks: list[tuple[str, int, str]] = []
        for line in self.proc.stdout:
            if line.startswith("ack "):
                _, tag, seq, event_id = line.split()
                acks.append((tag, int(seq), event_id))
            elif line.startswith(until):
                return acks, line.strip()
        raise AssertionError(f"the spawner died while running {command!r}")

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


@pytest.fixture()
def spawner() -> Iterator[Spawner]:
    s = Spawner()
    yield s
    s.close()
