"""Per-run Parquet snapshots of the `crm` tables, for tools that read files rather than databases.

Layout, one folder per run, one Parquet file per table, named after the table:

    $KINDRED_HOME/exports/crm/20260630T120000Z/record_scores.parquet
    $KINDRED_HOME/exports/crm/20260630T120000Z/grounding.parquet

A folder name is the snapshot's UTC time (`-1`, `-2`, ... appended when two fall in one second), so
names sort in time order. A snapshot is written into a hidden temporary folder beside them and
renamed into place when complete: a folder with a stamp name is always whole. Only the newest
`keep` snapshots are kept.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.connection import quote_table, row_count, table_exists
from warehouse.raw_store import sql_literal

log = logging.getLogger(__name__)

SNAPSHOT_TABLES = ("crm.record_scores", "crm.grounding")
_STAMP = re.compile(r"^(\d{8}T\d{6}Z)(?:-(\d+))?$")
_TEMPORARY_PREFIX = ".tmp-"
# A temporary folder this old belongs to a snapshot that was killed, not to one being written.
_STALE_SECONDS = 3600


@dataclass(frozen=True)
class Snapshot:
    """A snapshot written, and the older ones removed to keep the newest `keep`.

    Attributes:
        path: the snapshot's folder.
        rows: rows per file name written (`record_scores.parquet` -> rows).
        removed: folders of older snapshots removed.
    """

    path: Path
    rows: dict[str, int]
    removed: tuple[Path, ...]


def write_crm_snapshot(
    con: duckdb.DuckDBPyConnection, folder: Path, *, keep: int = 7, now: datetime | None = None
) -> Snapshot | None:
    """Write the `crm` tables as Parquet into a new stamped folder under `folder`, then prune.

    Args:
        con: warehouse connection (read-only is enough).
        folder: where snapshots live, normally `$KINDRED_HOME/exports/crm`.
        keep: how many snapshots to keep, this one included; 0 turns snapshots off (nothing is
            written and nothing removed).
        now: the snapshot time (UTC) that names the folder; defaults to the current time.

    Returns:
        The snapshot, or None when `keep` is 0 or no `crm` table exists yet.
    """
    if keep < 0:
        raise ValueError(f"keep must be 0 or more, got {keep}")
    tables = [t for t in SNAPSHOT_TABLES if table_exists(con, t)]
    if keep == 0 or not tables:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(folder)
    final = _free_name(folder, _stamp(now))
    temporary = folder / f"{_TEMPORARY_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"
    temporary.mkdir()
    rows: dict[str, int] = {}
    try:
        for table in tables:
            file = temporary / f"{table.split('.')[1]}.parquet"
            con.execute(
                f"COPY (SELECT * FROM {quote_table(table)}) TO {sql_literal(file)} (FORMAT parquet, COMPRESSION zstd)"
            )
            rows[file.name] = row_count(con, table)
        temporary.rename(final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    removed = prune_snapshots(folder, keep=keep)
    log.info("crm snapshot %s: %s; removed %d older", final, rows, len(removed))
    return Snapshot(path=final, rows=rows, removed=tuple(removed))


def list_snapshots(folder: Path) -> list[Path]:
    """The complete snapshot folders under `folder`, oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        match = _STAMP.match(child.name)
        if match and child.is_dir():
            found.append((match.group(1), int(match.group(2) or 0), child))
    return [path for *_, path in sorted(found)]


def prune_snapshots(folder: Path, *, keep: int) -> list[Path]:
    """Remove all but the newest `keep` snapshots (other files in `folder` are left alone).

    Returns:
        The folders removed.
    """
    snapshots = list_snapshots(folder)
    doomed = snapshots[: max(0, len(snapshots) - keep)]
    for path in doomed:
        shutil.rmtree(path)
    return doomed


def _stamp(now: datetime | None) -> str:
    moment = now.astimezone(UTC) if now is not None and now.tzinfo else now
    return (moment or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def _free_name(folder: Path, stamp: str) -> Path:
    candidate, suffix = folder / stamp, 0
    while candidate.exists():
        suffix += 1
        candidate = folder / f"{stamp}-{suffix}"
    return candidate


def _remove_stale_temporaries(folder: Path) -> None:
    for child in folder.glob(f"{_TEMPORARY_PREFIX}*"):
        if child.is_dir() and time.time() - child.stat().st_mtime > _STALE_SECONDS:
            shutil.rmtree(child, ignore_errors=True)
