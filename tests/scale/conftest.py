"""Fixtures of the Ray tests: one local Ray for the whole session (2 CPUs, a small object store,
no dashboard, no usage statistics), started and stopped here; the llama.cpp server and the test
project of the LLM tests (tests/llm/conftest.py).

Ray's start on two shared cores takes 20-40 s, so the Ray tests are few and share it.
"""

from __future__ import annotations

import os

import pytest

from tests.llm.conftest import (  # noqa: F401
    NEEDS_LLM,
    free_port,
    llama_server,
    make_project,
    model_path,
)

#: why the Ray tests skip where the scale extra is missing (CI installs every extra)
NEEDS_SCALE = "needs the scale extra (uv sync --extra scale): Ray is not installed"


@pytest.fixture(scope="session")
def ray_address():
    """A local Ray started for the session; yields the address other processes join it by."""
    ray = pytest.importorskip("ray", reason=NEEDS_SCALE)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    for attempt in range(3):
        try:
            ray.init(
                num_cpus=2,
                object_store_memory=200 * 1024**2,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
            break
        except Exception:  # Ray gives its raylet 30 s to start: too few on a busy machine
            ray.shutdown()
            if attempt == 2:
                raise
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
