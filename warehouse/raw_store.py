"""Where `raw.<source>` keeps its rows: Parquet files beside the warehouse, one folder per file version.

Raw holds every landing row as text, so it is about as large as the landing files. Written as
zstd Parquet by pyarrow, that text is stored about three times faster than in a DuckDB table
(whose compression of long strings dominated a load), takes less disk, and reads back as fast.

Layout: `<warehouse>.raw/<source>/<version>/part-<n>.parquet` beside the warehouse file
(`$KINDRED_HOME/warehouse.raw/` by default), where `<version>` names one loaded file version
(its load time and a hash of its path). `raw.<source>` is a view over the parts of the versions
the manifest records as loaded. The view is replaced in the same transaction as the manifest, so
a reader sees the old set of files or the new one, never part of a load. Folders no loaded
version points to (a run killed before its commit, a replaced or unloaded version) are deleted
by `remove_unreferenced`, before each ingest and after it commits or rolls back.

Rows leave a loaded version only by an erasure request (privacy.erasure) or a suppressed
identifier arriving again (privacy.suppression): `rewrite_version` writes the version's parts
again, without those rows or with them blanked, into the folder of the version's next generation
(`<version>-g<n>`); the caller's transaction records the generation in the manifest and points
the view at it, and the old folder, no longer referenced, is deleted like any other.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import blake3
import duckdb

from warehouse.connection import quote_table
from warehouse.manifest import ManifestEntry, loaded_files

log = logging.getLogger(__name__)

# The raw columns every part has, in this order, before the file's own columns.
RAW_COLUMNS = (
    ("source", "VARCHAR"),
    ("_file", "VARCHAR"),
    ("_row_number", "BIGINT"),
    ("_ingested_at", "TIMESTAMP"),
    ("_error", "VARCHAR"),
    ("_raw", "VARCHAR"),
)
_ROOT_VARIABLE = "kindred_raw_root"


class RawFilesMissing(RuntimeError):
    """A loaded file version's Parquet parts are gone from the raw store."""


def raw_root(con: duckdb.DuckDBPyConnection) -> Path:
    """The folder of the raw store: `<warehouse file without .duckdb>.raw` beside it.

    An in-memory warehouse (tests, `read_source`) gets a temporary folder for the connection's
    life; `discard_temporary_root` removes it.
    """
    (chosen,) = con.execute("SELECT getvariable(?)", [_ROOT_VARIABLE]).fetchall()[0]
    if chosen:
        return Path(chosen)
    database = _database_file(con)
    if database:
        path = Path(database).resolve()
        root = path.with_name(f"{path.stem}.raw")
    else:
        root = Path(tempfile.mkdtemp(prefix="kindred-raw-"))
        atexit.register(shutil.rmtree, root, True)
    con.execute(f"SET VARIABLE {_ROOT_VARIABLE} = ?", [str(root)])
    return root


def discard_temporary_root(con: duckdb.DuckDBPyConnection) -> None:
    """Delete the raw store of an in-memory warehouse."""
    if not _database_file(con):
        shutil.rmtree(raw_root(con), ignore_errors=True)


def _database_file(con: duckdb.DuckDBPyConnection) -> str | None:
    """The warehouse's file, None when it is in memory."""
    return con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()[0][0]


def version_folder(
    con: duckdb.DuckDBPyConnection, source: str, file: str, ingested_at: datetime, generation: int = 0
) -> Path:
    """The folder of one file version's parts (`ingested_at` and the path tell versions apart)."""
    return _version_folder(raw_root(con), source, file, ingested_at, generation)


def _version_folder(root: Path, source: str, file: str, ingested_at: datetime, generation: int = 0) -> Path:
    name = f"{ingested_at:%Y%m%dT%H%M%S%f}-{blake3.blake3(file.encode()).hexdigest()[:16]}"
    return root / source / (f"{name}-g{generation}" if generation else name)


def replace_view(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Point `raw.<source>` at the parts of the source's loaded versions (call inside the load's transaction).

    Raises:
        RawFilesMissing: a loaded version has no parts on disk (the raw store was deleted or moved).
    """
    root = raw_root(con)
    parts: list[str] = []
    for file, entry in loaded_files(con, source).items():
        ingested_at = entry.ingested_at
        folder = _version_folder(root, source, file, ingested_at, entry.generation)
        found = sorted(folder.glob("part-*.parquet"))
        if not found:
            raise RawFilesMissing(
                f"raw.{source}: the rows of {file} (loaded {ingested_at:%Y-%m-%d %H:%M:%S}) are missing from "
                f"{folder}; restore the folder from a backup, or reload the source with a full refresh "
                "(`ingest_sources(con, config, full_refresh=True)`) while its landing files are present"
            )
        parts.extend(str(p) for p in found)
    view = quote_table(f"raw.{source}")
    if is_table(con, source):
        con.execute(f"DROP TABLE {view}")
    if parts:
        files = ", ".join(sql_literal(p) for p in parts)
        body = f"SELECT * FROM read_parquet([{files}], union_by_name = true)"
    else:
        body = "SELECT " + ", ".join(f"NULL::{t} AS {c}" for c, t in RAW_COLUMNS) + " WHERE false"
    con.execute(f"CREATE OR REPLACE VIEW {view} AS {body}")


def is_table(con: duckdb.DuckDBPyConnection, source: str) -> bool:
    """Whether `raw.<source>` is a DuckDB table (a warehouse from before the raw store)."""
    rows = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_schema = 'raw' AND table_name = ?",
        [source],
    ).fetchall()
    return bool(rows) and rows[0][0] == "BASE TABLE"


def move_table_to_store(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Move a `raw.<source>` table into the raw store, version by version (inside a transaction).

    The table is dropped and the view created in the caller's transaction; if it rolls back, the
    written parts are unreferenced and `remove_unreferenced` deletes them.
    """
    table = quote_table(f"raw.{source}")
    for file, entry in loaded_files(con, source).items():
        folder = version_folder(con, source, file, entry.ingested_at)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        con.execute(
            f"COPY (SELECT * FROM {table} WHERE _file = ? AND _ingested_at = ?) "
            f"TO {sql_literal(folder / 'part-0.parquet')} (FORMAT parquet, COMPRESSION zstd)",
            [file, entry.ingested_at],
        )
    log.info("raw.%s: moved from a table to the raw store (%s)", source, raw_root(con) / source)
    replace_view(con, source)


