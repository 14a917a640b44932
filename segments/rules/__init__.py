"""The segmentation rule engine: versioned YAML rule files -> one SQL statement run in the warehouse.

A plain library (no Dagster): load and validate rule files (every error with ``file:line:col``), pick the
version in force on a day, and compile/run the assignment of every customer to a segment in every scheme.

    rule_sets = load_rule_versions(Path("segment_rules"), columns, required_schemes=REQUIRED_SCHEMES)
    rule_set = active_version(rule_sets, as_of)
    rows = assign_segments(con, rule_set, source_sql=..., target_table="marts.customer_segments",
                           run_id=run_id, as_of=as_of, assigned_at=now)
"""

from .compiler import OUTPUT_COLUMNS, assign_segments, compile_assignments
from .errors import RuleError, RuleValidationError
from .expressions import ALLOWED_FUNCTIONS
from .loader import entity_catalogue, load_rule_file
from .model import (
    CHANNELS,
    DEFAULT_CHANNEL_ORDER,
    ENTITIES,
    OWNERS,
    DefaultRule,
    Experiment,
    NextAction,
    Rule,
    RuleSet,
    Scheme,
    rule_file_json_schema,
)
from .versions import active_version, challenger_for, load_rule_versions, rule_files

# Schemes downstream models and dashboards rely on; pass as ``required_schemes`` when loading.
REQUIRED_SCHEMES: tuple[str, ...] = ("rfm_lifecycle", "value_tier")

__all__ = [
    "ALLOWED_FUNCTIONS",
    "CHANNELS",
    "DEFAULT_CHANNEL_ORDER",
    "ENTITIES",
    "OUTPUT_COLUMNS",
    "OWNERS",
    "REQUIRED_SCHEMES",
    "DefaultRule",
    "Experiment",
    "NextAction",
    "Rule",
    "RuleError",
    "RuleSet",
    "RuleValidationError",
    "Scheme",
    "active_version",
    "assign_segments",
    "challenger_for",
    "compile_assignments",
    "entity_catalogue",
    "load_rule_file",
    "load_rule_versions",
    "rule_file_json_schema",
    "rule_files",
]
