"""One CRM sync: bring the PostgreSQL mirror up to date with the warehouse, in one transaction.

For each mirrored table the sync works out what changed since the mirror was last brought up to
date, and sends only that:

- `crm.record_scores` has a change feed: the sync reads the keys logged after its stored cursor,
  sends those rows' current values, and deletes the keys no longer in the table. The cursor is kept
  only while the feed still holds the changes logged at it (proof that it is the same feed and that
  nothing after it was pruned); otherwise the sync compares the whole table with the mirror.
- `crm.grounding` and `segments.membership` have no feed: a fingerprint of all their rows' digests
  says whether anything changed since the last sync; if so, the rows whose digest the mirror lacks
  are sent and the mirror's rows whose key is gone here are deleted.

The cursor and fingerprint live in the mirror's `kindred_sync_state` table and are written in the
same transaction as the rows, so a sync killed half-way leaves no trace and the next one starts from
the same place.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import duckdb
import psycopg

from activation.crm_sync.errors import CrmSyncError, redact
from activation.crm_sync.mirror import Mirror, SyncState
from activation.crm_sync.sync_log import write_sync_log
from activation.crm_sync.tables import MirrorTable, mirrored_tables
from activation.crm_sync.target import SyncTarget, one_line
from activation.crm_sync.warehouse_rows import WarehouseRows, record_batches
from warehouse.connection import table_exists

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableSync:
    """What a sync did (or, in a dry run, would do) to one mirror table.

    Attributes:
        mirror_table: the table in the target schema.
        warehouse_table: the warehouse table it mirrors.
        method: how changes were found: `change feed`, `compared with mirror`, `full comparison`,
            `unchanged` (nothing to send), `skipped` or `failed`.
        inserted, updated, deleted: row counts.
        note: why a table was skipped, or the error.
        seconds: how long the table took.
    """

    mirror_table: str
    warehouse_table: str
    method: str
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    note: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class SyncResult:
    """One sync's outcome, as `crm.sync_log` stores it and the command line shows it."""

    sync_id: str
    target: str
    schema: str
    owner: str
    started_at: datetime
    finished_at: datetime
    dry_run: bool
    tables: tuple[TableSync, ...] = field(default_factory=tuple)
    error: str | None = None

    @property
    def inserted(self) -> int:
        return sum(t.inserted for t in self.tables)

    @property
    def updated(self) -> int:
        return sum(t.updated for t in self.tables)

    @property
    def deleted(self) -> int:
        return sum(t.deleted for t in self.tables)


class CrmSyncFailed(CrmSyncError):
    """A sync failed; `result` holds what the sync log recorded."""

    def __init__(self, result: SyncResult) -> None:
        super().__init__(result.error)
        self.result = result


