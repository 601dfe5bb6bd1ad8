"""The manifest of ingested files, `raw._manifest`: which version of which file is in `raw`.

One row per file version. A new path loads as version 1; a file whose content changed (a new
content hash) loads as the next version and its previous rows are replaced; an unchanged file is not
read again; a new file with exactly the content of a file already loaded for the source is
recorded as a duplicate and not loaded. Files that disappear from the landing folder stay loaded
(landing folders are often cleaned after ingestion); `unload_files` removes a file on purpose.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import blake3
import duckdb

log = logging.getLogger(__name__)

MANIFEST = "raw._manifest"
MANIFEST_COLUMNS = (
    "source VARCHAR, file VARCHAR, version INTEGER, status VARCHAR, format VARCHAR, size BIGINT, "
    "modified_at TIMESTAMP, content_hash VARCHAR, rows BIGINT, problem_rows BIGINT, columns VARCHAR[], "
    "duplicate_of VARCHAR, ingested_at TIMESTAMP, replaced_at TIMESTAMP, erased_rows BIGINT, raw_generation INTEGER"
)
# `erased_rows`: rows of the version removed since it was loaded (an erasure request), so the
# ledger still balances: rows - erased_rows = rows in raw. `raw_generation`: how many times the
# version's parts were rewritten (each rewrite goes to a new folder, see warehouse.raw_store).
# `content_hash`: the BLAKE3 of the file's bytes, hex. BLAKE3 rather than SHA-256: as strong, and
# three times cheaper, which matters because files are hashed while the load uses both cores.
# status: loaded (its rows are in raw), replaced (an older version), duplicate (same bytes as
# another loaded file, not loaded), unloaded (removed on purpose).
LOADED, REPLACED, DUPLICATE, UNLOADED = "loaded", "replaced", "duplicate", "unloaded"


@dataclass(frozen=True)
class ManifestEntry:
    """The loaded version of one file, as recorded."""

    file: str
    version: int
    format: str
    size: int
    modified_at: datetime
    content_hash: str | None  # None only for versions recorded before hashes were BLAKE3
    rows: int
    columns: tuple[str, ...]
    ingested_at: datetime
    erased_rows: int = 0
    generation: int = 0


@dataclass
class FilePlan:
    """What this run does with one file that the source's glob matches now."""

    file: Path
    action: str  # load (new path), reload (changed content), skip / touch (unchanged), duplicate
    size: int
    modified_at: datetime
    content_hash: str | None  # None: not read yet; computed while the file loads
    version: int
    duplicate_of: str | None = None


def ensure_manifest(con: duckdb.DuckDBPyConnection) -> None:
    """Create `raw._manifest` if it does not exist yet; bring an older one up to date."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {MANIFEST} ({MANIFEST_COLUMNS})")
    columns = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = '_manifest'"
        ).fetchall()
    }
    if "sha256" in columns:
        # A manifest written before hashes were BLAKE3: its digests cannot be compared with new
        # ones, so they go. A file whose size and time are unchanged is still skipped; one
        # touched since is read and reloaded once. Each step can be repeated if a run dies.
        con.execute(f"ALTER TABLE {MANIFEST} ADD COLUMN IF NOT EXISTS content_hash VARCHAR")
        con.execute(f"ALTER TABLE {MANIFEST} DROP COLUMN sha256")
    for column, sql_type in (("erased_rows", "BIGINT"), ("raw_generation", "INTEGER")):
        if column not in columns:
            # A manifest from before erasure: nothing was erased, every version is generation 0.
            con.execute(f"ALTER TABLE {MANIFEST} ADD COLUMN IF NOT EXISTS {column} {sql_type}")


def loaded_files(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, ManifestEntry]:
    """The files whose rows are in `raw.<source>` now, by path.

    Args:
        con: warehouse connection.
        source: the source name.

    Returns:
        Path -> its loaded version.
    """
    ensure_manifest(con)
    rows = con.execute(
        f"SELECT file, version, format, size, modified_at, content_hash, rows, columns, ingested_at, "
        f"coalesce(erased_rows, 0), coalesce(raw_generation, 0) FROM {MANIFEST} "
        "WHERE source = ? AND status = ? ORDER BY file",
        [source, LOADED],
    ).fetchall()
    return {
        r[0]: ManifestEntry(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(r[7] or ()), r[8], r[9], r[10])
        for r in rows
    }


def file_hash(path: Path) -> str:
    """The BLAKE3 of a file's bytes (hex), read in blocks into one reused buffer."""
    digest = blake3.blake3()
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    with open(path, "rb") as handle:
        while size := handle.readinto(buffer):
            digest.update(view[:size])
    return digest.hexdigest()


