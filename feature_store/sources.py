"""SQL over the staging tables, each row attributed to a profile, tolerant of absent tables or columns.

Every input may be empty or missing on a fresh install, so a staging table is read through a
projection of the columns the feature store knows about: present columns as they are, absent
ones as typed NULLs, an absent table as an empty relation of that shape.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from feature_store.identity_as_of import IdentityAsOf, person_sql, profile_at_sql
from feature_store.vocabulary import Source

# The staging columns the feature store reads (docs/data-model.md), with their types.
STAGING_COLUMNS: dict[str, dict[str, str]] = {
    "orders": {
        "source": "VARCHAR",
        "record_id": "VARCHAR",
        "order_id": "VARCHAR",
        "ordered_at": "TIMESTAMP",
        "amount": "DOUBLE",
        "quantity": "DOUBLE",
        "product_id": "VARCHAR",
        "product_category": "VARCHAR",
    },
    "events": {
        "source": "VARCHAR",
        "record_id": "VARCHAR",
        "timestamp": "TIMESTAMP",
        "type": "VARCHAR",
        "event": "VARCHAR",
        "properties": "JSON",
    },
    "cases": {
        "source": "VARCHAR",
        "record_id": "VARCHAR",
        "case_id": "VARCHAR",
        "opened_at": "TIMESTAMP",
        "closed_at": "TIMESTAMP",
    },
    "people": {
        "source": "VARCHAR",
        "record_id": "VARCHAR",
        "crm_object": "VARCHAR",
        "created_at": "TIMESTAMP",
        "converted": "BOOLEAN",
        "converted_at": "TIMESTAMP",
        "lead_source": "VARCHAR",
        "job_title": "VARCHAR",
        "company": "VARCHAR",
        "industry": "VARCHAR",
        "employees": "DOUBLE",
    },
}
XREF_COLUMNS = {"source": "VARCHAR", "record_id": "VARCHAR", "profile_id": "VARCHAR"}

# Offer fields a next-best-offer model may rank, and the Segment ecommerce property that names the
# same thing on `Product Viewed` events.
OFFER_FIELDS: dict[str, str] = {"product_category": "category", "product_id": "product_id"}

# The offer field that stands for "offers come from the catalog": sources with catalog variants
# read their facts through `OFFER_CATALOG_TABLE` instead of a column (see `Source.catalog`).
CATALOG = "catalog"
OFFER_CATALOG_TABLE = "scores.offer_catalog"

# Event names compare in one spelling: "Product Viewed", "product_viewed" and "product-viewed" match.
EVENT_NAME_SQL = r"lower(regexp_replace(trim(t.event), '[_\s-]+', ' ', 'g'))"

# Timestamps that mark something a person did or that happened to them (not record-keeping times).
_FACT_TIMES: dict[str, tuple[str, ...]] = {
    "events": ("timestamp",),
    "orders": ("ordered_at",),
    "cases": ("opened_at", "closed_at"),
    "people": ("created_at", "converted_at"),
}


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    """The column names of `schema.table` (empty when the table does not exist).

    Args:
        con: warehouse connection.
        schema: schema name.
        table: table name.

    Returns:
        The set of column names.
    """
    rows = con.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        params=[schema, table],
    ).fetchall()
    return {row[0] for row in rows}


def _projection(con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: dict[str, str]) -> str:
    present = table_columns(con, schema, table)
    select = ", ".join(
        f'"{name}"' if name in present else f'CAST(NULL AS {sql_type}) AS "{name}"'
        for name, sql_type in columns.items()
    )
    if not present:
        return f"(SELECT {select} WHERE false)"
    return f'(SELECT {select} FROM "{schema}"."{table}")'


def staging_sql(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """A subquery over `staging.<table>` with exactly the columns the feature store reads.

    Args:
        con: warehouse connection.
        table: `orders`, `events`, `cases` or `people`.

    Returns:
        SQL text of a parenthesised subquery, safe to use in FROM.
    """
    return _projection(con, "staging", table, STAGING_COLUMNS[table])


def xref_sql(con: duckdb.DuckDBPyConnection) -> str:
    """A subquery over `identity.record_xref(source, record_id, profile_id)`, empty when absent."""
    return _projection(con, "identity", "record_xref", XREF_COLUMNS)


def check_offer_field(offer_field: str) -> str:
    """Check that an offer field from config is one the feature store can rank.

    Args:
        offer_field: the `offer_field` setting of the next-best-offer model.

    Returns:
        The event property that carries the same value on product views (`product_id` for
        `CATALOG`, whose sources match views on both products and categories).

    Raises:
        ValueError: naming the allowed fields.
    """
    if offer_field == CATALOG:
        return "product_id"
    if offer_field not in OFFER_FIELDS:
        allowed = ", ".join(sorted(OFFER_FIELDS))
        raise ValueError(f"offer_field {offer_field!r} is not supported; use one of: {allowed}")
    return OFFER_FIELDS[offer_field]


def source_sql(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    offer_field: str = "product_category",
    *,
    at: IdentityAsOf | None = None,
    horizon_days: int = 0,
    ttl_days: int | None = None,
    people: str | None = None,
) -> str:
    """The SQL of a source's facts: `profile_id`, `_as_of`, `ts` and the source's columns.

    With `at`, every fact is given once per cut-off it precedes (by less than `horizon_days`
    after it, for labels), attributed to the person as known at that cut-off
    (`feature_store.identity_as_of`); `_as_of` is the cut-off. Without it, facts belong to
    today's profiles and `_as_of` is NULL.

    Args:
        con: warehouse connection.
        source: the declared source.
        offer_field: the orders column that names an offer (checked against `OFFER_FIELDS`), or
            `CATALOG`: offers are the entries of `scores.offer_catalog`.
        at: the cut-offs and as-of identity registered by `identity_as_of`, or None.
        horizon_days: with `at`, also give the facts up to this many days after each cut-off.
        ttl_days: with `at`, leave out facts more than this many days before each cut-off
            (ignored for sources that regroup or keep first facts: they need every earlier fact).
        people: with `at`, a relation whose `profile_id` column names the only people needed
            (as-of keys or profile ids); None for everyone.

    Returns:
        SQL text of a query (not parenthesised).
    """
    offer_property = check_offer_field(offer_field)
    if offer_field == CATALOG and source.catalog:
        # By name: each variant keeps the facts' own columns (profile_id, _as_of, ts, ...) and adds offer_id.
        return " UNION ALL BY NAME ".join(
            f"(SELECT * FROM ({source_sql(con, variant, offer_field, at=at, horizon_days=horizon_days, ttl_days=ttl_days, people=people)}))"
            for variant in source.catalog
        )
    parts = []
    for table, timestamp in source.parts:
        columns = "".join(f", {expression} AS {name}" for name, expression in source.columns.items())
        where = f" AND ({source.where})" if source.where else ""
        parts.append(
            f"SELECT t.source, t.record_id, t.{timestamp} AS ts{columns} FROM {staging_sql(con, table)} t "
            f"WHERE t.{timestamp} IS NOT NULL{where}"
        )
    facts = " UNION ALL ".join(parts)
    facts = facts.replace("{offer_field}", offer_field).replace("{offer_property}", offer_property)
    if source.first_only:
        # A part's first fact before a cut-off is the earliest first fact of its records before it.
        facts = f"SELECT source, record_id, min(ts) AS ts FROM ({facts}) GROUP BY source, record_id"
    if at is None:
        attribution, cutoff, joins, where = "x.profile_id", "CAST(NULL AS TIMESTAMP)", "", ""
    else:
        override, attribution = profile_at_sql(at, "r", "x", "c.as_of")
        cutoff = "c.as_of"
        window = f"r.ts < c.as_of + to_days(CAST({int(horizon_days)} AS INTEGER))"
        if ttl_days is not None and not (source.first_only or source.regroup):
            window += f" AND r.ts >= c.as_of - to_days(CAST({int(ttl_days)} AS INTEGER))"
        joins = f" JOIN {at.cutoffs} c ON {window} {override}"
        # A person's facts are among their profile's today: the rest cannot be theirs.
        where = f" WHERE x.profile_id IN (SELECT {person_sql('profile_id')} FROM {people})" if people else ""
    sql = (
        f"SELECT {attribution} AS profile_id, {cutoff} AS _as_of, r.* EXCLUDE (source, record_id) "
        f"FROM ({facts}) r JOIN {xref_sql(con)} x ON x.source = r.source AND x.record_id = r.record_id"
        f"{joins}{where}"
    )
    if source.first_only:
        sql = f"SELECT profile_id, _as_of, min(ts) AS ts FROM ({sql}) GROUP BY profile_id, _as_of"
    if source.regroup:
        sql = source.regroup.replace("{facts}", sql)
    return sql


def staging_at_sql(
    con: duckdb.DuckDBPyConnection, table: str, columns: str, where: str, at: IdentityAsOf | None = None
) -> str:
    """Rows of a staging table with the person each belongs to, today or at each cut-off.

    Args:
        con: warehouse connection.
        table: `orders`, `events`, `cases` or `people` (read through `staging_sql`, as `t`).
        columns: the SQL select list over `t` to keep.
        where: a SQL filter over `t`.
        at: the cut-offs and as-of identity registered by `identity_as_of`; None for today's
            profiles.

    Returns:
        SQL text of a query: `profile_id, as_of` (the cut-off, NULL without `at`), then `columns`;
        with `at`, every row once per cut-off.
    """
    if at is None:
        key, cutoff, joins = "x.profile_id", "CAST(NULL AS TIMESTAMP)", ""
    else:
        override, key = profile_at_sql(at, "t", "x", "c.as_of")
        cutoff, joins = "c.as_of", f" CROSS JOIN {at.cutoffs} c {override}"
    return (
        f"SELECT {key} AS profile_id, {cutoff} AS as_of, {columns} FROM {staging_sql(con, table)} t "
        f"JOIN {xref_sql(con)} x ON x.source = t.source AND x.record_id = t.record_id{joins} WHERE {where}"
    )


def latest_fact_time(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The latest timestamp of anything that happened in the staging data.

    Args:
        con: warehouse connection.

    Returns:
        The latest event, order, case or lead timestamp, or None when staging is empty.
    """
    selects = [
        f"SELECT max({column}) AS ts FROM {staging_sql(con, table)}"
        for table, columns in _FACT_TIMES.items()
        for column in columns
    ]
    rows = con.sql(f"SELECT max(ts) FROM ({' UNION ALL '.join(selects)})").fetchall()
    return rows[0][0]


def default_as_of(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The `as_of` a run uses when none is given: midnight after the latest staging timestamp.

    Args:
        con: warehouse connection.

    Returns:
        A midnight datetime, or None when staging holds no timestamps.
    """
    latest = latest_fact_time(con)
    if latest is None:
        return None
    return datetime(latest.year, latest.month, latest.day) + timedelta(days=1)
