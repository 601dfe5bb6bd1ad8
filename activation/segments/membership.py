"""Keeping `segments.membership` current, with a history of entries and exits per run.

Each refresh evaluates one segment against the warehouse as it stands and, in one transaction,
records who entered and who exited since the previous refresh in `segments.membership_history`,
updates `segments.membership` (a member keeps the `entered_at` of the run that let them in) and
logs the run in `segments.evaluations`. A refresh that finds the same members writes no history,
so a journey tool reading the history sees each entry once.

A segment taken out of kindred.yaml is retired by `retire_removed_segments`: its members exit
(history rows, membership emptied) and its last evaluation says `removed`. Renaming a segment is
retiring the old name and creating the new one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

import warehouse
from activation.record_scores import utc_naive
from activation.segments.compiler import compile_segment
from activation.segments.fields import FieldCatalog, load_catalog
from warehouse.connection import table_exists
from warehouse.segment_config import SegmentConfig

log = logging.getLogger(__name__)

MEMBERSHIP = "segments.membership"
HISTORY = "segments.membership_history"
EVALUATIONS = "segments.evaluations"
_SQL_DIR = Path(warehouse.__file__).parent / "sql" / "segments"
_TABLES = {MEMBERSHIP: "membership", HISTORY: "membership_history", EVALUATIONS: "evaluations"}
# The statements below read `segment_members_now`: the members a refresh found, a temporary table
# that lives for the length of the refresh's transaction.

_ENTERED = """
    INSERT INTO segments.membership_history (segment, profile_id, change, changed_at, as_of, run_id)
    SELECT ?, now.profile_id, 'entered', ?, ?, ? FROM segment_members_now AS now
    WHERE NOT EXISTS (
        SELECT 1 FROM segments.membership AS m WHERE m.segment = ? AND m.profile_id = now.profile_id)
"""
_EXITED = """
    INSERT INTO segments.membership_history (segment, profile_id, change, changed_at, as_of, run_id)
    SELECT m.segment, m.profile_id, 'exited', ?, ?, ? FROM segments.membership AS m
    WHERE m.segment = ? AND NOT EXISTS (SELECT 1 FROM segment_members_now AS now WHERE now.profile_id = m.profile_id)
"""
_DROP_EXITED = """
    DELETE FROM segments.membership AS m
    WHERE m.segment = ? AND NOT EXISTS (SELECT 1 FROM segment_members_now AS now WHERE now.profile_id = m.profile_id)
"""
_ADD_ENTERED = """
    INSERT INTO segments.membership (segment, profile_id, entered_at)
    SELECT ?, now.profile_id, ? FROM segment_members_now AS now
    WHERE NOT EXISTS (
        SELECT 1 FROM segments.membership AS m WHERE m.segment = ? AND m.profile_id = now.profile_id)
"""
_LOG_EVALUATION = """
    INSERT INTO segments.evaluations
        (segment, run_id, evaluated_at, as_of, definition_hash, size, entered, exited, removed)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


@dataclass(frozen=True)
class SegmentRefresh:
    """What one refresh of one segment did.

    Attributes:
        segment: the segment's name.
        size: members now.
        previous_size: members before this refresh.
        entered: profiles that joined in this refresh.
        exited: profiles that left in this refresh.
        as_of: the as-of the definition was evaluated at (`{days_ago: N}` counts from it).
        run_id: the run recorded in the history.
        definition_hash: identifies the `where` evaluated.
        sql: the compiled query (placeholders only: no values).
    """

    segment: str
    size: int
    previous_size: int
    entered: int
    exited: int
    as_of: datetime
    run_id: str
    definition_hash: str
    sql: str


