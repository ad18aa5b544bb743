"""Harness for real-browser notebook tests: a throwaway JupyterLab on a free loopback
port, driven by headless Debian Chromium through Playwright for Python.

Needs: jupyterlab, ipywidgets, anywidget, playwright (pip) and chromium (apt).
No `playwright install` is needed: Playwright is pointed at /usr/bin/chromium.
Adapted from the team's measured recipe (shared notes, browser-testing.md §6): one server
serves both JupyterLab (/lab) and Notebook 7 (/notebooks), with the app exposed in both.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Per-run JupyterLab user settings: no news/update toasts, and attach every cell to the
# DOM (default "contentVisibility" windowing can leave off-screen outputs unrendered).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

# --- JavaScript snippets evaluated in the page (need --LabApp.expose_app_in_browser) ---
JS_KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const ctx = w && w.sessionContext;
  const k = ctx && ctx.session && ctx.session.kernel;
  return !!(w && w.content && ctx.isReady && k && k.status === 'idle');
}"""
JS_RUN_ALL = """async () => {
  const app = window.jupyterapp;
  await app.commands.execute('notebook:run-all-cells');   // resolves when all cells ran
}"""
JS_RUN_TAGGED = """async (tag) => {
  const app = window.jupyterapp;
  const nb = app.shell.currentWidget.content;
  const i = nb.widgets.findIndex(c => (c.model.getMetadata('tags') || []).includes(tag));
  if (i < 0) throw new Error('no cell tagged ' + tag);
  nb.activeCellIndex = i;
  await app.commands.execute('notebook:run-cell');
  return i;
}"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    root: Path
    port: int
    token: str
    proc: subprocess.Popen
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, nb_path: str) -> str:
        # ?reset: start from an empty workspace (otherwise tabs from earlier pages are restored)
        return f"{self.base}/lab/tree/{nb_path}?reset&token={self.token}"

    def nb7_url(self, nb_path: str) -> str:
        """The Notebook 7 page of a notebook (same server, /notebooks/<path>)."""
        return f"{self.base}/notebooks/{nb_path}?token={self.token}"

    def api(self, method: str, path: str) -> int:
        req = urllib.request.Request(
            self.base + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status

    def shutdown_kernels(self) -> int:
        """Delete every session (its kernel stops); a page opened next starts a fresh kernel."""
        req = urllib.request.Request(
            self.base + "/api/sessions", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            sessions = json.load(r)
        for s in sessions:
            self.api("DELETE", f"/api/sessions/{s['id']}")
        return len(sessions)


def start_lab(home: Path, timeout: float = 90.0, extra_env: dict[str, str] | None = None) -> Lab:
    """Start `jupyter lab` headless on 127.0.0.1:<free port>, isolated under `home`; its
    kernels get ``extra_env`` on top of this process's environment."""
    root = home / "root"
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in LAB_SETTINGS.items():
        f = home / "lab-settings" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(data))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),  # ignore the user's .jupyter dir
        "JUPYTER_DATA_DIR": str(home / "data"),  # kernels/extensions still come from sys.prefix
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "lab-workspaces"),  # no restored layout
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        **(extra_env or {}),
    }
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp for robust waits
        "--JupyterNotebookApp.expose_app_in_browser=True",  # the same in Notebook 7
        "--LabApp.extension_manager=readonly",  # no PyPI queries from the UI
        "--ServerApp.shutdown_no_activity_timeout=1800",  # safety net if teardown never runs
    ]
    if os.geteuid() == 0:  # CI containers often run as root
        cmd.append("--ServerApp.allow_root=True")
    log = home / "jupyter.log"
    proc = subprocess.Popen(
        cmd,
        cwd=root,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lab = Lab(root, port, token, proc, log)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"jupyter lab exited rc={proc.returncode}:\n{log.read_text()[-3000:]}"
            )
        with contextlib.suppress(OSError, urllib.error.URLError):
            if lab.api("GET", "/api/status") == 200:
                return lab
        if time.monotonic() > deadline:
            stop_lab(lab)
            raise TimeoutError(f"jupyter lab not up after {timeout}s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def stop_lab(lab: Lab) -> None:
    """Ask the server to shut down (it stops its kernels), then make sure the group is gone."""
    with contextlib.suppress(Exception):
        lab.api("POST", "/api/shutdown")
    try:
        lab.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(lab.proc.pid, signal.SIGTERM)
        try:
            lab.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(lab.proc.pid, signal.SIGKILL)
            lab.proc.wait()
    # sweep anything left in the server's own process group. Kernels run in their own
    # session; /api/shutdown stops them, and ipykernel exits by itself when its parent
    # server dies (JPY_PARENT_PID poller).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(lab.proc.pid, signal.SIGKILL)


JS_RESTART = """async () => {
  const ctx = window.jupyterapp.shell.currentWidget.sessionContext;
  await ctx.session.kernel.restart();      // no dialog (the menu command asks first)
}"""
JS_CELL_COUNT = "() => window.jupyterapp.shell.currentWidget.content.widgets.length"


def open_notebook(
    page, lab: Lab, nb_path: str, timeout_ms: int = 90_000, *, notebook7: bool = False
) -> None:
    page.goto(lab.nb7_url(nb_path) if notebook7 else lab.url(nb_path))
    page.locator(".jp-NotebookPanel").first.wait_for(state="visible", timeout=timeout_ms)
    page.wait_for_function(JS_KERNEL_IDLE, timeout=timeout_ms)


def run_all(page, timeout_ms: int = 120_000) -> None:
    page.evaluate(JS_RUN_ALL)
    page.wait_for_function(JS_KERNEL_IDLE, timeout=timeout_ms)


def restart_kernel(page, timeout_ms: int = 90_000) -> None:
    """Restart the notebook's kernel without the confirmation dialog, wait until idle."""
    page.evaluate(JS_RESTART)
    page.wait_for_function(JS_KERNEL_IDLE, timeout=timeout_ms)


def console_errors(page) -> list[str]:
    """Start collecting the page's console errors and uncaught exceptions (a live list)."""
    seen: list[str] = []
    page.on("console", lambda m: seen.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.append(f"pageerror: {e}"))
    return seen


def run_tagged(page, tag: str) -> int:
    idx = page.evaluate(JS_RUN_TAGGED, tag)
    page.wait_for_function(JS_KERNEL_IDLE)
    return idx
