"""The run's point in time: `--as-of`, or the day after the newest activity in staging."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from warehouse.connection import table_exists

# Facts first: a CRM stamps `updated_at` on every export, which says nothing about activity.
_FACTS = {"staging.events": "timestamp", "staging.orders": "ordered_at", "staging.cases": "opened_at"}
_LEADS = {"staging.people": "greatest(created_at, converted_at)"}


def latest_activity(con: duckdb.DuckDBPyConnection) -> date | None:
    """The date of the newest fact (event, order, case), else of the newest lead creation or conversion.

    Returns:
        The date, or None when staging is empty.
    """
    for tables in (_FACTS, _LEADS):
        parts = [
            f"SELECT max({column})::DATE AS d FROM {table}"
            for table, column in tables.items()
            if table_exists(con, table)
        ]
        if parts:
            latest = con.sql(f"SELECT max(d) FROM ({' UNION ALL '.join(parts)})").fetchall()[0][0]
            if latest is not None:
                return latest
    return None


def resolve_as_of(con: duckdb.DuckDBPyConnection, as_of: date | str | None) -> date:
    """The run's as-of date.

    Args:
        con: warehouse connection with staging built.
        as_of: the user's `--as-of` (a date or `YYYY-MM-DD`), or None.

    Returns:
        `as_of` itself, else the day after the newest staged activity, else today.
    """
    if isinstance(as_of, str):
        return date.fromisoformat(as_of)
    if as_of is not None:
        return as_of
    latest = latest_activity(con)
    return latest + timedelta(days=1) if latest else date.today()
