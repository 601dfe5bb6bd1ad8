"""Landing files -> `raw.<source>`: every row as text, exactly as the file had it, with lineage.

Loads are incremental and idempotent. `raw._manifest` (warehouse.manifest) records each file
version loaded (path, size, BLAKE3 hash, rows): an unchanged file is not read again, a changed file
replaces its previous rows as a new version, and a second copy of a file already loaded is
recorded as a duplicate and not loaded. Every load runs in one transaction, so a run killed at any
point leaves raw and the manifest as they were before it.

Nothing is typed here; `warehouse.staging` types each row and quarantines what it cannot stage.
A row that cannot even be read (warehouse.landing) is kept with its reason in `_error`, so rows in
the files = rows in raw = rows staged + rows quarantined. The checks that run before anything is
written (files present, of their format, with their columns) are in warehouse.source_checks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from warehouse.config import ConfigError, KindredConfig, SourceConfig
from warehouse.connection import connect, quote_table, row_count, table_exists, transaction
from warehouse.csv_reader import load_csv
from warehouse.jsonl_reader import load_jsonl
from warehouse.landing import FileShape, inspect_file
from warehouse.manifest import (
    FilePlan,
    file_hash,
    loaded_files,
    mark_unloaded,
    plan_files,
    record_duplicate,
    record_version,
    touch,
)
from warehouse.parquet_reader import load_parquet
from warehouse.raw_store import (
    discard_temporary_root,
    is_table,
    move_table_to_store,
    remove_unreferenced,
    replace_view,
    version_folder,
)
from warehouse.raw_writer import RawWriter
from warehouse.source_checks import check_sources, landing_files

log = logging.getLogger(__name__)

# Files from this size on are written to raw as two Parquet parts, one per core.
_PARALLEL_PARTS_BYTES = 64 << 20

__all__ = [
    "SourceLoad",
    "ingest_source",
    "ingest_sources",
    "read_source",
    "unload_files",
]


@dataclass
class SourceLoad:
    """What one ingest did for one source."""

    source: str
    rows: int = 0
    added: int = 0
    removed: int = 0
    problem_rows: int = 0
    loaded: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: int = 0
    duplicates: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for logs and the UI."""
        return (
            f"raw.{self.source}: {self.rows:,} rows; {len(self.loaded)} files loaded (+{self.added:,} rows, "
            f"-{self.removed:,} replaced, {self.problem_rows:,} unreadable), {self.unchanged} unchanged, "
            f"{len(self.duplicates)} duplicate"
        )


def ingest_sources(
    con: duckdb.DuckDBPyConnection, config: KindredConfig, full_refresh: bool = False
) -> dict[str, int]:
    """Load the new and changed files of every configured source into `raw.<source>`, in one transaction.

    Args:
        con: warehouse connection.
        config: the loaded kindred.yaml.
        full_refresh: reload every file the globs match now, and unload files that no longer exist.

    Returns:
        Rows in `raw.<source>` per source name, after the load.

    Raises:
        ConfigError: a source matches no file, a file lacks a required column, or a file's content
            is not its format (LandingFileError); the message names the source, the file and the
            column. Nothing is written in that case.
    """
    shapes = check_sources(con, config)
    with _raw_store_tidied(con), transaction(con):
        loads = [_load_source(con, config, s, shapes[s.name], full_refresh) for s in config.sources]
    for load in loads:
        log.info(load.summary())
    return {load.source: load.rows for load in loads}


def ingest_source(
    con: duckdb.DuckDBPyConnection, config: KindredConfig, source: SourceConfig, full_refresh: bool = False
) -> SourceLoad:
    """Load one source's new and changed files, after checking every source's files.

    Checking them all first means a broken file anywhere stops every source's load before any of
    them writes, as `ingest_sources` does.

    Args:
        con: warehouse connection.
        config: the loaded kindred.yaml.
        source: the source to load.
        full_refresh: reload every file, and unload files that no longer exist.

    Returns:
        What was loaded, replaced and skipped.
    """
    shapes = check_sources(con, config)
    with _raw_store_tidied(con), transaction(con):
        load = _load_source(con, config, source, shapes[source.name], full_refresh)
    log.info(load.summary())
    return load


