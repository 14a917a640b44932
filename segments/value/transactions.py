"""Reading a transactions CSV (customer_id, date, amount) for the value models, with the file, line and
column of the first bad value."""

from __future__ import annotations

import csv
import math
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from segments.errors import IngestError

COLUMNS = ("customer_id", "date", "amount")


def read_transactions(path: Path) -> pd.DataFrame:
    """customer_id, date and amount of every row; the first bad value raises with its file, line and column."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise IngestError(str(path), f"cannot read the file ({exc.strerror})") from None
    ids, dates, amounts = [], [], []
    line = 1
    try:
        with handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            missing = [name for name in COLUMNS if name not in header]
            if missing:
                raise IngestError(
                    str(path),
                    f"missing column(s) {', '.join(missing)}: the header must name {', '.join(COLUMNS)}"
                    + (f" (it has {', '.join(header)})" if header else " (the file is empty)"),
                    line=1,
                )
            at = {name: header.index(name) for name in COLUMNS}
            for row in reader:
                line = reader.line_num
                if not any(value.strip() for value in row):
                    continue  # blank line
                if len(row) != len(header):
                    raise IngestError(
                        str(path), f"{len(row)} fields where the header has {len(header)}", line=line
                    )
                ids.append(_customer(row[at["customer_id"]], path, line))
                dates.append(_purchase_date(row[at["date"]], path, line))
                amounts.append(_amount(row[at["amount"]], path, line))
    except UnicodeDecodeError:
        raise IngestError(str(path), "not UTF-8 text", line=line + 1) from None
    except csv.Error as exc:
        raise IngestError(str(path), f"not valid CSV ({exc})", line=line + 1) from None
    return pd.DataFrame({"customer_id": ids, "date": pd.to_datetime(dates), "amount": amounts})


def _customer(value: str, path: Path, line: int) -> str:
    if not value.strip():
        raise IngestError(str(path), "empty customer id", line=line, column="customer_id")
    return value.strip()


def _purchase_date(value: str, path: Path, line: int) -> date:
    try:
        return datetime.fromisoformat(value.strip()).date()
    except ValueError:
        raise IngestError(
            str(path), f"{value!r} is not a date (YYYY-MM-DD)", line=line, column="date"
        ) from None


def _amount(value: str, path: Path, line: int) -> float:
    try:
        amount = float(value)
    except ValueError:
        amount = math.nan
    if not math.isfinite(amount):
        raise IngestError(str(path), f"{value!r} is not a number", line=line, column="amount")
    return amount
