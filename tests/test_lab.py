"""`make lab`: JupyterLab rooted at the repository, on the quickstart, and autosave never puts
outputs into the tracked notebooks (jupyter_server_config.py's pre-save hook).

The hook is tested through the contents manager a Jupyter server uses, configured by loading the
repository's config file; the whole of `make lab` by starting the command it runs (from
`make -n lab`) on a copy of the repository's layout and saving notebooks through the server's
REST API, as JupyterLab's autosave does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "jupyter_server_config.py"


def _notebook_with_outputs() -> dict:
    return {
        "cells": [
            {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": "# title"},
            {
                "cell_type": "code",
                "id": "c1",
                "execution_count": 3,
                "metadata": {"execution": {"iopub.status.idle": "2026-01-01T00:00:00Z"}},
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "secret\n"}],
                "source": "print('secret')",
            },
        ],
        "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _layout(root: Path) -> Path:
    """A copy of the repository's layout: the config, notebooks/, notebooks/work/."""
    (root / "notebooks" / "work").mkdir(parents=True)
    (root / "codebooks").mkdir()
    (root / "corpora").mkdir()
    shutil.copy(CONFIG, root / CONFIG.name)
    return root


def _saved_outputs(path: Path) -> list:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


# traitlets validates the hook twice while a manager applies its config (an upstream warning)
@pytest.mark.filterwarnings("ignore:Overriding existing pre_save_hook")
def test_pre_save_hook_strips_only_the_tracked_notebooks(tmp_path: Path) -> None:
    pytest.importorskip("jupyter_server")
    from jupyter_server.serverapp import ServerApp
    from traitlets.config.loader import PyFileConfigLoader

    root = _layout(tmp_path / "repo")
    config = PyFileConfigLoader(CONFIG.name, path=str(root)).load_config()
    assert config.ServerApp.root_dir == str(root)
    # the contents manager class a server uses by default, configured by the file
    manager_class = ServerApp().contents_manager_class
    cm = manager_class(config=config, root_dir=str(root))
    assert cm.pre_save_hook.__name__ == "strip_tracked_outputs"

    async def save_all() -> None:
        for path in ("notebooks/t.ipynb", "notebooks/work/t.ipynb", "codebooks/t.ipynb"):
            model = {"type": "notebook", "format": "json", "content": _notebook_with_outputs()}
            result = cm.save(model, path)
            if asyncio.iscoroutine(result):
                await result

    # in a thread of its own: another test of the session may leave an event loop running here
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, save_all()).result()
    tracked = json.loads((root / "notebooks/t.ipynb").read_text(encoding="utf-8"))
    assert _saved_outputs(root / "notebooks/t.ipynb") == []
    code = tracked["cells"][1]
    assert code["execution_count"] is None and "execution" not in code["metadata"]
    assert "".join(code["source"]) == "print('secret')"
    assert "".join(tracked["cells"][0]["source"]) == "# title"
    assert "widgets" not in tracked["metadata"]
    # work copies and notebooks elsewhere keep their outputs
    assert len(_saved_outputs(root / "notebooks/work/t.ipynb")) == 1
    assert len(_saved_outputs(root / "codebooks/t.ipynb")) == 1


def _lab_command() -> str:
    dry = subprocess.run(
        ["make", "-s", "-n", "-o", "env-lab", "-o", ".venv/.synced-lab", "lab"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = [ln for ln in dry.stdout.splitlines() if "jupyter lab" in ln]
    assert len(lines) == 1, dry.stdout
    return lines[0]


def test_make_lab_roots_the_lab_at_the_repository_on_the_quickstart() -> None:
    words = shlex.split(_lab_command().replace("${", "{"))
    assert f"--ServerApp.root_dir={REPO}" in words
    assert words[-1] == "notebooks/00_quickstart.ipynb"
    assert (REPO / words[-1]).exists()
    env = [w for w in words if w.startswith("JUPYTER_CONFIG_PATH=")]
    assert env and env[0].split("=", 1)[1].split("{")[0] == str(REPO)
    assert (REPO / "jupyter_server_config.py").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(port: int, token: str, method: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
    return json.loads(raw) if raw else {}


@pytest.mark.slow
def test_make_lab_command_serves_the_repository_and_strips_on_save(tmp_path: Path) -> None:
    """The command of `make lab`, started on a copy of the layout: what the lab shows and what
    a save through the REST API (JupyterLab's autosave) leaves on disk."""
    pytest.importorskip("jupyterlab")
    root = _layout(tmp_path / "repo")
    shutil.copy(REPO / "notebooks/00_quickstart.ipynb", root / "notebooks")
    home = tmp_path / "home"
    port, token = _free_port(), "t0ken"
    cmd = _lab_command().replace(str(REPO), str(root))
    cmd = cmd.replace(".venv/bin/jupyter", str(REPO / ".venv/bin/jupyter"))
    cmd += (
        f" --no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port}"
        f" --ServerApp.port_retries=0 --IdentityProvider.token={token}"
        " --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"
    )
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),  # not the user's own config
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    env.pop("JUPYTER_CONFIG_PATH", None)
    log = tmp_path / "lab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["bash", "-c", f"exec env {cmd}"], cwd=root, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            with contextlib.suppress(OSError, urllib.error.URLError):
                _api(port, token, "GET", "/api/status")
                break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        listing = _api(port, token, "GET", "/api/contents")
        assert {"codebooks", "corpora", "notebooks"} <= {e["name"] for e in listing["content"]}
        for path in ("notebooks/saved.ipynb", "notebooks/work/saved.ipynb"):
            body = {"type": "notebook", "format": "json", "content": _notebook_with_outputs()}
            _api(port, token, "PUT", f"/api/contents/{path}", body)
        assert _saved_outputs(root / "notebooks/saved.ipynb") == []
        assert len(_saved_outputs(root / "notebooks/work/saved.ipynb")) == 1
        # the page `make lab` opens: the quickstart, in the lab rooted at the repository
        opened = list((home / "runtime").glob("jpserver-file-to-run-*-open.html"))
        assert opened, sorted(p.name for p in (home / "runtime").iterdir())
        assert "lab/tree/notebooks/00_quickstart.ipynb" in opened[0].read_text()
    finally:
        with contextlib.suppress(Exception):
            _api(port, token, "POST", "/api/shutdown")
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
