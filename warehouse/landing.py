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
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
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
_BLOCK = 128 << 20
# A row too long to read keeps this many of its first bytes in `_raw`.
PREVIEW = 1024
_BATCH_ROWS = 200_000
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
_FIX = {
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
                f"{file}: starts with more than {_SNIFF_BYTES:,} bytes of blank space; {_FIX[fmt]}"
            )
        return FileShape(empty=True)
    if fmt == "parquet":
        if not (head.startswith(b"PAR1") and tail == b"PAR1"):
            raise LandingFileError(f"{file}: is not a Parquet file ({_describe(head)}); {_FIX['parquet']}")
        return FileShape(empty=False, columns=_parquet_columns(file))
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise LandingFileError(f"{file}: is {what}, not {_NAMES[fmt]}; {_FIX[fmt]}")
    if b"\x00" in head:
        raise LandingFileError(f"{file}: contains binary data (NUL bytes), not {_NAMES[fmt]}; {_FIX[fmt]}")
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
                f"not one object per line; {_FIX['jsonl']}"
            )
        objects = any(line.startswith("{") and _is_json(line) for line in whole)
        if not objects and not (not whole and partial.startswith("{")):
            raise LandingFileError(
                f"{file}: does not look like JSON lines: none of its first {len(whole)} lines is a JSON object; "
                f"the first line is {shown[:80]!r}; {_FIX['jsonl']}"
            )
        return FileShape(empty=False)
    first_line = text.lstrip().split("\n", 1)[0].strip()
    if first in ("{", "[") and (_is_json(first_line) or len(first_line) >= len(text.lstrip()) - 1):
        raise LandingFileError(f"{file}: looks like JSON, not CSV; {_FIX['csv']}")
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
            f"{file}: is not a readable Parquet file: {error}; {_FIX['parquet']}"
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


def load_parquet(writer: RawWriter, file: Path, columns: list[str]) -> None:
    """Append a Parquet file as text: nested values as JSON, everything else cast to text.

    Args:
        writer: where the rows go.
        file: the file.
        columns: its columns (from `inspect_file`).
    """
    types = dict(
        writer.con.execute(
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))", [str(file)]
        ).fetchall()
    )
    selects = []
    for name in columns:
        ident = _quote(name)
        nested = any(t in types[name] for t in ("STRUCT", "[]", "MAP(", "UNION"))
        expr = f"to_json({ident})::VARCHAR" if nested else f"CAST({ident} AS VARCHAR)"
        selects.append(f"{expr} AS {_quote(data_column(name))}")
    body = ", ".join(selects)
    try:
        writer.append_query(
            "SELECT ?::VARCHAR AS source, ?::VARCHAR AS _file, file_row_number + 1 AS _row_number, "
            "?::TIMESTAMP AS _ingested_at, NULL::VARCHAR AS _error, NULL::VARCHAR AS _raw"
            f"{', ' + body if body else ''} FROM read_parquet(?, file_row_number = true)",
            [*writer.lineage, str(file)],
        )
    except duckdb.Error as error:
        raise LandingFileError(f"{file}: cannot be read as Parquet: {error}; {_FIX['parquet']}") from error


def load_csv(writer: RawWriter, file: Path, shape: FileShape, delimiter: str, max_row_bytes: int) -> None:
    """Append every record of a CSV file; ragged, badly quoted or undecodable rows keep their text.

    DuckDB's strict reader takes the file in one pass when every record is well formed and each
    sits on its own line; otherwise the file is read record by record so that each bad row is
    kept (with its line) and the good ones around it still load.

    Args:
        writer: where the rows go.
        file: the file.
        shape: its header (from `inspect_file`).
        delimiter: the field separator.
        max_row_bytes: records longer than this are kept as a preview with an `_error`.
    """
    batch = _csv_strict(writer.con, file, shape, delimiter, max_row_bytes)
    if batch is not None:
        writer.append(batch)
        return
    log.info("%s: has malformed or multi-line records; reading it record by record", file)
    schema = pa.schema([*[(data_column(c), pa.string()) for c in shape.columns], *LINES_SCHEMA])
    writer.append_all(_csv_records(file, shape, delimiter, max_row_bytes), schema)


def _csv_strict(
    con: duckdb.DuckDBPyConnection, file: Path, shape: FileShape, delimiter: str, max_row_bytes: int
) -> pa.Table | None:
    columns = {f"c{i}": "VARCHAR" for i in range(len(shape.columns))}
    # A cursor of its own: a read error must not abort the caller's open transaction.
    reader = con.cursor()
    try:
        # Row numbers come from the order of the rows, so the order must be the file's.
        reader.execute("SET preserve_insertion_order = true")
        table = reader.sql(
            "SELECT * FROM read_csv(?, header = true, columns = ?, auto_detect = false, delim = ?, "
            "quote = '\"', escape = '\"', new_line = ?, strict_mode = true, null_padding = false, "
            "store_rejects = true, rejects_table = '_kindred_csv_rejects', rejects_scan = '_kindred_csv_scans', "
            "max_line_size = ?, buffer_size = ?)",
            params=[
                str(file),
                columns,
                delimiter,
                "\\r\\n" if shape.newline == "\r\n" else "\\n",
                max_row_bytes,
                max(2 * max_row_bytes, 32 << 20),
            ],
        ).to_arrow_table()
        rejected = reader.execute("SELECT count(*) FROM _kindred_csv_rejects").fetchall()[0][0]
    except duckdb.Error as error:
        log.info("%s: strict CSV read failed (%s)", file, str(error).splitlines()[0])
        return None
    finally:
        reader.close()
    if rejected or table.num_rows + shape.header_lines != _physical_lines(file):
        return None
    table = table.rename_columns([data_column(c) for c in shape.columns])
    n = table.num_rows
    return (
        table.append_column("_row_number", pa.array(np.arange(1, n + 1), pa.int64()))
        .append_column("_error", pa.nulls(n, pa.string()))
        .append_column("_raw", pa.nulls(n, pa.large_string()))
    )


