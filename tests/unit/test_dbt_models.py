"""dbt Labs' conventions, read from dbt's manifest: every model says its layer in its name (or is a mart, whose
names are documented in dbt_project/README.md), is documented, and has a tested primary key: here, or on the
table that a view's rows pass into unchanged (a test on a view over the largest raw tables would read them
again every night; each such place is listed below and checked)."""

from __future__ import annotations

import json

import pytest

from segments.dbt_manifest import ensure_manifest

# model: (key column, the model whose test covers it). Each row says why in the model's YAML description.
KEY_TESTED_ON = {
    "stg_crm__interactions": ("interaction_id", "fct_interactions"),
    "int_interactions_windowed": ("interaction_id", "fct_interactions"),
    "stg_sales__order_lines": ("order_line_id", "fct_order_lines"),
    "int_order_lines_valued": ("order_line_id", "fct_order_lines"),
    "int_orders_identity_matched": ("order_id", "fct_orders"),
    "int_contacts_customer_mapped": ("contact_id", "stg_crm__contacts"),
}
LAYER_PREFIX = {"staging": "stg_", "intermediate": "int_"}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(ensure_manifest().read_text(encoding="utf-8"))


def _models(manifest) -> dict[str, dict]:
    return {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def _keys(manifest) -> dict[str, set[str | None]]:
    """Per model, the columns with an enforced primary key or a unique test (None: a unique test on an
    expression, i.e. a composite key)."""
    models = _models(manifest)
    by_id = {n["unique_id"]: name for name, n in models.items()}
    keys: dict[str, set[str | None]] = {name: set() for name in models}
    for name, node in models.items():
        enforced = node["config"].get("contract", {}).get("enforced")
        for column, spec in node["columns"].items():
            if enforced and any(c["type"] == "primary_key" for c in spec.get("constraints", [])):
                keys[name].add(column)
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and (node.get("test_metadata") or {}).get("name") == "unique":
            model = by_id.get(node.get("attached_node") or "")
            if model:
                keys[model].add(node.get("column_name"))
    return keys


def test_every_model_is_documented_and_named_for_its_layer(manifest):
    for name, node in _models(manifest).items():
        layer = node["fqn"][1]
        assert node["description"].strip(), f"{name} has no description"
        if layer in LAYER_PREFIX:
            assert name.startswith(LAYER_PREFIX[layer]), (
                f"{name} is in {layer}/ but not named {LAYER_PREFIX[layer]}*"
            )
        else:
            assert layer == "marts" and not name.startswith(tuple(LAYER_PREFIX.values())), name
        undocumented = [c for c, spec in node["columns"].items() if not spec.get("description", "").strip()]
        assert not undocumented, f"{name}: columns without a description: {undocumented}"


def test_every_model_has_a_tested_primary_key(manifest):
    keys = _keys(manifest)
    for name, found in keys.items():
        if name in KEY_TESTED_ON:
            column, tested_on = KEY_TESTED_ON[name]
            assert column in _models(manifest)[name]["columns"], f"{name} has no column {column}"
            assert column in keys[tested_on], f"{name}.{column}: {tested_on} does not test it either"
            assert tested_on in _models(manifest)[name]["description"] or tested_on in (
                _models(manifest)[name]["columns"][column].get("description", "")
            ), f"{name}'s YAML does not say its key is tested on {tested_on}"
        else:
            assert found, f"{name} has no tested primary key (enforced primary_key constraint or unique test)"
