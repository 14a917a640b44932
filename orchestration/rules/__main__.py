"""``python -m orchestration.rules check [FOLDER]`` validates rule files (schema and condition syntax; column
types need the warehouse catalogue and are checked by the pipeline). ``... schema`` prints the JSON Schema
kept in ``segment_rules/schema.json`` for editors."""

from __future__ import annotations

import argparse
import json
import sys

from . import REQUIRED_SCHEMES, RuleError, load_rule_versions, rule_file_json_schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.rules")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate every rule file in a folder")
    check.add_argument("folder", nargs="?", default="segment_rules")
    commands.add_parser("schema", help="print the JSON Schema of a rule file")
    args = parser.parse_args(argv)
    if args.command == "schema":
        print(json.dumps(rule_file_json_schema(), indent=2, sort_keys=True))
        return 0
    try:
        rule_sets = load_rule_versions(args.folder, required_schemes=REQUIRED_SCHEMES)
    except RuleError as exc:
        print(exc, file=sys.stderr)
        return 1
    for rule_set in rule_sets:
        print(f"ok  {rule_set.path}  version {rule_set.version}  effective {rule_set.effective_from}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
