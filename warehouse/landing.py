"""Reading landing files into `raw.<source>`: every row as text, with its true row number.

One row of a file is one row of raw, whatever is wrong with it. A row that cannot be read (a CSV
row with too many or too few fields, broken quoting, invalid UTF-8, a row over the size limit)
is kept with its original text in `_raw` and the problem in `_error`, so staging quarantines it
with a reason. A file that cannot be read at all (its content is not what its format says) raises
`LandingFileError` before anything is written.

`_row_number` is the file's line number with the header excluded: for JSON lines the line itself,
for CSV the line a record starts on minus the header's lines (blank lines are layout, not rows,
but keep their numbers), for Parquet the row's position.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.config import ConfigError
from warehouse.raw_store import sql_literal

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
# Every raw part starts with these columns (warehouse.raw_store.RAW_COLUMNS), then the file's own.
_RAW_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("_file", pa.string()),
        ("_row_number", pa.int64()),
        ("_ingested_at", pa.timestamp("us")),
        ("_error", pa.string()),
        ("_raw", pa.large_string()),
    ]
)
LINES_SCHEMA = pa.schema([("_row_number", pa.int64()), ("_error", pa.string()), ("_raw", pa.large_string())])


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


class RawWriter:
    """Writes the rows of one file version as Parquet parts into its folder of the raw store.

    Parts are written as the rows stream in, each by its own thread (pyarrow compresses without
    the GIL), so a large file's parts are compressed on both cores while the next lines are cut.
    The rows only become part of `raw.<source>` when the load's transaction points the view at
    them (warehouse.raw_store).
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        folder: Path,
        source: str,
        file: Path,
        ingested_at: datetime,
        parts: int = 1,
    ) -> None:
        self.con = con
        self.folder = folder
        self.lineage = [source, str(file), ingested_at]
        self.parts = parts
        self.rows = 0
        self.problems = 0
        self._written = 0
        folder.mkdir(parents=True, exist_ok=True)

    def append(self, batch: pa.Table) -> None:
        """Write one batch with columns `_row_number`, `_error`, `_raw` and data columns."""
        if batch.num_rows:
            self.append_all(iter([batch]), batch.schema)

    def append_all(self, batches: Iterator[pa.Table], schema: pa.Schema) -> None:
        """Write a stream of batches (all of `schema`), spread over `parts` files written in parallel."""
        target = self._schema(schema)
        options = _parquet_options(target)
        writers = [pq.ParquetWriter(self._next_part(), target, **options) for _ in range(self.parts)]
        pending: list[Future | None] = [None] * len(writers)
        try:
            with ThreadPoolExecutor(max_workers=len(writers), thread_name_prefix="kindred-raw") as pool:
                for n, table in enumerate(batches):
                    self.rows += table.num_rows
                    self.problems += table.num_rows - table.column("_error").null_count
                    slot = n % len(writers)
                    if pending[slot] is not None:
                        pending[slot].result()
                    pending[slot] = pool.submit(writers[slot].write_table, self._with_lineage(table, target))
                for future in pending:
                    if future is not None:
                        future.result()
        finally:
            for writer in writers:
                writer.close()

    def append_query(self, select: str, params: list) -> int:
        """Write the rows of a DuckDB query (its columns named as raw's) as one part; returns how many."""
        (rows,) = self.con.execute(
            f"COPY ({select}) TO {sql_literal(self._next_part())} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)",
            params,
        ).fetchall()[0]
        self.rows += rows
        return rows

    def finish(self, columns: list[str]) -> None:
        """Make sure the version has a part, so a file without rows still shows its columns in raw."""
        if not self._written:
            empty = pa.schema([*LINES_SCHEMA, *[(data_column(c), pa.string()) for c in columns]])
            self.append_all(iter([empty.empty_table()]), empty)

    def _next_part(self) -> Path:
        path = self.folder / f"part-{self._written}.parquet"
        self._written += 1
        return path

    def _schema(self, schema: pa.Schema) -> pa.Schema:
        names = set(_RAW_SCHEMA.names)
        return pa.schema([*_RAW_SCHEMA, *[f for f in schema if f.name not in names]])

    def _with_lineage(self, table: pa.Table, target: pa.Schema) -> pa.Table:
        n = table.num_rows
        constants = dict(zip(("source", "_file", "_ingested_at"), self.lineage, strict=True))
        arrays = []
        for column in target:
            if column.name in constants:
                arrays.append(pa.repeat(pa.scalar(constants[column.name], column.type), n))
            elif column.name in table.column_names:
                arrays.append(table.column(column.name).cast(column.type))
            else:
                arrays.append(pa.nulls(n, column.type))
        return pa.Table.from_arrays(arrays, schema=target)


def _parquet_options(schema: pa.Schema) -> dict:
    # zstd level 1: as small as level 3 on JSON lines, a third faster. Whole lines are unique: no
    # dictionary and no min/max statistics for them; everything else gets both.
    others = [name for name in schema.names if name != "_raw"]
    return {
        "compression": "zstd",
        "compression_level": 1,
        "use_dictionary": others,
        "write_statistics": others,
    }


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
