# Two commands: `make demo` and `make test`. Both set up .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= ./demo-county
PORT ?= 8000

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,dev]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/twin demo $(DEMO_DIR)
	$(BIN)/twin -w $(DEMO_DIR) stats
	$(BIN)/twin -w $(DEMO_DIR) serve --host 127.0.0.1 --port $(PORT)

# The browser and style tests serve MapLibre from node_modules (no CDN in tests).
node_modules/.installed: package.json
	npm install --no-audit --no-fund --silent
	touch $@

test: $(VENV)/.installed-test node_modules/.installed
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check twin layers tiles tests benchmarks
	$(BIN)/ruff format --check twin layers tiles tests benchmarks
	$(BIN)/mypy

# Benchmarks against the peers, each bounded in time; never part of `make test` or CI.
# Debian peers (PostGIS, wrk; npm when there is none) are installed when root, TileServer GL light from npm
# into benchmarks/out/tsgl; a peer still missing is reported as such in the tables.
BENCH_DEBS = postgresql-15-postgis-3 wrk
TSGL_DIR = benchmarks/out/tsgl

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $@

$(TSGL_DIR)/.installed:
	mkdir -p $(TSGL_DIR)
	[ -f $(TSGL_DIR)/package.json ] || echo '{"private": true}' > $(TSGL_DIR)/package.json
	cd $(TSGL_DIR) && npm install --no-audit --no-fund --silent tileserver-gl-light
	touch $@

bench: $(VENV)/.installed-bench
	-@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $(BENCH_DEBS); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  command -v npm >/dev/null || missing="$$missing npm"; \
	  if [ -n "$$missing" ]; then apt-get update -qq && \
	    apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi; fi
	-@command -v npm >/dev/null && $(MAKE) --no-print-directory $(TSGL_DIR)/.installed
	@failed=""; for b in benchmarks/bench_*.py; do \
	  echo "== $$b"; timeout 3600 $(BIN)/python $$b || failed="$$failed $$b"; done; \
	  if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
