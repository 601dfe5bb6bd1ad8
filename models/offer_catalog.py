"""The offer catalog at scoring time: the `scores.offer_catalog` table, and who may be given which offer.

Next best offer with a catalog ranks the catalog's offers (products, categories, and offers that
are not products) with one model; before ranking, each (person, offer) pair passes the offer's
eligibility as of the run's as_of:

- the offer is `active`, and as_of's day lies in its window (`starts` through `ends`, both included);
- the person did not buy or take it in the `not_bought_within_days` before as_of (nor ever, with
  `once_per_person`), going by the same facts the model learns from;
- the person may receive marketing on at least one of the offer's channels (`profiles.consent`).

A pair failing any rule is dropped, so a person's top k are their best eligible offers.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

import duckdb
import polars as pl

from feature_store.fact_sources import OFFER_ORDERS
from feature_store.sources import CATALOG, OFFER_CATALOG_TABLE, source_sql
from models.consent_filter import reachable_for_offers
from warehouse.connection import replace_table
from warehouse.consent_config import ConsentConfig
from warehouse.offer_config import OfferConfig, event_key

log = logging.getLogger(__name__)

# The columns and types of `scores.offer_catalog` (docs/data-model.md).
_SCHEMA = {
    "offer_id": pl.String,
    "name": pl.String,
    "description": pl.String,
    "kind": pl.String,
    "product_ids": pl.List(pl.String),
    "categories": pl.List(pl.String),
    "taken_event": pl.String,
    "channels": pl.List(pl.String),
    "starts": pl.Date,
    "ends": pl.Date,
    "active": pl.Boolean,
    "not_bought_within_days": pl.Int32,
    "once_per_person": pl.Boolean,
}
# Why a pair was not offered, in the order the rules are checked.
INACTIVE = "inactive"
NOT_STARTED = "not started"
ENDED = "ended"
TAKEN_BEFORE = "already bought or taken"
BOUGHT_RECENTLY = "bought recently"
NO_CHANNEL = "no consented channel"


def catalog_frame(catalog: Sequence[OfferConfig], default_channels: Sequence[str]) -> pl.DataFrame:
    """The catalog as the rows of `scores.offer_catalog`.

    Args:
        catalog: the configured offers.
        default_channels: the model's `channels`, for offers that name none.

    Returns:
        One row per offer, in catalog order.
    """
    rows = [
        {
            "offer_id": offer.id,
            "name": offer.name,
            "description": offer.description,
            "kind": "product" if offer.is_product else "other",
            "product_ids": list(offer.covers.product_ids) if offer.covers else [],
            "categories": list(offer.covers.categories) if offer.covers else [],
            "taken_event": event_key(offer.taken.event) if offer.taken else None,
            "channels": offer.channels_or(list(default_channels)),
            "starts": offer.starts,
            "ends": offer.ends,
            "active": offer.active,
            "not_bought_within_days": offer.eligibility.not_bought_within_days,
            "once_per_person": offer.eligibility.once_per_person,
        }
        for offer in catalog
    ]
    return pl.DataFrame(rows, schema=_SCHEMA)


def write_catalog(
    con: duckdb.DuckDBPyConnection, catalog: Sequence[OfferConfig], default_channels: Sequence[str]
) -> int:
    """Replace `scores.offer_catalog` with the configured catalog, atomically (empty: no catalog).

    Args:
        con: warehouse connection.
        catalog: the configured offers.
        default_channels: the model's `channels`, for offers that name none.

    Returns:
        Offers written.
    """
    frame = catalog_frame(catalog, default_channels)
    con.execute("CREATE SCHEMA IF NOT EXISTS scores")
    return replace_table(con, OFFER_CATALOG_TABLE, frame)


def offer_rules(con: duckdb.DuckDBPyConnection, pairs: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """Each (person, offer) pair with the first catalog rule it breaks as of `as_of`.

    Args:
        con: warehouse connection holding `scores.offer_catalog` and the staging tables.
        pairs: `profile_id, offer_id` rows (catalog ids; other columns are kept).
        as_of: the run's cut-off: purchases strictly before it count, and its day must lie in the
            offer's window.

    Returns:
        `pairs` with `excluded`: None for an eligible pair, else why not (`INACTIVE`, `NOT_STARTED`,
        `ENDED`, `TAKEN_BEFORE`, `BOUGHT_RECENTLY`). A pair whose offer is not in the catalog is
        `INACTIVE`.
    """
    view = f"_offer_pairs_{uuid.uuid4().hex}"
    con.register(view, pairs.with_row_index("_pair_row").to_arrow())
    facts = source_sql(con, OFFER_ORDERS, CATALOG)
    try:
        rules = con.sql(
            f"""
            WITH params AS (SELECT CAST(? AS TIMESTAMP) AS as_of),
            history AS (
                SELECT f.profile_id, f.offer_id, max(f.ts) AS last_ts
                FROM ({facts}) f CROSS JOIN params
                WHERE f.ts < params.as_of
                  AND f.profile_id IN (SELECT profile_id FROM {view})
                GROUP BY f.profile_id, f.offer_id
            )
            SELECT p._pair_row,
                CASE
                    WHEN c.offer_id IS NULL OR NOT coalesce(c.active, true) THEN '{INACTIVE}'
                    WHEN c.starts > CAST(params.as_of AS DATE) THEN '{NOT_STARTED}'
                    WHEN c.ends < CAST(params.as_of AS DATE) THEN '{ENDED}'
                    WHEN c.once_per_person AND h.last_ts IS NOT NULL THEN '{TAKEN_BEFORE}'
                    WHEN h.last_ts >= params.as_of - to_days(c.not_bought_within_days) THEN '{BOUGHT_RECENTLY}'
                END AS excluded
            FROM {view} p CROSS JOIN params
            LEFT JOIN {OFFER_CATALOG_TABLE} c ON c.offer_id = p.offer_id
            LEFT JOIN history h ON h.profile_id = p.profile_id AND h.offer_id = p.offer_id
            ORDER BY p._pair_row
            """,
            params=[as_of],
        ).pl()
    finally:
        con.unregister(view)
    return pairs.with_columns(excluded=rules["excluded"])


def eligible_offers(
    con: duckdb.DuckDBPyConnection,
    pairs: pl.DataFrame,
    *,
    as_of: datetime,
    consent: ConsentConfig | None,
) -> tuple[pl.DataFrame, dict[str, int], int]:
    """The (person, offer) pairs that may be offered as of `as_of`: catalog rules, then consent per channel.

    Args:
        con: warehouse connection holding `scores.offer_catalog`, the staging tables and `profiles.consent`.
        pairs: `profile_id, offer_id` rows (other columns are kept).
        as_of: the run's cut-off.
        consent: the `consent:` settings (None: the defaults).

    Returns:
        (the eligible pairs in their order, pairs left out per reason, people left with no offer
        because no offer's channel is consented).
    """
    checked = offer_rules(con, pairs, as_of)
    left_out = dict(checked.group_by("excluded").len().drop_nulls().iter_rows())
    kept = checked.filter(pl.col("excluded").is_null()).drop("excluded")
    by_channels: dict[tuple[str, ...], list[str]] = {}
    for offer_id, channels in con.sql(f"SELECT offer_id, channels FROM {OFFER_CATALOG_TABLE}").fetchall():
        by_channels.setdefault(tuple(channels), []).append(offer_id)
    ordered = kept.with_row_index("_order")
    reachable = []
    for channels, offers in by_channels.items():
        subset = ordered.filter(pl.col("offer_id").is_in(offers))
        if subset.height:
            reachable.append(reachable_for_offers(con, subset, channels=channels, consent=consent)[0])
    eligible = (pl.concat(reachable) if reachable else ordered.clear()).sort("_order").drop("_order")
    if kept.height > eligible.height:
        left_out[NO_CHANNEL] = kept.height - eligible.height
    unreachable = kept["profile_id"].n_unique() - eligible["profile_id"].n_unique()
    if left_out:
        log.info(
            "next_best_offer: pairs left out as of %s: %s",
            as_of.date(),
            ", ".join(f"{reason} {n:,}" for reason, n in sorted(left_out.items())),
        )
    return eligible, left_out, unreachable
