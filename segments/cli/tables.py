"""Terminal tables: the columns padded to their widest cell."""

from __future__ import annotations

from collections.abc import Collection


def text_table(header: list[str], rows: list[list[object]], *, numeric: Collection[int] = ()) -> str:
    """Columns padded to their widest cell (the last column is not padded)."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        padded = [
            cell
            if i == len(row) - 1 and i not in numeric
            else (cell.rjust if i in numeric else cell.ljust)(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)
