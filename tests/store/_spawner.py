"""Helper process of the reliability tests: forks real writer and compactor processes.

Importing pandas and pyarrow takes seconds on a loaded machine, so this process imports them
once and forks each writer or compactor from it (they are real processes: own pid, own file
descriptors, killed with SIGKILL). It reads commands on stdin and reports on stdout:

    write DIR N TAG            a writer appends N events, then exits ("exit TAG CODE")
    killwrite DIR DELAY TAG    a writer appends forever; SIGKILL after DELAY s ("killed")
    killcompact DIR DELAY      a compactor folds in a loop; SIGKILL after DELAY s ("killed")
    writers DIR K N            K writers x N events at once while a compactor loops ("done")

Writers print ``ack TAG SEQ EVENT_ID`` after each ``append`` returns (one write() each, so
lines never tear). This process does no Arrow work itself, so forking it is safe.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import annotate.store  # noqa: F401  (imported once here, inherited by every fork)
from annotate.codebook import load_codebook

CODEBOOK = load_codebook(Path(__file__).resolve().parents[2] / "codebooks" / "toy.yaml")


def event(tag: str, seq: int) -> dict[str, object]:
    """The seq-th event of writer ``tag`` (distinct keys; content checkable from the ack)."""
    return {
        "annotator_id": tag,
        "unit": "turn",
        "conversation_id": f"{tag}-{seq // 8}",
        "turn_index": seq % 8,
        "code_id": "ai_empathy",
        "value": "1" if seq % 3 else "0",
        "elapsed_ms": seq,
        "note": f"{tag}:{seq}",
    }


def _writer(folder: str, n: int, tag: str) -> None:
    from annotate.store import LabelStore

    store = LabelStore(folder, CODEBOOK)
    seq = 0
    while n < 0 or seq < n:
        saved = store.append(event(tag, seq))
        os.write(1, f"ack {tag} {seq} {saved['event_id'].iloc[0]}\n".encode())
        seq += 1


def _compactor(folder: str) -> None:
    from annotate.store import LabelStore

    store = LabelStore(folder, CODEBOOK, auto_compact=0)
    while True:
        store.compact()
        time.sleep(0.2)


def _fork(target, *args) -> int:  # type: ignore[no-untyped-def]
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            target(*args)
        except BaseException as exc:  # report, never fall back into the command loop
            os.write(2, f"child failed: {exc!r}\n".encode())
            code = 1
        os._exit(code)
    return pid


def _kill(pid: int, delay: float) -> None:
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def main() -> None:
    for line in sys.stdin:
        cmd, *args = line.split()
        if cmd == "write":
            pid = _fork(_writer, args[0], int(args[1]), args[2])
            _, status = os.waitpid(pid, 0)
            print(f"exit {args[2]} {os.waitstatus_to_exitcode(status)}", flush=True)
        elif cmd == "killwrite":
            _kill(_fork(_writer, args[0], -1, args[2]), float(args[1]))
            print("killed", flush=True)
        elif cmd == "killcompact":
            _kill(_fork(_compactor, args[0]), float(args[1]))
            print("killed", flush=True)
        elif cmd == "writers":
            before = os.times()
            compactor = _fork(_compactor, args[0])
            pids = [_fork(_writer, args[0], int(args[2]), f"w{i}") for i in range(int(args[1]))]
            codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
            writers = os.times()
            _kill(compactor, 0)
            after = os.times()
            cpu = (
                f"writers_cpu={writers.children_user - before.children_user:.1f}"
                f"+{writers.children_system - before.children_system:.1f}s "
                f"compactor_cpu={after.children_user - writers.children_user:.1f}"
                f"+{after.children_system - writers.children_system:.1f}s"
            )
            print(f"done {' '.join(map(str, codes))} {cpu}", flush=True)
        elif cmd == "quit":
            return


if __name__ == "__main__":
    main()
