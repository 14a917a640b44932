"""One exception type per domain, each carrying where the problem is, so the CLI can print one clear line."""

from __future__ import annotations


class SegmentsError(Exception):
    """Base class: every error the pipeline raises on purpose."""


class IngestError(SegmentsError):
    """A landing file cannot be loaded. Names the file and, where known, the row and column."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        line: int | None = None,
        row: int | None = None,
        column: str | None = None,
    ):
        # `line` for text files (1 = header), `row` for Parquet (1 = first row).
        self.file, self.line, self.row, self.column, self.message = file, line, row, column, message
        where = file
        if line is not None:
            where += f":{line}"
        if row is not None:
            where += f": row {row}"
        if column is not None:
            where += f": column {column!r}"
        super().__init__(f"{where}: {message}")


class QualityError(SegmentsError):
    """A blocking quality check failed: nothing is published."""


class TransformError(SegmentsError):
    """The dbt build failed: names the node (model or test) and dbt's own reason."""


class PublishError(SegmentsError):
    """Results could not be audited or published; what readers see is unchanged."""
