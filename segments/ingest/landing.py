"""Load landing files (CSV or Parquet) into warehouse schema ``raw``, one table per entity.

A load is all or nothing, across all the files it is given: every changed file is checked first (encoding,
header, then every value against its contract type in one scan), and only if all are clean are the raw
tables replaced, in one transaction that also records each file in ``raw._loads``. A half-loaded warehouse
(new orders, yesterday's contacts) would segment customers on inconsistent data, so one bad file stops all.
An identical file (same sha256) that is already loaded is skipped.

Real exports break in familiar ways: cp1252 instead of UTF-8, ';' as delimiter, decimal commas and
thousands spaces, a second export appended to the first. Each is either read correctly or refused with the
file, line (CSV, header = 1) or row (Parquet), and column; see ``csv_dialect`` for the text-level checks.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from segments.contract import migrate
from segments.engines import DatabaseError, dialect_of
from segments.errors import IngestError
from segments.ingest import csv_dialect
from segments.ingest.schemas import Entity
from segments.warehouse import quote_ident, quote_literal, table_exists

LOADS_TABLE = "raw._loads"
COPY_BATCH_ROWS = 100_000  # rows per COPY into PostgreSQL (an Arrow batch of them in memory at a time)
FORMATS = (".parquet", ".csv")
_LOADS_COLUMNS = "entity, file_name, sha256, rows, loaded_at, run_id, encoding"


@dataclass(frozen=True)
class LoadResult:
    entity: str
    file_name: str
    sha256: str
    rows: int
    loaded_at: datetime
    unchanged: bool  # True: identical file already loaded, nothing written
    encoding: str = ""  # 'utf-8', 'utf-8-sig', 'cp1252' or 'parquet'; '' if not recorded (older loads)


@dataclass(frozen=True)
class _Checked:
    """A changed file that passed every check, ready to be written."""

    entity: Entity
    path: Path
    readable: Path  # what DuckDB reads: the file itself, or its UTF-8 copy
    sha256: str
    encoding: str
    source: str  # SQL relation: the contract's columns plus _source_row
    source_types: dict[str, str]


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


def load_entity(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    path: Path,
    *,
    loaded_at: datetime,
    run_id: str | None = None,
) -> LoadResult:
    return load_entities(con, [(entity, path)], loaded_at=loaded_at, run_id=run_id)[0]


def load_entities(
    con: duckdb.DuckDBPyConnection,
    files: list[tuple[Entity, Path]],
    *,
    loaded_at: datetime,
    run_id: str | None = None,
) -> list[LoadResult]:
    """Check every file, then write all changed ones in one transaction. Results in the order given."""
    names = [entity.name for entity, _ in files]
    if len(set(names)) < len(names):
        raise ValueError(f"an entity appears more than once: {names}")
    previous = _previous_loads(con)
    results: dict[int, LoadResult] = {}
    checked: dict[int, _Checked] = {}
    problems: list[IngestError] = []
    with ExitStack() as temporary_files:
        # DuckDB reads and checks the files, whatever the warehouse: the same checks, the same messages
        local = con if dialect_of(con) == "duckdb" else temporary_files.enter_context(duckdb.connect())
        for index, (entity, path) in enumerate(files):
            try:
                prepared = _prepare(con, local, entity, path, previous.get(entity.name), temporary_files)
            except IngestError as exc:
                problems.append(exc)
                continue
            if isinstance(prepared, LoadResult):
                results[index] = prepared
            else:
                checked[index] = prepared
        if problems:
            raise _summary(problems)
        results |= _write(con, local, checked, loaded_at, run_id)
    return [results[index] for index in range(len(files))]


def _previous_loads(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    """entity -> (sha256, rows, loaded_at, encoding) of its latest load."""
    if not table_exists(con, LOADS_TABLE):
        return {}
    # a check that fails before the load's migration may meet raw._loads of a release before encodings
    schema, _, name = LOADS_TABLE.partition(".")
    has_encoding = con.execute(
        "select count(*) from information_schema.columns where table_schema = ? and table_name = ? "
        "and column_name = 'encoding'",
        [schema, name],
    ).fetchone()[0]
    encoding = "encoding" if has_encoding else "null"
    rows = con.execute(
        f"""select entity, sha256, rows, loaded_at, {encoding} from {LOADS_TABLE}
            qualify row_number() over (partition by entity order by loaded_at desc, rowid desc) = 1"""
    ).fetchall()
    return {row[0]: row[1:] for row in rows}


def _prepare(
    con: duckdb.DuckDBPyConnection,
    local: duckdb.DuckDBPyConnection,
    entity: Entity,
    path: Path,
    last: tuple | None,
    temporary_files: ExitStack,
) -> LoadResult | _Checked:
    """An unchanged file's result (same sha256 as the latest load), or a changed file, checked."""
    try:
        sha256 = file_sha256(path)
    except OSError as exc:
        raise IngestError(str(path), f"cannot be opened: {exc.strerror}") from exc
    if last and last[0] == sha256 and table_exists(con, entity.table):
        _, rows, loaded_at, encoding = last
        return LoadResult(entity.name, path.name, sha256, rows, loaded_at, True, encoding or "")
    return _check(local, entity, path, sha256, temporary_files)


