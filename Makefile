# Two commands: `make run` and `make test`. Everything else is for contributors.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= data
LANDING ?= $(DATA_DIR)/landing
DEMO_CUSTOMERS ?= 10000
# The warehouse engine: duckdb (embedded, the default) or postgres. With postgres and no SEGMENTS_POSTGRES_DSN in
# the environment, `make run` starts a throwaway local cluster under $(DATA_DIR)/postgres (`make postgres-stop`).
TARGET ?= $(if $(SEGMENTS_TARGET),$(SEGMENTS_TARGET),duckdb)

export SEGMENTS_DATA_DIR := $(abspath $(DATA_DIR))
# The Dagster instance of `make ui`; `segments run` records its runs there too (its default DAGSTER_HOME).
DAGSTER_HOME_DIR := $(abspath $(DATA_DIR))/dagster

.PHONY: install lock run test test-crash ui bench lint format demo-data manifest postgres postgres-stop clean

install: $(STAMP)

# Every dependency at the version in requirements.lock (pyproject.toml keeps the ranges, for people who
# install the package); `make lock` resolves the ranges again in a clean environment.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	{ printf '%s\n' "# Pinned versions of every dependency of \`pip install -e '.[dev]'\` on Python 3.11 (Linux), used as pip" \
		"# constraints by \`make\` and CI. Regenerate with \`make lock\` after changing pyproject.toml's ranges."; \
		.lock-venv/bin/python -m pip freeze --exclude-editable; } > requirements.lock
	rm -rf .lock-venv

# dbt's manifest is a build artifact (never committed): Dagster loads its asset graph from it.
manifest: $(STAMP)
	@$(BIN)/python -m segments.dbt_manifest > /dev/null

# Demo data when the landing folder is empty, and again when the demo files are from an earlier day
# (a real export is new every night; the freshness gate blocks files that stop changing).
demo-data: $(STAMP)
	@if [ -z "$$(ls -A $(LANDING) 2>/dev/null)" ] || \
		{ [ -f $(LANDING)/.demo-as-of ] && [ "$$(cat $(LANDING)/.demo-as-of)" != "$$(date +%F)" ]; }; then \
		$(BIN)/segments demo-data --customers $(DEMO_CUSTOMERS) --out $(LANDING) --seed 42; \
	fi

run: demo-data manifest $(if $(filter postgres,$(TARGET)),postgres)
	DAGSTER_HOME=$(DAGSTER_HOME_DIR) $(BIN)/segments run --landing $(LANDING) --target $(TARGET)

# The throwaway local PostgreSQL of TARGET=postgres (installs Debian's postgresql-15 if no server is there),
# unless SEGMENTS_POSTGRES_DSN names a database to use instead.
postgres: $(STAMP)
	@if [ -z "$$SEGMENTS_POSTGRES_DSN" ]; then $(BIN)/segments postgres start --install; fi

postgres-stop: $(STAMP)
	@$(BIN)/segments postgres stop

# The crash sequence (kill -9 of whole runs at every stage, then SIGTERM) takes minutes: CI runs it as well.
test: manifest lint
	$(BIN)/python -m pytest -q -m "not crash" --durations=15

test-crash: manifest
	$(BIN)/python -m pytest -q -m crash

# dagster.yaml as `segments run` makes it (orchestration/runner.py, dagster_instance): telemetry off.
ui: demo-data manifest
	@mkdir -p $(DAGSTER_HOME_DIR)
	@test -s $(DAGSTER_HOME_DIR)/dagster.yaml || printf 'telemetry:\n  enabled: false\n' > $(DAGSTER_HOME_DIR)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME_DIR) $(BIN)/dagster dev -m orchestration.definitions

bench: manifest $(if $(filter postgres,$(TARGET)),postgres)
	SEGMENTS_TARGET=$(TARGET) $(BIN)/python -m benchmarks.run

# sqlfluff compiles the dbt models with dbt (.sqlfluff: an in-memory target, no warehouse needed); ~30 s.
lint: $(STAMP)
	$(BIN)/ruff check segments orchestration tests benchmarks
	$(BIN)/ruff format --check segments orchestration tests benchmarks
	$(BIN)/sqlfluff lint dbt_project

format: $(STAMP)
	$(BIN)/ruff format segments orchestration tests benchmarks
	$(BIN)/ruff check --fix segments orchestration tests benchmarks
	$(BIN)/sqlfluff fix dbt_project

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs .pytest_cache
