"""The one clock: ids and times that sort in the order events were made."""

from __future__ import annotations

import threading

import pytest

from annotate import clock as clock_module
from annotate.clock import Clock


@pytest.fixture
def wall(monkeypatch):
    """A wall clock the test moves by hand (nanoseconds, like time.time_ns)."""
    now = {"ns": 1_760_000_000_000_000_000}
    monkeypatch.setattr(clock_module.time, "time_ns", lambda: now["ns"])
    return now


def test_clock_within_one_millisecond_sorts_in_creation_order(wall) -> None:
    c = Clock()
    stamps = [c.stamp() for _ in range(500)]  # the wall clock does not move at all
    ids = [s[0] for s in stamps]
    times = [s[1] for s in stamps]
    assert ids == sorted(ids) and len(set(ids)) == 500
    assert times == sorted(times) and len(set(times)) == 500


def test_clock_wall_clock_stepping_back_never_reorders(wall) -> None:
    c = Clock()
    first = c.stamp()
    wall["ns"] -= 10 * 60 * 10**9  # the wall clock steps back ten minutes
    second = c.stamp()
    assert second[0] > first[0]
    assert second[1] > first[1]
    wall["ns"] += 20 * 60 * 10**9  # and forward again: time follows the wall clock
    third = c.stamp()
    assert third[1] == wall["ns"] // 1000


def test_clock_observe_raises_the_floor(wall) -> None:
    c = Clock()
    later = wall["ns"] // 1000 + 5_000_000  # a stored label stamped 5 s in our future
    c.observe(later)
    assert c.now_us() == later + 1
    c.observe(later - 10)  # an older time never lowers it
    assert c.now_us() == later + 2


def test_clock_threads_get_distinct_increasing_stamps() -> None:
    c = Clock()
    got: list[tuple[str, int]] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [c.stamp() for _ in range(300)]
        with lock:
            got.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({s[0] for s in got}) == len({s[1] for s in got}) == 1200
    # the two orders agree: a later id always has a later time
    by_id = sorted(got)
    assert [s[1] for s in by_id] == sorted(s[1] for s in got)
