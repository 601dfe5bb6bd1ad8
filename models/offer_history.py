"""Who bought (or took) which offer when: the next best offer model's population and labels.

People are as known at each cut-off (`feature_store.identity_as_of`), like every training set's.

With an offer catalog (`offer_field` = `feature_store.sources.CATALOG`), buying an offer means an
order line covered by it or its `taken` event; the population is every customer (anyone with an
order, or with a catalog offer taken), so offers that are not products reach people who never
took one yet.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import duckdb
import polars as pl

from feature_store.fact_sources import OFFER_ORDERS, ORDERS
from feature_store.identity_as_of import identity_as_of
from feature_store.sources import CATALOG, source_sql


def _with_spine(con: duckdb.DuckDBPyConnection, spine: pl.DataFrame, sql: str, params: list) -> pl.DataFrame:
    name = f"_nbo_spine_{uuid.uuid4().hex}"
    con.register(name, spine.to_arrow())
    try:
        return con.sql(sql.replace("_nbo_spine", name), params=params).pl()
    finally:
        con.unregister(name)


def population(con: duckdb.DuckDBPyConnection, cutoffs: list[datetime], offer_field: str) -> pl.DataFrame:
    """Everyone who bought an offer before each cut-off (with a catalog: every customer).

    Args:
        con: warehouse connection.
        cutoffs: the cut-offs T.
        offer_field: the orders column that names an offer, or `CATALOG`.

    Returns:
        `profile_id, as_of`.
    """
    with identity_as_of(con, cutoffs) as at:  # people as known at each cut-off
        facts = f"SELECT profile_id, _as_of FROM ({source_sql(con, OFFER_ORDERS, offer_field, at=at)})"
        if offer_field == CATALOG:
            facts += f" UNION ALL SELECT profile_id, _as_of FROM ({source_sql(con, ORDERS, at=at)})"
        return con.sql(
            f"SELECT DISTINCT profile_id, _as_of AS as_of FROM ({facts}) ORDER BY as_of, profile_id"
        ).pl()


def purchases_after(
    con: duckdb.DuckDBPyConnection, spine: pl.DataFrame, horizon_days: int, offer_field: str
) -> pl.DataFrame:
    """What each spine person bought in the horizon after their as_of.

    Args:
        con: warehouse connection.
        spine: `profile_id, as_of`.
        horizon_days: the window length.
        offer_field: the orders column that names an offer, or `CATALOG`.

    Returns:
        Distinct `profile_id, as_of, offer_id` bought in [as_of, as_of + horizon).
    """
    with identity_as_of(con, spine["as_of"].unique().to_list()) as at:
        orders = source_sql(con, OFFER_ORDERS, offer_field, at=at, horizon_days=horizon_days)
        return _with_spine(
            con,
            spine.select("profile_id", "as_of"),
            f"""
            SELECT DISTINCT s.profile_id, CAST(s.as_of AS TIMESTAMP) AS as_of, f.offer_id
            FROM _nbo_spine s JOIN ({orders}) f ON f.profile_id = s.profile_id AND f._as_of = s.as_of
              AND f.ts >= s.as_of AND f.ts < s.as_of + to_days(CAST(? AS INTEGER))
            """,
            [horizon_days],
        )