def _summary(problems: list[IngestError]) -> IngestError:
    first = problems[0]
    more = f" (and {len(problems) - 1} more files with problems)" if len(problems) > 1 else ""
    return IngestError(
        first.file,
        f"{first.message}; nothing was loaded{more}",
        line=first.line,
        row=first.row,
        column=first.column,
    )


def _check(
    con: duckdb.DuckDBPyConnection, entity: Entity, path: Path, sha256: str, temporary_files: ExitStack
) -> _Checked:
    if path.suffix == ".parquet":
        parquet = f"read_parquet({quote_literal(str(path))}, file_row_number = true)"
        source = f"(select *, file_row_number + 1 as _source_row from {parquet})"
        types = _describe(con, source, path)
        _check_columns(path, entity, list(types), line=None)
        checked = _Checked(entity, path, path, sha256, "parquet", source, types)
    elif path.suffix == ".csv":
        encoding = csv_dialect.sniff_encoding(path)
        readable = path
        if encoding == csv_dialect.CP1252:
            readable = temporary_files.enter_context(csv_dialect.utf8_copy(path))
        header = csv_dialect.read_header(path, readable)
        _check_columns(path, entity, header, line=1)
        source = _csv_relation(readable, header)
        checked = _Checked(entity, path, readable, sha256, encoding, source, dict.fromkeys(header, "VARCHAR"))
    else:
        raise IngestError(str(path), f"unsupported file type (expected one of: {', '.join(FORMATS)})")
    _check_values(con, checked)
    return checked


def _describe(con: duckdb.DuckDBPyConnection, source: str, path: Path) -> dict[str, str]:
    try:
        described = con.execute(f"describe select * from {source}").fetchall()
    except duckdb.Error as exc:
        raise IngestError(str(path), f"cannot be read: {str(exc).strip().splitlines()[0]}") from exc
    return {name: typ for name, typ, *_ in described if name not in ("file_row_number", "_source_row")}


def _csv_relation(readable: Path, header: list[str]) -> str:
    """All columns as text; DuckDB strips a UTF-8 byte order mark itself."""
    columns = ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in header)
    return (
        f"(select *, row_number() over () as _source_row from read_csv({quote_literal(str(readable))}, "
        f"header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
        f"columns = {{{columns}}}, strict_mode = true, null_padding = false))"
    )


