"""The JSON lines reader: Arrow's fast reader and numpy's agree line for line, and hand over mid-file."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa
import pytest

from warehouse import jsonl_reader, raw_writer

GOOD = b'{"messageId":"m%d","type":"track"}'


def read(path, max_row_bytes=10_000) -> list[tuple[int, str | None, str]]:
    batches = list(jsonl_reader._jsonl_batches(path, max_row_bytes))
    table = pa.concat_tables(batches) if batches else None
    if table is None:
        return []
    return list(zip(*(table.column(c).to_pylist() for c in ("_row_number", "_error", "_raw")), strict=True))


def numpy_only(path, max_row_bytes=10_000) -> list[tuple[int, str | None, str]]:
    offset = 3 if path.read_bytes().startswith(b"\xef\xbb\xbf") else 0
    table = pa.concat_tables(list(jsonl_reader._numpy_line_batches(path, offset, 1, max_row_bytes)))
    return list(zip(*(table.column(c).to_pylist() for c in ("_row_number", "_error", "_raw")), strict=True))


def lines(n: int, every: dict[int, bytes] | None = None) -> bytes:
    every = every or {}
    return b"\n".join(every.get(i, GOOD % i) for i in range(1, n + 1)) + b"\n"


CASES = {
    "plain": lines(300),
    "blank and space-only lines": lines(300, {5: b"", 6: b"   ", 7: b"\t ", 150: b""}),
    "byte order mark": b"\xef\xbb\xbf" + lines(50),
    "no newline at the end": lines(80).rstrip(b"\n"),
    "invalid UTF-8": lines(200, {33: b'{"messageId":"\xff"}'}),
    "a line over the limit": lines(200, {40: b'{"pad":"' + b"x" * 20_000 + b'"}'}),
    "a stray separator mid-file": lines(400, {250: b'{"a":1}\x01'}),
    "a carriage return mid-file": lines(400, {300: b'{"a":\r1}'}),
    "Windows line ends": lines(120).replace(b"\n", b"\r\n"),
    "leading spaces kept": lines(60, {3: b'  {"messageId":"padded"}  '}),
    "only blank lines": b"\n\n  \n",
}


@pytest.mark.parametrize("content", CASES.values(), ids=CASES.keys())
def test_arrow_reader_reads_every_line_as_numpy_does(tmp_path, monkeypatch, content):
    monkeypatch.setattr(jsonl_reader, "_ARROW_BLOCK", 1024)  # many blocks, lines across block ends
    monkeypatch.setattr(jsonl_reader, "_BLOCK", 700)
    path = tmp_path / "e.jsonl"
    path.write_bytes(content)
    got = read(path)
    assert got == numpy_only(path)
    physical = content.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n").split(b"\n")
    expected_numbers = [i for i, line in enumerate(physical, start=1) if line.strip()]
    assert [n for n, _, _ in got] == expected_numbers


def test_a_mid_file_hand_over_keeps_numbers_and_text(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(jsonl_reader, "_ARROW_BLOCK", 1024)
    path = tmp_path / "e.jsonl"
    path.write_bytes(lines(2500, {2000: b'{"messageId":"m2000","note":"a\rb"}'}))
    with caplog.at_level("INFO", logger="warehouse.jsonl_reader"):
        got = read(path, max_row_bytes=1000)
    handed_over = [r.getMessage() for r in caplog.records if "with numpy" in r.getMessage()]
    assert len(handed_over) == 1
    line = int(handed_over[0].split("from line ")[1].split()[0])
    # Arrow read the lines up to its read-ahead before the carriage return; numpy the rest.
    assert line in range(2, 2001)
    assert [n for n, _, _ in got] == list(range(1, 2501))
    assert got[line - 2][2] == f'{{"messageId":"m{line - 1}","type":"track"}}'
    assert got[line - 1][2] == f'{{"messageId":"m{line}","type":"track"}}'
    assert got[1999][2] == '{"messageId":"m2000","note":"a\rb"}'
    assert got[-1][2] == '{"messageId":"m2500","type":"track"}'


def test_long_and_undecodable_lines_say_why(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_bytes(lines(20, {4: b'{"a":"\xfe"}', 9: b'{"pad":"' + b"y" * 5000 + b'"}'}))
    got = {n: (error, raw) for n, error, raw in read(path, max_row_bytes=2000)}
    assert got[4][0].startswith("invalid UTF-8 at byte 7")
    assert got[9][0].startswith("row of 5,010 bytes exceeds ingestion.max_row_bytes (2,000)")
    assert len(got[9][1]) < 1100
    assert sum(error is None for error, _ in got.values()) == 18


@pytest.mark.parametrize("content", CASES.values(), ids=CASES.keys())
def test_raw_stores_what_numpy_reads(tmp_path, content):
    path = tmp_path / "e.jsonl"
    path.write_bytes(content)
    con = duckdb.connect()
    writer = raw_writer.RawWriter(con, tmp_path / "parts", "web", path, datetime(2026, 1, 1), parts=2)
    jsonl_reader.load_jsonl(writer, path, 10_000)
    writer.finish([])
    parts = f"read_parquet('{tmp_path / 'parts'}/*.parquet')"
    stored = con.execute(f"SELECT _row_number, _error, _raw FROM {parts} ORDER BY _row_number").fetchall()
    assert stored == numpy_only(path)
    assert writer.rows == len(stored)
    assert con.execute(f"SELECT DISTINCT source, _file FROM {parts}").fetchall() in ([], [("web", str(path))])
