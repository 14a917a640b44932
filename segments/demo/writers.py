"""Contract-typed sinks: CSV or zstd Parquet, written to hidden temp files that ``generate`` renames into place."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from segments.ingest.schemas import Entity

CSV_ENTITIES = ("crm_accounts", "crm_contacts", "sales_products")
_TYPES = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "BOOLEAN": pa.bool_(),
          "TIMESTAMP": pa.timestamp("us"), "DATE": pa.date32()}  # fmt: skip


def arrow_schema(entity: Entity) -> pa.Schema:
    """Arrow schema matching the contract's DuckDB types, in contract column order."""
    fields = []
    for col, duck in entity.columns.items():
        m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", duck)
        fields.append(pa.field(col, pa.decimal128(int(m[1]), int(m[2])) if m else _TYPES[duck]))
    return pa.schema(fields)


_QUOTE = r'[",\r\n]|^\s|\s$'  # RFC 4180: quote fields with quotes, commas or line breaks (and edge spaces)


def _csv_rows(table: pa.Table) -> memoryview:
    """CSV body for a table: null -> empty field, true/false, 'YYYY-MM-DD HH:MM:SS', '.' decimals."""
    cols = []
    for col in table.columns:
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp("s"))
        text = col.cast(pa.string())
        if pa.types.is_string(col.type):
            quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
            text = pc.if_else(pc.match_substring_regex(text, _QUOTE), quoted, text)
        cols.append(pc.fill_null(text, ""))
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*cols, ","), "\n", "").combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]] if len(lines) else memoryview(b"")


def file_name(entity_name: str) -> str:
    """The landing file the generator writes for an entity."""
    return f"{entity_name}.{'csv' if entity_name in CSV_ENTITIES else 'parquet'}"


class Sink:
    """Appends chunks to a hidden temp file, which generate() renames into place once everything is written."""

    def __init__(self, out_dir: Path, entity: Entity) -> None:
        self.schema, self.rows = arrow_schema(entity), 0
        name = file_name(entity.name)
        self.path, self.tmp = out_dir / name, out_dir / f".{name}.tmp"
        if name.endswith(".csv"):
            self.csv, self.parquet = open(self.tmp, "wb"), None  # noqa: SIM115 - closed in close()
            self.csv.write((",".join(self.schema.names) + "\n").encode())
        else:
            self.csv, self.parquet = None, pq.ParquetWriter(self.tmp, self.schema, compression="zstd")

    def write(self, cols: dict[str, pa.Array]) -> None:
        if list(cols) != self.schema.names:
            raise ValueError(f"{self.path.name}: columns {list(cols)} != contract {self.schema.names}")
        table = pa.Table.from_arrays([cols[f.name].cast(f.type) for f in self.schema], schema=self.schema)
        if self.csv:
            self.csv.write(_csv_rows(table))
        else:
            self.parquet.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self.csv:
            self.csv.close()
        elif self.parquet:
            self.parquet.close()

    def abort(self) -> None:
        try:
            self.close()
        finally:
            self.tmp.unlink(missing_ok=True)
