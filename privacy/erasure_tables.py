"""How one warehouse table loses an erased person's rows, inside the erasure's transaction."""

from __future__ import annotations

from datetime import datetime

import duckdb

from privacy.erasure_rules import ROWS, Table, bound, row_condition


def delete_rows(con: duckdb.DuckDBPyConnection, table: Table, params: dict) -> int:
    """Delete the person's rows from one table: staging and quarantine rows by their raw rows
    (`_erase_rows`), any other table by the rules its columns call for (privacy.erasure_rules).

    Args:
        con: warehouse connection holding the erasure's temporary tables.
        table: the table.
        params: the rules' parameters (`pattern`).

    Returns:
        Rows deleted.
    """
    if table.has_lineage and table.schema in ("staging", "quarantine"):
        condition = (
            f"EXISTS (SELECT 1 FROM {ROWS} e WHERE e.source = t.source AND e._file = t._file "
            "AND e._row_number = t._row_number)"
        )
        return con.execute(f"DELETE FROM {table.sql} AS t WHERE {condition}").fetchall()[0][0]
    condition = row_condition(table.columns, text="pattern" in params)
    if condition is None:
        return 0
    return con.execute(
        f"DELETE FROM {table.sql} AS t WHERE {condition}", bound(condition, params)
    ).fetchall()[0][0]


def append_deletes(con: duckdb.DuckDBPyConnection, table: Table, keys: list[tuple], at: datetime) -> int:
    """A `delete` row per CRM record, with its keys and the time only: CRM syncs delete it downstream.

    Args:
        con: warehouse connection.
        table: a change feed (`Table.is_change_feed`).
        keys: (source, crm_object, crm_record_id) of each record (`erasure_scope.feed_records`).
        at: the erasure's time.

    Returns:
        Rows appended.
    """
    if not keys:
        return 0
    columns = ["crm_object", "crm_record_id", "change", "changed_at"]
    has_source = "source" in table.columns
    has_updated = "updated_at" in table.columns
    columns += ["source"] if has_source else []
    columns += ["updated_at"] if has_updated else []
    rows = [
        [
            crm_object,
            crm_record_id,
            "delete",
            at,
            *([source] if has_source else []),
            *([at] if has_updated else []),
        ]
        for source, crm_object, crm_record_id in keys
    ]
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    con.executemany(f"INSERT INTO {table.sql} ({names}) VALUES ({marks})", rows)
    return len(rows)
