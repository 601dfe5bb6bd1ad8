"""Checking the landing files before an ingest writes anything: present, of their format, with their columns.

Only the start of each new or changed file is read (warehouse.landing.inspect_file); a file
already loaded is checked from the columns the manifest recorded, against the current column
mapping. It is apart from the load (warehouse.ingest) because other callers need the check or the
file list without loading: `kindred run` checks every source before any stage runs, the consent
settings are checked against the shapes found, and the Dagster sensor watches `landing_files`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.config import ConfigError, KindredConfig, SourceConfig, required_columns
from warehouse.landing import FileShape, LandingFileError, inspect_file
from warehouse.manifest import ensure_manifest, loaded_files


def check_sources(
    con: duckdb.DuckDBPyConnection, config: KindredConfig, sources: list[SourceConfig] | None = None
) -> dict[str, dict[str, FileShape]]:
    """Check every source's new or changed files before anything is written.

    Reads only the start of each file that is new or whose size or time changed: its content must
    be its format, and a CSV or Parquet file must have every required column. Files already
    loaded are checked against the current column mapping from the columns the manifest recorded.

    Args:
        con: warehouse connection.
        config: the loaded kindred.yaml.
        sources: the sources to check (default: all).

    Returns:
        Source name -> file path -> shape, for the files that were read.

    Raises:
        ConfigError: the first problem found, naming source, file and column, with the fix.
    """
    ensure_manifest(con)
    shapes: dict[str, dict[str, FileShape]] = {}
    for source in sources or config.sources:
        files = landing_files(config, source)
        loaded = loaded_files(con, source.name)
        if not files and not loaded:
            raise ConfigError(
                f"source '{source.name}': no file matches path '{source.path}' "
                f"(relative to {config.base_dir}); fix `path:` or add the files"
            )
        formats = {config.format_of(source, f) for f in files} | {e.format for e in loaded.values()}
        if len(formats) > 1:
            raise ConfigError(
                f"source '{source.name}': its files mix formats ({', '.join(sorted(formats))}); "
                "give each format its own source in kindred.yaml"
            )
        shapes[source.name] = {}
        for file in files:
            entry = loaded.get(str(file))
            stat = file.stat()
            if entry and entry.size == stat.st_size and entry.modified_at == _mtime(stat.st_mtime_ns):
                continue
            fmt = config.format_of(source, file)
            try:
                shape = inspect_file(file, fmt, source.delimiter)
            except LandingFileError as error:
                raise LandingFileError(f"source '{source.name}': {error}") from error
            if fmt != "jsonl" and not shape.empty:
                _check_required_columns(source, file, shape.columns)
            shapes[source.name][str(file)] = shape
        for path, entry in loaded.items():
            if path not in shapes[source.name] and entry.format != "jsonl" and entry.rows:
                _check_required_columns(source, Path(path), list(entry.columns))
    return shapes


def landing_files(config: KindredConfig, source: SourceConfig) -> list[Path]:
    """The files a source's glob matches now, as absolute paths without `..` (the manifest's keys)."""
    return sorted({file.resolve() for file in config.files_of(source)})


def _mtime(stat_ns: int) -> datetime:
    return datetime.fromtimestamp(stat_ns // 1000 / 1e6, UTC).replace(tzinfo=None)


def _check_required_columns(source: SourceConfig, file: Path, columns: list[str]) -> None:
    for field_name, column in required_columns(source).items():
        if column not in columns:
            fix = (
                f"map it in kindred.yaml (`columns: {{{field_name}: <your column>}}`)"
                if field_name == column
                else f"fix `columns: {{{field_name}: {column}}}` in kindred.yaml"
            )
            raise ConfigError(
                f"source '{source.name}': {file} has no column '{column}' for required field "
                f"'{field_name}'; {fix} or add the column to the file. "
                f"Columns found: {', '.join(columns) or '(none)'}. Nothing was loaded."
            )
