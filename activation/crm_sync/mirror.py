"""The PostgreSQL side of a CRM sync: the mirror tables, their bookkeeping, and bulk writes.

Everything here runs inside the one transaction a sync opens, so a failed or killed sync leaves
the mirror exactly as it was. Rows travel by COPY into temporary tables, then one
`INSERT ... ON CONFLICT DO UPDATE` (a plain `INSERT` when none of the keys is there yet) or
`DELETE ... USING` applies them. A row is rewritten only when a value differs, and only rows this
sync's owner wrote are deleted.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
import psycopg
import pyarrow as pa
from psycopg import sql

from activation.crm_sync.errors import CrmSyncError
from activation.crm_sync.tables import (
    BOOKKEEPING,
    DIGEST_COLUMN,
    OWNER_COLUMN,
    STATE_TABLE,
    SYNCED_AT_COLUMN,
    MirrorTable,
)

log = logging.getLogger(__name__)

_STATE_COLUMNS = {
    "owner": "text",
    "mirror_table": "text",
    "feed_cursor": "timestamp with time zone",
    "fingerprint": "text",
    "synced_at": "timestamp with time zone",
}
_STATE_KEY = ("owner", "mirror_table")
_CSV_DATETIME = "%Y-%m-%d %H:%M:%S%.f"


@dataclass(frozen=True)
class SyncState:
    """What the mirror remembers of the owner's last sync of one table.

    Attributes:
        cursor: the newest change-feed `changed_at` already applied (naive UTC), if the table has a feed.
        fingerprint: the fingerprint of the warehouse rows the mirror was last brought up to date with.
    """

    cursor: datetime | None
    fingerprint: str | None


class Mirror:
    """The mirror tables of one schema, written under one owner, inside the caller's transaction.

    Args:
        connection: an open connection; the caller owns the transaction.
        schema: the target schema.
        owner: the name this sync writes its rows under.
    """

    def __init__(self, connection: psycopg.Connection, schema: str, owner: str) -> None:
        self.connection = connection
        self.schema = schema
        self.owner = owner

    def _table(self, name: str) -> sql.Composed:
        return sql.Identifier(self.schema, name)

    def lock(self) -> None:
        """Wait for any other sync into this schema to finish: syncs into one schema run one at a time."""
        self.connection.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"kindred crm sync {self.schema}"]
        )
        # Staged rows are joined with the mirror by hash: with the default 4 MB a million keys
        # spill to disk and sort instead. For this transaction only.
        self.connection.execute("SET LOCAL work_mem = '128MB'")

    def prepare(self, tables: Iterable[MirrorTable]) -> list[str]:
        """Create the schema and the tables that are missing; check those that exist.

        Returns:
            The tables created.

        Raises:
            CrmSyncError: no permission to create or write them, or an existing table's columns or
                primary key differ from what the sync writes.
        """
        created = []
        if not self._schema_exists():
            self._create(
                sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)),
                f"cannot create schema {self.schema}",
                f"create it for this user (CREATE SCHEMA {self.schema} AUTHORIZATION <user>) or grant CREATE on the database",
            )
        specs = [
            (
                STATE_TABLE,
                _STATE_COLUMNS,
                _STATE_KEY,
                "Kindred CRM sync: cursor and fingerprint per owner and table",
            )
        ]
        specs += [
            (
                t.name,
                {**t.columns, **BOOKKEEPING},
                t.key,
                f"Mirror of Kindred's {t.warehouse_table}, written by `kindred crm sync`; "
                f"{OWNER_COLUMN} names the sync that wrote a row",
            )
            for t in tables
        ]
        for name, columns, key, comment in specs:
            if self._table_exists(name):
                self._check(name, columns, key)
                continue
            self._create(
                self._create_table(name, columns, key, comment),
                f"cannot create table {self.schema}.{name}",
                f"grant CREATE on schema {self.schema} to this user, or create the table as docs/crm-sync.md shows",
            )
            created.append(name)
        return created

    def _schema_exists(self) -> bool:
        row = self.connection.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", [self.schema]
        ).fetchone()
        return row is not None

    def _table_exists(self, name: str) -> bool:
        row = self.connection.execute(
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s",
            [self.schema, name],
        ).fetchone()
        return row is not None

    def _create(self, statement: sql.Composable, what: str, fix: str) -> None:
        try:
            self.connection.execute(statement)
        except psycopg.errors.InsufficientPrivilege as error:
            raise CrmSyncError(
                f"{what}: {error.diag.message_primary or 'permission denied'}; {fix}"
            ) from None

    def _create_table(
        self, name: str, columns: dict[str, str], key: tuple[str, ...], comment: str
    ) -> sql.Composed:
        definitions = [
            sql.SQL("{} {}{}").format(
                sql.Identifier(column), sql.SQL(kind), sql.SQL(" NOT NULL" if column in key else "")
            )
            for column, kind in columns.items()
        ]
        definitions.append(sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, key))))
        return sql.SQL("CREATE TABLE {} ({}); COMMENT ON TABLE {} IS {}").format(
            self._table(name), sql.SQL(", ").join(definitions), self._table(name), sql.Literal(comment)
        )

    def _check(self, name: str, columns: dict[str, str], key: tuple[str, ...]) -> None:
        """Fail clearly when an existing table cannot take what the sync writes."""
        where = f"{self.schema}.{name}"
        qualified = sql.Identifier(self.schema, name).as_string(self.connection)
        # has_table_privilege with a list is true when any one is held: ask for each.
        kind, allowed = self.connection.execute(
            "SELECT c.relkind::text, (SELECT bool_and(has_table_privilege(c.oid, p)) "
            "FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p) "
            "FROM pg_class c WHERE c.oid = %s::regclass",
            [qualified],
        ).fetchone()
        if kind not in ("r", "p"):
            raise CrmSyncError(f"{where} exists but is not a table; drop or rename it")
        if not allowed:
            raise CrmSyncError(
                f"this user may not read and write {where}: grant SELECT, INSERT, UPDATE, DELETE on it"
            )
        present = {
            row[0]: row[1:]
            for row in self.connection.execute(
                "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                [self.schema, name],
            ).fetchall()
        }
        problems = [f"column {c} is missing" for c in columns if c not in present]
        problems += [
            f"column {c} is {present[c][0]}, not {expected}"
            for c, expected in columns.items()
            if c in present and present[c][0] != expected
        ]
        problems += [
            f"column {c} is NOT NULL without a default"
            for c, (_, nullable, default) in present.items()
            if c not in columns and nullable == "NO" and default is None
        ]
        primary = self.connection.execute(
            "SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_index i "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = %s::regclass AND i.indisprimary",
            [qualified],
        ).fetchone()
        if sorted(key) != sorted(primary[0] or []):
            problems.append(f"its primary key is not ({', '.join(key)})")
        if problems:
            raise CrmSyncError(
                f"mirror table {where} does not match what the sync writes: {'; '.join(problems)}. "
                "Drop or rename it, or sync into another schema (--schema, crm_sync.schema)"
            )

    def state(self, table: MirrorTable) -> SyncState | None:
        """The owner's last sync of `table`, or None if there was none."""
        row = self.connection.execute(
            sql.SQL("SELECT feed_cursor, fingerprint FROM {} WHERE owner = %s AND mirror_table = %s").format(
                self._table(STATE_TABLE)
            ),
            [self.owner, table.name],
        ).fetchone()
        if row is None:
            return None
        cursor = row[0].astimezone(UTC).replace(tzinfo=None) if row[0] is not None else None
        return SyncState(cursor=cursor, fingerprint=row[1])

    def save_state(self, table: MirrorTable, state: SyncState, *, now: datetime) -> None:
        """Record the owner's sync of `table`, in the same transaction as its rows."""
        self.connection.execute(
            sql.SQL(
                "INSERT INTO {} (owner, mirror_table, feed_cursor, fingerprint, synced_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (owner, mirror_table) DO UPDATE SET "
                "feed_cursor = EXCLUDED.feed_cursor, fingerprint = EXCLUDED.fingerprint, synced_at = EXCLUDED.synced_at"
            ).format(self._table(STATE_TABLE)),
            [self.owner, table.name, state.cursor, state.fingerprint, now],
        )

    def owned_rows(self, table: MirrorTable) -> pl.DataFrame:
        """The key and digest of every row of `table` this owner wrote (digest as 32 hex digits)."""
        statement = sql.SQL(
            "COPY (SELECT {}, replace({}::text, '-', '') FROM {} WHERE {} = {}) TO STDOUT (FORMAT csv)"
        ).format(
            sql.SQL(", ").join(map(sql.Identifier, table.key)),
            sql.Identifier(DIGEST_COLUMN),
            self._table(table.name),
            sql.Identifier(OWNER_COLUMN),
            sql.Literal(self.owner),
        )
        buffer = io.BytesIO()
        with self.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for chunk in copy:
                buffer.write(chunk)
        schema = {**{k: pl.String() for k in table.key}, DIGEST_COLUMN: pl.String()}
        if not buffer.getbuffer().nbytes:
            return pl.DataFrame(schema=schema)
        buffer.seek(0)
        return pl.read_csv(buffer, has_header=False, schema=schema)

    def upsert(
        self, table: MirrorTable, batches: Iterable[pa.RecordBatch], *, now: datetime, dry_run: bool
    ) -> tuple[int, int]:
        """Insert new keys and update rows whose values differ; with `dry_run`, only count them.

        Args:
            table: the mirrored table.
            batches: the rows to send: the mirror's columns and `kindred_digest`.
            now: the sync time, stored in `kindred_synced_at`.
            dry_run: count without changing the mirror table.

        Returns:
            (inserted, updated). A row whose values are all equal already is not rewritten and
            not counted; a row another writer put there under the same key is taken over.
        """
        stage = sql.Identifier(f"kindred_stage_{table.name}")
        columns = [*table.columns, DIGEST_COLUMN]
        # JSON arrives as text and is parsed once, on its way into the mirror.
        staged_types = {
            c: "text" if kind == "jsonb" else kind for c, kind in {**table.columns, **BOOKKEEPING}.items()
        }
        definitions = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(staged_types[c])) for c in columns
        )
        self.connection.execute(
            sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(stage, definitions)
        )
        staged = self._copy_in(stage, columns, batches)
        if not staged:
            return 0, 0
        self.connection.execute(sql.SQL("ANALYZE {}").format(stage))
        target = self._table(table.name)
        on_key = sql.SQL(" AND ").join(
            sql.SQL("s.{k} = m.{k}").format(k=sql.Identifier(k)) for k in table.key
        )
        values = [*table.columns, OWNER_COLUMN]
        differs = sql.SQL("({}) IS DISTINCT FROM ({})").format(
            sql.SQL(", ").join(sql.SQL("m.{}").format(sql.Identifier(c)) for c in values),
            sql.SQL(", ").join([self._staged(table, c) for c in table.columns] + [sql.Literal(self.owner)]),
        )
        first_key = sql.Identifier(table.key[0])
        if dry_run:
            inserted, updated = self.connection.execute(
                sql.SQL(
                    "SELECT count(*) FILTER (WHERE m.{k} IS NULL), count(*) FILTER (WHERE m.{k} IS NOT NULL AND {differs}) "
                    "FROM {stage} AS s LEFT JOIN {target} AS m ON {on}"
                ).format(k=first_key, differs=differs, stage=stage, target=target, on=on_key)
            ).fetchone()
            return inserted, updated
        (existing,) = self.connection.execute(
            sql.SQL("SELECT count(*) FROM {} AS s JOIN {} AS m ON {}").format(stage, target, on_key)
        ).fetchone()
        written = [*table.columns, OWNER_COLUMN, DIGEST_COLUMN, SYNCED_AT_COLUMN]
        insert = sql.SQL(
            "INSERT INTO {target} AS m ({written}) SELECT {data}, %s, s.{digest}, %s FROM {stage} AS s"
        ).format(
            target=target,
            written=sql.SQL(", ").join(map(sql.Identifier, written)),
            data=sql.SQL(", ").join(self._staged(table, c) for c in table.columns),
            digest=sql.Identifier(DIGEST_COLUMN),
            stage=stage,
        )
        if not existing:
            # Only new keys (a first sync): a plain INSERT costs half of one prepared for conflicts.
            # Syncs into a schema take turns; another writer adding one of these keys meanwhile
            # fails the sync, and the next one takes the row over.
            self.connection.execute(insert, [self.owner, now])
            return staged, 0
        upsert = sql.SQL("{insert} ON CONFLICT ({key}) DO UPDATE SET {assign} WHERE {differs}").format(
            insert=insert,
            key=sql.SQL(", ").join(map(sql.Identifier, table.key)),
            assign=sql.SQL(", ").join(
                sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
                for c in written
                if c not in table.key
            ),
            differs=sql.SQL("({}) IS DISTINCT FROM ({})").format(
                sql.SQL(", ").join(sql.SQL("m.{}").format(sql.Identifier(c)) for c in values),
                sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in values),
            ),
        )
        # The row count covers inserted and updated rows; keys that existed cannot have been inserted.
        written_rows = self.connection.execute(upsert, [self.owner, now]).rowcount
        inserted = staged - existing
        return inserted, written_rows - inserted

    @staticmethod
    def _staged(table: MirrorTable, column: str) -> sql.Composable:
        """A staged column as the mirror holds it (JSON text parsed into jsonb)."""
        value = sql.SQL("s.{}").format(sql.Identifier(column))
        return sql.SQL("{}::jsonb").format(value) if table.columns[column] == "jsonb" else value

    def delete(self, table: MirrorTable, batches: Iterable[pa.RecordBatch], *, dry_run: bool) -> int:
        """Delete the owner's rows with these keys (rows of other writers stay); with `dry_run`, count them.

        Returns:
            The number of rows deleted (or that would be).
        """
        gone = sql.Identifier(f"kindred_gone_{table.name}")
        definitions = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(k)) for k in table.key)
        self.connection.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(gone, definitions))
        if not self._copy_in(gone, list(table.key), batches):
            return 0
        on_key = sql.SQL(" AND ").join(
            sql.SQL("g.{k} = m.{k}").format(k=sql.Identifier(k)) for k in table.key
        )
        owned = sql.SQL("m.{} = %s").format(sql.Identifier(OWNER_COLUMN))
        if dry_run:
            statement = sql.SQL("SELECT count(*) FROM {} AS m JOIN {} AS g ON {} WHERE {}")
            return self.connection.execute(
                statement.format(self._table(table.name), gone, on_key, owned), [self.owner]
            ).fetchone()[0]
        statement = sql.SQL("DELETE FROM {} AS m USING {} AS g WHERE {} AND {}")
        return self.connection.execute(
            statement.format(self._table(table.name), gone, on_key, owned), [self.owner]
        ).rowcount

    def _copy_in(self, table: sql.Identifier, columns: list[str], batches: Iterable[pa.RecordBatch]) -> int:
        """COPY record batches into a table as CSV; returns the number of rows sent."""
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            table, sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        sent = 0
        with self.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for batch in batches:
                if not batch.num_rows:
                    continue
                buffer = io.BytesIO()
                # CSV tells NULL (nothing) from an empty string (""), which PostgreSQL's CSV COPY reads back the same way.
                pl.from_arrow(batch).write_csv(buffer, include_header=False, datetime_format=_CSV_DATETIME)
                copy.write(buffer.getvalue())
                sent += batch.num_rows
        return sent
