"""Where a Kindred run keeps its state: `KINDRED_HOME` (default `./.kindred`)."""

from __future__ import annotations

import os
from pathlib import Path


def kindred_home() -> Path:
    """Return the home folder, created if missing.

    Returns:
        The absolute path of `$KINDRED_HOME`, or of `./.kindred` when it is unset.
    """
    home = Path(os.environ.get("KINDRED_HOME", ".kindred")).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def warehouse_path() -> Path:
    """The DuckDB file every stage reads and writes."""
    return kindred_home() / "warehouse.duckdb"