def _check_columns(path: Path, entity: Entity, found: list[str], line: int | None) -> None:
    duplicates = {n for n in found if found.count(n) > 1}
    if duplicates:
        raise IngestError(str(path), "column appears more than once", line=line, column=sorted(duplicates)[0])
    expected = list(entity.columns)
    missing = [name for name in expected if name not in found]
    unexpected = [name for name in found if name not in entity.columns]
    if len(missing) == 1 and len(unexpected) == 1:
        (gone,), (new,) = missing, unexpected
        why = "the names differ only in case or spaces" if new.strip().lower() == gone else "renamed?"
        raise IngestError(
            str(path), f"{gone!r} is missing and {new!r} is not in the contract: {why}", line=line, column=new
        )
    also = f"; not in the contract: {', '.join(unexpected)}" if unexpected else ""
    if missing:
        message = f"missing column (expected: {', '.join(expected)}){also}"
        raise IngestError(str(path), message, line=line, column=missing[0])
    if unexpected:
        message = f"unexpected column (expected: {', '.join(expected)})"
        raise IngestError(str(path), message, line=line, column=unexpected[0])


# Nordic number formats, read in SQL: '1 234,50' (space, no-break or narrow no-break space between
# thousands), '1234,50', '1.234,50'. Anything else goes to DuckDB's cast unchanged ('1234.50'). The
# regular expressions only run on values that contain a comma, a space or (integers) a dot or exponent.
_SPACES = r"[ \x{00A0}\x{202F}]"
_NORDIC = rf"[+-]?(\d{{1,3}}({_SPACES}\d{{3}})+(,\d+)?|\d{{1,3}}(\.\d{{3}})+,\d+|\d+,\d+)"
_GROUPING = r"[ \x{00A0}\x{202F}.]"  # removed from a Nordic number, then ',' becomes '.'
_SEPARATORS = {"decimal": r"[, \x{00A0}\x{202F}]", "integer": r"[,. \x{00A0}\x{202F}eE]"}
_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "UBIGINT", "UINTEGER"}
_DECIMALS = ("DECIMAL", "NUMERIC", "DOUBLE", "FLOAT", "REAL")


def _value(column: str, contract_type: str, source_type: str) -> str:
    """SQL for a column's value, ready to cast to its contract type."""
    value, typ = quote_ident(column), contract_type.upper()
    kind = "integer" if typ in _INTEGERS else "decimal" if typ.startswith(_DECIMALS) else None
    if source_type != "VARCHAR" or kind is None:
        return value
    text = f"trim({value}, ' ' || chr(160) || chr(8239))"
    number = (
        f"case when regexp_full_match({text}, '{_NORDIC}') "
        f"then replace(regexp_replace({text}, '{_GROUPING}', '', 'g'), ',', '.') else {text} end"
    )
    if kind == "integer":
        # DuckDB would round '2.5' to 3: an integer column takes whole numbers only ('12.0' is 12).
        number = (
            rf"case when regexp_full_match({number}, '[+-]?\d+(\.0*)?') then split_part({number}, '.', 1) end"
        )
    return f"case when regexp_matches({value}, '{_SEPARATORS[kind]}') then {number} else {value} end"


def _check_values(con: duckdb.DuckDBPyConnection, file: _Checked) -> None:
    """One scan of the file: the first repeated header line, and the first bad value of each column."""
    typed = {c: t for c, t in file.entity.columns.items() if t != "VARCHAR"}
    probes = [
        f"min(case when {quote_ident(c)} is not null and "
        f"try_cast({_value(c, t, file.source_types[c])} as {t}) is null then _source_row end)"
        for c, t in typed.items()
    ]
    is_csv = file.encoding != "parquet"
    if is_csv:
        names = ", ".join(quote_literal(c) for c in file.source_types)
        repeats = " and ".join(f"ltrim({quote_ident(c)}, chr(65279)) in ({names})" for c in file.source_types)
        probes.append(f"min(case when {repeats} then _source_row end)")
    if not probes:
        return
    try:
        first_bad = list(con.execute(f"select {', '.join(probes)} from {file.source}").fetchone())
    except duckdb.Error as exc:
        raise _as_ingest_error(exc, file) from exc
    repeated = first_bad.pop() if is_csv else None
    bad = sorted((row, col) for row, col in zip(first_bad, typed, strict=True) if row is not None)
    if repeated is not None and (not bad or repeated <= bad[0][0]):
        line = csv_dialect.physical_line(file.readable, repeated, data_rows=True)
        raise IngestError(
            str(file.path), f"line {line} repeats the header line (files concatenated?)", line=line
        )
    if not bad:
        return
    row, col = bad[0]
    value = con.execute(
        f"select {quote_ident(col)}::varchar from {file.source} where _source_row = ?", [row]
    ).fetchone()
    raise IngestError(
        str(file.path),
        f"value {value[0]!r} is not a valid {typed[col]}",
        line=csv_dialect.physical_line(file.readable, row, data_rows=True) if is_csv else None,
        row=None if is_csv else row,
        column=col,
    )


