"""Landing files -> `raw.<source>`: every row as text, exactly as the file had it, with lineage.

Nothing is typed or rejected here; `warehouse.staging` does that, so a row that cannot be typed
is still in `raw` and lands in quarantine with its original content.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from warehouse.config import ConfigError, KindredConfig, SourceConfig, required_columns
from warehouse.connection import replace_table

log = logging.getLogger(__name__)

LINEAGE = ("source", "_file", "_row_number", "_ingested_at")


def ingest_sources(con: duckdb.DuckDBPyConnection, config: KindredConfig) -> dict[str, int]:
    """Load every configured source into its `raw.<source>` table (a full, atomic refresh).

    Args:
        con: warehouse connection.
        config: the loaded kindred.yaml.

    Returns:
        Rows loaded per source name.

    Raises:
        ConfigError: a source matches no file, or a file lacks a required column; the message names
            the source, the file and the column. Nothing is written in that case.
    """
    frames = {source.name: read_source(config, source) for source in config.sources}
    counts = {}
    for name, frame in frames.items():
        counts[name] = replace_table(con, f"raw.{name}", frame)
        log.info("raw.%s: %d rows", name, counts[name])
    return counts


def read_source(config: KindredConfig, source: SourceConfig) -> pl.DataFrame:
    """All files of one source as one text frame with lineage columns.

    CSV and Parquet keep their own columns (as text); JSON lines keep each line whole in `_raw`.
    """
    files = config.files_of(source)
    if not files:
        raise ConfigError(
            f"source '{source.name}': no file matches path '{source.path}' "
            f"(relative to {config.base_dir}); fix `path:` or add the files"
        )
    ingested_at = datetime.now(UTC).replace(tzinfo=None)
    frames = []
    for file in files:
        fmt = config.format_of(source, file)
        frame = _READERS[fmt](file)
        if fmt != "jsonl":
            _check_required_columns(source, file, frame.columns)
        frames.append(
            frame.with_columns(
                pl.lit(source.name).alias("source"),
                pl.lit(str(file)).alias("_file"),
                pl.lit(ingested_at).alias("_ingested_at"),
            )
        )
    combined = pl.concat(frames, how="diagonal_relaxed")
    data_columns = [c for c in combined.columns if c not in LINEAGE]
    return combined.select(*LINEAGE, *data_columns)


def _check_required_columns(source: SourceConfig, file: Path, columns: list[str]) -> None:
    for field, column in required_columns(source).items():
        if column not in columns:
            hint = "" if field != column else f" or map it with `columns: {{{field}: <your column>}}`"
            raise ConfigError(
                f"source '{source.name}': {file} has no column '{column}' for required field "
                f"'{field}'{hint}. Columns found: {', '.join(columns) or '(none)'}"
            )


def _read_csv(file: Path) -> pl.DataFrame:
    try:
        frame = pl.read_csv(
            file,
            infer_schema=False,
            encoding="utf8-lossy",
            row_index_name="_row_number",
            row_index_offset=1,
            truncate_ragged_lines=True,
        )
    except pl.exceptions.NoDataError:
        return pl.DataFrame(schema={"_row_number": pl.UInt32})
    except pl.exceptions.ComputeError as error:
        raise ConfigError(f"{file}: not a readable CSV file: {error}") from error
    return frame.with_columns(pl.col("_row_number").cast(pl.Int64))


def _read_parquet(file: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(file)
    except Exception as error:  # polars raises several types for a corrupt file
        raise ConfigError(f"{file}: not a readable Parquet file: {error}") from error
    as_text = [
        pl.col(c).struct.json_encode() if isinstance(t, pl.Struct) else pl.col(c).cast(pl.String)
        for c, t in frame.schema.items()
        if not isinstance(t, pl.List)
    ] + [
        pl.col(c).cast(pl.List(pl.String)).list.join(",")
        for c, t in frame.schema.items()
        if isinstance(t, pl.List)
    ]
    return (
        frame.select(as_text)
        .with_row_index("_row_number", offset=1)
        .with_columns(pl.col("_row_number").cast(pl.Int64))
    )


def _read_jsonl(file: Path) -> pl.DataFrame:
    # Split bytes ourselves so that one bad line (invalid UTF-8, broken JSON) costs one row, not
    # the file, and every line keeps its true line number.
    lines = file.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    text = [line.decode("utf-8", errors="replace").rstrip("\r") for line in lines]
    frame = pl.DataFrame({"_raw": text}, schema={"_raw": pl.String})
    frame = frame.with_row_index("_row_number", offset=1).with_columns(pl.col("_row_number").cast(pl.Int64))
    # Blank lines are layout, not rows.
    return frame.filter(pl.col("_raw").str.strip_chars() != "")


_READERS = {"csv": _read_csv, "parquet": _read_parquet, "jsonl": _read_jsonl}
