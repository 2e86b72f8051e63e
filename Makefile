# The project's front door: `make demo` and `make test`. Both build .venv by themselves, from the hashed
# lock (requirements-dev.lock): every run installs the exact versions, and pip refuses a file whose hash
# differs. `make lock` refreshes the locks from the ranges in pyproject.toml.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK_FLAGS := --universal --generate-hashes --python-version 3.11 --no-header --annotation-style line -q

.PHONY: test test-slow demo lint bench schemas clean system-deps lock audit

$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The locks: requirements.lock (what the image installs) and requirements-dev.lock (plus the dev
# extra), each with the build backend (setuptools, wheel) so nothing is fetched unhashed.
lock: $(STAMP)
	printf 'setuptools>=68\nwheel\n' | $(BIN)/uv pip compile pyproject.toml - $(LOCK_FLAGS) -o requirements.lock
	printf 'setuptools>=68\nwheel\n' | $(BIN)/uv pip compile pyproject.toml - --extra dev $(LOCK_FLAGS) \
		-o requirements-dev.lock

# Known vulnerabilities in the locks (pip-audit); skipped with the reason where the service does not answer.
audit: $(STAMP)
	bash .ci/audit

lint: $(STAMP)
	$(BIN)/ruff check .

# Debian tools some tests drive for real (Prometheus, Alertmanager, docker-compose's offline validation,
# Chromium);
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
