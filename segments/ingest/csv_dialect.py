"""Text-level checks on CSV landing files before DuckDB reads them: encoding, header, delimiter, lines.

Exports come from Windows tools and Nordic spreadsheets as often as from the ERP, so a file may be UTF-8,
UTF-8 with a byte order mark, or Windows-1252 ("ANSI"). UTF-8 (with or without BOM) is read by DuckDB as
is. DuckDB has no Windows-1252 reader (its latin-1 refuses bytes 0x80-0x9F, where cp1252 has € – “ ”), so
those files are transcoded to a temporary UTF-8 copy with the same lines. A file that is neither, or that
mixes UTF-8 with cp1252, is refused rather than loaded as mojibake.

DuckDB numbers CSV errors by record (header = 1, blank lines counted, a quoted field spanning lines counted
once); the pipeline reports physical lines, so error positions are mapped back here with Python's csv module.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from segments.errors import IngestError

UTF8, UTF8_SIG, CP1252 = "utf-8", "utf-8-sig", "cp1252"
_BOM = b"\xef\xbb\xbf"
# C0/C1 controls (bar tab, LF, CR) and DEL: never in a real name, a sign that the guessed encoding is wrong.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# UTF-8 encoded Latin letters (À-ſ): in a file that is otherwise cp1252 they mean two encodings were mixed.
_UTF8_LATIN = re.compile(rb"[\xc3-\xc5][\x80-\xbf]")
_OTHER_DELIMITERS = {";": "';'", "\t": "tabs", "|": "'|'"}


def sniff_encoding(path: Path) -> str:
    """'utf-8', 'utf-8-sig' or 'cp1252' (not UTF-8; checked when transcoded). UTF-16 is refused."""
    with path.open("rb") as handle:
        head = handle.read(3)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise IngestError(str(path), "the file is UTF-16 encoded; export it as UTF-8", line=1)
    for line, piece in _pieces(path):
        try:
            piece.decode(UTF8)
        except UnicodeDecodeError as exc:
            if head == _BOM:  # the byte order mark says UTF-8: a cp1252 guess would be wrong
                where, char = _position(piece, line, exc.start)
                column = _field_at(path, piece, exc.start, where)
                byte = f"0x{piece[exc.start]:02x}"
                message = (
                    f"mixed encodings: the file starts as UTF-8 but byte {byte} at character {char} is not"
                )
                raise IngestError(str(path), message, line=where, column=column) from exc
            return CP1252
    return UTF8_SIG if head == _BOM else UTF8


@contextmanager
def utf8_copy(path: Path) -> Iterator[Path]:
    """A temporary UTF-8 copy of a cp1252 file, line for line; deleted on exit. Refuses undecodable bytes."""
    with tempfile.TemporaryDirectory(prefix="landing-") as folder:
        copy = Path(folder) / path.name
        with copy.open("w", encoding=UTF8, newline="") as handle:
            for line, piece in _pieces(path):
                handle.write(_decode_cp1252(path, line, piece))
        yield copy


def _decode_cp1252(path: Path, line: int, piece: bytes) -> str:
    mixed = _UTF8_LATIN.search(piece)
    if mixed:
        letter = mixed.group().decode(UTF8)
        where, char = _position(piece, line, mixed.start())
        raise IngestError(
            str(path),
            f"mixed encodings: {letter!r} at character {char} is UTF-8, but other bytes in the file are "
            "not; re-export the whole file as UTF-8",
            line=where,
            column=_field_at(path, piece, mixed.start(), where),
        )
    try:
        text = piece.decode(CP1252)
        bad = _CONTROLS.search(text)
        offset = bad.start() if bad else None
    except UnicodeDecodeError as exc:
        offset = exc.start
    if offset is None:
        return text
    where, char = _position(piece, line, offset)
    raise IngestError(
        str(path),
        f"byte 0x{piece[offset]:02x} at character {char} is neither UTF-8 nor Windows-1252 text; "
        "check the export's encoding",
        line=where,
        column=_field_at(path, piece, offset, where),
    )


def _pieces(path: Path, size: int = 1 << 20) -> Iterator[tuple[int, bytes]]:
    """The file in chunks that end at a line break, each with the line number it starts at.

    A line break byte never occurs inside a UTF-8 sequence, so each piece decodes on its own.
    """
    line, rest = 1, b""
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1
            if cut:
                yield line, chunk[:cut]
                line += chunk.count(b"\n", 0, cut)
            rest = chunk[cut:]
    if rest:
        yield line, rest


def _position(piece: bytes, first_line: int, offset: int) -> tuple[int, int]:
    """(line, 1-based character in that line) of a byte offset in a piece."""
    line_start = piece.rfind(b"\n", 0, offset) + 1
    return first_line + piece.count(b"\n", 0, offset), offset - line_start + 1


def _field_at(path: Path, piece: bytes, offset: int, line: int) -> str | None:
    """The header name of the field a byte falls in (approximate if a quoted field spans lines)."""
    if line == 1:
        return None
    with path.open("rb") as handle:
        header = _parse_line(handle.readline())
    prefix = _parse_line(piece[piece.rfind(b"\n", 0, offset) + 1 : offset])
    index = max(len(prefix) - 1, 0)
    return header[index] if index < len(header) else None


def _parse_line(raw: bytes) -> list[str]:
    try:
        return next(csv.reader([raw.decode(CP1252, errors="replace").rstrip("\r\n")]), [])
    except csv.Error:
        return []


def read_header(path: Path, readable: Path) -> list[str]:
    """The header's column names from the UTF-8 file ``readable`` (``path`` is the file named in errors)."""
    with readable.open(encoding=UTF8_SIG, newline="") as handle:
        first = handle.readline()
    if not first:
        raise IngestError(str(path), "file is empty: expected a header line", line=1)
    header = next(csv.reader([first]), [])
    if not header:
        raise IngestError(str(path), "line 1 is blank: expected the header line", line=1)
    if len(header) == 1:
        found = max(_OTHER_DELIMITERS, key=first.count)
        if first.count(found):
            raise IngestError(
                str(path), f"the header is separated by {_OTHER_DELIMITERS[found]}, expected ','", line=1
            )
    return header


def physical_line(readable: Path, record: int, *, data_rows: bool) -> int:
    """The line where a record starts. ``record``: DuckDB's error line (header = 1, blank lines counted)
    or, with ``data_rows``, the 1-based data row (header and blank lines not counted)."""
    counted = 0
    with readable.open(encoding=UTF8_SIG, newline="") as handle:
        reader = csv.reader(handle)
        if data_rows:
            next(reader, None)
        start = reader.line_num + 1
        try:
            for fields in reader:
                if fields or not data_rows:
                    counted += 1
                    if counted == record:
                        return start
                start = reader.line_num + 1
        except csv.Error:
            pass
    return record + 1 if data_rows else record  # not found: assume one line per record


def truncation_hint(readable: Path, line: int | None, reason: str) -> str:
    """A hint when the error sits on the last, unfinished line of a file that does not end in a newline."""
    with readable.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return ""
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return ""
    last_line = sum(piece.count(b"\n") for _, piece in _pieces(readable)) + 1
    if "unterminated quote" in reason or line == last_line:
        return f" (line {last_line}, the last, has no line break: is the file truncated?)"
    return ""
