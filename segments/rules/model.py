"""What a rule file may contain (pydantic, ``extra="forbid"``) and the loaded, public form of it.

``RuleFileSpec`` and friends describe the YAML exactly; ``RuleSet``/``Scheme``/``Rule``/``DefaultRule`` are what
:func:`segments.rules.load_rule_file` returns (they add the scheme name, file positions and provenance).
:func:`schema_errors` turns pydantic's errors into :class:`RuleError` s that point at the offending node.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, ValidationError

from .errors import RuleError
from .yaml_source import YamlDocument, find_node, node_position, path_to_str

CHANNELS: tuple[str, ...] = ("email", "sms", "phone", "post")  # consent-governed, as in the landing contract
DEFAULT_CHANNEL_ORDER: tuple[str, ...] = CHANNELS
OWNERS: tuple[str, ...] = ("marketing_automation", "sales", "customer_success")
# What a scheme segments: the buying unit (a B2B account, a B2C person or a guest), B2B accounts only, or
# every person in the CRM (B2C customers and the contacts at B2B accounts: the users, not the payers).
ENTITIES: tuple[str, ...] = ("customer", "account", "contact")
ROLES: tuple[str, ...] = ("champion", "challenger")
SNAKE_CASE = r"^[a-z][a-z0-9_]*$"

Channel = Literal["email", "sms", "phone", "post"]
ActionChannel = Literal["email", "sms", "phone", "post", "preferred", "none"]
Owner = Literal["marketing_automation", "sales", "customer_success"]
EntityLevel = Literal["customer", "account", "contact"]
Role = Literal["champion", "challenger"]
SnakeCase = Annotated[str, StringConstraints(pattern=SNAKE_CASE, max_length=63)]
# One line of printable text: it ends up in dashboards and CRM exports.
Label = Annotated[
    str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]+$", strip_whitespace=True, max_length=100)
]
Text = Annotated[str, Field(strict=True, min_length=1)]

assert get_args(Channel) == CHANNELS and get_args(Owner) == OWNERS
assert get_args(EntityLevel) == ENTITIES and get_args(Role) == ROLES
Share = Annotated[float, Field(ge=0, le=1)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NextAction(_Spec):
    """What to do with a customer in a segment; ``channel`` may be ``preferred`` or ``none``."""

    action: SnakeCase
    channel: ActionChannel
    owner: Owner
    priority: Annotated[StrictInt, Field(ge=1, le=5)]  # 1 = highest


class RuleSpec(_Spec):
    id: SnakeCase
    segment: Label
    description: Text | None = None
    when: Text
    next_action: NextAction


class DefaultRuleSpec(_Spec):
    id: SnakeCase
    segment: Label
    description: Text | None = None
    next_action: NextAction


class SchemeSpec(_Spec):
    description: Text | None = None
    entity: EntityLevel = "customer"
    rules: list[RuleSpec]
    default: DefaultRuleSpec


class ExperimentSpec(_Spec):
    """Champion/challenger test declared by the champion file: ``challenger_share`` of the customers get the
    challenger version's segments and actions, ``holdout_share`` keep the champion's segments but get no
    action, the rest get the champion. Arms come from a hash of customer id and salt (stable across runs)."""

    name: SnakeCase
    description: Text | None = None
    challenger: Annotated[str, Field(strict=True, min_length=1, max_length=64)]
    challenger_share: Share
    holdout_share: Share = 0.0
    salt: Annotated[str, Field(strict=True, min_length=1, max_length=100)]


class RuleFileSpec(_Spec):
    """One versioned rule file (``segment_rules/<version>.yaml``)."""

    version: Annotated[str, Field(strict=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
    effective_from: date
    description: Text
    author: Text
    role: Role = "champion"
    channel_order: Annotated[list[Channel], Field(min_length=1)] = list(DEFAULT_CHANNEL_ORDER)
    experiment: ExperimentSpec | None = None
    schemes: Annotated[dict[SnakeCase, SchemeSpec], Field(min_length=1)]


@dataclass(frozen=True)
class Rule:
    id: str
    segment: str
    when: str  # the SQL condition exactly as written in the file
    next_action: NextAction
    description: str | None = None
    line: int = 0  # where the rule starts (its first key) in the file
    when_line: int = 0
    when_col: int = 0


@dataclass(frozen=True)
class DefaultRule:
    id: str
    segment: str
    next_action: NextAction
    description: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Scheme:
    name: str
    rules: list[Rule]
    default: DefaultRule
    description: str | None = None
    entity: str = "customer"

    @property
    def outcomes(self) -> list[Rule | DefaultRule]:
        """Every rule in evaluation order, the default last."""
        return [*self.rules, self.default]


@dataclass(frozen=True)
class RuleSet:
    version: str
    effective_from: date
    description: str
    author: str
    channel_order: list[str]
    schemes: dict[str, Scheme]
    path: Path
    text: str = field(repr=False)
    sha256: str = ""  # hex digest of the file's bytes
    role: str = "champion"  # a challenger is only used through a champion's experiment
    experiment: Experiment | None = None


@dataclass(frozen=True)
class Experiment:
    name: str
    challenger: str  # the challenger's version
    challenger_share: float
    holdout_share: float
    salt: str
    description: str | None = None


def rule_file_json_schema() -> dict[str, Any]:
    """JSON Schema of a rule file (for editors: ``# yaml-language-server: $schema=schema.json``)."""
    schema = RuleFileSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Segment rule file"
    return schema


# --- pydantic errors -> RuleErrors ---------------------------------------------------------------------

_FIELD_HINTS = {
    "version": 'text in quotes, e.g. version: "2026-11-01"',
    "effective_from": "a date like 2026-11-01",
    "priority": "a whole number from 1 (highest) to 5",
    "challenger_share": "a share between 0 and 1, e.g. 0.2",
    "holdout_share": "a share between 0 and 1, e.g. 0.1",
}


def schema_errors(doc: YamlDocument) -> tuple[RuleFileSpec | None, list[RuleError]]:
    try:
        return RuleFileSpec.model_validate(doc.data), []
    except ValidationError as exc:
        return None, [_to_rule_error(doc, err) for err in exc.errors(include_url=False)]


def _to_rule_error(doc: YamlDocument, err: Any) -> RuleError:
    loc = tuple(err["loc"])
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    point_at_key = False
    if loc and loc[-1] == "[key]":  # a dict key (scheme name) failed validation
        loc, point_at_key = loc[:-1], True
    if kind == "extra_forbidden":
        point_at_key = True
        parent_model = _model_at(loc[:-1])
        allowed = list(parent_model.model_fields) if parent_model else []
        message = f"unknown key '{loc[-1]}'"
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        message += f" (did you mean '{close[0]}'?)" if close else f"; allowed keys: {', '.join(allowed)}"
        label_loc = loc[:-1]
    elif kind == "missing":
        message, label_loc = f"missing required key '{loc[-1]}'", loc[:-1]
        loc = loc[:-1]
    else:
        message, label_loc = _value_message(kind, err["msg"], value, ctx, loc), loc
    if kind == "missing" and loc and isinstance(loc[-1], str):
        point_at_key = True  # "rfm_lifecycle: missing required key 'default'" points at `rfm_lifecycle:`
    node, _ = find_node(doc.root, loc, key=point_at_key)
    if not point_at_key and isinstance(node, yaml.ScalarNode) and node.value == "" and loc:
        node, _ = find_node(doc.root, loc, key=True)  # an empty value: point at its key
    line, col = node_position(node)
    where = path_to_str(label_loc) or "file"
    return RuleError(f"{where}: {message}", file=doc.file, line=line, col=col)


def _value_message(kind: str, msg: str, value: Any, ctx: dict[str, Any], loc: tuple[Any, ...]) -> str:
    shown = _show(value)
    name = next((str(p) for p in reversed(loc) if isinstance(p, str)), "")
    if kind == "literal_error":
        allowed = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return f"{shown} is not one of {allowed}"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == SNAKE_CASE:
            return f"{shown} is not snake_case (lowercase letters, digits and _, starting with a letter)"
        return f"{shown} must be a single line of printable text"
    if kind in ("string_type", "int_type", "int_parsing", "int_from_float", "date_type") or kind.startswith(
        "date_"
    ):
        expected = _FIELD_HINTS.get(name) or ("text" if kind == "string_type" else "a whole number")
        return f"expected {expected}, got {_got(value)}"
    if kind in ("greater_than_equal", "less_than_equal") and name in _FIELD_HINTS:
        return f"{shown} is out of range: expected {_FIELD_HINTS[name]}"
    if kind in ("float_type", "float_parsing"):
        return f"expected {_FIELD_HINTS.get(name, 'a number')}, got {_got(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of keys to values, got {_got(value)}"
    if kind == "list_type":
        return f"expected a list, got {_got(value)}"
    if kind == "too_short":
        return "must not be empty"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is too long ({len(str(value))} characters; at most {ctx.get('max_length')})"
    return f"{msg[:1].lower()}{msg[1:]} (got {shown})"


def _got(value: Any) -> str:
    return "an empty value" if value is None else f"{_yaml_type(value)} {_show(value)}"


def _show(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict | list):
        text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False).strip()
        return text if len(text) <= 60 else text[:57] + "..."
    return str(value)


def _yaml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, date):
        return "date"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return "text"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The spec model that validates the mapping at ``loc`` (to list its allowed keys)."""
    model: type[BaseModel] | None = RuleFileSpec
    path = list(loc)
    while path and model is not None:
        item = path.pop(0)
        if model is RuleFileSpec and item == "schemes":
            if not path:
                return None
            path.pop(0)  # the scheme name
            model = SchemeSpec
        elif model is SchemeSpec and item == "rules":
            if path and isinstance(path[0], int):
                path.pop(0)
            model = RuleSpec
        elif model is SchemeSpec and item == "default":
            model = DefaultRuleSpec
        elif model is RuleFileSpec and item == "experiment":
            model = ExperimentSpec
        elif item == "next_action" and model in (RuleSpec, DefaultRuleSpec):
            model = NextAction
        else:
            return None
    return model
