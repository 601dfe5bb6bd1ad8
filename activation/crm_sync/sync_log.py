"""`crm.sync_log`: every CRM sync's outcome per mirrored table, kept in the warehouse."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from activation.warehouse_inputs import crm_sql

if TYPE_CHECKING:
    from activation.crm_sync.sync import SyncResult

SYNC_LOG = "crm.sync_log"


def write_sync_log(con: duckdb.DuckDBPyConnection, result: SyncResult) -> int:
    """Append one row per mirrored table of `result` to `crm.sync_log` (created on first use).

    Args:
        con: a writable warehouse connection.
        result: the sync's outcome; its target is already shown without password.

    Returns:
        The number of rows appended.
    """
    rows = [
        [
            result.sync_id,
            result.started_at,
            result.finished_at,
            result.target,
            result.schema,
            result.owner,
            table.mirror_table,
            table.warehouse_table,
            table.method,
            table.inserted,
            table.updated,
            table.deleted,
            table.note if table.method == "failed" else None,
        ]
        for table in result.tables
    ]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(crm_sql("sync_log"))
        if rows:
            con.executemany(f"INSERT INTO {SYNC_LOG} VALUES ({', '.join('?' * len(rows[0]))})", rows)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(rows)
