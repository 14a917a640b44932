"""A PostgreSQL connection that the pipeline's modules use as they use a DuckDB connection.

The stages are written against DuckDB's connection API (``execute(sql, params).fetchall()``, ``fetchone()``,
``df()``, ``register(name, table)``) and DuckDB's SQL. ``PostgresConnection`` offers the same calls over psycopg:
each statement is generated for PostgreSQL from its syntax tree (``segments.engines.dialect``), parameters go
to the server as parameters, and a registered Arrow table or data frame becomes a temporary table filled by
COPY. Transactions are the statements' own (``begin`` / ``commit`` / ``rollback``), as on DuckDB: the
connection runs in autocommit mode, so a statement outside ``begin`` ... ``commit`` commits by itself.

An INSERT, UPDATE or DELETE returns one row, the number of rows it wrote, as on DuckDB. The session writes
doubles with their shortest exact digits (``extra_float_digits = 1``, PostgreSQL's default, set in case the
server's configuration lowers it): what psycopg reads and ``segments.json_text`` renders depend on it.

Errors come out as ``segments.engines.PostgresError``, with the server's message.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv

from segments.engines import PostgresError
from segments.engines.dialect import to_postgres

__all__ = ["PostgresConnection", "PostgresError", "arrow_type"]

# PostgreSQL type OIDs (pg_type) of what the warehouse holds, as Arrow types
_ARROW_TYPES = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    700: pa.float32(),
    701: pa.float64(),
    25: pa.string(),
    1043: pa.string(),
    1042: pa.string(),
    19: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
    1700: pa.float64(),  # numeric: the warehouse's amounts are decimals in DuckDB; callers never do exact sums
    114: pa.string(),
    3802: pa.string(),
}


def _error(exc: psycopg.Error) -> PostgresError:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(exc).strip().splitlines()[0]
    return PostgresError(primary, getattr(exc, "sqlstate", None))


def arrow_type(type_code: int) -> pa.DataType:
    return _ARROW_TYPES.get(type_code, pa.string())


def postgres_type(field_type: pa.DataType) -> str:
    """The column type for an Arrow type (for registered tables and COPY targets)."""
    if pa.types.is_boolean(field_type):
        return "boolean"
    if pa.types.is_integer(field_type):
        return "bigint"
    if pa.types.is_floating(field_type):
        return "double precision"
    if pa.types.is_decimal(field_type):
        return f"numeric({field_type.precision}, {field_type.scale})"
    if pa.types.is_date(field_type):
        return "date"
    if pa.types.is_timestamp(field_type):
        return "timestamptz" if field_type.tz else "timestamp"
    return "text"


_WRITES = ("INSERT", "UPDATE", "DELETE", "MERGE")


class Result:
    """What ``execute`` returns: the rows of the last statement, fetched as DuckDB's results are (a write's
    one row is its row count)."""

    def __init__(self, cursor: psycopg.Cursor):
        self._cursor = cursor
        status = cursor.statusmessage or ""
        self._count = (
            [(cursor.rowcount,)]
            if cursor.description is None and status.startswith(_WRITES) and cursor.rowcount >= 0
            else None
        )

    @property
    def description(self):
        return self._cursor.description

    def fetchall(self) -> list[tuple]:
        if self._count is not None:
            rows, self._count = self._count, []
            return rows
        return self._cursor.fetchall() if self._cursor.description else []

    def fetchone(self) -> tuple | None:
        if self._count is not None:
            rows = self.fetchall()
            return rows[0] if rows else None
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchmany(self, size: int = 1) -> list[tuple]:
        if self._count is not None:
            return self.fetchall()[:size]
        return self._cursor.fetchmany(size) if self._cursor.description else []

    def to_arrow_table(self) -> pa.Table:
        return _arrow(self._cursor.description or [], self.fetchall())

    arrow = to_arrow_table

    def df(self):
        return self.to_arrow_table().to_pandas()

    fetchdf = df


def _arrow(description, rows: list[tuple]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in description]
    return pa.table(
        {
            column.name: pa.array(
                [float(v) if v is not None and column.type_code == 1700 else v for v in values],
                type=arrow_type(column.type_code),
            )
            for column, values in zip(description, columns, strict=True)
        }
    )


class PostgresConnection:
    """One psycopg connection in autocommit mode, with DuckDB's calls (see the module's docstring)."""

    dialect = "postgres"

    def __init__(self, dsn: str, *, application_name: str = "segments", read_only: bool = False):
        try:
            self._con = psycopg.connect(dsn, autocommit=True, application_name=application_name)
        except psycopg.Error as exc:
            raise PostgresError(f"cannot connect to PostgreSQL ({_error(exc)})") from None
        self._con.execute("set extra_float_digits = 1")  # shortest exact digits (see the module's docstring)
        if read_only:
            self._con.execute("set default_transaction_read_only = on")
        self._registered: set[str] = set()

    @property
    def raw(self) -> psycopg.Connection:
        """The psycopg connection, for what DuckDB's API has no word for (COPY)."""
        return self._con

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] | None = None) -> Result:
        statements = to_postgres(sql, with_parameters=parameters is not None)
        cursor = self._con.cursor()
        statement = sql
        try:
            for n, statement in enumerate(statements):
                last = n == len(statements) - 1
                cursor.execute(statement, _parameters(parameters) if last else None)
        except psycopg.Error as exc:
            error = _error(exc)
            error.statement = statement  # for a debugger or a log; the message stays the server's
            raise error from None
        return Result(cursor)

    def execute_native(self, sql: str, parameters: Sequence[Any] | None = None) -> Result:
        """A statement written for PostgreSQL, sent as is (what DuckDB's SQL has no words for: roles, grants,
        privileges); ``%s`` placeholders. Errors as from ``execute``."""
        cursor = self._con.cursor()
        try:
            cursor.execute(sql, _parameters(parameters))
        except psycopg.Error as exc:
            error = _error(exc)
            error.statement = sql
            raise error from None
        return Result(cursor)

    def sql(self, sql: str) -> Result:
        return self.execute(sql)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        (statement,) = to_postgres(sql, with_parameters=True)
        try:
            with self._con.cursor() as cursor:
                cursor.executemany(statement, [tuple(row) for row in rows])
        except psycopg.Error as exc:
            raise _error(exc) from None

    def arrow_batches(self, sql: str, *, block_bytes: int = 16 << 20) -> Iterator[pa.Table]:
        """A query's result as a stream of Arrow tables: COPY's CSV output parsed by Arrow as it arrives (its
        columns typed as ``execute`` types them), so a large result is never held whole, nor turned into
        Python objects. Consume it to the end before the next statement."""
        (statement,) = to_postgres(sql)
        try:
            with self._con.cursor() as cursor:
                cursor.execute(f"select * from ({statement}) as result limit 0")
                columns = [(column.name, column.type_code) for column in cursor.description or []]
                with cursor.copy(f"copy ({statement}) to stdout with (format csv)") as copy:
                    reader = pa_csv.open_csv(
                        io.BufferedReader(_Chunks(copy), buffer_size=1 << 20),
                        read_options=pa_csv.ReadOptions(
                            column_names=[name for name, _ in columns],
                            block_size=block_bytes,
                            use_threads=False,
                        ),
                        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                        convert_options=pa_csv.ConvertOptions(
                            column_types={name: arrow_type(oid) for name, oid in columns},
                            true_values=["t"],
                            false_values=["f"],
                            null_values=[""],
                            strings_can_be_null=True,
                            quoted_strings_can_be_null=False,  # "" is an empty text, an empty field NULL
                        ),
                    )
                    schema = pa.schema([(name, arrow_type(oid)) for name, oid in columns])
                    empty = True
                    for batch in reader:
                        empty = False
                        yield pa.Table.from_batches([batch]).cast(schema)
                    if empty:
                        yield schema.empty_table()
        except psycopg.Error as exc:
            raise _error(exc) from None
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" not in str(exc):
                raise
            yield pa.schema([(name, arrow_type(oid)) for name, oid in columns]).empty_table()

    def copy_arrow(self, qualified: str, table: pa.Table) -> int:
        """Append ``table``'s rows to the existing table ``qualified`` (its columns by name) with COPY."""
        if table.num_rows == 0:
            return 0
        columns = ", ".join(_quote(name) for name in table.column_names)
        buffer = io.BytesIO()
        # CSV: a null is an unquoted empty field, an empty text a quoted one ("") - COPY reads them back the same
        pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
        try:
            with (
                self._con.cursor() as cursor,
                cursor.copy(f"copy {qualified} ({columns}) from stdin with (format csv)") as copy,
            ):
                view = buffer.getbuffer()
                for start in range(0, len(view), 1 << 20):
                    copy.write(view[start : start + (1 << 20)])
        except psycopg.Error as exc:
            raise _error(exc) from None
        return table.num_rows

    def register(self, name: str, data) -> None:
        """A temporary table ``name`` holding ``data`` (an Arrow table or a pandas frame), as DuckDB's
        ``register`` makes a view of it."""
        table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        self.unregister(name)
        columns = ", ".join(f"{_quote(f.name)} {postgres_type(f.type)}" for f in table.schema)
        try:
            self._con.execute(f"create temporary table {_quote(name)} ({columns})")
        except psycopg.Error as exc:
            raise _error(exc) from None
        self._registered.add(name)
        self.copy_arrow(_quote(name), table)

    def unregister(self, name: str) -> None:
        if name in self._registered:
            self._con.execute(f"drop table if exists {_quote(name)}")
            self._registered.discard(name)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> PostgresConnection:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _Chunks(io.RawIOBase):
    """COPY's chunks as a readable binary stream (what Arrow's CSV reader reads from)."""

    def __init__(self, chunks: Iterable):
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(bytes(chunk))
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _parameters(parameters):
    if parameters is None or isinstance(parameters, Mapping):
        return parameters
    return tuple(parameters)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
