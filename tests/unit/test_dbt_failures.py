"""What a failed dbt build says about itself: read from dbt's JSON log (orchestration.assets.transform)."""

import json

from orchestration.assets.transform import dbt_failures


def node_finished(
    kind: str, name: str, status: str, message: str | None, relation: dict | None = None
) -> dict:
    return {
        "info": {"name": "NodeFinished", "level": "debug", "msg": f"Finished running node {name}"},
        "data": {
            "node_info": {"resource_type": kind, "node_name": name, "node_relation": relation or {}},
            "run_result": {"status": status, "message": message},
        },
    }


def write_log(path, events, garbage: str = "") -> None:
    path.write_text("\n".join([garbage, *(json.dumps(e) for e in events)]), encoding="utf-8")


def test_failed_nodes_are_named_by_their_relation_and_say_why(tmp_path):
    log = tmp_path / "dbt.log"
    write_log(
        log,
        [
            node_finished("model", "stg_sales__orders", "success", "OK", {"schema": "staging", "alias": "x"}),
            node_finished(
                "model",
                "customer_features",
                "error",
                "Constraint Error: CHECK constraint failed on table\n  customer_features",
                {"schema": "marts", "alias": "customer_features"},
            ),
            node_finished(
                "test",
                "unique_dim_customers_customer_id",
                "fail",
                "Got 2 results, configured to fail if != 0",
            ),
            {
                "info": {
                    "name": "RunResultError",
                    "level": "error",
                    "msg": "Constraint Error: CHECK constraint failed on table\n  customer_features",
                },
                "data": {},
            },
            {
                "info": {
                    "name": "MainEncounteredError",
                    "level": "error",
                    "msg": "Encountered an error:\n  disk full",
                },
                "data": {},
            },
        ],
        garbage="plain text dbt printed before its JSON log started",
    )
    assert dbt_failures(log) == [
        "model marts.customer_features: Constraint Error: CHECK constraint failed on table customer_features",
        "test unique_dim_customers_customer_id: Got 2 results, configured to fail if != 0",
        "Encountered an error: disk full",  # not about a node: last, and only once
    ]


def test_a_missing_log_names_nothing(tmp_path):
    assert dbt_failures(tmp_path / "dbt.log") == []
