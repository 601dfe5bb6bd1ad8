"""Reading a JSON lines landing file into raw: each non-blank line whole in `_raw`, with its line number.

Lines are cut by Arrow's CSV reader told that a line is one field, several times faster than numpy
cuts them; from the first line Arrow cannot follow (a carriage return, a line longer than its
block, a stray field separator) numpy cuts the rest. Line numbers, blank lines, oversized lines and
invalid UTF-8 come out the same either way (tests/warehouse/test_line_reader.py holds them to it).
It is apart from warehouse.landing because this tuning for speed concerns JSON lines alone: the
event files are the largest Kindred reads.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Empty, Queue

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from warehouse.landing import PREVIEW, too_long
from warehouse.raw_writer import LINES_SCHEMA, RawWriter

log = logging.getLogger(__name__)

_BLOCK = 128 << 20
# Arrow's reader reads blocks of this size (or of the longest row allowed, if larger).
_ARROW_BLOCK = 16 << 20
_UTF8_BOM = codecs.BOM_UTF8


def load_jsonl(writer: RawWriter, file: Path, max_row_bytes: int) -> None:
    """Append every non-blank line of a JSON lines file, in blocks, with its line number.

    Args:
        writer: where the rows go.
        file: the file.
        max_row_bytes: lines longer than this are kept as a preview with an `_error`.
    """
    writer.append_all(_prefetched(_jsonl_batches(file, max_row_bytes)), LINES_SCHEMA)


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
        return line[:PREVIEW].decode("utf-8", errors="replace") + " ...", too_long(len(line), max_row_bytes)
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
        preview = head[:PREVIEW].decode("utf-8", errors="replace")
        return _batch([line], [preview + " ..."], [too_long(size, max_row_bytes)])
    batch, _ = _lines_batch(b"".join(parts) + b"\n", line, max_row_bytes)
    return batch


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