def _modified_at(path: Path, stat_ns: int) -> datetime:
    return datetime.fromtimestamp(stat_ns // 1000 / 1e6, UTC).replace(tzinfo=None)


def plan_files(
    con: duckdb.DuckDBPyConnection, source: str, files: list[Path], full_refresh: bool = False
) -> list[FilePlan]:
    """Decide, per file the glob matches, whether to load it, reload it, skip it or call it a duplicate.

    A file whose size and modification time match its loaded version is skipped without reading
    it; otherwise its content hash decides.

    Args:
        con: warehouse connection.
        source: the source name.
        files: the files the source's glob matches now.
        full_refresh: reload every file even when unchanged.

    Returns:
        One plan per file, in the order given.
    """
    loaded = loaded_files(con, source)
    versions = dict(
        con.execute(
            f"SELECT file, max(version) FROM {MANIFEST} WHERE source = ? GROUP BY file", [source]
        ).fetchall()
    )
    duplicates = dict(
        con.execute(
            f"SELECT file, content_hash FROM {MANIFEST} WHERE source = ? AND status = ?", [source, DUPLICATE]
        ).fetchall()
    )
    by_hash = {entry.content_hash: path for path, entry in loaded.items() if entry.content_hash}
    stats = {file: file.stat() for file in files}
    # Files of equal size may hold equal bytes; a file of a size nothing else has cannot be a
    # copy, so its hash can wait and be computed while it loads (`content_hash` None).
    sizes = Counter([entry.size for entry in loaded.values()] + [stat.st_size for stat in stats.values()])
    plans = []
    for file in files:
        stat = stats[file]
        modified = _modified_at(file, stat.st_mtime_ns)
        key = str(file)
        entry = loaded.get(key)
        if entry and not full_refresh and entry.size == stat.st_size and entry.modified_at == modified:
            plans.append(FilePlan(file, "skip", stat.st_size, modified, entry.content_hash, entry.version))
            continue
        version = versions.get(key, 0) + 1
        touched = entry is not None and entry.size == stat.st_size  # maybe the same bytes
        others = sizes[stat.st_size] - 1 - touched
        if not touched and others == 0 and key not in duplicates:
            action = "reload" if entry is not None else "load"
            plans.append(FilePlan(file, action, stat.st_size, modified, None, version))
            continue
        digest = file_hash(file)
        if entry is not None:
            # Same bytes under a new modification time: nothing to load, remember the new time.
            action = "touch" if digest == entry.content_hash and not full_refresh else "reload"
            plans.append(
                FilePlan(
                    file,
                    action,
                    stat.st_size,
                    modified,
                    digest,
                    version if action == "reload" else entry.version,
                )
            )
        elif digest in by_hash and by_hash[digest] != key:
            action = "skip" if duplicates.get(key) == digest else "duplicate"
            plans.append(
                FilePlan(file, action, stat.st_size, modified, digest, version, duplicate_of=by_hash[digest])
            )
        else:
            plans.append(FilePlan(file, "load", stat.st_size, modified, digest, version))
        if plans[-1].action in ("load", "reload"):
            by_hash[digest] = key
    return plans


def record_version(
    con: duckdb.DuckDBPyConnection,
    source: str,
    plan: FilePlan,
    fmt: str,
    rows: int,
    problem_rows: int,
    columns: list[str],
    ingested_at: datetime,
) -> None:
    """Write a loaded file version to the manifest, marking its previous version replaced."""
    con.execute(
        f"UPDATE {MANIFEST} SET status = ?, replaced_at = ? WHERE source = ? AND file = ? AND status = ?",
        [REPLACED, ingested_at, source, str(plan.file), LOADED],
    )
    con.execute(
        f"INSERT INTO {MANIFEST} (source, file, version, status, format, size, modified_at, content_hash, "
        "rows, problem_rows, columns, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            source,
            str(plan.file),
            plan.version,
            LOADED,
            fmt,
            plan.size,
            plan.modified_at,
            plan.content_hash,
            rows,
            problem_rows,
            columns,
            ingested_at,
        ],
    )


def record_duplicate(
    con: duckdb.DuckDBPyConnection, source: str, plan: FilePlan, fmt: str, ingested_at: datetime
) -> None:
    """Write a file that was not loaded because its bytes equal an already loaded file."""
    con.execute(
        f"INSERT INTO {MANIFEST} (source, file, version, status, format, size, modified_at, content_hash, "
        "duplicate_of, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            source,
            str(plan.file),
            plan.version,
            DUPLICATE,
            fmt,
            plan.size,
            plan.modified_at,
            plan.content_hash,
            plan.duplicate_of,
            ingested_at,
        ],
    )


def touch(con: duckdb.DuckDBPyConnection, source: str, plan: FilePlan) -> None:
    """Remember a new modification time of a file whose content did not change."""
    con.execute(
        f"UPDATE {MANIFEST} SET modified_at = ?, size = ? WHERE source = ? AND file = ? AND status = ?",
        [plan.modified_at, plan.size, source, str(plan.file), LOADED],
    )


def mark_unloaded(con: duckdb.DuckDBPyConnection, source: str, file: str, at: datetime) -> None:
    """Record that a file's rows were removed from raw on purpose."""
    con.execute(
        f"UPDATE {MANIFEST} SET status = ?, replaced_at = ? WHERE source = ? AND file = ? AND status = ?",
        [UNLOADED, at, source, file, LOADED],
    )


def record_rewrite(
    con: duckdb.DuckDBPyConnection, source: str, file: str, generation: int, erased_rows: int
) -> None:
    """Record that a loaded version's parts were rewritten as `generation`, `erased_rows` fewer rows.

    Call it in the transaction that points `raw.<source>` at the new parts (warehouse.raw_store).
    """
    con.execute(
        f"UPDATE {MANIFEST} SET raw_generation = ?, erased_rows = coalesce(erased_rows, 0) + ? "
        "WHERE source = ? AND file = ? AND status = ?",
        [generation, erased_rows, source, file, LOADED],
    )


def manifest_of(con: duckdb.DuckDBPyConnection, source: str | None = None) -> list[dict]:
    """The manifest as dicts, newest first, optionally for one source (for logs and the UI)."""
    ensure_manifest(con)
    where, params = ("WHERE source = ?", [source]) if source else ("", [])
    cursor = con.execute(
        f"SELECT source, file, version, status, format, size, content_hash, rows, problem_rows, duplicate_of, "
        f"ingested_at FROM {MANIFEST} {where} ORDER BY ingested_at DESC, source, file",
        params,
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
