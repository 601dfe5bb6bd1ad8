"""Reading a CSV landing file into raw: each record's fields as text, with the line it starts on.

DuckDB's strict reader takes a well-formed file in one pass; a file with a ragged, badly quoted,
undecodable or multi-line record is read record by record with Python's csv module, so each bad
record keeps its text and the line it starts on, and the good ones around it still load. It is
apart from warehouse.landing, which checks a file and names its columns before any reader runs,
because this fallback and its row accounting concern CSV alone.
"""

from __future__ import annotations

import codecs
import csv
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from warehouse.landing import PREVIEW, FileShape, data_column, too_long
from warehouse.raw_writer import LINES_SCHEMA, RawWriter

log = logging.getLogger(__name__)

_BLOCK = 128 << 20
_BATCH_ROWS = 200_000
_UTF8_BOM = codecs.BOM_UTF8


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
