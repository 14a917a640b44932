"""Numbers, money, percentages, plurals and dates as people read them, and terminal tables: each defined once.

Documents (``segments.reports.render`` registers these as template filters), terminal output and check
messages all use them. A missing value prints as ``missing``: an em dash in documents, ``-`` or ``n/a``
where a caller says so.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal

from tabulate import SEPARATING_LINE, DataRow, Line, TableFormat, tabulate

__all__ = [
    "DASH",
    "change",
    "count",
    "minute",
    "money",
    "noun",
    "number",
    "percent",
    "plural",
    "points",
    "share",
    "text_table",
]

DASH = "—"


def noun(word: str, n: int | None = None) -> str:
    """``word`` for one of it, else its plural (``customer``, ``customers``)."""
    return word if n == 1 else f"{word}s"


def plural(n: int, word: str) -> str:
    """``1 row``, ``1,234 rows``."""
    return f"{n:,} {noun(word, n)}"


def count(value: int | None, missing: str = DASH) -> str:
    """A whole number with thousands separators."""
    return missing if value is None else f"{value:,}"


def number(value: float | None, digits: int = 0, missing: str = DASH) -> str:
    """A number with thousands separators and ``digits`` decimals."""
    return missing if value is None else f"{value:,.{digits}f}"


def money(
    value: float | Decimal | None, digits: int = 0, *, signed: bool = False, missing: str = DASH
) -> str:
    """An amount (the currency is said by the column or sentence): ``1,234`` or ``+1,234.50``."""
    if value is None:
        return missing
    return f"{float(value):{'+' if signed else ''},.{digits}f}"


def percent(fraction: float | None, digits: int = 1, *, signed: bool = False, missing: str = DASH) -> str:
    """A fraction (0..1) in percent: ``12.5%``, ``+3.0%``."""
    if fraction is None:
        return missing
    return f"{100 * fraction:{'+' if signed else ''}.{digits}f}%"


def share(part: int, whole: int) -> str:
    """``part`` of ``whole`` in percent, one decimal (a dash when ``whole`` is 0)."""
    return f"{100 * part / whole:.1f}%" if whole else DASH


def points(fraction: float | None, missing: str = DASH) -> str:
    """A difference of two rates in percentage points: ``+5.0 pp``."""
    return missing if fraction is None else f"{100 * fraction:+.1f} pp"


def change(fraction: float | None, *, infinite: str, missing: str = "n/a") -> str:
    """A relative change, signed: ``+12.5 %``; ``infinite`` for growth from zero."""
    if fraction is None:
        return missing
    if fraction == float("inf"):
        return infinite
    return f"{100 * fraction:+.1f} %"


def minute(when: datetime) -> str:
    """A timestamp to the minute: ``2026-11-01 03:15``."""
    return f"{when:%Y-%m-%d %H:%M}"


def text_table(
    header: Sequence[object],
    rows: Sequence[Sequence[object]],
    *,
    numeric: Collection[int] = (),
    rule: bool = False,
) -> str:
    """A table for a terminal: columns padded to their widest cell, two spaces apart, the ``numeric`` columns
    right-aligned (their header too); ``rule``: a line of dashes under the header. No line ends in spaces.

    tabulate lays it out. The header goes in as the first row, not as ``headers``: tabulate widens a header
    column by two characters of its own padding, which these tables, printed by the CLI since before tabulate
    drew them, never had."""
    align = ["right" if i in numeric else "left" for i in range(len(header))]
    table = [list(header), *([SEPARATING_LINE] if rule else []), *(list(row) for row in rows)]
    text = tabulate(
        table,
        tablefmt=_PLAIN,
        colalign=align,
        disable_numparse=True,  # cells arrive formatted ("1,234", "12.5%"): aligned as given, never re-read
        preserve_whitespace=True,
        missingval="None",
    )
    return "\n".join(line.rstrip() for line in text.splitlines())


# no borders, two spaces between columns, dashes under the header where a SEPARATING_LINE asks for them
_PLAIN = TableFormat(
    lineabove=None,
    linebelowheader=Line("", "-", "  ", ""),  # what tabulate draws for a SEPARATING_LINE here
    linebetweenrows=None,
    linebelow=None,
    headerrow=DataRow("", "  ", ""),
    datarow=DataRow("", "  ", ""),
    padding=0,
    with_header_hide=None,
)
