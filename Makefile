# MNIST Studio: `make run` starts the app, `make test` runs every test. Both set up what
# they need in a virtual environment (.venv) first, installing the exact versions in
# constraints.txt (the ones the tests passed with).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
# Extra `streamlit run` flags for `make run`, e.g. ARGS="--server.fileWatcherType auto".
ARGS ?=
PIP_INSTALL := $(PY) -m pip install --quiet -c constraints.txt
# Then the project itself (core, ui, testkit: pyproject.toml), editable, so scripts, benches
# and tests import it from anywhere without editing sys.path. Its dependencies are the
# requirements above (--no-deps); the venv's own setuptools builds it, nothing is downloaded
# when setuptools and wheel are there (Python 3.11's venv ships setuptools; setuptools before
# 70.1 needs wheel to build).
INSTALL_PROJECT := $(PIP_INSTALL) "setuptools>=64" wheel && \
	$(PIP_INSTALL) --no-deps --no-build-isolation -e .

.PHONY: run class test test-fast lint format typecheck check constraints bench screenshots clean

run: $(VENV)/.run-installed
	$(PY) -m streamlit run streamlit_app.py --server.port $(PORT) $(ARGS)

# A class at once: PROCESSES app processes behind nginx on PORT, with a shared PostgreSQL
# store (MNIST_STUDIO_DATABASE_URL, else a local one started with them) and, with RAY=1, jobs
# on a local Ray head; honcho runs them all, Ctrl-C stops everything (README, "A class at
# once"). HOST=127.0.0.1 keeps nginx off the network.
PROCESSES ?= 2
RAY ?= 0
HOST ?=

class: $(VENV)/.class-installed
	bash scripts/ensure_nginx.sh
	[ -n "$$MNIST_STUDIO_DATABASE_URL" ] || bash scripts/ensure_postgres.sh
	$(if $(filter 1,$(RAY)),$(PIP_INSTALL) -r requirements-ray.txt)
	$(PY) -m scripts.class_server --processes $(PROCESSES) --port $(PORT) \
		$(if $(HOST),--host $(HOST)) $(if $(filter 1,$(RAY)),--ray)

# Three pytest-xdist workers on two cores: browser, server and database tests spend much of
# their time waiting, so a third worker keeps the cores busy (CI: 19 min of tests with two).
# Ray tests all run in one of them (tests/conftest.py). Chromium
# for the browser tests and PostgreSQL 15 for the run store's tests on it are installed where
# missing (each test session starts its own PostgreSQL server: testkit/postgres.py), and so
# is nginx for the failover test (two app processes behind it: testkit/cluster.py).
TEST_WORKERS ?= 3

test: $(VENV)/.dev-installed
	bash scripts/ensure_chromium.sh
	bash scripts/ensure_postgres.sh
	bash scripts/ensure_nginx.sh
	$(PY) -m pytest -n $(TEST_WORKERS)

# The inner loop: every test but the browser ones (no Chromium, no server).
test-fast: $(VENV)/.dev-installed
	$(PY) -m pytest -n $(TEST_WORKERS) --ignore=tests/browser

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

format: $(VENV)/.dev-installed
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

typecheck: $(VENV)/.dev-installed
	$(PY) -m mypy

# What CI runs (.ci/run): lint, type check, then every test.
check: lint typecheck test

# Regenerate constraints.txt from the packages installed now: after changing a range in
# requirements*.txt (or adding a package), install it, run the tests, then `make constraints`.
constraints: | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) scripts/freeze_constraints.py requirements-dev.txt > constraints.txt
	touch $(VENV)/.run-installed $(VENV)/.dev-installed

screenshots: $(VENV)/.dev-installed
	bash scripts/ensure_chromium.sh
	MNIST_STUDIO_SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest tests/browser/test_pages_browser.py \
		"tests/browser/test_train_browser.py::test_progress_bar_and_curves_update_while_training" \
		"tests/browser/test_journeys_browser.py::test_a_learner_on_a_phone_trains_and_sees_every_page"

# Each bench script runs as a module from the project root (bench/README.md).
bench: $(VENV)/.dev-installed
	for script in bench/bench_*.py; do $(PY) -m bench.$$(basename $$script .py) || exit 1; done

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: requirements.txt constraints.txt pyproject.toml | $(PY)
	$(PIP_INSTALL) -r requirements.txt
	$(INSTALL_PROJECT)
	touch $@

$(VENV)/.class-installed: requirements.txt requirements-class.txt constraints.txt pyproject.toml \
		| $(PY)
	$(PIP_INSTALL) -r requirements-class.txt
	$(INSTALL_PROJECT)
	touch $(VENV)/.run-installed $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt requirements-ray.txt \
		requirements-class.txt constraints.txt pyproject.toml | $(PY)
	$(PIP_INSTALL) -r requirements-dev.txt
	$(INSTALL_PROJECT)
	touch $(VENV)/.run-installed $(VENV)/.class-installed $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache test-output .class
