"""Errors raised by the rule engine, each pointing at a place in a rule file.

``str(RuleError)`` is ``file:line:col: message`` (1-based line and column, the format editors and CI log
viewers turn into links). When the place is not known the line/column parts are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class RuleError(Exception):
    """One problem in a rule file (or a folder of rule files)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        col: int | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.col = col
        self.message = message
        super().__init__(self.__str__())

    @property
    def location(self) -> str:
        parts = [self.file or "<rules>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.__str__()!r})"

    def __reduce__(self):  # keep pickling (multiprocessing, Dagster) working with keyword-only args
        return (_rebuild, (type(self), self.message, self.file, self.line, self.col))


def _rebuild(cls: type[RuleError], message: str, file: str | None, line: int | None, col: int | None):
    return cls(message, file=file, line=line, col=col)


class RuleValidationError(RuleError):
    """Every problem found in a rule file (or folder), sorted by file and position.

    ``file``/``line``/``col``/``message`` are those of the first error; ``str()`` is one error per line.
    """

    def __init__(self, errors: Iterable[RuleError]) -> None:
        self.errors: list[RuleError] = sorted(
            _flatten(errors), key=lambda e: (e.file or "", e.line or 0, e.col or 0)
        )
        if not self.errors:
            raise ValueError("RuleValidationError needs at least one error")
        first = self.errors[0]
        super().__init__(first.message, file=first.file, line=first.line, col=first.col)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)

    def __reduce__(self):
        return (type(self), (self.errors,))


def _flatten(errors: Iterable[RuleError]) -> list[RuleError]:
    out: list[RuleError] = []
    for error in errors:
        if isinstance(error, RuleValidationError):
            out.extend(error.errors)
        else:
            out.append(error)
    return out
