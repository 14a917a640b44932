"""Load one rule file: YAML -> schema -> semantic checks -> conditions, collecting every error."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import RuleError, RuleValidationError
from .expressions import Condition, parse_condition
from .model import (
    ENTITIES,
    DefaultRule,
    Experiment,
    Rule,
    RuleFileSpec,
    RuleSet,
    Scheme,
    schema_errors,
)
from .typecheck import type_check
from .yaml_source import (
    YamlDocument,
    find_node,
    load_yaml,
    node_position,
    path_to_str,
    scalar_offset_position,
)


def display_path(path: Path) -> str:
    """How a file is named in messages: relative to the working directory when it is below it."""
    if path.is_absolute():
        try:
            return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
        except ValueError:  # pragma: no cover - different drive on Windows
            return str(path)
    return str(path)


Catalogue = Mapping[str, str] | Mapping[str, Mapping[str, str]]


def entity_catalogue(columns: Catalogue | None) -> dict[str, dict[str, str]] | None:
    """``{entity: {column: duckdb_type}}`` from either that or one flat ``{column: type}`` for every entity."""
    if columns is None:
        return None
    if columns and all(isinstance(v, Mapping) for v in columns.values()):
        return {entity: dict(cols) for entity, cols in columns.items()}  # type: ignore[arg-type]
    return {entity: dict(columns) for entity in ENTITIES}  # type: ignore[arg-type]


def load_rule_file(
    path: Path | str,
    columns: Catalogue | None = None,
    *,
    required_schemes: Collection[str] = (),
) -> RuleSet:
    """Load and validate one rule file; raises :class:`RuleValidationError` listing every problem.

    With ``columns`` (``{entity: {column: duckdb_type}}`` for the entity levels ``customer``, ``account`` and
    ``contact``, or one flat ``{column: duckdb_type}`` used for all of them) every condition is also checked
    for unknown columns of its scheme's entity and type-checked in DuckDB. ``required_schemes`` must all be
    present.
    """
    path = Path(path)
    file = display_path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RuleValidationError(
            [RuleError(f"cannot read the file: {exc.strerror or exc}", file=file)]
        ) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RuleValidationError(
            [RuleError("the file is not valid UTF-8 text", file=file, line=line)]
        ) from None
    doc, errors = load_yaml(text, file)
    if doc is None:
        raise RuleValidationError(errors)
    spec, errors = schema_errors(doc)
    errors += _condition_errors(doc, columns)
    if spec is not None:
        errors += _semantic_errors(doc, spec, required_schemes)
    if errors or spec is None:
        raise RuleValidationError(errors)
    return _build(doc, spec, path, hashlib.sha256(data).hexdigest())


def _condition_errors(doc: YamlDocument, columns: Catalogue | None) -> list[RuleError]:
    """Check every ``when`` that is text, even when other parts of the file fail the schema."""
    catalogue = entity_catalogue(columns)
    errors: list[RuleError] = []
    checked: dict[str, dict[str, Condition]] = {}
    located: dict[str, tuple[tuple[Any, ...], yaml.Node]] = {}
    for loc, text, entity in _conditions(doc.data):
        if catalogue is not None and entity not in catalogue:
            continue  # an unknown entity level is a schema error, reported there
        entity_columns = catalogue[entity] if catalogue is not None else None
        node, _ = find_node(doc.root, loc)
        condition, problems = parse_condition(text, entity_columns)
        for problem in problems:
            line, col = scalar_offset_position(node, doc.text, problem.offset)
            errors.append(
                RuleError(f"{path_to_str(loc)}: {problem.message}", file=doc.file, line=line, col=col)
            )
        if condition is not None:
            key = path_to_str(loc)
            checked.setdefault(entity, {})[key], located[key] = condition, (loc, node)
    for entity, conditions in checked.items():
        if catalogue is None:
            break
        for key, message in type_check(conditions, catalogue[entity]).items():
            loc, node = located[key]
            line, col = scalar_offset_position(node, doc.text, 0)
            errors.append(RuleError(f"{key}: {message}", file=doc.file, line=line, col=col))
    return errors


def _conditions(data: Any) -> list[tuple[tuple[Any, ...], str, str]]:
    """(location, condition text, entity level of its scheme) of every textual ``when``."""
    found: list[tuple[tuple[Any, ...], str, str]] = []
    schemes = data.get("schemes") if isinstance(data, dict) else None
    if not isinstance(schemes, dict):
        return found
    for name, scheme in schemes.items():
        rules = scheme.get("rules") if isinstance(scheme, dict) else None
        entity = scheme.get("entity", "customer") if isinstance(scheme, dict) else "customer"
        for index, rule in enumerate(rules if isinstance(rules, list) else []):
            if isinstance(rule, dict) and isinstance(rule.get("when"), str):
                found.append((("schemes", name, "rules", index, "when"), rule["when"], str(entity)))
    return found


def _semantic_errors(doc: YamlDocument, spec: RuleFileSpec, required: Collection[str]) -> list[RuleError]:
    errors: list[RuleError] = []

    def error(loc: tuple[Any, ...], message: str, *, key: bool = False) -> None:
        line, col = node_position(find_node(doc.root, loc, key=key)[0])
        errors.append(RuleError(f"{path_to_str(loc)}: {message}", file=doc.file, line=line, col=col))

    seen_channels: dict[str, int] = {}
    for index, channel in enumerate(spec.channel_order):
        if channel in seen_channels:
            error(("channel_order", index), f"'{channel}' is listed twice")
        seen_channels.setdefault(channel, index)
    missing = [name for name in required if name not in spec.schemes]
    if missing and spec.role == "champion":  # a challenger may change only some schemes
        error(("schemes",), f"missing required scheme(s): {', '.join(missing)}", key=True)
    experiment = spec.experiment
    if experiment is not None:
        if spec.role == "challenger":
            error(("experiment",), "a challenger file cannot declare an experiment", key=True)
        if experiment.challenger == spec.version:
            error(("experiment", "challenger"), "the challenger must be another version, not this file's own")
        if experiment.challenger_share + experiment.holdout_share > 1:
            error(
                ("experiment", "holdout_share"),
                f"challenger_share + holdout_share is {experiment.challenger_share + experiment.holdout_share:g};"
                " together they can be at most 1",
            )
    for name, scheme in spec.schemes.items():
        first_line: dict[str, int] = {}
        ids = [(("schemes", name, "rules", i, "id"), rule.id) for i, rule in enumerate(scheme.rules)]
        ids.append((("schemes", name, "default", "id"), scheme.default.id))
        for loc, rule_id in ids:
            line = node_position(find_node(doc.root, loc)[0])[0]
            if rule_id in first_line:
                error(
                    loc,
                    f"duplicate rule id '{rule_id}' in scheme {name} (first used on line {first_line[rule_id]})",
                )
            first_line.setdefault(rule_id, line)
    return errors


def _build(doc: YamlDocument, spec: RuleFileSpec, path: Path, sha256: str) -> RuleSet:
    def line_of(*loc: Any) -> int:
        return node_position(find_node(doc.root, loc)[0])[0]

    schemes: dict[str, Scheme] = {}
    for name, scheme in spec.schemes.items():
        rules = []
        for index, rule in enumerate(scheme.rules):
            when_line, when_col = node_position(
                find_node(doc.root, ("schemes", name, "rules", index, "when"))[0]
            )
            rules.append(
                Rule(
                    id=rule.id,
                    segment=rule.segment,
                    when=rule.when,
                    next_action=rule.next_action,
                    description=rule.description,
                    line=line_of("schemes", name, "rules", index),
                    when_line=when_line,
                    when_col=when_col,
                )
            )
        default = DefaultRule(
            id=scheme.default.id,
            segment=scheme.default.segment,
            next_action=scheme.default.next_action,
            description=scheme.default.description,
            line=line_of("schemes", name, "default"),
        )
        schemes[name] = Scheme(
            name=name, rules=rules, default=default, description=scheme.description, entity=scheme.entity
        )
    experiment = spec.experiment
    return RuleSet(
        version=spec.version,
        effective_from=spec.effective_from,
        description=spec.description,
        author=spec.author,
        channel_order=list(spec.channel_order),
        schemes=schemes,
        path=path,
        text=doc.text,
        sha256=sha256,
        role=spec.role,
        experiment=Experiment(
            name=experiment.name,
            challenger=experiment.challenger,
            challenger_share=experiment.challenger_share,
            holdout_share=experiment.holdout_share,
            salt=experiment.salt,
            description=experiment.description,
        )
        if experiment
        else None,
    )
