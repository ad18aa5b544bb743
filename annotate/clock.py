"""The one clock of annotate: event ids and timestamps that sort in the order events were made.

Every writer of label events (the store, the widget session, adjudication, LLM runs) stamps
events through :data:`CLOCK`, never through ``datetime.now`` or ``uuid``: current labels are the
latest event per key in (``created_at``, ``event_id``) order, so two events of one process must
sort in the order they were made, even within one microsecond and even when the wall clock steps
back (NTP corrections, a suspended laptop, a VM migrating).

* ``created_at`` (microseconds since the epoch, UTC) is strictly increasing per process: the wall
  clock, or one microsecond after the last stamp when the wall clock has not moved on.
* ``event_id`` is 32 hex characters: 48 bits of milliseconds, then 80 bits that start random in
  each new millisecond and count up within it (the ULID "monotonic" rule), so ids too sort in
  creation order within a process.
* :meth:`Clock.observe` raises the floor: a session that reads labels stamped later than its own
  wall clock (another machine's clock ran ahead, or this one stepped back since) calls it with
  the latest ``created_at`` it saw, and its own stamps then come after those labels.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

__all__ = ["CLOCK", "Clock"]


class Clock:
    """Monotonic per-process event ids and timestamps (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._last_rand = 0
        self._last_us = 0

    def event_id(self) -> str:
        """A new event id: unique, and greater than every id this process made before."""
        with self._lock:
            return self._event_id()

    def now_us(self) -> int:
        """Microseconds since the epoch, greater than every stamp this process made before."""
        with self._lock:
            return self._now_us()

    def stamp(self) -> tuple[str, int]:
        """An (event_id, created_at in microseconds) pair, made together."""
        with self._lock:
            return self._event_id(), self._now_us()

    def now(self) -> datetime:
        """:meth:`now_us` as an aware UTC datetime (for files that record when they were made)."""
        return datetime.fromtimestamp(self.now_us() / 1e6, UTC)

    def observe(self, created_us: int) -> None:
        """Never stamp at or before ``created_us`` from now on (a time seen in stored events)."""
        with self._lock:
            self._last_us = max(self._last_us, int(created_us))

    def _event_id(self) -> str:
        ms = time.time_ns() // 1_000_000
        if ms <= self._last_ms:
            ms = self._last_ms
            self._last_rand += 1
        else:
            self._last_ms = ms
            self._last_rand = int.from_bytes(os.urandom(10), "big") >> 2
        return f"{ms:012x}{self._last_rand:020x}"

    def _now_us(self) -> int:
        us = max(time.time_ns() // 1_000, self._last_us + 1)
        self._last_us = us
        return us


#: the process's clock; every event writer uses it
CLOCK = Clock()
