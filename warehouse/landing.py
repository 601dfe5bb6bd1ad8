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
import contextlib
import csv
import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from queue import Empty, Queue

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
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
# Arrow's reader reads blocks of this size (or of the longest row allowed, if larger).
_ARROW_BLOCK = 16 << 20
_PREVIEW = 1024
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
_LINES_SCHEMA = pa.schema([("_row_number", pa.int64()), ("_error", pa.string()), ("_raw", pa.large_string())])


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
            empty = pa.schema([*_LINES_SCHEMA, *[(data_column(c), pa.string()) for c in columns]])
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


def load_jsonl(writer: RawWriter, file: Path, max_row_bytes: int) -> None:
    """Append every non-blank line of a JSON lines file, in blocks, with its line number.

    Args:
        writer: where the rows go.
        file: the file.
        max_row_bytes: lines longer than this are kept as a preview with an `_error`.
    """
    writer.append_all(_prefetched(_jsonl_batches(file, max_row_bytes)), _LINES_SCHEMA)


def _prefetched(batches: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """The same batches, cut one ahead in a thread while DuckDB inserts the current one.

    Reading and cutting (numpy, file reads) and DuckDB's insert both release the GIL, so the two
    overlap; one batch ahead bounds the memory to two blocks.
    """
    done = object()
    queue: Queue = Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                queue.put(batch)
                if stop.is_set():
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            queue.put(error)
        queue.put(done)

    thread = threading.Thread(target=produce, name="kindred-landing-reader", daemon=True)
    thread.start()
    try:
        while (item := queue.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # If the consumer stopped early, let a producer blocked on a full queue finish.
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(Empty):
                queue.get(timeout=0.1)
        thread.join()


def _jsonl_batches(file: Path, max_row_bytes: int) -> Iterator[pa.Table]:
    """The file's lines in batches: Arrow's line reader, or numpy's from where Arrow cannot go on.

    Arrow's CSV reader, told that a line is one field, splits lines several times faster than
    numpy. It cannot follow a carriage return (Arrow ends a line there, the file's line count
    does not), a line longer than its block, or a stray field separator; from the first line it
    cannot read, the rest of the file goes through numpy, keeping the line numbers.
    """
    offset = len(_UTF8_BOM) if _starts_with_bom(file) else 0
    next_line = 1
    try:
        for batch, lines, size in _arrow_line_batches(file, max_row_bytes):
            yield batch
            next_line += lines
            offset += size
        return
    except (pa.ArrowInvalid, _NotPlainLines) as reason:
        log.info("%s: reading from line %d on with numpy (%s)", file, next_line, str(reason).splitlines()[0])
    yield from _numpy_line_batches(file, offset, next_line, max_row_bytes)


class _NotPlainLines(Exception):
    """The file has a carriage return, which Arrow's reader would take for a line end."""


class _PlainLines(io.RawIOBase):
    """A file read as it is, stopping at the first block holding a carriage return."""

    def __init__(self, handle) -> None:
        self.handle = handle

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        block = self.handle.read(size)
        if b"\r" in block:
            raise _NotPlainLines("it has carriage returns")
        return block


def _arrow_line_batches(file: Path, max_row_bytes: int) -> Iterator[tuple[pa.Table, int, int]]:
    """Batches of lines from Arrow's reader, with how many lines and bytes (newlines included) each took."""
    options = (
        pa_csv.ReadOptions(
            column_names=["line"], use_threads=False, block_size=max(_ARROW_BLOCK, max_row_bytes + 1)
        ),
        # One field per line, no quoting, and empty lines kept as rows so that numbering holds.
        pa_csv.ParseOptions(
            delimiter="\x01",
            quote_char=False,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=False,
        ),
        pa_csv.ConvertOptions(column_types={"line": pa.large_binary()}, check_utf8=False),
    )
    first_line = 1
    with open(file, "rb") as handle, pa_csv.open_csv(_PlainLines(handle), *options) as reader:
        for chunk in reader:
            lines = chunk.column(0)
            size = int(pc.sum(pc.binary_length(lines)).as_py() or 0) + len(lines)
            yield _arrow_lines_table(lines, first_line, max_row_bytes), len(lines), size
            first_line += len(lines)


def _arrow_lines_table(lines: pa.LargeBinaryArray, first_line: int, max_row_bytes: int) -> pa.Table:
    """The non-blank lines of a batch from Arrow's reader, as `_row_number`, `_error`, `_raw`."""
    numbers = np.arange(first_line, first_line + len(lines), dtype=np.int64)
    lengths = pc.binary_length(lines).to_numpy(zero_copy_only=False)
    keep = lengths > 0
    # A line of spaces is layout like an empty one; only lines starting with whitespace are checked.
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    data = np.frombuffer(lines.buffers()[2] or b"", dtype=np.uint8)
    padded = keep.copy()
    padded[keep] = np.isin(data[offsets[:-1][keep]], (9, 32))
    for i in np.flatnonzero(padded):
        if not bytes(data[offsets[i] : offsets[i + 1]]).strip():
            keep[i] = False
    if not keep.all():
        lines, numbers, lengths = lines.filter(pa.array(keep)), numbers[keep], lengths[keep]
    if not (lengths > max_row_bytes).any():
        with contextlib.suppress(pa.ArrowInvalid):  # invalid UTF-8: line by line below
            return pa.table(
                {
                    "_row_number": numbers,
                    "_error": pa.nulls(len(lines), pa.string()),
                    "_raw": lines.cast(pa.large_string()),
                }
            )
    texts, errors = [], []
    for line in lines.to_pylist():
        text, error = _decoded(line, max_row_bytes)
        texts.append(text)
        errors.append(error)
    return _batch(numbers.tolist(), texts, errors)


def _decoded(line: bytes, max_row_bytes: int) -> tuple[str, str | None]:
    """A line's text, and why it cannot be read (too long, invalid UTF-8), if so."""
    if len(line) > max_row_bytes:
        return line[:_PREVIEW].decode("utf-8", errors="replace") + " ...", _too_long(len(line), max_row_bytes)
    try:
        return line.decode("utf-8"), None
    except UnicodeDecodeError as error:
        return (
            line.decode("utf-8", errors="replace"),
            f"invalid UTF-8 at byte {error.start + 1} of the line (shown as U+FFFD)",
        )


def _numpy_line_batches(file: Path, offset: int, next_line: int, max_row_bytes: int) -> Iterator[pa.Table]:
    # Lines are cut with numpy and handed to DuckDB as one Arrow string buffer per block, so a
    # 10-million-line file never becomes 10 million Python strings; only a block holding invalid
    # UTF-8 or an oversized line goes line by line.
    with open(file, "rb") as handle:
        handle.seek(offset)
        while block := handle.read(_BLOCK):
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                if len(block) < _BLOCK:  # the last line, without a newline
                    batch, _ = _lines_batch(block + b"\n", next_line, max_row_bytes)
                    yield batch
                    return
                yield _long_line(handle, block, next_line, max_row_bytes)
                next_line += 1
                continue
            batch, lines = _lines_batch(memoryview(block)[:cut], next_line, max_row_bytes)
            yield batch
            next_line += lines
            if cut < len(block):
                handle.seek(cut - len(block), 1)


def _starts_with_bom(file: Path) -> bool:
    with open(file, "rb") as handle:
        return handle.read(len(_UTF8_BOM)) == _UTF8_BOM


def _long_line(handle, head: bytes, line: int, max_row_bytes: int) -> pa.Table:
    """A line longer than a block: read to its end, keeping at most `max_row_bytes` of it."""
    parts, size = [head], len(head)
    while True:
        block = handle.read(_BLOCK)
        end = block.find(b"\n")
        piece = block if end < 0 else block[:end]
        size += len(piece)
        if size <= max_row_bytes:
            parts.append(piece)
        if end >= 0:
            handle.seek(end + 1 - len(block), 1)
            break
        if not block:
            break
    if size > max_row_bytes:
        preview = head[:_PREVIEW].decode("utf-8", errors="replace")
        return _batch([line], [preview + " ..."], [_too_long(size, max_row_bytes)])
    batch, _ = _lines_batch(b"".join(parts) + b"\n", line, max_row_bytes)
    return batch


def _too_long(size: int, max_row_bytes: int) -> str:
    return (
        f"row of {size:,} bytes exceeds ingestion.max_row_bytes ({max_row_bytes:,}); "
        f"raw_content holds its first {_PREVIEW} bytes"
    )


def _lines_batch(buffer: bytes | memoryview, first_line: int, max_row_bytes: int) -> tuple[pa.Table, int]:
    """The non-blank lines of a block that ends with a newline, and how many lines it had."""
    data = np.frombuffer(buffer, dtype=np.uint8)
    newlines = np.flatnonzero(data == 10)
    starts = np.empty(len(newlines), dtype=np.int64)
    starts[0] = 0
    starts[1:] = newlines[:-1] + 1
    ends = newlines.astype(np.int64)
    carriage = (ends > starts) & (data[np.maximum(ends - 1, 0)] == 13)
    ends[carriage] -= 1
    lengths = ends - starts
    keep = lengths > 0
    # A line of spaces is layout like an empty one; only lines starting with whitespace are checked.
    padded = keep & np.isin(data[starts], (9, 32))
    blank_padded = [i for i in np.flatnonzero(padded) if not bytes(buffer[starts[i] : ends[i]]).strip()]
    keep[blank_padded] = False
    line_numbers = first_line + np.flatnonzero(keep)
    starts, ends, lengths = starts[keep], ends[keep], lengths[keep]
    if len(starts) == 0:
        return _batch([], [], []), len(newlines)
    valid = bool(data.max() < 128) or _is_utf8(buffer)
    if valid and not (lengths > max_row_bytes).any():
        # The bytes of the kept lines, back to back: Arrow's offsets then point into them.
        if blank_padded:
            inside = np.zeros(len(data), dtype=bool)
            for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
                inside[start:end] = True
            values = data[inside]
        elif carriage.any():
            values = bytes(buffer).replace(b"\r\n", b"").replace(b"\n", b"")
        else:
            values = bytes(buffer).replace(b"\n", b"")
        offsets = np.zeros(len(starts) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        text = pa.LargeStringArray.from_buffers(len(starts), pa.py_buffer(offsets), pa.py_buffer(values))
        batch = pa.table(
            {
                "_row_number": pa.array(line_numbers, pa.int64()),
                "_error": pa.nulls(len(starts), pa.string()),
                "_raw": text,
            }
        )
        return batch, len(newlines)
    texts, errors = [], []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        text, error = _decoded(bytes(buffer[start:end]), max_row_bytes)
        texts.append(text)
        errors.append(error)
    return _batch(line_numbers.tolist(), texts, errors), len(newlines)


def _is_utf8(buffer: bytes | memoryview) -> bool:
    try:
        str(buffer, "utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _batch(line_numbers: list[int], texts: list[str], errors: list[str | None]) -> pa.Table:
    return pa.table(
        {
            "_row_number": pa.array(line_numbers, pa.int64()),
            "_error": pa.array(errors, pa.string()),
            "_raw": pa.array(texts, pa.large_string()),
        }
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
    schema = pa.schema([*[(data_column(c), pa.string()) for c in shape.columns], *_LINES_SCHEMA])
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
                rows.bad(row_number, raw_text[:_PREVIEW] + " ...", _too_long(size, max_row_bytes))
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
