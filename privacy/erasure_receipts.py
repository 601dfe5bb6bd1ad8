"""`privacy.erasure_receipts`: what each erasure removed, where and when, without personal data.

A receipt names how the person was identified (the kind: `email`, `phone`, `profile`, `crm`,
never the value), the salted hash of each of their identifiers (the rows it added to
`privacy.suppression`), how many profiles and source records were theirs, the rows removed per
table, raw source and export file, in the serving publication replaced (`serving`) and in the
audit log (`audit.<table>`: rows kept with the person's identifiers blanked), how many `delete`
rows went into the CRM change feeds, and the status: `removed` once the rows are gone (committed
with them), `finished` once no old copy of them is left on disk (the warehouse rewritten, the old
raw parts deleted).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from warehouse.connection import table_exists

RECEIPTS = "privacy.erasure_receipts"
REMOVED, FINISHED = "removed", "finished"
_COLUMNS = (
    "receipt_id VARCHAR, requested_at TIMESTAMP, finished_at TIMESTAMP, reason VARCHAR, "
    "identified_by VARCHAR, identifier_hashes VARCHAR[], profiles INTEGER, records INTEGER, "
    "removed JSON, crm_deletes INTEGER, status VARCHAR"
)


@dataclass
class Receipt:
    """One erasure, as stored and printed."""

    receipt_id: str
    requested_at: datetime
    identified_by: str
    reason: str | None = None
    identifier_hashes: list[str] = field(default_factory=list)
    profiles: int = 0
    records: int = 0
    # table, `raw.<source>`, export file, `serving` or `audit.<table>` (rows blanked) -> rows
    removed: dict[str, int] = field(default_factory=dict)
    crm_deletes: int = 0  # `delete` rows appended to the CRM change feeds
    status: str = REMOVED
    finished_at: datetime | None = None

    @property
    def rows_removed(self) -> int:
        """Rows removed in all places together."""
        return sum(self.removed.values())


def ensure_receipts(con: duckdb.DuckDBPyConnection) -> None:
    """Create `privacy.erasure_receipts` if missing."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {RECEIPTS} ({_COLUMNS})")


def insert_receipt(con: duckdb.DuckDBPyConnection, receipt: Receipt) -> None:
    """Store a receipt (inside the erasure's transaction, so it commits with the deletes)."""
    ensure_receipts(con)
    con.execute(
        f"INSERT INTO {RECEIPTS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            receipt.receipt_id,
            receipt.requested_at,
            receipt.finished_at,
            receipt.reason,
            receipt.identified_by,
            receipt.identifier_hashes,
            receipt.profiles,
            receipt.records,
            json.dumps(receipt.removed, sort_keys=True),
            receipt.crm_deletes,
            receipt.status,
        ],
    )


def update_removed(con: duckdb.DuckDBPyConnection, receipt: Receipt) -> None:
    """Store a receipt's row counts again (audit rows blanked after the commit are added later)."""
    con.execute(
        f"UPDATE {RECEIPTS} SET removed = ? WHERE receipt_id = ?",
        [json.dumps(receipt.removed, sort_keys=True), receipt.receipt_id],
    )


def mark_finished(con: duckdb.DuckDBPyConnection, receipt_id: str, at: datetime) -> None:
    """Record that no old copy of the erased rows is left."""
    con.execute(
        f"UPDATE {RECEIPTS} SET status = ?, finished_at = ? WHERE receipt_id = ?", [FINISHED, at, receipt_id]
    )


def read_receipts(con: duckdb.DuckDBPyConnection, status: str | None = None) -> list[Receipt]:
    """The receipts, oldest first, optionally of one status."""
    if not table_exists(con, RECEIPTS):
        return []
    rows = con.execute(
        f"SELECT receipt_id, requested_at, identified_by, reason, identifier_hashes, profiles, records, "
        f"removed, crm_deletes, status, finished_at FROM {RECEIPTS} WHERE ? IS NULL OR status = ? "
        "ORDER BY requested_at",
        [status, status],
    ).fetchall()
    return [
        Receipt(
            r[0], r[1], r[2], r[3], list(r[4] or []), r[5], r[6], json.loads(r[7] or "{}"), r[8], r[9], r[10]
        )
        for r in rows
    ]
