"""`staging.*` -> `identity.person_records`: one row per (source, record_id) with its attributes.

A record can appear in many staging rows (every event of a user, every order of a customer);
each attribute takes the most recent non-empty value, so an email changed last week wins over
the one typed two years ago.
"""

from __future__ import annotations

import logging

import duckdb
import polars as pl

from identity_resolution.email_phone_keys import email_series, phone_series
from identity_resolution.normalise import normalise_people
from warehouse.canonical import PERSON_ATTRIBUTES
from warehouse.connection import table_exists

log = logging.getLogger(__name__)

STAGING_TABLES = ("people", "events", "orders", "cases")

# When a row of each kind happened: (first seen, last seen). Missing columns become NULL.
_KIND_TIMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "people": (("created_at", "updated_at", "_ingested_at"), ("updated_at", "created_at", "_ingested_at")),
    "events": (("timestamp", "_ingested_at"), ("timestamp", "_ingested_at")),
    "orders": (("ordered_at", "_ingested_at"), ("ordered_at", "_ingested_at")),
    "cases": (("opened_at", "_ingested_at"), ("closed_at", "opened_at", "_ingested_at")),
}


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        params=[schema, table],
    ).fetchall()
    return {r[0] for r in rows}


def person_rows_sql(con: duckdb.DuckDBPyConnection) -> str:
    """SQL for every staging row that names a person: source, record_id, id_namespace, the person
    attributes, `_first`/`_last` (when the row happened) and `_order` (recency, for survivorship).

    Staging tables that do not exist are skipped; columns a table lacks read as NULL. The
    identifiers are the fixed staging column names, never user input.

    Args:
        con: warehouse connection.

    Returns:
        A SELECT statement (a UNION ALL over the staging tables).
    """
    parts = []
    for kind in STAGING_TABLES:
        if not table_exists(con, f"staging.{kind}"):
            continue
        present = table_columns(con, "staging", kind)

        def column(name: str, sql_type: str = "VARCHAR", present=present) -> str:
            return f'"{name}"' if name in present else f"NULL::{sql_type}"

        def first_present(names: tuple[str, ...], present=present) -> str:
            found = [f'"{n}"::TIMESTAMP' for n in names if n in present]
            return f"coalesce({', '.join(found)})" if found else "NULL::TIMESTAMP"

        first, last = _KIND_TIMES[kind]
        attributes = ", ".join(f"nullif(trim({column(a)}), '') AS {a}" for a in PERSON_ATTRIBUTES)
        order = (
            f"{{'t': coalesce({first_present(last)}, TIMESTAMP '0001-01-01'), "
            f"'f': coalesce({column('_file')}, ''), 'r': coalesce({column('_row_number', 'BIGINT')}, 0)}}"
        )
        parts.append(
            f"SELECT source, record_id, {column('id_namespace')} AS id_namespace, {attributes}, "
            f"{first_present(first)} AS _first, {first_present(last)} AS _last, {order} AS _order "
            f"FROM staging.{kind} WHERE record_id IS NOT NULL AND source IS NOT NULL"
        )
    if not parts:
        empty = ", ".join(
            f"NULL::VARCHAR AS {a}" for a in ("source", "record_id", "id_namespace", *PERSON_ATTRIBUTES)
        )
        return (
            f"SELECT {empty}, NULL::TIMESTAMP AS _first, NULL::TIMESTAMP AS _last, "
            "{'t': TIMESTAMP '0001-01-01', 'f': '', 'r': 0::BIGINT} AS _order WHERE false"
        )
    return "\nUNION ALL BY NAME\n".join(parts)


