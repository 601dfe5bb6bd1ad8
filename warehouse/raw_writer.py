"""Writing one landing file's rows into the raw store: Parquet parts with raw's lineage columns first.

A reader (warehouse.csv_reader, warehouse.jsonl_reader, warehouse.parquet_reader) hands its rows
to a `RawWriter`, which adds the lineage, writes the parts and counts the rows and the unreadable
ones. It is apart from the readers because all three share it, and apart from warehouse.raw_store,
which owns the store's folders and the `raw.<source>` views that make the parts visible.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.landing import data_column
from warehouse.raw_store import sql_literal

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
# What a reader hands the writer, beside the file's own columns.
LINES_SCHEMA = pa.schema([("_row_number", pa.int64()), ("_error", pa.string()), ("_raw", pa.large_string())])


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
