"""Reading landing files into `raw.<source>`: every row as text, with its true row number.

One row of a file is one row of raw, whatever is wrong with it. A row that cannot be read (a CSV
row with too many or too few fields, broken quoting, invalid UTF-8, a row over the size limit)
is kept with its original text in `_raw` and the problem in `_error`, so staging quarantines it
with a reason. A file that cannot be read at all (its content is not what its format says) raises
`LandingFileError` before anything is written.

`_row_number` is the file's line number with the header excluded: for JSON lines the line itself,
for CSV the line a record starts on minus the header's lines (blank lines are layout, not rows,
but keep their numbers), for Parquet the row's position.

This module holds what runs before any reader and what the readers share: raw's lineage and read
columns, `inspect_file` (is the file its format, and what are its columns) and the reason a row
over the size limit is given. Each format has its reader (warehouse.csv_reader,
warehouse.jsonl_reader, warehouse.parquet_reader), and all three write through
warehouse.raw_writer.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from warehouse.config import ConfigError

log = logging.getLogger(__name__)

LINEAGE = ("source", "_file", "_row_number", "_ingested_at")
# `_error`: why the row could not be read (NULL when it could); `_raw`: the row's original text,
# kept for every JSON line and for CSV rows that could not be split into columns.
READ_COLUMNS = ("_error", "_raw")
RESERVED = frozenset(LINEAGE + READ_COLUMNS)
# A row too long to read keeps this many of its first bytes in `_raw`.
PREVIEW = 1024
_SNIFF_BYTES = 1 << 20
_MAGIC = (
    (b"PAR1", "a Parquet file"),
    (b"\x1f\x8b", "gzip-compressed"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
    (b"SQLite format 3", "an SQLite database"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
)
FIX = {
    "csv": "set `format:` on the source, give the file its proper extension, or re-export it as CSV",
    "jsonl": "set `format:` on the source, give the file its proper extension, or re-export it as "
    "JSON lines (one JSON object per line)",
    "parquet": "set `format:` on the source, give the file its proper extension, or re-export it as Parquet",
}
_UTF8_BOM = codecs.BOM_UTF8


class LandingFileError(ConfigError):
    """A landing file cannot be read as its format at all; the message names the file and the fix."""


@dataclass
class FileShape:
    """What a quick look at a file found: whether it has rows, and its columns (CSV and Parquet)."""

    empty: bool
    columns: list[str] = field(default_factory=list)
    header_lines: int = 0
    newline: str = "\n"


def data_column(name: str) -> str:
    """The raw column that holds a file column: its own name, unless that clashes with lineage.

    Args:
        name: the column name in the file.

    Returns:
        The name in `raw.<source>` (`source` in a file becomes `_col_source`).
    """
    return f"_col_{name}" if name in RESERVED or name.startswith("_col_") else name


def inspect_file(file: Path, fmt: str, delimiter: str = ",") -> FileShape:
    """Check that a file's content is what its format says, and read its columns.

    Args:
        file: the landing file.
        fmt: csv, jsonl or parquet.
        delimiter: the CSV field separator.

    Returns:
        Its shape; `empty` for a file with no bytes (or only whitespace).

    Raises:
        LandingFileError: the content is another format, binary, or unreadable.
    """
    size = file.stat().st_size
    with open(file, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
        if fmt == "parquet" and size >= 8:
            handle.seek(size - 4)
            tail = handle.read(4)
        else:
            tail = b""
    if not head.strip():
        if size > len(head):
            raise LandingFileError(
                f"{file}: starts with more than {_SNIFF_BYTES:,} bytes of blank space; {FIX[fmt]}"
            )
        return FileShape(empty=True)
    if fmt == "parquet":
        if not (head.startswith(b"PAR1") and tail == b"PAR1"):
            raise LandingFileError(f"{file}: is not a Parquet file ({_describe(head)}); {FIX['parquet']}")
        return FileShape(empty=False, columns=_parquet_columns(file))
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise LandingFileError(f"{file}: is {what}, not {_NAMES[fmt]}; {FIX[fmt]}")
    if b"\x00" in head:
        raise LandingFileError(f"{file}: contains binary data (NUL bytes), not {_NAMES[fmt]}; {FIX[fmt]}")
    text = head.removeprefix(_UTF8_BOM).decode("utf-8", errors="replace")
    first = text.lstrip()[:1]
    if fmt == "jsonl":
        lines = text.splitlines()
        # The last line read may be cut short by the read size: judge only the whole lines.
        partial = lines.pop().strip() if size > len(head) and lines else ""
        whole = [line.strip() for line in lines if line.strip()][:50]
        shown = (whole or [partial])[0]
        if shown in ("[", "{"):
            raise LandingFileError(
                f"{file}: does not look like JSON lines: it looks like one JSON document (pretty-printed), "
                f"not one object per line; {FIX['jsonl']}"
            )
        objects = any(line.startswith("{") and _is_json(line) for line in whole)
        if not objects and not (not whole and partial.startswith("{")):
            raise LandingFileError(
                f"{file}: does not look like JSON lines: none of its first {len(whole)} lines is a JSON object; "
                f"the first line is {shown[:80]!r}; {FIX['jsonl']}"
            )
        return FileShape(empty=False)
    first_line = text.lstrip().split("\n", 1)[0].strip()
    if first in ("{", "[") and (_is_json(first_line) or len(first_line) >= len(text.lstrip()) - 1):
        raise LandingFileError(f"{file}: looks like JSON, not CSV; {FIX['csv']}")
    columns, header_lines = _csv_header(text, delimiter)
    newline = "\r\n" if b"\r\n" in head else "\n"
    if len(columns) == 1:
        for other in (";", "\t", "|"):
            if other != delimiter and other in columns[0]:
                log.warning("%s: one column only; its header contains %r: set `delimiter:`?", file, other)
    return FileShape(empty=False, columns=columns, header_lines=header_lines, newline=newline)


_NAMES = {"csv": "CSV", "jsonl": "JSON lines", "parquet": "Parquet"}


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _describe(head: bytes) -> str:
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return f"it is {what}"
    if b"\x00" in head[:1024]:
        return "it is binary data"
    line = head.removeprefix(_UTF8_BOM).split(b"\n", 1)[0][:60].decode("utf-8", errors="replace")
    return f"it starts with {line!r}"


def _csv_header(text: str, delimiter: str) -> tuple[list[str], int]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] = []
    try:
        # Blank lines before the header are layout too.
        while not any(h.strip() for h in header):
            header = next(reader)
    except (StopIteration, csv.Error):
        header = []
    return unique_names([h.strip() for h in header]), max(reader.line_num, 1)


def unique_names(names: list[str]) -> list[str]:
    """Header names made usable: blanks become `column_<n>`, repeats get `_2`, `_3`, ...

    Args:
        names: the header as read.

    Returns:
        As many distinct names.
    """
    seen: set[str] = set()
    result = []
    for position, name in enumerate(names, start=1):
        base = name or f"column_{position}"
        candidate, n = base, 1
        while candidate in seen:
            n += 1
            candidate = f"{base}_{n}"
        seen.add(candidate)
        result.append(candidate)
    return result


def _parquet_columns(file: Path) -> list[str]:
    try:
        rows = duckdb.sql("DESCRIBE SELECT * FROM read_parquet(?)", params=[str(file)]).fetchall()
    except duckdb.Error as error:
        raise LandingFileError(
            f"{file}: is not a readable Parquet file: {error}; {FIX['parquet']}"
        ) from error
    return [r[0] for r in rows]


def too_long(size: int, max_row_bytes: int) -> str:
    """Why a row over the size limit is not read, for its `_error`.

    Args:
        size: the row's size in bytes.
        max_row_bytes: the limit (`ingestion.max_row_bytes`).

    Returns:
        The reason, saying that `raw_content` holds the row's first `PREVIEW` bytes.
    """
    return (
        f"row of {size:,} bytes exceeds ingestion.max_row_bytes ({max_row_bytes:,}); "
        f"raw_content holds its first {PREVIEW} bytes"
    )