def remove_unreferenced(con: duckdb.DuckDBPyConnection) -> int:
    """Delete the version folders no loaded version points to; returns how many.

    Call it outside a transaction that writes parts: between a part's write and the commit, its
    folder is not referenced yet.
    """
    root = raw_root(con)
    if not root.is_dir():
        return 0
    removed = 0
    for source_folder in (p for p in root.iterdir() if p.is_dir()):
        source = source_folder.name
        keep = {
            _version_folder(root, source, f, e.ingested_at, e.generation)
            for f, e in loaded_files(con, source).items()
        }
        for folder in (p for p in source_folder.iterdir() if p.is_dir()):
            if folder not in keep:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
    if removed:
        log.info("raw store: removed %d folders of versions no longer loaded", removed)
    return removed


def rewrite_version(
    con: duckdb.DuckDBPyConnection,
    source: str,
    entry: ManifestEntry,
    rows: str,
    *,
    tombstone: str | None = None,
) -> int:
    """Write a loaded version's parts again as its next generation, without some of its rows.

    The new folder is not referenced until the caller's transaction calls
    `warehouse.manifest.record_rewrite` with `entry.generation + 1` and `replace_view`; a run
    killed before that commit leaves it unreferenced, and `remove_unreferenced` deletes it.

    Args:
        con: warehouse connection.
        source: the source name.
        entry: the loaded version (from `loaded_files`).
        rows: a table (usually temporary) with columns `source, _file, _ingested_at, _row_number`
            listing the rows to take out; rows of other versions in it are ignored. A name the
            caller chose, never user input.
        tombstone: None to leave the rows out; otherwise the rows stay, every column but the
            lineage blanked and `_error` set to this text, so staging quarantines them with it.

    Returns:
        How many of the version's rows were left out or blanked.
    """
    root = raw_root(con)
    current = _version_folder(root, source, entry.file, entry.ingested_at, entry.generation)
    parts = sorted(current.glob("part-*.parquet"))
    if not parts:
        raise RawFilesMissing(f"raw.{source}: the parts of {entry.file} are missing from {current}")
    target = _version_folder(root, source, entry.file, entry.ingested_at, entry.generation + 1)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    files = ", ".join(sql_literal(p) for p in parts)
    stored = f"read_parquet([{files}], union_by_name = true)"
    # The version's rows to take out, by line number: the values are bound as parameters.
    chosen = (
        f"SELECT DISTINCT _row_number FROM {rows} WHERE source = $source AND _file = $file "
        "AND _ingested_at = $ingested_at"
    )
    params = {"source": source, "file": entry.file, "ingested_at": entry.ingested_at}
    (affected,) = con.execute(
        f"SELECT count(*) FROM {stored} WHERE _row_number IN ({chosen})", params
    ).fetchall()[0]
    if tombstone is None:
        select = f"SELECT * FROM {stored} WHERE _row_number NOT IN ({chosen})"
    else:
        names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {stored}").fetchall()]
        kept = {"source", "_file", "_row_number", "_ingested_at"}
        columns = [
            _quoted(name)
            if name in kept
            else (
                f"CASE WHEN _hit THEN $tombstone ELSE {_quoted(name)} END AS {_quoted(name)}"
                if name == "_error"
                else f"CASE WHEN _hit THEN NULL ELSE {_quoted(name)} END AS {_quoted(name)}"
            )
            for name in names
        ]
        select = (
            f"SELECT {', '.join(columns)} FROM (SELECT *, _row_number IN ({chosen}) AS _hit FROM {stored})"
        )
        params["tombstone"] = tombstone
    con.execute(
        f"COPY ({select}) TO {sql_literal(target / 'part-0.parquet')} "
        "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)",
        params,
    )
    log.info(
        "raw.%s: rewrote %s without %d rows (generation %d)",
        source,
        entry.file,
        affected,
        entry.generation + 1,
    )
    return affected


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(path: Path | str) -> str:
    """A path as a quoted SQL string (DuckDB's COPY and read_parquet take no parameters for it)."""
    return "'" + str(path).replace("'", "''") + "'"
