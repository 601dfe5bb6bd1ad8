"""The mirror's tables in PostgreSQL: created when missing, checked when they exist.

An existing table must hold every column the sync writes, with the same type, the same primary
key, no NOT NULL column the sync would leave empty, and privileges to read and write it; otherwise
the sync stops before writing anything, with a message naming the table and what differs.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg import sql

from activation.crm_sync.errors import CrmSyncError
from activation.crm_sync.tables import BOOKKEEPING, OWNER_COLUMN, STATE_TABLE, MirrorTable

STATE_COLUMNS = {
    "owner": "text",
    "mirror_table": "text",
    "feed_cursor": "timestamp with time zone",
    "fingerprint": "text",
    "synced_at": "timestamp with time zone",
}
STATE_KEY = ("owner", "mirror_table")


def prepare_tables(connection: psycopg.Connection, schema: str, tables: Iterable[MirrorTable]) -> list[str]:
    """Create the schema and the tables that are missing; check those that exist.

    Returns:
        The tables created.

    Raises:
        CrmSyncError: no permission to create or write them, or an existing table's columns or
            primary key differ from what the sync writes.
    """
    created = []
    if not _schema_exists(connection, schema):
        _create(
            connection,
            sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)),
            f"cannot create schema {schema}",
            f"create it for this user (CREATE SCHEMA {schema} AUTHORIZATION <user>) or grant CREATE on the database",
        )
    specs = [
        (
            STATE_TABLE,
            STATE_COLUMNS,
            STATE_KEY,
            100,
            "Kindred CRM sync: cursor and fingerprint per owner and table",
        )
    ]
    specs += [
        (
            t.name,
            {**t.columns, **BOOKKEEPING},
            t.key,
            t.fillfactor,
            f"Mirror of Kindred's {t.warehouse_table}, written by `kindred crm sync`; "
            f"{OWNER_COLUMN} names the sync that wrote a row",
        )
        for t in tables
    ]
    for name, columns, key, fillfactor, comment in specs:
        if _table_exists(connection, schema, name):
            _check(connection, schema, name, columns, key)
            continue
        _create(
            connection,
            _create_table(schema, name, columns, key, fillfactor, comment),
            f"cannot create table {schema}.{name}",
            f"grant CREATE on schema {schema} to this user (or run the first sync as one who may)",
        )
        created.append(name)
    return created


def _schema_exists(connection: psycopg.Connection, schema: str) -> bool:
    row = connection.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone()
    return row is not None


def _table_exists(connection: psycopg.Connection, schema: str, name: str) -> bool:
    row = connection.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        [schema, name],
    ).fetchone()
    return row is not None


def _create(connection: psycopg.Connection, statement: sql.Composable, what: str, fix: str) -> None:
    try:
        connection.execute(statement)
    except psycopg.errors.InsufficientPrivilege as error:
        raise CrmSyncError(f"{what}: {error.diag.message_primary or 'permission denied'}; {fix}") from None


def _create_table(
    schema: str, name: str, columns: dict[str, str], key: tuple[str, ...], fillfactor: int, comment: str
) -> sql.Composed:
    definitions = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(column), sql.SQL(kind), sql.SQL(" NOT NULL" if column in key else "")
        )
        for column, kind in columns.items()
    ]
    definitions.append(sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, key))))
    return sql.SQL("CREATE TABLE {} ({}) WITH (fillfactor = {}); COMMENT ON TABLE {} IS {}").format(
        sql.Identifier(schema, name),
        sql.SQL(", ").join(definitions),
        sql.Literal(fillfactor),
        sql.Identifier(schema, name),
        sql.Literal(comment),
    )


def _check(
    connection: psycopg.Connection, schema: str, name: str, columns: dict[str, str], key: tuple[str, ...]
) -> None:
    """Fail clearly when an existing table cannot take what the sync writes."""
    where = f"{schema}.{name}"
    qualified = sql.Identifier(schema, name).as_string(connection)
    # has_table_privilege with a list is true when any one is held: ask for each.
    kind, allowed = connection.execute(
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
        for row in connection.execute(
            "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s",
            [schema, name],
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
    primary = connection.execute(
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
