"""Where Splink runs: the one seam between the matching logic and a Splink backend.

The settings, training and scoring in `probabilistic` and `training` only ever touch Splink
through an engine: `register` hands a polars frame to the backend, `to_polars` brings a Splink table
back as polars, `db_api` is what a `Linker` is built on. DuckDB (in memory, a private
connection) is the default; another backend (Spark) plugs in by providing the same three things.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import polars as pl
from splink import DuckDBAPI


@dataclass
class SplinkEngine:
    """A Splink database API and how frames reach it and come back.

    Attributes:
        db_api: the Splink database API (`DuckDBAPI`, `SparkAPI`, ...).
        name: the backend's name, for logs and the saved model's summary.
        on_close: what releases the backend's resources.
    """

    db_api: object
    name: str
    on_close: Callable[[], None] = field(default=lambda: None)

    def register(self, frame: pl.DataFrame, table_name: str):
        """Hand a frame to the backend.

        Args:
            frame: the rows.
            table_name: a name unique within this engine.

        Returns:
            The Splink dataframe.
        """
        return self.db_api.register(frame.to_arrow(), table_name=table_name)

    def to_polars(self, table) -> pl.DataFrame:
        """A Splink table as a polars frame (through Arrow, which every backend speaks).

        Args:
            table: a Splink dataframe (predictions, scored pairs).

        Returns:
            The rows.
        """
        return pl.from_arrow(table.as_pyarrow_table())

    def close(self) -> None:
        """Release the backend."""
        self.on_close()


# What Splink's DuckDB may hold in memory before it spills to disk. DuckDB's own default is 80%
# of the machine: on a million records Splink's joins then take gigabytes that the records,
# links and clusters in the same process also need. Spilled joins and sorts run a little slower
# and finish; the million-record benchmark (BENCHMARKS.md) measures the whole process.
SPLINK_MEMORY_LIMIT = "1500MB"


def duckdb_engine() -> SplinkEngine:
    """The default engine: Splink on a private in-memory DuckDB connection, held to
    `SPLINK_MEMORY_LIMIT` and spilling to a temporary folder removed when the engine closes.

    Returns:
        The engine; `close()` closes the connection and removes the spill folder.
    """
    spill = tempfile.mkdtemp(prefix="kindred-splink-")
    con = duckdb.connect(
        config={
            "memory_limit": SPLINK_MEMORY_LIMIT,
            "temp_directory": spill,
        }
    )

    def close() -> None:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)

    return SplinkEngine(DuckDBAPI(connection=con), "duckdb", close)


EngineFactory = Callable[[], SplinkEngine]
