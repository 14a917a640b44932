"""What the lint reports: one finding per problem, printed as ``file:line:col: severity: message``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class LintFinding:
    code: str  # shadowed, shadowed_on_data, never_true_on_data, empty_segment, inconsistent_action, overlapping_actions
    severity: str  # "warning" or "info"
    message: str  # one line: what is wrong and what to do
    file: str  # display_path(rule_set.path)
    line: int  # the rule's line, else 1
    col: int = 1
    scheme: str | None = None
    rule_id: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.severity}: {self.message}"


def _names(ids: Iterable[str]) -> str:
    return ", ".join(f"'{i}'" for i in ids)
