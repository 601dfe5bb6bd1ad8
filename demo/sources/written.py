"""What a source writer hands back: its files, its row count and the truth about its records."""

from dataclasses import dataclass
from pathlib import Path

import polars as pl


@dataclass(frozen=True)
class WrittenSource:
    """One source's output.

    Attributes:
        name: the source name used in `kindred.yaml` and the ground truth.
        files: the files written.
        rows: data rows (JSON lines or CSV rows, header excluded).
        records: one row per distinct person key in the source: `record_id, pidx`.
    """

    name: str
    files: list[Path]
    rows: int
    records: pl.DataFrame


def distinct_records(keys: pl.DataFrame) -> pl.DataFrame:
    """Reduce `record_id, pidx` rows to one row per record id, sorted.

    Args:
        keys: a frame with `record_id` and `pidx` per source row.

    Returns:
        The distinct records.
    """
    return keys.select("record_id", "pidx").unique().sort("record_id", "pidx")