def _physical_lines(file: Path) -> int:
    count, last = 0, b""
    with open(file, "rb") as handle:
        while block := handle.read(_BLOCK):
            count += block.count(b"\n")
            last = block
    return count + (0 if last.endswith(b"\n") else 1)


_SURROGATE = re.compile("[\udc80-\udcff]")


class _LineFeed:
    """Feeds decoded lines to csv.reader and remembers them, so each record keeps its own text."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.pending: list[str] = []
        self.lines = 0

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        raw = self.handle.readline()
        if not raw:
            raise StopIteration
        if self.lines == 0:
            raw = raw.removeprefix(_UTF8_BOM)
        self.lines += 1
        # surrogateescape keeps undecodable bytes visible per record instead of failing the file.
        line = raw.decode("utf-8", errors="surrogateescape")
        self.pending.append(line)
        return line

    def take(self) -> list[str]:
        lines, self.pending = self.pending, []
        return lines


def _csv_records(file: Path, shape: FileShape, delimiter: str, max_row_bytes: int) -> Iterator[pa.Table]:
    width = len(shape.columns)
    names = [data_column(c) for c in shape.columns]
    # Longer fields make the row too long anyway; the limit only has to let legal rows through.
    csv.field_size_limit(max(csv.field_size_limit(), max_row_bytes + 1))
    with open(file, "rb") as handle:
        feed = _LineFeed(handle)
        reader = csv.reader(feed, delimiter=delimiter, strict=True)
        for _ in range(shape.header_lines):
            feed.__next__()
        feed.take()
        rows = _CsvRows(names)
        while True:
            start = feed.lines + 1
            try:
                fields = next(reader)
                error = None
            except StopIteration:
                break
            except csv.Error as problem:
                fields, error = None, f"malformed CSV: {problem}"
            lines = feed.take()
            text = "".join(lines)
            if not text.strip():
                continue
            if error and "unexpected end of data" in error:
                # An opening quote never closed swallows the rest of the file: keep each line a row.
                for offset, line in enumerate(lines):
                    if line.strip():
                        rows.bad(
                            start + offset - shape.header_lines,
                            _clean(line),
                            f"unterminated quote: the quote opened on line {start} is never closed",
                        )
                break
            row_number = start - shape.header_lines
            raw_text = _clean(text)
            if (
                len(text) > max_row_bytes
                and len(text.encode("utf-8", errors="surrogateescape")) > max_row_bytes
            ):
                size = len(text.encode("utf-8", errors="surrogateescape"))
                rows.bad(row_number, raw_text[:PREVIEW] + " ...", too_long(size, max_row_bytes))
            elif error:
                rows.bad(row_number, raw_text, error)
            elif _SURROGATE.search(text):
                rows.bad(row_number, raw_text, "invalid UTF-8 (undecodable bytes shown as U+FFFD)")
            elif len(fields) != width:
                rows.bad(row_number, raw_text, f"row has {len(fields)} fields, the header has {width}")
            else:
                rows.good(row_number, fields)
            if rows.size >= _BATCH_ROWS:
                yield rows.flush()
        yield rows.flush()


def _clean(text: str) -> str:
    return text.rstrip("\r\n").encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


class _CsvRows:
    """Columns of one batch of CSV records, built up record by record."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self._reset()

    def _reset(self) -> None:
        self.values: list[list[str | None]] = [[] for _ in self.names]
        self.row_numbers: list[int] = []
        self.errors: list[str | None] = []
        self.raw: list[str | None] = []

    @property
    def size(self) -> int:
        return len(self.row_numbers)

    def good(self, row_number: int, fields: list[str]) -> None:
        for column, value in zip(self.values, fields, strict=True):
            column.append(value if value != "" else None)
        self.row_numbers.append(row_number)
        self.errors.append(None)
        self.raw.append(None)

    def bad(self, row_number: int, text: str, error: str) -> None:
        for column in self.values:
            column.append(None)
        self.row_numbers.append(row_number)
        self.errors.append(error)
        self.raw.append(text)

    def flush(self) -> pa.Table:
        table = pa.table(
            {
                **{
                    name: pa.array(column, pa.string())
                    for name, column in zip(self.names, self.values, strict=True)
                },
                "_row_number": pa.array(self.row_numbers, pa.int64()),
                "_error": pa.array(self.errors, pa.string()),
                "_raw": pa.array(self.raw, pa.large_string()),
            }
        )
        self._reset()
        return table


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