def definition_hash(segment: SegmentConfig) -> str:
    """A short fingerprint of a segment's `where`: equal hashes, equal membership rules.

    Args:
        segment: the definition.

    Returns:
        16 hex digits of the SHA-256 of the canonical JSON of `where`.
    """
    text = json.dumps(segment.where.document(), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ensure_segment_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create `segments.membership`, `segments.membership_history` and `segments.evaluations` if missing.

    Args:
        con: warehouse connection (writable).
    """
    con.execute("CREATE SCHEMA IF NOT EXISTS segments")
    for file in _TABLES.values():
        con.execute((_SQL_DIR / f"{file}.sql").read_text(encoding="utf-8"))


def refresh_segment(
    con: duckdb.DuckDBPyConnection,
    segment: SegmentConfig,
    *,
    as_of: date | datetime | None = None,
    run_id: str | None = None,
    now: datetime | None = None,
    catalog: FieldCatalog | None = None,
) -> SegmentRefresh:
    """Evaluate a segment and bring its membership and history up to date, in one transaction.

    Args:
        con: warehouse connection (writable).
        segment: the definition from kindred.yaml.
        as_of: the run's as-of date (`{days_ago: N}` counts back from it); None: the features' as-of.
        run_id: the run to record in the history; a new id when None.
        now: when the changes happen (UTC); the current time when None.
        catalog: the fields to compile against; read from the warehouse when None.

    Returns:
        Sizes and changes. On any error nothing is written.

    Raises:
        SegmentError: the definition does not fit the warehouse (unknown field, wrong type, ...).
    """
    catalog = catalog or load_catalog(con, as_of=as_of)
    compiled = compile_segment(segment, catalog)
    run_id = run_id or uuid.uuid4().hex
    at = utc_naive(now)
    fingerprint = definition_hash(segment)
    ensure_segment_tables(con)
    name = segment.name
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE segment_members_now AS SELECT DISTINCT profile_id FROM ("
            + compiled.sql
            + ") AS evaluated WHERE profile_id IS NOT NULL",
            compiled.params,
        )
        previous = _count(con, "SELECT count(*) FROM segments.membership WHERE segment = ?", [name])
        size = _count(con, "SELECT count(*) FROM segment_members_now", [])
        entered = _count(con, _ENTERED, [name, at, catalog.as_of, run_id, name])
        exited = _count(con, _EXITED, [at, catalog.as_of, run_id, name])
        con.execute(_DROP_EXITED, [name])
        con.execute(_ADD_ENTERED, [name, at, name])
        con.execute(
            _LOG_EVALUATION, [name, run_id, at, catalog.as_of, fingerprint, size, entered, exited, False]
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS segment_members_now")
    log.info("segment %s: %d members (%+d entered, %d exited)", name, size, entered, exited)
    return SegmentRefresh(
        name, size, previous, entered, exited, catalog.as_of, run_id, fingerprint, compiled.sql
    )


def retire_removed_segments(
    con: duckdb.DuckDBPyConnection,
    keep: Iterable[str],
    *,
    run_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Empty the segments that are no longer declared: every member exits, one transaction each.

    Args:
        con: warehouse connection (writable).
        keep: the names of the segments kindred.yaml declares now.
        run_id: the run to record in the history; a new id when None.
        now: when the exits happen (UTC); the current time when None.

    Returns:
        Retired segment -> how many members exited.
    """
    ensure_segment_tables(con)
    keep = set(keep)
    run_id = run_id or uuid.uuid4().hex
    at = utc_naive(now)
    live = con.sql("""
        SELECT segment FROM segments.membership
        UNION
        SELECT segment FROM segments.evaluations GROUP BY segment HAVING NOT arg_max(removed, evaluated_at)
    """).fetchall()
    retired = {}
    for (name,) in sorted(live):
        if name in keep:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            exited = _count(
                con,
                "INSERT INTO segments.membership_history (segment, profile_id, change, changed_at, as_of, run_id) "
                "SELECT segment, profile_id, 'exited', ?, NULL, ? FROM segments.membership WHERE segment = ?",
                [at, run_id, name],
            )
            con.execute("DELETE FROM segments.membership WHERE segment = ?", [name])
            con.execute(_LOG_EVALUATION, [name, run_id, at, None, None, 0, 0, exited, True])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        log.info("segment %s is no longer in kindred.yaml: its %d members exited", name, exited)
        retired[name] = exited
    return retired


def latest_evaluations(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """Each segment's most recent evaluation (size, when, as-of, definition hash, removed).

    Args:
        con: warehouse connection (read-only is enough).

    Returns:
        Segment -> the columns of its newest `segments.evaluations` row; empty before any run.
    """
    if not table_exists(con, EVALUATIONS):
        return {}
    cursor = con.execute("""
        SELECT * FROM segments.evaluations
        QUALIFY row_number() OVER (PARTITION BY segment ORDER BY evaluated_at DESC, removed) = 1
    """)
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def size_trend(con: duckdb.DuckDBPyConnection, segment: str, runs: int = 10) -> list[int]:
    """A segment's size over its last `runs` evaluations, oldest first.

    Args:
        con: warehouse connection.
        segment: the segment's name.
        runs: how many evaluations to go back.

    Returns:
        Sizes, oldest first; empty before the first run.
    """
    if not table_exists(con, EVALUATIONS):
        return []
    rows = con.execute(
        "SELECT size FROM segments.evaluations WHERE segment = ? ORDER BY evaluated_at DESC LIMIT ?",
        [segment, runs],
    ).fetchall()
    return [size for (size,) in reversed(rows)]


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> int:
    """The count a statement returns: the rows an INSERT wrote, or a `SELECT count(*)`."""
    return int(con.execute(sql, params).fetchall()[0][0])
