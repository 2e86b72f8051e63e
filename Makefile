# The project's front door: `make demo` and `make test`. Both build .venv by themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test test-slow demo lint bench schemas clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

# Debian tools some tests drive for real (Alertmanager, docker-compose's offline validation, Chromium);
# best effort: without them those tests skip with a reason.
system-deps:
	@bash .ci/system-deps

# The report tests run in a pytest process of their own: they open one embedded store many times, and
# once in four full runs an in-process chDB query hung after the many other stores of earlier tests
# (never in a process of its own).
test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest -q -m "not slow" --ignore=tests/test_report.py
	$(BIN)/python -m pytest -q -m "not slow" tests/test_report.py

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

demo: $(STAMP)
	$(BIN)/sno demo

bench: $(STAMP)
	$(BIN)/sno bench

schemas: $(STAMP)
	$(BIN)/python -m schemas.generate

clean:
	rm -rf $(VENV) sno-data demo-output .pytest_cache .ruff_cache
