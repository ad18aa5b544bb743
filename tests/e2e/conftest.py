"""pytest fixtures for the end-to-end tests (see jlab.py for the harness).

pytest runs with ``--import-mode=importlib``, so this folder and tests/widgets (the shared test
data builders) are put on sys.path here for ``from jlab import ...``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for _p in (HERE, HERE.parent / "widgets"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from jlab import CHROMIUM, CHROMIUM_ARGS, start_lab, stop_lab  # noqa: E402


@pytest.fixture(scope="session")
def lab(tmp_path_factory, llm_answers):
    """One JupyterLab server (also serving Notebook 7) for the whole e2e session; its kernels
    read the real test model's answers kept in ``llm_answers`` (tests/conftest.py)."""
    env = {"ANNOTATE_LLM_CACHE_FROM": str(llm_answers.path)}
    lab = start_lab(tmp_path_factory.mktemp("jlab"), extra_env=env)
    yield lab
    stop_lab(lab)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        # launch() always uses a fresh temporary --user-data-dir and removes it on close
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(60_000)  # 2 shared cores: generous waits
    # expect() has its own default (5 s), too short while other jobs load the machine
    pytest.importorskip("playwright.sync_api").expect.set_options(timeout=30_000)
    pg = ctx.new_page()
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:  # keep evidence of a failure
        pg.screenshot(path=f"e2e-failure-{request.node.name}.png")
    ctx.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    rep = (yield).get_result()
    setattr(item, "rep_" + rep.when, rep)
