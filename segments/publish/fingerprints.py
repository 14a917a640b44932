"""The run's fingerprints: of its inputs (the landing files loaded) and of its output (the assignments), the same
value on DuckDB and PostgreSQL for the same rows."""

from __future__ import annotations

import hashlib

import duckdb

from segments.engines import dialect_of
from segments.warehouse import table_exists

# What the output fingerprint covers: everything a reader acts on, not run id, timestamps or evidence.
FINGERPRINTED = (
    "entity", "entity_id", "customer_id", "scheme", "segment", "rule_id", "next_action", "action_channel",
    "action_owner", "action_priority", "rule_version", "rules_sha256", "experiment", "arm", "as_of",
)  # fmt: skip


def _row_md5(dialect: str) -> str:
    """md5 (hex) of a row's FINGERPRINTED values as text, joined by chr(31), NULL as chr(0). PostgreSQL's text
    cannot hold chr(0), so there the same bytes are joined as bytea (the md5 of the same bytes)."""
    if dialect == "postgres":
        values = " || '\\x1f'::blob || ".join(
            f"coalesce(convert_to(cast({c} as varchar), 'UTF8'), '\\x00'::blob)" for c in FINGERPRINTED
        )
        return f"md5({values})"
    values = ", ".join(f"coalesce(cast({c} as varchar), chr(0))" for c in FINGERPRINTED)
    return f"md5(concat_ws(chr(31), {values}))"


def output_fingerprint(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Order-independent sha256 of an assignments table (the columns of :data:`FINGERPRINTED`).

    Each row is hashed (md5 of its values joined by a unit separator); the sum of the first 64 bits of the
    row hashes and the row count are hashed again. Same rows, in any order -> same value, on either engine.
    """
    row = _row_md5(dialect_of(con))
    count, total = con.execute(
        f"select count(*), coalesce(sum(cast(cast('0x' || substr({row}, 1, 16) as ubigint) as hugeint)), 0) "
        f"from {table}"
    ).fetchone()
    return hashlib.sha256(f"{count}:{int(total)}".encode()).hexdigest()


def input_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    """sha256 over the sha256 of the landing file each raw table was last loaded from (None: no loads table)."""
    if not table_exists(con, "raw._loads"):
        return None
    rows = con.execute(
        "select entity, arg_max(sha256, loaded_at) from raw._loads group by entity order by entity"
    ).fetchall()
    return hashlib.sha256("".join(f"{e}:{h}\n" for e, h in rows).encode()).hexdigest()
