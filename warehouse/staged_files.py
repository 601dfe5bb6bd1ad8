"""`staging._staged_files`: the file versions staged per source, and the source settings they were staged with.

A window re-stage (`warehouse.staging.stage_window`) types only some rows of a source again; that
is only valid when the source's settings in kindred.yaml (and Kindred's typing rules) are those
its other staged rows were typed with. A source whose settings changed is re-staged whole. Kept
apart from `warehouse.staging` as the one place that writes and reads this record.
"""

from __future__ import annotations

import hashlib
import json

import duckdb

from warehouse.config import SourceConfig
from warehouse.connection import table_exists
from warehouse.manifest import LOADED, MANIFEST, ensure_manifest

# The file versions staged per source, and the source settings they were staged with: a window
# re-stage is only valid when the settings did not change since.
STAGED_FILES = "staging._staged_files"
_STAGED_FILES_COLUMNS = "source VARCHAR, file VARCHAR, ingested_at TIMESTAMP, settings VARCHAR"
# Bumped whenever the typing rules change, so window re-stages of older results fall back to full.
_RULES_VERSION = 2


def ensure_staged_files(con: duckdb.DuckDBPyConnection) -> None:
    """Create the manifest and `staging._staged_files` if they do not exist yet.

    Args:
        con: warehouse connection.
    """
    ensure_manifest(con)
    con.execute(f"CREATE TABLE IF NOT EXISTS {STAGED_FILES} ({_STAGED_FILES_COLUMNS})")


def _settings(source: SourceConfig) -> str:
    settings = source.model_dump(include={"name", "kind", "id_namespace", "columns", "constants", "formats"})
    settings["rules"] = _RULES_VERSION
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def needs_full_restage(con: duckdb.DuckDBPyConnection, source: SourceConfig) -> bool:
    """Whether a window re-stage of a source must re-stage it whole.

    Args:
        con: warehouse connection.
        source: the source as kindred.yaml configures it now.

    Returns:
        True when it has no quarantine table yet, or was staged with other settings or typing rules.
    """
    recorded = con.execute(
        f"SELECT DISTINCT settings FROM {STAGED_FILES} WHERE source = ?", [source.name]
    ).fetchall()
    if not table_exists(con, f"quarantine.{source.name}"):
        return True
    return any(r[0] != _settings(source) for r in recorded)


def record_staged(con: duckdb.DuckDBPyConnection, sources: list[SourceConfig]) -> None:
    """Record the file versions of each source loaded now as staged with its current settings.

    Args:
        con: warehouse connection.
        sources: the sources just staged.
    """
    for source in sources:
        con.execute(f"DELETE FROM {STAGED_FILES} WHERE source = ?", [source.name])
        con.execute(
            f"INSERT INTO {STAGED_FILES} SELECT source, file, ingested_at, ? FROM {MANIFEST} "
            "WHERE source = ? AND status = ?",
            [_settings(source), source.name, LOADED],
        )