def person_records(
    con: duckdb.DuckDBPyConnection, *, default_phone_region: str = "US", day_first: bool = False
) -> pl.DataFrame:
    """The content of `identity.person_records`, built from the staging tables.

    Args:
        con: warehouse connection with any of `staging.people/events/orders/cases`.
        default_phone_region: region for phone numbers written without a country code.
        day_first: read ambiguous slashed dates of birth as day/month/year.

    Returns:
        The records: source, record_id, id_namespace, the person attributes (most recent
        non-empty value), first_seen, last_seen, n_rows, then the normalised match keys.
    """
    latest = ", ".join(
        f"arg_max({a}, _order) FILTER (WHERE {a} IS NOT NULL) AS {a}" for a in PERSON_ATTRIBUTES
    )
    sql = f"""
        SELECT source, record_id, min(id_namespace) AS id_namespace, {latest},
               min(_first) AS first_seen, max(_last) AS last_seen, count(*) AS n_rows
        FROM ({person_rows_sql(con)})
        GROUP BY source, record_id
        ORDER BY source, record_id
    """
    base = con.sql(sql).pl()
    records = normalise_people(base, default_phone_region=default_phone_region, day_first=day_first)
    log.info("person records: %d from %d staging rows", records.height, int(base["n_rows"].sum() or 0))
    return records


def records_from_people(
    people: pl.DataFrame, *, default_phone_region: str = "US", day_first: bool = False
) -> pl.DataFrame:
    """`person_records` for rows that are already one per record (the files of `kindred
    resolve`, ids checked unique): the same columns, without staging them in a database and
    grouping them back. At a million records that saves a copy of every row and a grouping
    that took a third of the reading time.

    Args:
        people: `source, record_id, id_namespace` and the person attributes (trimmed, empty as
            null), one row per (source, record_id).
        default_phone_region: region for phone numbers written without a country code.
        day_first: read ambiguous slashed dates of birth as day/month/year.

    Returns:
        The records, as `person_records` gives them (no times: files carry none).
    """
    base = people.select(
        "source",
        "record_id",
        pl.col("id_namespace").cast(pl.Utf8),
        *(
            (pl.col(a) if a in people.columns else pl.lit(None)).cast(pl.Utf8).alias(a)
            for a in PERSON_ATTRIBUTES
        ),
        pl.lit(None, dtype=pl.Datetime("us")).alias("first_seen"),
        pl.lit(None, dtype=pl.Datetime("us")).alias("last_seen"),
        pl.lit(1, dtype=pl.Int64).alias("n_rows"),
    ).sort("source", "record_id")
    records = normalise_people(base, default_phone_region=default_phone_region, day_first=day_first)
    log.info("person records: %d", records.height)
    return records


def collect_contact_values(
    con: duckdb.DuckDBPyConnection, *, default_phone_region: str = "US"
) -> pl.DataFrame:
    """Every email and phone each record ever had in staging, normalised (invalid ones dropped).

    Args:
        con: warehouse connection with the staging tables.
        default_phone_region: region for phone numbers written without a country code.

    Returns:
        Columns source, record_id, kind (`email` or `phone`), value, last_seen.
    """
    raw = con.sql(f"""
        SELECT source, record_id, 'email' AS kind, email AS raw, max(_last) AS last_seen
        FROM ({person_rows_sql(con)}) WHERE email IS NOT NULL GROUP BY ALL
        UNION ALL
        SELECT source, record_id, 'phone' AS kind, phone AS raw, max(_last) AS last_seen
        FROM ({person_rows_sql(con)}) WHERE phone IS NOT NULL GROUP BY ALL
    """).pl()
    is_email = raw["kind"] == "email"
    emails = email_series(raw.filter(is_email)["raw"])
    phones = phone_series(raw.filter(~is_email)["raw"], default_phone_region)
    normalised = pl.concat(
        [
            raw.filter(is_email).with_columns(emails.alias("value")),
            raw.filter(~is_email).with_columns(phones.alias("value")),
        ]
    )
    return (
        normalised.drop_nulls("value")
        .group_by("source", "record_id", "kind", "value")
        .agg(pl.col("last_seen").max())
        .sort("source", "record_id", "kind", "value")
    )
