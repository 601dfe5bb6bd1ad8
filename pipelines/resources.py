"""The one resource every asset uses: where the config and the warehouse are, and the run's as-of."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from warehouse.config import KindredConfig, load_config
from warehouse.connection import open_warehouse
from warehouse.timeline import resolve_as_of


def default_config_path() -> str:
    """`$KINDRED_CONFIG`, else `kindred.yaml` in the working folder."""
    return os.environ.get("KINDRED_CONFIG", "kindred.yaml")


class KindredResource(dg.ConfigurableResource):
    """Kindred's warehouse and config, shared by every asset.

    DuckDB allows one writer, so assets open the file only for the length of their body.
    """

    config_path: str = ""
    as_of: str = ""

    def load(self) -> KindredConfig:
        """The run's kindred.yaml."""
        return load_config(Path(self.config_path or default_config_path()))

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """An open warehouse connection, closed afterwards."""
        with open_warehouse() as con:
            yield con

    def as_of_date(self, con: duckdb.DuckDBPyConnection) -> date:
        """The run's as-of date: the configured one, or the day after the newest staged activity."""
        return resolve_as_of(con, self.as_of or os.environ.get("KINDRED_AS_OF") or None)
