"""The warehouse side of a CRM sync: which rows to send and which keys are gone, read from DuckDB.

Each mirrored table is read through a temporary view holding exactly the mirror's columns, cast to
the types they are sent as, plus `kindred_digest`: an MD5 of the values that decide whether a row
changed (for grounding, the document's content hash rather than its text, which carries a build
stamp). Everything here only reads the warehouse: temporary views and tables live in memory, so a
read-only connection will do.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from activation.crm_sync.errors import CrmSyncError
from activation.crm_sync.tables import DIGEST_COLUMN, MirrorTable
from warehouse.connection import quote_table, table_exists

_BATCH_ROWS = 20_000


@dataclass(frozen=True)
class FeedPosition:
    """Where a change feed stands relative to a stored cursor.

    Attributes:
        latest: the newest `changed_at` in the feed (None when it is empty or missing).
        has_cursor: whether the feed still holds the changes logged at the cursor, which proves it
            is the same feed the cursor was taken on and that nothing after it was pruned.
        changed_keys: how many keys changed after the cursor.
    """

    latest: datetime | None
    has_cursor: bool
    changed_keys: int


class WarehouseRows:
    """One mirrored table as the warehouse holds it now.

    Args:
        con: warehouse connection (read-only is enough).
        table: the mirrored table.

    Raises:
        CrmSyncError: the warehouse table lacks one of the mirrored columns.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, table: MirrorTable) -> None:
        self.con = con
        self.table = table
        self.exists = table_exists(con, table.warehouse_table)
        self.view = f"_crm_sync_{table.name}"
        self.keys_table = f"_crm_sync_{table.name}_send"
        self.mirror_view = f"_crm_sync_{table.name}_mirror"
        if self.exists:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {self.view} AS {self._select()}")

    def _select(self) -> str:
        schema, name = self.table.warehouse_table.split(".")
        present = {
            row[0]
            for row in self.con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                [schema, name],
            ).fetchall()
        }
        missing = [c for c in self.table.columns if c not in present]
        if missing:
            raise CrmSyncError(
                f"{self.table.warehouse_table} has no column {', '.join(missing)}: rebuild it with `kindred run`"
            )
        stand_ins = dict(self.table.stand_ins)
        hashed = []
        for column in self.table.digest_of:
            source = column if column in present else stand_ins.get(column)
            if source is None:
                raise CrmSyncError(
                    f"{self.table.warehouse_table} has no column {column}: rebuild it with `kindred run`"
                )
            hashed.append((column, source))
        cast = ", ".join(f'CAST("{c}" AS {self.table.duckdb_type(c)}) AS "{c}"' for c in self.table.columns)
        keys_present = " AND ".join(f'"{k}" IS NOT NULL' for k in self.table.key)
        self._from = f"FROM {quote_table(self.table.warehouse_table)} WHERE {keys_present}"
        self._hash_inputs = ", ".join(f'"{source}"' for _, source in hashed)
        packed = ", ".join(f'"{column}" := "{source}"' for column, source in hashed)
        return f"SELECT {cast}, md5(to_json(struct_pack({packed}))) AS {DIGEST_COLUMN} {self._from}"

    def fingerprint(self) -> str:
        """A fingerprint of all the rows' digest inputs: equal exactly when no row changed, or '' when absent.

        DuckDB's `hash` is many times cheaper than the rows' MD5 digests, which matters for the
        unchanged run; it may differ between DuckDB versions, which only makes the first sync
        after an upgrade compare the table with the mirror.
        """
        if not self.exists:
            return ""
        count, total, mixed = self.con.execute(
            f"SELECT count(*), coalesce(sum(hash({self._hash_inputs})::HUGEINT), 0), "
            f"coalesce(bit_xor(hash({self._hash_inputs})), 0) {self._from}"
        ).fetchall()[0]
        return f"{count}:{total}:{mixed}"

    def feed_position(self, cursor: datetime | None) -> FeedPosition:
        """Where the table's change feed stands relative to `cursor` (naive UTC)."""
        feed = self.table.change_feed
        if feed is None or not table_exists(self.con, feed):
            return FeedPosition(latest=None, has_cursor=False, changed_keys=0)
        latest, at_cursor = self.con.execute(
            f"SELECT max(changed_at), count(*) FILTER (WHERE changed_at = ?) FROM {quote_table(feed)}",
            [cursor],
        ).fetchall()[0]
        changed = self._changed_keys_sql()
        (changed_keys,) = self.con.execute(f"SELECT count(*) FROM ({changed})", [cursor, latest]).fetchall()[
            0
        ]
        return FeedPosition(latest=latest, has_cursor=at_cursor > 0, changed_keys=changed_keys)

    def _changed_keys_sql(self) -> str:
        """Keys logged after the cursor (first parameter) up to the position read (second)."""
        keys = self._keys()
        assert self.table.change_feed is not None
        return (
            f"SELECT DISTINCT {keys} FROM {quote_table(self.table.change_feed)} "
            f"WHERE changed_at > ? AND changed_at <= ? "
            f"AND {' AND '.join(f'{k} IS NOT NULL' for k in self._quoted_keys())}"
        )

    def _keys(self, alias: str = "") -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(f"{prefix}{k}" for k in self._quoted_keys())

    def _quoted_keys(self) -> list[str]:
        return [f'"{k}"' for k in self.table.key]

    def _on(self, left: str, right: str) -> str:
        return " AND ".join(f"{left}.{k} = {right}.{k}" for k in self._quoted_keys())

    def plan_from_feed(self, cursor: datetime, latest: datetime) -> tuple[int, duckdb.DuckDBPyRelation]:
        """Rows to send and keys to delete for what the change feed logged after `cursor`, up to `latest`.

        A changed key still in the table is sent with its current values; a changed key no longer
        in the table (a `delete` in the feed) is to be deleted.

        Returns:
            The number of rows to send (their keys staged for `batches`) and the keys to delete.
        """
        changed = "_crm_sync_changed"
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {changed} AS {self._changed_keys_sql()}", [cursor, latest]
        )
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {self.keys_table} AS "
            f"SELECT {self._keys('r')} FROM {self.view} AS r SEMI JOIN {changed} AS c ON {self._on('r', 'c')}"
        )
        gone = self.con.sql(
            f"SELECT {self._keys('c')} FROM {changed} AS c ANTI JOIN {self.view} AS r ON {self._on('c', 'r')}"
        )
        return self._staged_count(), gone

    def plan_from_mirror(
        self, mirror: pl.DataFrame, *, everything: bool
    ) -> tuple[int, duckdb.DuckDBPyRelation]:
        """Rows to send and keys to delete, by comparing the table with the mirror's rows of this owner.

        Args:
            mirror: the owner's rows in the mirror: the key columns and `kindred_digest`.
            everything: send every row (the mirror decides what really differs) instead of only
                rows whose digest is not in the mirror.

        Returns:
            The number of rows to send (their keys staged for `batches`) and the keys to delete.
        """
        self.con.register(self.mirror_view, mirror.to_arrow())
        if everything or not mirror.height:
            # Nothing to compare digests with: skip computing them here (they are sent anyway).
            chosen = f"SELECT {self._keys()} FROM {self.view}"
        else:
            chosen = (
                f"SELECT {self._keys('r')} FROM {self.view} AS r ANTI JOIN {self.mirror_view} AS m "
                f"ON {self._on('r', 'm')} AND r.{DIGEST_COLUMN} = m.{DIGEST_COLUMN}"
            )
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {self.keys_table} AS {chosen}")
        gone = self.con.sql(
            f"SELECT {self._keys('m')} FROM {self.mirror_view} AS m ANTI JOIN {self.view} AS r ON {self._on('m', 'r')}"
        )
        return self._staged_count(), gone

    def _staged_count(self) -> int:
        repeated = self.con.execute(
            f"SELECT {self._keys()} FROM {self.keys_table} GROUP BY ALL HAVING count(*) > 1 LIMIT 1"
        ).fetchall()
        if repeated:
            key = ", ".join(f"{k}={v!r}" for k, v in zip(self.table.key, repeated[0], strict=True))
            raise CrmSyncError(
                f"{self.table.warehouse_table} holds several rows for one key ({key}): "
                "rebuild it with `kindred run` before syncing"
            )
        return self.con.execute(f"SELECT count(*) FROM {self.keys_table}").fetchall()[0][0]

    def batches(self) -> duckdb.DuckDBPyRelation:
        """The rows to send (planned by `plan_from_feed` or `plan_from_mirror`): mirror columns and digest."""
        return self.con.sql(
            f"SELECT r.* FROM {self.view} AS r SEMI JOIN {self.keys_table} AS k ON {self._on('r', 'k')}"
        )

    def close(self) -> None:
        """Drop the temporary views and tables."""
        for statement in (
            f"DROP VIEW IF EXISTS {self.view}",
            f"DROP TABLE IF EXISTS {self.keys_table}",
            "DROP TABLE IF EXISTS _crm_sync_changed",
        ):
            self.con.execute(statement)
        with contextlib.suppress(duckdb.Error):
            self.con.unregister(self.mirror_view)


def record_batches(relation: duckdb.DuckDBPyRelation, rows: int = _BATCH_ROWS):
    """A relation's rows as pyarrow record batches of at most `rows` rows, streamed."""
    return relation.to_arrow_reader(rows)