@contextmanager
def _raw_store_tidied(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Delete the raw store's folders of versions no longer loaded, before and after a change to raw.

    Before: what a killed run left behind. After (committed or rolled back): the previous
    versions of reloaded and unloaded files, or the parts of a load that failed.
    """
    remove_unreferenced(con)
    try:
        yield
    finally:
        remove_unreferenced(con)


def _load_source(
    con: duckdb.DuckDBPyConnection,
    config: KindredConfig,
    source: SourceConfig,
    shapes: dict[str, FileShape],
    full_refresh: bool,
) -> SourceLoad:
    load = SourceLoad(source=source.name)
    _prepare_raw(con, source.name)
    files = landing_files(config, source)
    plans = plan_files(con, source.name, files, full_refresh=full_refresh)
    ingested_at = datetime.now(UTC).replace(tzinfo=None)
    loaded = loaded_files(con, source.name)
    if full_refresh:
        present = {str(f) for f in files}
        for path, entry in loaded.items():
            if path not in present:
                load.removed += entry.rows
                mark_unloaded(con, source.name, path, ingested_at)
    for plan in plans:
        if plan.action in ("load", "reload") and str(plan.file) not in shapes:
            shapes[str(plan.file)] = inspect_file(
                plan.file, config.format_of(source, plan.file), source.delimiter
            )
    for plan in plans:
        if plan.action == "skip":
            load.unchanged += 1
        elif plan.action == "touch":
            touch(con, source.name, plan)
            load.unchanged += 1
        elif plan.action == "duplicate":
            record_duplicate(con, source.name, plan, config.format_of(source, plan.file), ingested_at)
            load.duplicates.append(str(plan.file))
            log.warning(
                "source '%s': %s has the same content as %s, which is already loaded; not loading it twice",
                source.name,
                plan.file,
                plan.duplicate_of,
            )
        else:
            if plan.action == "reload":
                load.removed += loaded[str(plan.file)].rows
                load.replaced.append(str(plan.file))
            _load_file(con, config, source, plan, shapes[str(plan.file)], ingested_at, load)
    replace_view(con, source.name)
    load.rows = row_count(con, f"raw.{source.name}")
    return load


def _load_file(
    con: duckdb.DuckDBPyConnection,
    config: KindredConfig,
    source: SourceConfig,
    plan: FilePlan,
    shape: FileShape,
    ingested_at: datetime,
    load: SourceLoad,
) -> None:
    fmt = config.format_of(source, plan.file)
    folder = version_folder(con, source.name, str(plan.file), ingested_at)
    # Large files are written as two parts, compressed in parallel.
    parts = 2 if plan.size >= _PARALLEL_PARTS_BYTES else 1
    writer = RawWriter(con, folder, source.name, plan.file, ingested_at, parts=parts)
    # A hash the plan could do without is computed beside the load (blake3 releases the GIL).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kindred-hash") as hasher:
        digest = hasher.submit(file_hash, plan.file) if plan.content_hash is None else None
        if shape.empty:
            load.empty.append(str(plan.file))
            log.warning("source '%s': %s is empty; nothing to load", source.name, plan.file)
        elif fmt == "jsonl":
            load_jsonl(writer, plan.file, config.ingestion.max_row_bytes)
        elif fmt == "csv":
            load_csv(writer, plan.file, shape, source.delimiter, config.ingestion.max_row_bytes)
        else:
            load_parquet(writer, plan.file, shape.columns)
        writer.finish(shape.columns)
        if digest is not None:
            plan.content_hash = digest.result()
    record_version(con, source.name, plan, fmt, writer.rows, writer.problems, shape.columns, ingested_at)
    load.loaded.append(str(plan.file))
    load.added += writer.rows
    load.problem_rows += writer.problems
    if writer.problems:
        log.warning(
            "source '%s': %d rows of %s could not be read; they will be quarantined with the reason",
            source.name,
            writer.problems,
            plan.file,
        )


def _prepare_raw(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Make sure `raw.<source>` exists as a view over the raw store.

    A table from before the manifest existed is dropped and its files reloaded; a table from
    before the raw store is moved into it.
    """
    if not table_exists(con, f"raw.{source}"):
        replace_view(con, source)
        return
    if not is_table(con, source):
        return
    if "_error" in _table_columns(con, source) and (
        loaded_files(con, source) or row_count(con, f"raw.{source}") == 0
    ):
        move_table_to_store(con, source)
        return
    log.warning("raw.%s was written without a manifest; reloading it from the landing files", source)
    con.execute(f"DROP TABLE {quote_table(f'raw.{source}')}")
    replace_view(con, source)


def _table_columns(con: duckdb.DuckDBPyConnection, source: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ? "
        "ORDER BY ordinal_position",
        [source],
    ).fetchall()
    return [r[0] for r in rows]


def unload_files(
    con: duckdb.DuckDBPyConnection, config: KindredConfig, source_name: str, files: list[str | Path]
) -> int:
    """Remove files' rows from `raw.<source>` on purpose (a file delivered by mistake).

    The manifest keeps the file as `unloaded`; the next staging run drops its rows from staging and
    quarantine. Putting the file back in the landing folder loads it again as a new version.

    Args:
        con: warehouse connection.
        config: the loaded kindred.yaml.
        source_name: the source the files belong to.
        files: the files' paths as the manifest records them (absolute).

    Returns:
        The number of rows removed.

    Raises:
        ConfigError: the source is unknown or a file is not loaded for it.
    """
    names = [s.name for s in config.sources]
    if source_name not in names:
        raise ConfigError(f"no source named '{source_name}' in kindred.yaml (sources: {', '.join(names)})")
    loaded = loaded_files(con, source_name)
    paths = [str(Path(f).resolve()) if str(f) not in loaded else str(f) for f in files]
    missing = [p for p in paths if p not in loaded]
    if missing:
        raise ConfigError(f"source '{source_name}': not loaded, cannot unload: {', '.join(missing)}")
    removed = 0
    at = datetime.now(UTC).replace(tzinfo=None)
    with _raw_store_tidied(con), transaction(con):
        for path in paths:
            removed += loaded[path].rows
            mark_unloaded(con, source_name, path, at)
        replace_view(con, source_name)
    log.info("raw.%s: unloaded %d files, %d rows", source_name, len(paths), removed)
    return removed


def read_source(config: KindredConfig, source: SourceConfig) -> pl.DataFrame:
    """All files of one source as one text frame with lineage columns, without touching the warehouse.

    The rows are exactly those `ingest_sources` would load: CSV and Parquet keep their own columns
    as text, JSON lines keep each line whole in `_raw`, and a row that cannot be read has `_error`.

    Args:
        config: the loaded kindred.yaml.
        source: the source to read.

    Returns:
        One row per file row.

    Raises:
        ConfigError: as `ingest_sources`.
    """
    con = connect(":memory:")
    try:
        shapes = check_sources(con, config, [source])
        load = _load_source(con, config, source, shapes[source.name], full_refresh=True)
        frame = con.sql(f"SELECT * FROM {quote_table(f'raw.{source.name}')} ORDER BY _file, _row_number").pl()
    finally:
        discard_temporary_root(con)
        con.close()
    log.info("read %d rows of source '%s'", load.rows, source.name)
    return frame
