"""Which offers to consider for each person: their own recent offers plus what is popular now.

Scoring every (person, offer) pair is wasteful when offers are products; the candidates are the
offers a person bought in the year or viewed in the 90 days before `as_of`, plus the `n_popular`
offers most people bought in the 90 days before it. With an offer catalog, every catalog offer is a
candidate. The affinity features themselves are the
`offer_*` feature views in `feature_store.offer_views`.
"""

from __future__ import annotations

import uuid

import duckdb
import polars as pl

from feature_store.fact_sources import OFFER_ORDERS, OFFER_VIEWS
from feature_store.identity_as_of import identity_as_of
from feature_store.sources import CATALOG, OFFER_CATALOG_TABLE, source_sql


def offer_candidates(
    con: duckdb.DuckDBPyConnection, spine: pl.DataFrame, *, offer_field: str, n_popular: int
) -> pl.DataFrame:
    """The (person, offer) pairs worth ranking for each spine row.

    Args:
        con: warehouse connection holding `staging.*` and `identity.record_xref`.
        spine: `profile_id, as_of` rows.
        offer_field: the orders column that names an offer, or `CATALOG`: then every offer of
            `scores.offer_catalog` is a candidate for everyone.
        n_popular: how many of the most bought offers (by buyers in the 90 days before as_of)
            every person gets as candidates.

    Returns:
        `profile_id, as_of, offer_id`, one row per distinct pair per as_of, sorted. People are
        as known at each as_of (`feature_store.identity_as_of`), like the spine's.
    """
    name = f"_offer_spine_{uuid.uuid4().hex}"
    con.register(name, spine.select("profile_id", "as_of").to_arrow())
    if offer_field == CATALOG:
        # A catalog is a short, curated list: every offer is worth ranking for everyone, including
        # offers nobody took yet and offers that are not products.
        try:
            return con.sql(
                f"""
                SELECT DISTINCT s.profile_id, CAST(s.as_of AS TIMESTAMP) AS as_of, c.offer_id
                FROM {name} s CROSS JOIN {OFFER_CATALOG_TABLE} c
                ORDER BY as_of, profile_id, offer_id
                """
            ).pl()
        finally:
            con.unregister(name)
    try:
        with identity_as_of(con, spine["as_of"].unique().to_list()) as at:
            orders = source_sql(con, OFFER_ORDERS, offer_field, at=at)
            views = source_sql(con, OFFER_VIEWS, offer_field, at=at)
            return con.sql(
                f"""
                WITH s AS (SELECT DISTINCT profile_id, CAST(as_of AS TIMESTAMP) AS as_of FROM {name}),
                popularity AS (
                    SELECT f._as_of AS as_of, f.offer_id,
                           row_number() OVER (PARTITION BY f._as_of
                                              ORDER BY count(DISTINCT f.profile_id) DESC, f.offer_id) AS rank
                    FROM ({orders}) f WHERE f.ts >= f._as_of - INTERVAL 90 DAY
                    GROUP BY f._as_of, f.offer_id
                ),
                own AS (
                    SELECT s.profile_id, s.as_of, f.offer_id FROM s
                    JOIN ({orders}) f ON f.profile_id = s.profile_id AND f._as_of = s.as_of
                                     AND f.ts >= s.as_of - INTERVAL 365 DAY
                    UNION
                    SELECT s.profile_id, s.as_of, f.offer_id FROM s
                    JOIN ({views}) f ON f.profile_id = s.profile_id AND f._as_of = s.as_of
                                    AND f.ts >= s.as_of - INTERVAL 90 DAY
                )
                SELECT profile_id, as_of, offer_id FROM own
                UNION
                SELECT s.profile_id, s.as_of, p.offer_id FROM s JOIN popularity p ON p.as_of = s.as_of AND p.rank <= ?
                ORDER BY as_of, profile_id, offer_id
                """,
                params=[int(n_popular)],
            ).pl()
    finally:
        con.unregister(name)
