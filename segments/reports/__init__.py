"""Documents made from the published warehouse (schema ``segments``): the rules audit and experiment reports.

Each report is split into a function that reads the warehouse into plain dataclasses and functions that render
those dataclasses, so renderers are testable without a database. The helpers here are shared by the reports:
the dbt marts they read (``mart``), atomic file writes, Markdown escaping and Markdown tables.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

import duckdb

from segments.errors import SegmentsError
from segments.formatting import noun

__all__ = ["mart", "md_code", "md_fence", "md_rows", "md_table", "md_text", "write_text_atomic"]


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to a temporary file next to ``path``, then rename it into place (atomic on POSIX).

    A reader sees the old document or the new one, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be read (and served)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def mart(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]) -> str:
    """A subquery of the dbt mart ``schema.table`` with exactly ``columns``, the ones its reader needs.

    Before any run has built the mart, an empty relation (its columns untyped NULLs). The marts carry no
    schema version: one an older release built without a needed column is a ``SegmentsError`` naming the
    columns and what to run, as ``require_current`` is for the tables Python owns (those are read through
    ``contract.tables.readable``)."""
    schema, _, name = table.rpartition(".")
    existing = {
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema or "main", name],
        ).fetchall()
    }
    if not existing:
        return "(select " + ", ".join(f"null as {c}" for c in columns) + " where false)"
    missing = [c for c in columns if c not in existing]
    if missing:
        raise SegmentsError(
            f"{table} has no {noun('column', len(missing))} {', '.join(missing)}: the marts were built by an "
            "older release; `segments run` rebuilds them"
        )
    return f"(select {', '.join(columns)} from {table})"


_MD_SPECIAL = re.compile(r"([\\`*\[\]|<>#])")


def md_text(value: object) -> str:
    """Text from the database as inline Markdown: one line, Markdown and HTML characters escaped."""
    if value is None:
        return ""
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_code(value: object) -> str:
    """A code span (identifiers, versions, hashes); safe inside a table cell."""
    if value is None or str(value) == "":
        return ""
    text = " ".join(str(value).split()).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_fence(text: str, info: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run in ``text``."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{fence}{info}\n{body}{fence}"


def md_table(header: Sequence[str], rows: Iterable[Sequence[object]], *, align: str = "") -> str:
    """A GitHub-flavoured Markdown table. Cells must already be Markdown (see ``md_text``/``md_code``).

    ``align``: one letter per column, ``l`` or ``r`` (default: left)."""
    align = align.ljust(len(header), "l")
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if a == "r" else "---" for a in align[: len(header)]) + "|",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def md_rows(rows: Iterable[Sequence[object]], code: Collection[int] = ()) -> list[list[str]]:
    """Table rows as Markdown cells for ``md_table``: text escaped (``md_text``), the ``code`` columns as code."""
    return [[md_code(c) if i in code else md_text(c) for i, c in enumerate(row)] for row in rows]
