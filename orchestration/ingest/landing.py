"""Load landing files (CSV or Parquet) into warehouse schema ``raw``, one table per entity.

A load is all or nothing: the file is checked first (header, then every value against the contract type),
and only a clean file replaces the raw table, in the same transaction that records it in ``raw._loads``.
An identical file (same sha256) that is already loaded is skipped.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from orchestration.errors import IngestError
from orchestration.ingest.schemas import Entity
from orchestration.warehouse import quote_ident, quote_literal, table_exists

LOADS_TABLE = "raw._loads"
FORMATS = (".parquet", ".csv")


@dataclass(frozen=True)
class LoadResult:
    entity: str
    file_name: str
    sha256: str
    rows: int
    loaded_at: datetime
    unchanged: bool  # True: identical file already loaded, nothing written


def find_landing_file(landing_dir: Path, entity: Entity) -> Path:
    candidates = [landing_dir / f"{entity.name}{ext}" for ext in FORMATS]
    found = [p for p in candidates if p.exists()]
    if not found:
        raise IngestError(
            str(landing_dir),
            f"no landing file for {entity.name} (expected {entity.name}.csv or {entity.name}.parquet)",
        )
    if len(found) > 1:
        raise IngestError(str(landing_dir), f"both {found[0].name} and {found[1].name} exist; keep one")
    return found[0]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_loads_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    con.execute(
        f"""create table if not exists {LOADS_TABLE} (
            entity varchar not null, file_name varchar not null, sha256 varchar not null,
            rows bigint not null, loaded_at timestamp not null, run_id varchar
        )"""
    )


def load_entity(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    path: Path,
    *,
    loaded_at: datetime,
    run_id: str | None = None,
) -> LoadResult:
    ensure_loads_table(con)
    sha256 = file_sha256(path)
    previous = con.execute(
        f"select sha256, rows, loaded_at from {LOADS_TABLE} where entity = ? order by loaded_at desc limit 1",
        [entity.name],
    ).fetchone()
    if previous and previous[0] == sha256 and table_exists(con, entity.table):
        return LoadResult(entity.name, path.name, sha256, previous[1], previous[2], unchanged=True)

    source = _source_relation(path, entity)
    _check_values(con, source, entity, path)
    select_list = ", ".join(
        f"cast({quote_ident(col)} as {typ}) as {quote_ident(col)}" for col, typ in entity.columns.items()
    )
    con.execute("begin transaction")
    try:
        con.execute(
            f"""create or replace table {entity.table} as
                select {select_list}, ?::varchar as _source_file, _source_row, ?::timestamp as _loaded_at
                from {source}""",
            [path.name, loaded_at],
        )
        rows = con.execute(f"select count(*) from {entity.table}").fetchone()[0]
        con.execute(
            f"insert into {LOADS_TABLE} values (?, ?, ?, ?, ?, ?)",
            [entity.name, path.name, sha256, rows, loaded_at, run_id],
        )
        con.execute("commit")
    except duckdb.Error as exc:
        con.execute("rollback")
        raise _as_ingest_error(exc, path) from exc
    return LoadResult(entity.name, path.name, sha256, rows, loaded_at, unchanged=False)


def _source_relation(path: Path, entity: Entity) -> str:
    """A SQL relation over the file with the contract's columns as text (CSV) or as stored (Parquet)."""
    literal = quote_literal(str(path))
    if path.suffix == ".csv":
        header = _check_csv_header(path, entity)
        columns = ", ".join(f"'{c}': 'VARCHAR'" for c in header)
        return (
            f"(select *, row_number() over () as _source_row from read_csv({literal}, header = true, "
            f"auto_detect = false, delim = ',', quote = '\"', escape = '\"', columns = {{{columns}}}, "
            f"strict_mode = true, null_padding = false))"
        )
    return (
        f"(select *, file_row_number + 1 as _source_row from read_parquet({literal}, file_row_number = true))"
    )


def _check_csv_header(path: Path, entity: Entity) -> list[str]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as exc:
        raise IngestError(str(path), f"not valid UTF-8 ({exc.reason} at byte {exc.start})", line=1) from exc
    if not header:
        raise IngestError(str(path), "file is empty: expected a header line", line=1)
    _check_columns(path, entity, header, line=1)
    return header


def _check_columns(path: Path, entity: Entity, found: list[str], line: int | None) -> None:
    expected = list(entity.columns)
    for name in expected:
        if name not in found:
            raise IngestError(
                str(path), f"missing column (expected: {', '.join(expected)})", line=line, column=name
            )
    for name in found:
        if name not in entity.columns:
            raise IngestError(
                str(path), f"unexpected column (expected: {', '.join(expected)})", line=line, column=name
            )
    duplicates = {n for n in found if found.count(n) > 1}
    if duplicates:
        raise IngestError(str(path), "column appears more than once", line=line, column=sorted(duplicates)[0])


def _check_values(con: duckdb.DuckDBPyConnection, source: str, entity: Entity, path: Path) -> None:
    """One scan of the file: the first value of each column that does not cast to its contract type."""
    if path.suffix == ".parquet":
        names = [row[0] for row in con.execute(f"describe select * from {source}").fetchall()]
        _check_columns(path, entity, [n for n in names if n not in ("file_row_number", "_source_row")], None)
    typed = {c: t for c, t in entity.columns.items() if t != "VARCHAR"}
    if not typed:
        return
    probes = ", ".join(
        f"min(case when {quote_ident(c)} is not null and try_cast({quote_ident(c)} as {t}) is null "
        f"then _source_row end) as {quote_ident(c)}"
        for c, t in typed.items()
    )
    try:
        first_bad = con.execute(f"select {probes} from {source}").fetchone()
    except duckdb.Error as exc:
        raise _as_ingest_error(exc, path) from exc
    bad = [(row, col) for row, col in zip(first_bad, typed, strict=True) if row is not None]
    if not bad:
        return
    row, col = min(bad)
    value = con.execute(
        f"select {quote_ident(col)}::varchar from {source} where _source_row = ?", [row]
    ).fetchone()
    is_csv = path.suffix == ".csv"
    raise IngestError(
        str(path),
        f"value {value[0]!r} is not a valid {typed[col]}; nothing from this file was loaded",
        line=row + 1 if is_csv else None,  # CSV: the header is line 1
        row=None if is_csv else row,
        column=col,
    )


_LINE = re.compile(r"\bLine: (\d+)", re.IGNORECASE)
# DuckDB's CSV errors put the useful sentence after the "Original Line" echo.
_CSV_REASON = re.compile(
    r"^(Expected Number of Columns.*|Value with unterminated quote.*|.*not (?:a )?valid.*)$", re.M
)


def _as_ingest_error(exc: duckdb.Error, path: Path) -> IngestError:
    text = str(exc)
    match = _LINE.search(text)
    reason = _CSV_REASON.search(text)
    message = reason.group(1).strip() if reason else text.strip().splitlines()[0]
    return IngestError(
        str(path),
        f"cannot be read: {message}; nothing from this file was loaded",
        line=int(match.group(1)) if match else None,
    )
