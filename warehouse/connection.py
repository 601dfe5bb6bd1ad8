"""Opening the warehouse and writing whole tables atomically."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from warehouse.home import warehouse_path

SCHEMAS = (
    "raw",
    "quarantine",
    "staging",
    "identity",
    "profiles",
    "features",
    "scores",
    "crm",
    "segments",
    "privacy",
    "audit",
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def connect(path: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse with every Kindred schema present.

    Args:
        path: a DuckDB file; defaults to `$KINDRED_HOME/warehouse.duckdb`. `":memory:"` for tests.

    Returns:
        An open DuckDB connection.
    """
    con = duckdb.connect(str(path or warehouse_path()))
    # Every timestamp Kindred stores is UTC; parsing offsets relies on the session zone being UTC.
    con.execute("SET TimeZone = 'UTC'")
    # Progress bars would land in Dagster's captured logs as noise.
    con.execute("SET enable_progress_bar = false")
    # Keep the memory of DuckDB's fixed-size blocks once touched instead of handing it back to
    # the kernel after each task: bulk loads otherwise spend a tenth of their time in page faults.
    # Only virtual memory is reserved up front; resident memory grows with use as before.
    con.execute("SET block_allocator_memory = '50%'")
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    return con


@contextmanager
def open_warehouse(path: Path | str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """`connect`, closing the connection afterwards."""
    con = connect(path)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def unordered_inserts(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Inserts that need not keep the order of their input, for tables whose rows carry their place.

    Raw and staged rows carry their file and line, so their order in a table means nothing. An
    ordered insert makes DuckDB hold batches back to write them in order (about a sixth of a
    10M-line raw load) and leaves part-filled row groups that the next checkpoint rewrites whole.
    """
    (before,) = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {str(before).lower()}")


def quote_table(name: str) -> str:
    """Check a `schema.table` name against identifier rules and return it quoted.

    Table names often come from config (source names), so they are validated, never spliced raw.
    """
    parts = name.split(".")
    if len(parts) != 2 or not all(_IDENTIFIER.match(p) for p in parts):
        raise ValueError(f"{name!r} is not a valid schema.table name (letters, digits and _ only)")
    return ".".join(f'"{p}"' for p in parts)


def replace_table(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> int:
    """Replace a table with a polars frame in one transaction: readers see old or new, never half.

    Args:
        con: warehouse connection.
        name: `schema.table`.
        frame: the new content.

    Returns:
        The number of rows written.
    """
    target = quote_table(name)
    view = f"_kindred_frame_{abs(hash(name))}"
    con.register(view, frame.to_arrow())
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM {view}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister(view)
    return frame.height


def replace_table_from_sql(
    con: duckdb.DuckDBPyConnection, name: str, sql: str, params: list | None = None
) -> int:
    """Replace a table with the result of a query, atomically.

    Returns:
        The number of rows written.
    """
    target = quote_table(name)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TABLE {target} AS {sql}", params or [])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return row_count(con, name)


def read_table(con: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    """A whole table as a polars frame."""
    return con.sql(f"SELECT * FROM {quote_table(name)}").pl()


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether `schema.table` exists (a table or a view) in the database in use."""
    schema, table = name.split(".")
    # DuckDB's own catalog functions answer in a third of the time information_schema takes, which
    # matters to the API (a request asks this once or twice); tables first, the usual case.
    for catalog, column in (("duckdb_tables", "table_name"), ("duckdb_views", "view_name")):
        rows = con.execute(
            f"SELECT 1 FROM {catalog}() WHERE database_name = current_database() AND schema_name = ? AND {column} = ?",
            [schema, table],
        ).fetchall()
        if rows:
            return True
    return False


def row_count(con: duckdb.DuckDBPyConnection, name: str) -> int:
    """Rows in `schema.table` (0 when it does not exist)."""
    if not table_exists(con, name):
        return 0
    return con.sql(f"SELECT count(*) FROM {quote_table(name)}").fetchall()[0][0]


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One DuckDB transaction: committed when the block ends, rolled back if it raises."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
