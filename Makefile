# Two commands set everything up on a fresh machine (README.md):
#   make lab    create the locked environment and open JupyterLab on the quickstart
#   make test   create the locked environment (test extras), the browser, R (optional model
#               oracles), and run every test (with node: the widgets' front-end tools from
#               package-lock.json and their tests)
# The environment is built by uv from uv.lock; uv itself is bootstrapped with pip into .venv-tools.

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .venv-tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=
# The llm extra's llama-cpp-python is built from source (no wheels on PyPI): a portable build
# (no -march=native, so the cached wheel runs on any x86-64 machine; no multimodal tool). The
# first build takes about 7 minutes; uv caches the wheel for every later `make env`.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF

.PHONY: lab test env env-lab browser r lint format bench screenshot clean
.PHONY: node bundle

$(UV):
	$(PYTHON) -m venv .venv-tools
	.venv-tools/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced-test: $(UV) uv.lock pyproject.toml
	$(UV) sync --locked --all-extras
	touch $@

# --inexact: keep the test extras if `make test` installed them (they include the lab ones)
$(VENV)/.synced-lab: $(UV) uv.lock pyproject.toml
	$(UV) sync --locked --inexact --extra lab
	touch $@

env: $(VENV)/.synced-test

env-lab: $(VENV)/.synced-lab

# Debian's chromium drives the real-browser tests (Playwright cannot download its own here).
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation; \
	  else \
	    echo "chromium is missing: run 'sudo apt-get install chromium' (the browser tests need it)"; exit 1; \
	  fi; \
	fi

# R with lme4, ordinal and geepack: optional oracles of the analysis models
# (tests/analysis/test_r_oracles.py skips without them). Installed when root; otherwise a note.
r:
	@if ! Rscript -e 'quit(status = !all(sapply(c("lme4", "ordinal", "geepack"), requireNamespace, quietly = TRUE)))' >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends r-base-core r-cran-lme4 r-cran-ordinal r-cran-geepack) \
	      || echo "could not install R (the R oracle tests will skip)"; \
	  else \
	    echo "R oracles missing (tests skip): 'sudo apt-get install r-base-core r-cran-lme4 r-cran-ordinal r-cran-geepack'"; \
	  fi; \
	fi

# node + npm build the widgets' front end (esbuild, pinned in package-lock.json) and run its unit
# tests (node --test); Debian's packages are enough (node >= 18).
node:
	@if ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm; \
	  else \
	    echo "node/npm are missing: run 'sudo apt-get install nodejs npm'"; exit 1; \
	  fi; \
	fi

node_modules/.package-lock.json: package.json package-lock.json | node
	npm ci --ignore-scripts --no-audit --no-fund

# rebuild annotate/widgets/static/ from annotate/widgets/js/ (commit the result)
bundle: node_modules/.package-lock.json
	node annotate/widgets/js/build.mjs

# JupyterLab rooted at the repository (codebooks/ and corpora/ beside the notebooks), on the
# quickstart; jupyter_server_config.py (found through JUPYTER_CONFIG_PATH, next to the user's own
# config) strips outputs from the tracked notebooks whenever they are saved. JupyterLab refuses
# to start as root unless told (containers and CI machines run as root).
lab: env-lab
	JUPYTER_CONFIG_PATH="$(CURDIR)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" $(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) --ServerApp.root_dir="$(CURDIR)" notebooks/00_quickstart.ipynb

# mypy: configuration in pyproject.toml (strict on the foundation, domain and store layers)
test: env browser r
test: node_modules/.package-lock.json
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	node --test tests/widgets/js/
	$(PY) -m pytest --durations=25 $(PYTEST_ARGS)

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

format: env
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# README's command table, generated from `annotate --help` (tests/test_docs.py checks it)
.PHONY: docs
docs: env
	$(PY) -m annotate.cli._readme --write README.md

bench: env
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# retake the README's screenshots of the widgets (docs/widget.png, docs/adjudicator.png,
# docs/widget-suggestions.png, docs/widget-calibration.png)
screenshot: env browser
	ANNOTATE_UPDATE_SCREENSHOT=1 $(PY) -m pytest tests/e2e/test_annotator_e2e.py tests/e2e/test_adjudicator_e2e.py tests/e2e/test_suggestions_e2e.py tests/e2e/test_calibration_e2e.py -q

clean:
	rm -rf $(VENV) .venv-tools .pytest_cache .ruff_cache node_modules