def sync_crm(
    con: duckdb.DuckDBPyConnection,
    target: SyncTarget | str,
    *,
    schema: str = "kindred",
    owner: str = "kindred",
    segments: bool = False,
    dry_run: bool = False,
    full: bool = False,
    now: datetime | None = None,
) -> SyncResult:
    """Mirror the `crm` tables (and segment membership when asked) into a PostgreSQL database.

    Tables and the schema are created when missing. Rows are upserted by key and only rows this
    owner wrote are deleted. Everything happens in one PostgreSQL transaction; unless it is a dry
    run, the outcome (success or failure) is appended to `crm.sync_log`.

    Args:
        con: warehouse connection; read-only is enough for a dry run.
        target: `postgresql://user@host:port/dbname`, without a password (libpq reads
            `PGPASSWORD`, `~/.pgpass` or `PGPASSFILE`).
        schema: the target schema.
        owner: the name this sync's rows carry in `kindred_owner`.
        segments: also mirror `segments.membership` (skipped when the table does not exist).
        dry_run: count what would be inserted, updated and deleted; the transaction is rolled
            back and nothing is written to the mirror or the warehouse.
        full: compare every row instead of trusting the cursor and fingerprints (repairs a mirror
            whose rows were changed or removed by someone else).
        now: the sync time (UTC); defaults to the current time.

    Returns:
        What was done per table.

    Raises:
        CrmSyncError: a bad target URL (nothing is logged then), or `CrmSyncFailed` when the
            sync failed; the mirror is unchanged and the message never holds the password.
    """
    target = target if isinstance(target, SyncTarget) else SyncTarget.parse(target)
    started = _utc(now)
    tables = mirrored_tables(segments=segments)
    result = SyncResult(
        sync_id=uuid.uuid4().hex,
        target=target.display(),
        schema=schema,
        owner=owner,
        started_at=started,
        finished_at=started,
        dry_run=dry_run,
    )
    done: list[TableSync] = []
    try:
        with target.connect() as connection, connection.transaction(force_rollback=dry_run):
            mirror = Mirror(connection, schema, owner)
            mirror.lock()
            created = mirror.prepare([t for t in tables if table_exists(con, t.warehouse_table)])
            states: list[tuple[MirrorTable, SyncState]] = []
            for table in tables:
                outcome, state = _sync_table(
                    con, mirror, table, now=started, dry_run=dry_run, full=full, created=table.name in created
                )
                done.append(outcome)
                if state is not None and not dry_run:
                    states.append((table, state))
            # Cursors and fingerprints last, in the same transaction as the rows they describe.
            for table, state in states:
                mirror.save_state(table, state, now=started)
    except CrmSyncError as error:
        failure = redact(str(error))
    except psycopg.errors.UniqueViolation as error:
        failure = redact(
            f"{target.display()}: another writer added a row under a key this sync was adding "
            f"({one_line(error)}); nothing was written: run the sync again"
        )
    except psycopg.Error as error:
        failure = redact(f"{target.display()}: {one_line(error)}")
    except duckdb.Error as error:
        failure = redact(f"reading the warehouse: {one_line(error)}")
    else:
        failure = None
    if failure is not None:
        # Nothing was committed: every table reports zero rows and the error.
        done = [TableSync(t.name, t.warehouse_table, "failed", note=failure) for t in tables]
    result = replace(result, tables=tuple(done), finished_at=_utc(None), error=failure)
    if not dry_run:
        write_sync_log(con, result)
    if failure is not None:
        raise CrmSyncFailed(result) from None
    return result


def _sync_table(
    con: duckdb.DuckDBPyConnection,
    mirror: Mirror,
    table: MirrorTable,
    *,
    now: datetime,
    dry_run: bool,
    full: bool,
    created: bool,
) -> tuple[TableSync, SyncState | None]:
    """Bring one mirror table up to date; returns what was done and the state to record (None: keep).

    `created`: the mirror table was (re)created by this sync, so what the state says was sent to
    it before is gone with the old table.
    """
    started = time.monotonic()
    rows = WarehouseRows(con, table)
    try:
        if not rows.exists:
            # Absent is not empty: a table not built yet must not empty its mirror.
            note = f"{table.warehouse_table} does not exist yet"
            return TableSync(table.name, table.warehouse_table, "skipped", note=note), None
        state = None if created else mirror.state(table)
        position = rows.feed_position(state.cursor if state else None)
        if state and state.cursor and position.has_cursor and not full:
            if not position.changed_keys:
                return TableSync(table.name, table.warehouse_table, "unchanged"), None
            method = "change feed"
            fingerprint = None
            sending, gone = rows.plan_from_feed(state.cursor, position.latest)
        else:
            fingerprint = None if table.change_feed else rows.fingerprint()
            if state and fingerprint and state.fingerprint == fingerprint and not full:
                return TableSync(table.name, table.warehouse_table, "unchanged"), None
            method = "full comparison" if full else "compared with mirror"
            sending, gone = rows.plan_from_mirror(mirror.owned_rows(table), everything=full)
        deleted = mirror.delete(table, record_batches(gone), dry_run=dry_run)
        inserted, updated = mirror.upsert(table, record_batches(rows.batches()), now=now, dry_run=dry_run)
        seconds = time.monotonic() - started
        log.info(
            "%s -> %s.%s (%s): %d sent, %d inserted, %d updated, %d deleted in %.1f s",
            table.warehouse_table,
            mirror.schema,
            table.name,
            method,
            sending,
            inserted,
            updated,
            deleted,
            seconds,
        )
        outcome = TableSync(
            table.name, table.warehouse_table, method, inserted, updated, deleted, seconds=seconds
        )
        return outcome, SyncState(cursor=position.latest, fingerprint=fingerprint)
    finally:
        rows.close()


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC).replace(tzinfo=None)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