def _write(
    con: duckdb.DuckDBPyConnection,
    local: duckdb.DuckDBPyConnection,
    checked: dict[int, _Checked],
    loaded_at: datetime,
    run_id: str | None,
) -> dict[int, LoadResult]:
    """Replace every checked file's raw table and record it in raw._loads: all in one transaction. ``local``:
    the DuckDB connection that read the files (the warehouse itself, unless that is PostgreSQL)."""
    if not checked:
        return {}
    results: dict[int, LoadResult] = {}
    current = next(iter(checked.values()))  # the file an error is reported against
    migrate(con)  # a no-op once the run has migrated the warehouse
    con.execute("begin transaction")
    try:
        for index, current in checked.items():
            results[index] = _replace_table(con, local, current, loaded_at, run_id)
        con.execute("commit")
    except DatabaseError as exc:
        con.execute("rollback")
        raise _summary([_as_ingest_error(exc, current)]) from exc
    except BaseException:
        con.execute("rollback")
        raise
    return results


def _replace_table(
    con: duckdb.DuckDBPyConnection,
    local: duckdb.DuckDBPyConnection,
    file: _Checked,
    loaded_at: datetime,
    run_id: str | None,
) -> LoadResult:
    entity = file.entity
    select_list = ", ".join(
        f"cast({_value(c, t, file.source_types[c])} as {t}) as {quote_ident(c)}"
        for c, t in entity.columns.items()
    )
    typed = f"""select {select_list}, ?::varchar as _source_file, _source_row, ?::timestamp as _loaded_at
                from {file.source}"""
    if local is con:
        con.execute(f"create or replace table {entity.table} as {typed}", [file.path.name, loaded_at])
    else:  # PostgreSQL: the typed rows stream from DuckDB into the new table by COPY, in the load's transaction
        columns = ", ".join(f"{quote_ident(c)} {t}" for c, t in entity.columns.items())
        con.execute(
            f"create or replace table {entity.table} ({columns}, _source_file varchar, _source_row bigint, "
            "_loaded_at timestamp)"
        )
        batches = local.execute(typed, [file.path.name, loaded_at]).fetch_record_batch(COPY_BATCH_ROWS)
        for batch in batches:
            con.copy_arrow(entity.table, pa.Table.from_batches([batch]))
    rows = con.execute(f"select count(*) from {entity.table}").fetchone()[0]
    con.execute(
        f"insert into {LOADS_TABLE} ({_LOADS_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?)",
        [entity.name, file.path.name, file.sha256, rows, loaded_at, run_id, file.encoding],
    )
    return LoadResult(entity.name, file.path.name, file.sha256, rows, loaded_at, False, file.encoding)


_LINE = re.compile(r"\bLine: (\d+)", re.IGNORECASE)
# DuckDB's CSV errors put the useful sentence after the "Original Line" echo.
_CSV_REASON = re.compile(
    r"^(Expected Number of Columns.*|Value with unterminated quote.*|.*not (?:a )?valid.*)$", re.M
)


def _as_ingest_error(exc: Exception, file: _Checked) -> IngestError:
    text = str(exc)
    match = _LINE.search(text)
    reason = _CSV_REASON.search(text)
    message = (reason.group(1) if reason else text.strip().splitlines()[0]).strip().rstrip(".")
    line = None
    if match and file.encoding != "parquet":
        line = csv_dialect.physical_line(file.readable, int(match.group(1)), data_rows=False)
        message += csv_dialect.truncation_hint(file.readable, line, message)
    return IngestError(str(file.path), f"cannot be read: {message}", line=line)
