"""Publishing what the API and MCP read: a read-only copy of the serving tables, swapped in atomically.

DuckDB lets one process write a database file, and a process holding the file open, even
read-only, keeps a pipeline run from opening it to write. So the server never opens
`warehouse.duckdb`. At the end of every run (and after an erasure) `publish` copies the tables the
API reads into a new DuckDB file under `$KINDRED_HOME/serving/`, indexes the lookups, and only when
the file is complete and on disk points `serving/CURRENT` at it (a temporary file renamed over the
pointer: the switch is atomic). A server opens the file `CURRENT` names, read-only, and moves to
the next one when the pointer changes (`serving.store`). A request reads one file from start to
end, so it sees one publication whole, never half of one.

Older files are deleted as soon as a newer one is current: a server still reading one keeps it
open (on Linux an open file outlives its name) until its last request ends, and a server that
finds its file gone reads the pointer again. After an erasure, publishing anew therefore removes
the person from everything the API and MCP can read.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from privacy.classification import Classification
from warehouse.config import KindredConfig
from warehouse.connection import quote_table, table_exists

log = logging.getLogger(__name__)

SERVING_FOLDER = "serving"
POINTER = "CURRENT"
PUBLISHED_SUFFIX = ".duckdb"
_PREFIX = "published-"
_ATTACHED = "kindred_publication"
PUBLICATION = "serving.publication"

# The tables the API and MCP read, with the columns their requests look up by (an index each).
# The staging tables and raw rows feed grounding documents built on demand (unmasked reads,
# generation) and the person's known values used to mask a profile.
SERVING_TABLES: dict[str, tuple[tuple[str, ...], ...]] = {
    # DuckDB uses an index for one column's equality: the record id is the selective one.
    "crm.grounding": (("crm_record_id",), ("profile_id",)),
    "crm.record_scores": (("crm_record_id",), ("profile_id",)),
    "profiles.unified_profile": (("profile_id",),),
    "profiles.contact_points": (("value",), ("profile_id",)),
    "profiles.consent": (("profile_id",),),
    "identity.record_xref": (("record_id",), ("profile_id",)),
    "scores.predictions": (("profile_id",),),
    "scores.offers": (("profile_id",),),
    "staging.people": (),
    "staging.events": (),
    "staging.orders": (),
    "staging.cases": (),
    "segments.membership": (("segment", "profile_id"),),
    "segments.evaluations": (),
    "segments.profile_fields": (("profile_id",),),
}


@dataclass(frozen=True)
class Publication:
    """One published file.

    Attributes:
        path: the file.
        published_at: when it became current (UTC).
        run_id: the pipeline run that published it, if any.
        rows: table -> rows copied (tables the warehouse does not have yet are absent).
        removed: older published files deleted.
    """

    path: Path
    published_at: datetime
    run_id: str | None
    rows: dict[str, int]
    removed: list[Path]


def serving_tables(
    con: duckdb.DuckDBPyConnection, config: KindredConfig
) -> dict[str, tuple[tuple[str, ...], ...]]:
    """The tables to publish: `SERVING_TABLES`, plus the raw tables of sources with classified columns.

    Columns classified in `privacy.pii_fields` as `source.column` are read from `raw.<source>` to
    mask the person's values wherever they appear, so those raw tables are served too.

    Args:
        con: the warehouse connection.
        config: the loaded kindred.yaml.

    Returns:
        table -> index column groups, for `publish`.
    """
    tables = dict(SERVING_TABLES)
    for source in sorted(Classification.from_config(config.privacy).source_columns()):
        if table_exists(con, f"raw.{source}"):
            tables[f"raw.{source}"] = ()
    return tables


def serving_folder(home: Path) -> Path:
    """`<home>/serving/`, where published files and the pointer live."""
    return Path(home) / SERVING_FOLDER


def current_publication(home: Path) -> Path | None:
    """The file the pointer names, or None when nothing was published yet.

    Args:
        home: the Kindred home.

    Returns:
        The path of the current published file (it may have been replaced since: callers that
        fail to open it read the pointer again).
    """
    try:
        name = (serving_folder(home) / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not name.startswith(_PREFIX) or "/" in name:
        raise ValueError(
            f"{serving_folder(home) / POINTER}: does not name a published file; run `kindred publish`"
        )
    return serving_folder(home) / name


def publish(
    con: duckdb.DuckDBPyConnection,
    home: Path,
    *,
    tables: dict[str, tuple[tuple[str, ...], ...]] | None = None,
    run_id: str | None = None,
) -> Publication:
    """Copy the serving tables into a new file and make it the current publication.

    Args:
        con: the warehouse connection (the run's, writable; the copy reads it in one transaction).
        home: the Kindred home.
        tables: table -> index column groups; `SERVING_TABLES` by default. Tables the warehouse
            does not have are left out (the API answers as for an empty table).
        run_id: the pipeline run publishing, recorded in `serving.publication`.

    Returns:
        What was published and which older files were removed.
    """
    tables = SERVING_TABLES if tables is None else tables
    folder = serving_folder(home)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    published_at = datetime.now(UTC).replace(tzinfo=None)
    name = f"{_PREFIX}{published_at:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}{PUBLISHED_SUFFIX}"
    temporary = folder / f".{name}.tmp"
    rows: dict[str, int] = {}
    con.execute("ATTACH ? AS " + _ATTACHED, [str(temporary)])
    try:
        # One transaction over the reads: every table is copied as of the same moment.
        con.execute("BEGIN TRANSACTION")
        try:
            for table, indexes in tables.items():
                if table_exists(con, table):
                    rows[table] = _copy(con, table, indexes)
            _record(con, published_at, run_id, rows)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        con.execute(f"CHECKPOINT {_ATTACHED}")
    finally:
        con.execute(f"DETACH {_ATTACHED}")
    try:
        _sync(temporary)
        final = folder / name
        temporary.replace(final)
        _point_at(folder, name)
    finally:
        temporary.unlink(missing_ok=True)
        Path(f"{temporary}.wal").unlink(missing_ok=True)
    removed = _remove_older(folder, keep=name)
    log.info("published %s: %d tables, %d older files removed", name, len(rows), len(removed))
    return Publication(final, published_at, run_id, rows, removed)


def republish(
    con: duckdb.DuckDBPyConnection, home: Path, config: KindredConfig | None = None
) -> Publication | None:
    """Publish anew if anything was published before: what an erasure calls once the warehouse is clean.

    Publishing deletes every older file, so the person erased is gone from what the API and MCP
    read (a server answering from an older file closes it when its last request ends).

    Args:
        con: the warehouse connection (writable).
        home: the Kindred home.
        config: the loaded kindred.yaml; None (the end-of-run upkeep finishing an interrupted
            erasure has none): the tables the current publication holds.

    Returns:
        The new publication, or None when this home never published (nothing to replace).
    """
    current = current_publication(home)
    if current is None:
        return None
    tables = serving_tables(con, config) if config is not None else _published_tables(current)
    return publish(con, home, tables=tables)


def _published_tables(path: Path) -> dict[str, tuple[tuple[str, ...], ...]]:
    """The tables a published file holds, with their lookups; `SERVING_TABLES` if it cannot be read."""
    try:
        with duckdb.connect(str(path), read_only=True) as published:
            names = published.execute("SELECT tables FROM serving.publication").fetchall()[0][0]
    except (duckdb.Error, IndexError) as error:
        log.warning("could not read the tables of %s (%s): publishing the default tables", path.name, error)
        return dict(SERVING_TABLES)
    return {name: SERVING_TABLES.get(name, ()) for name in names}


def _copy(con: duckdb.DuckDBPyConnection, table: str, indexes: tuple[tuple[str, ...], ...]) -> int:
    schema, name = table.split(".")
    target = f'{_ATTACHED}."{schema}"."{name}"'
    con.execute(f'CREATE SCHEMA IF NOT EXISTS {_ATTACHED}."{schema}"')
    con.execute(f"CREATE TABLE {target} AS SELECT * FROM {quote_table(table)}")
    present = {c for (c,) in con.sql(f"SELECT column_name FROM (DESCRIBE {target})").fetchall()}
    for n, columns in enumerate(indexes):
        if set(columns) <= present:
            quoted = ", ".join(f'"{c}"' for c in columns)
            con.execute(f'CREATE INDEX "{name}_lookup_{n}" ON {target} ({quoted})')
    return con.sql(f"SELECT count(*) FROM {target}").fetchall()[0][0]


def _record(
    con: duckdb.DuckDBPyConnection, published_at: datetime, run_id: str | None, rows: dict[str, int]
) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ATTACHED}.serving")
    con.execute(
        f"CREATE TABLE {_ATTACHED}.serving.publication "
        "(published_at TIMESTAMP, run_id VARCHAR, tables VARCHAR[], table_rows BIGINT[])"
    )
    con.execute(
        f"INSERT INTO {_ATTACHED}.serving.publication VALUES (?, ?, ?, ?)",
        [published_at, run_id, list(rows), list(rows.values())],
    )


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _point_at(folder: Path, name: str) -> None:
    """Replace the pointer in one rename: a reader sees the old name or the new one."""
    temporary = folder / f".{POINTER}.{secrets.token_hex(4)}.tmp"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(folder / POINTER)
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        temporary.unlink(missing_ok=True)


def _remove_older(folder: Path, keep: str) -> list[Path]:
    """Delete every other published file and any temporary file left by an interrupted publish."""
    removed = []
    for path in folder.iterdir():
        stale_copy = path.name.startswith(f".{_PREFIX}") and ".tmp" in path.name
        older = path.name.startswith(_PREFIX) and path.name != keep
        if stale_copy or older:
            path.unlink(missing_ok=True)
            removed.append(path)
    return sorted(removed)
