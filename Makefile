# MNIST Studio: `make run` starts the app, `make test` runs every test. Both set up what
# they need in a virtual environment (.venv) first.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test lint bench screenshots clean

run: $(VENV)/.run-installed
	$(PY) -m streamlit run app.py --server.port $(PORT)

test: $(VENV)/.dev-installed
	bash scripts/ensure_chromium.sh
	$(PY) -m pytest

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .

screenshots: $(VENV)/.dev-installed
	bash scripts/ensure_chromium.sh
	MNIST_STUDIO_SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest tests/browser/test_pages_browser.py \
		"tests/browser/test_train_browser.py::test_progress_bar_and_curves_update_while_training" \
		"tests/browser/test_journeys_browser.py::test_a_learner_on_a_phone_trains_and_sees_every_page"

bench: $(VENV)/.dev-installed
	for script in bench/bench_*.py; do $(PY) $$script || exit 1; done

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.run-installed $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-output
