# Two commands: `make run` and `make test`. Everything else is for contributors.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= data
LANDING ?= $(DATA_DIR)/landing
DEMO_CUSTOMERS ?= 10000

export SEGMENTS_DATA_DIR := $(abspath $(DATA_DIR))
# The Dagster instance of `make ui`; `segments run` records its runs there too (its default DAGSTER_HOME).
DAGSTER_HOME_DIR := $(abspath $(DATA_DIR))/dagster

.PHONY: install run test ui bench lint format demo-data manifest clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# dbt's manifest is a build artifact (never committed): Dagster loads its asset graph from it.
manifest: $(STAMP)
	@$(BIN)/python -m orchestration.dbt_manifest > /dev/null

# Demo data when the landing folder is empty, and again when the demo files are from an earlier day
# (a real export is new every night; the freshness gate blocks files that stop changing).
demo-data: $(STAMP)
	@if [ -z "$$(ls -A $(LANDING) 2>/dev/null)" ] || \
		{ [ -f $(LANDING)/.demo-as-of ] && [ "$$(cat $(LANDING)/.demo-as-of)" != "$$(date +%F)" ]; }; then \
		$(BIN)/segments demo-data --customers $(DEMO_CUSTOMERS) --out $(LANDING) --seed 42; \
	fi

run: demo-data manifest
	DAGSTER_HOME=$(DAGSTER_HOME_DIR) $(BIN)/segments run --landing $(LANDING)

test: manifest lint
	$(BIN)/python -m pytest -q --durations=15

# dagster.yaml as `segments run` makes it (orchestration/runner.py, dagster_instance): telemetry off.
ui: demo-data manifest
	@mkdir -p $(DAGSTER_HOME_DIR)
	@test -s $(DAGSTER_HOME_DIR)/dagster.yaml || printf 'telemetry:\n  enabled: false\n' > $(DAGSTER_HOME_DIR)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME_DIR) $(BIN)/dagster dev -m orchestration.definitions

bench: manifest
	$(BIN)/python -m benchmarks.run

lint: $(STAMP)
	$(BIN)/ruff check orchestration tests benchmarks
	$(BIN)/ruff format --check orchestration tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format orchestration tests benchmarks
	$(BIN)/ruff check --fix orchestration tests benchmarks

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs .pytest_cache
