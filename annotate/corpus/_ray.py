"""Ray for the engines that run over a cluster (``--engine ray``): the connection and the corpus's
row-group layout, shared by masking (:mod:`annotate.nlp`) and LLM coding
(:mod:`annotate.llm.ray_engine`). Ray is the ``scale`` extra, imported only here and there.

**Connection.** :func:`ray_session` joins the cluster at ``address`` (``auto``, ``HOST:PORT`` of
the head's GCS, or ``ray://HOST:10001`` through Ray Client), or, without an address, a Ray this
process already joined, or else starts a local one for the job and stops it afterwards (never a
cluster it did not start). Ray's usage statistics (an upload) are off unless the user set
``RAY_USAGE_STATS_ENABLED``: annotate sends nothing anywhere by itself.

**Row groups.** A corpus's ``turns.parquet`` is sorted by conversation, so a conversation is a
run of rows, given by the conversations table's ``n_turns``; :func:`conversation_rows` maps
conversations to the row groups that hold them. The engines give each Ray task the row groups of
a set of conversations, so a task reads each row group it needs once.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from annotate.corpus._io import TURNS_FILE

#: what `pip install` names in the messages
RAY_PACKAGE = "ray"


def import_ray() -> Any | None:
    """The ray module, or None when the scale extra is missing."""
    try:
        import ray
    except ImportError:
        return None
    return ray


class RayConnectError(Exception):
    """Ray could not be joined at the address given (the message says why); the engines turn
    it into their catalogue error (E133 masking, E731 LLM runs)."""


#: seconds to wait for a TCP connection to a cluster's head before calling it unreachable
CONNECT_TIMEOUT = 5.0


def check_address(address: str | None) -> None:
    """Check the form of a cluster address and that something listens there, so that a typo
    fails in seconds (Ray itself retries an unreachable head for minutes).

    ``None``, ``auto`` and ``local`` are left to ``ray.init``; ``HOST:PORT`` (the head's GCS)
    and ``ray://HOST:PORT`` (Ray Client) must name a port that accepts a TCP connection.
    """
    if address is None or address in ("auto", "local"):
        return
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "", address
    host, colon, port = rest.rstrip("/").rpartition(":")
    if scheme not in ("", "ray") or not colon or not host or not port.isdigit():
        raise RayConnectError(
            "it is not an address: use auto, HOST:PORT (the head's GCS port, 6379 by default) "
            "or ray://HOST:PORT (Ray Client, 10001 by default)"
        )
    if scheme == "ray":
        if importlib.util.find_spec("grpc") is None:  # Ray Client's transport: ray[client]
            raise RayConnectError(
                "ray:// (Ray Client) needs Ray's client extra: install annotate's scale extra "
                "again (it includes ray[client])"
            )
    host = host.strip("[]")  # [::1]:6379
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        if isinstance(exc, TimeoutError | socket.timeout):
            why = f"no answer within {CONNECT_TIMEOUT:g} s"
        raise RayConnectError(f"nothing answers at {host}:{port} ({why})") from None


@contextlib.contextmanager
def ray_session(
    address: str | None = None,
    init: dict[str, Any] | None = None,
    *,
    progress: bool = True,
    ordered: bool = False,
) -> Iterator[Any]:
    """Ray for one job (see the module docstring); yields the ray module.

    ``init`` are further ``ray.init`` arguments for a Ray this call starts (``num_cpus``,
    ``object_store_memory``, ...). ``progress``: Ray Data's progress bars. ``ordered``: Ray
    Data keeps the order of the input in its output (both settings restored afterwards).
    """
    import ray
    from ray.data import DataContext

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if address is None:
            kwargs |= {"include_dashboard": False}
        kwargs |= dict(init or {})
        check_address(address)
        try:
            ray.init(address=address, **kwargs)
        except Exception as exc:  # no cluster at "auto", a port that is not Ray's, ...
            ray.shutdown()
            first = next((x for x in str(exc).strip().splitlines() if x.strip()), "")
            raise RayConnectError(f"{type(exc).__name__}: {first[:300].rstrip('.')}") from exc
        started = True
    ctx = DataContext.get_current()
    before = (
        ctx.enable_progress_bars,
        ctx.execution_options.preserve_order,
        ctx.raise_original_map_exception,
    )
    ctx.enable_progress_bars = progress
    ctx.execution_options.preserve_order = ordered
    ctx.raise_original_map_exception = True  # say what failed, not that a task did
    try:
        yield ray
    finally:
        (
            ctx.enable_progress_bars,
            ctx.execution_options.preserve_order,
            ctx.raise_original_map_exception,
        ) = before
        if started:
            ray.shutdown()


def row_group_ends(corpus_path: Path) -> np.ndarray:
    """The cumulative row count at the end of each row group of ``turns.parquet``."""
    meta = pq.ParquetFile(Path(corpus_path) / TURNS_FILE).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    return np.cumsum(np.asarray(sizes, dtype=np.int64))


def conversation_rows(
    conversation_ids: list[str], n_turns: list[int], wanted: list[str]
) -> dict[str, tuple[int, int]]:
    """``(first row, number of rows)`` in ``turns.parquet`` of each wanted conversation, from
    the conversations table's ids and ``n_turns`` (in file order)."""
    counts = np.asarray(n_turns, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    pos = {c: i for i, c in enumerate(conversation_ids)}
    return {c: (int(starts[pos[c]]), int(counts[pos[c]])) for c in wanted}


def group_by_row_group(
    rows: dict[str, tuple[int, int]], ends: np.ndarray
) -> list[tuple[list[int], list[str]]]:
    """Conversations grouped by the row group their first turn is in: per group, the row
    groups to read (that one up to the last one a conversation of the group reaches) and the
    conversations, in file order."""
    groups: dict[int, list[str]] = {}
    last: dict[int, int] = {}
    for cid, (start, n) in sorted(rows.items(), key=lambda kv: kv[1][0]):
        first = int(np.searchsorted(ends, start, side="right"))
        end = int(np.searchsorted(ends, start + max(n, 1) - 1, side="right"))
        groups.setdefault(first, []).append(cid)
        last[first] = max(last.get(first, first), end)
    return [(list(range(g, last[g] + 1)), cids) for g, cids in sorted(groups.items())]


def read_rows(
    corpus_path: str | Path, row_groups: list[int], columns: list[str]
) -> tuple[int, dict[str, list[Any]]]:
    """The first row number of ``row_groups[0]`` and the columns of those row groups (which
    are consecutive), as Python lists."""
    pf = pq.ParquetFile(Path(corpus_path) / TURNS_FILE)
    first = sum(pf.metadata.row_group(i).num_rows for i in range(row_groups[0]))
    table = pf.read_row_groups(row_groups, columns=columns)
    return first, {c: table[c].to_pylist() for c in columns}
