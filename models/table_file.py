"""A user's labelled table as the prediction builder reads it: CSV or Parquet, every column as text.

Typing the columns is `models.table_plan`'s work; reading keeps every value as trimmed text and
turns the usual spellings of "nothing" (`NULL_WORDS`) into nulls.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from models.table_plan import TableError

NULL_WORDS = ("", "na", "n/a", "nan", "null", "none", "?", "-")


def read_table(path: Path) -> pl.DataFrame:
    """A CSV (comma, semicolon or tab separated) or Parquet file, every column as trimmed text.

    Args:
        path: the file.

    Returns:
        The table, all columns String, empty and null-like values as nulls.

    Raises:
        TableError: naming the file when it is missing, of another type, or unreadable.
    """
    if not path.is_file():
        raise TableError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pl.read_parquet(path)
            frame = frame.with_columns(
                pl.col(c).dt.to_string("%Y-%m-%dT%H:%M:%S")
                if frame.schema[c] in (pl.Datetime, pl.Date) or isinstance(frame.schema[c], pl.Datetime)
                else pl.col(c).cast(pl.String)
                for c in frame.columns
            )
        elif suffix in (".csv", ".txt", ".tsv"):
            with path.open(encoding="utf-8", errors="replace") as handle:
                header = handle.readline()
            separator = max((",", ";", "\t"), key=header.count)
            frame = pl.read_csv(path, separator=separator, infer_schema=False, encoding="utf8-lossy")
        else:
            raise TableError(f"{path}: unsupported file type '{path.suffix}'; use .csv or .parquet")
    except TableError:
        raise
    except Exception as error:  # polars raises several error types for unreadable files
        raise TableError(f"{path}: cannot be read: {error}") from error
    if frame.height == 0:
        raise TableError(f"{path}: has no rows")
    return frame.with_columns(
        pl.when(pl.col(c).str.strip_chars().str.to_lowercase().is_in(NULL_WORDS))
        .then(None)
        .otherwise(pl.col(c).str.strip_chars())
        .alias(c)
        for c in frame.columns
    )
