"""The landing tables are declared twice: the loader's contract (segments/ingest/schemas.py) and dbt's sources
(dbt_project/models/staging/*/_*__sources.yml), with freshness limits that the quality gate's suites
(expectations/raw_*.json, meta.freshness) also set. These tests keep the declarations equal, read from dbt's
manifest (what dbt itself makes of the YAML)."""

from __future__ import annotations

import json

import pytest

from segments.dbt_manifest import ensure_manifest
from segments.ingest.schemas import ENTITIES
from segments.quality.gate import ACCEPTED_SCHEMA, LINEAGE
from segments.quality.suites import load_suites
from segments.settings import EXPECTATIONS_DIR

# dbt's threshold for each gate severity: a blocking limit fails the build, a warning one only warns
DBT_THRESHOLD = {"block": "error_after", "warn": "warn_after"}
HOURS = {"minute": 1 / 60, "hour": 1, "day": 24}


@pytest.fixture(scope="module")
def sources() -> dict[str, dict]:
    """dbt's source tables over the accepted landing tables, by identifier (the raw table's name)."""
    manifest = json.loads(ensure_manifest().read_text(encoding="utf-8"))
    return {
        source["identifier"]: source
        for source in manifest["sources"].values()
        if source["schema"] == ACCEPTED_SCHEMA
    }


def _freshness_hours(source: dict) -> dict[str, float]:
    """The limits dbt checks, in hours: ``{"error_after": 72.0}``; empty when it checks none."""
    freshness = source.get("freshness") or {}
    return {
        kind: threshold["count"] * HOURS[threshold["period"]]
        for kind in ("warn_after", "error_after")
        if (threshold := freshness.get(kind) or {}).get("count") is not None
    }


def test_every_landing_entity_is_a_source_table_and_nothing_else_is(sources):
    assert set(sources) == set(ENTITIES)
    assert {name: sources[name]["source_name"] for name in ENTITIES} == {
        name: entity.source for name, entity in ENTITIES.items()
    }


@pytest.mark.parametrize("name", sorted(ENTITIES))
def test_a_source_table_has_the_landing_columns_and_the_loaders_lineage(sources, name):
    entity = ENTITIES[name]
    columns = sources[name]["columns"]
    assert list(columns) == [*entity.columns, *LINEAGE]
    declared = {column: columns[column]["data_type"].upper().replace(" ", "") for column in entity.columns}
    assert declared == {column: data_type.replace(" ", "") for column, data_type in entity.columns.items()}


@pytest.mark.parametrize("name", sorted(ENTITIES))
def test_declared_freshness_is_the_quality_gates(sources, name):
    suite = load_suites(EXPECTATIONS_DIR)[ENTITIES[name].table]
    gate = suite.freshness
    expected = {DBT_THRESHOLD[gate.get("severity", "block")]: float(gate["max_age_hours"])} if gate else {}
    source = sources[name]
    assert _freshness_hours(source) == expected
    if expected:
        # the age the gate measures: when the loader last wrote the table (raw._loads.loaded_at = _loaded_at)
        assert source["loaded_at_field"] in ("_loaded_at", "_loaded_at::timestamptz")
        assert source["freshness"].get("filter") is None
