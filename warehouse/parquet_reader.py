"""Reading a Parquet landing file into raw: each column cast to text, nested values as JSON.

DuckDB reads the file and writes raw's part in one query, so no row passes through Python; the row
number is the row's position in the file. It is apart from warehouse.landing, which checks a file
before any reader runs, as the CSV and JSON lines readers are.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse.landing import FIX, LandingFileError, data_column
from warehouse.raw_writer import RawWriter


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
        raise LandingFileError(f"{file}: cannot be read as Parquet: {error}; {FIX['parquet']}") from error


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
