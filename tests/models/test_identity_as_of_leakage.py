"""Training rows at a cut-off are the same whether or not anything after it ever happened.

The shop and CRM of `synthetic.build_shop` get identities: leads browse the web anonymously before
they become leads and log in some weeks later (an identify call carrying the lead's email), and
customers also buy as guests, their email typed into an order only some time after their first
guest order. For one cut-off, the warehouse is rebuilt from what arrived before it, identity is
resolved again with the real resolver, and the training rows of lead score, churn risk and next
best offer must be those the full warehouse gives for that cut-off.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feature_store.definitions import NEXT_BEST_OFFER
from feature_store.identity_as_of import as_of_keys
from feature_store.offer_affinity import offer_candidates
from feature_store.point_in_time import training_set
from identity_resolution.evidence import record_arrivals
from identity_resolution.resolve import resolve_identities
from models import churn_risk, lead_score, next_best_offer
from tests.models.synthetic import build_shop
from warehouse.connection import connect, read_table

CUTOFF = datetime(2023, 7, 1)
_FACT_TIMES = {"orders": "ordered_at", "events": "timestamp", "cases": "opened_at", "people": "created_at"}


def _add_identities(con: duckdb.DuckDBPyConnection) -> None:
    """Emails on leads and customers, anonymous browsing with logins, guest orders."""
    con.execute("UPDATE staging.people SET email = record_id || '@example.com'")
    con.execute("UPDATE staging.orders SET email = record_id || '@example.com'")
    # A lead's own page views carry their email (a form), so they are linked from the first one.
    con.execute("UPDATE staging.events SET email = record_id || '@example.com' WHERE record_id LIKE 'l%'")
    # Every third lead browsed anonymously from 30 days before its creation and logged in 20 to
    # 100 days after it: around the cut-off, some logins come before it and some after.
    con.execute("""
        INSERT INTO staging.events BY NAME
        SELECT 'web' AS source, 'anon-' || record_id AS record_id, 'anon-' || record_id AS anonymous_id,
               'anon-' || record_id || '-' || k AS message_id, 'page' AS type,
               created_at - INTERVAL 30 DAY + to_days(CAST(k * 3 AS INTEGER)) AS "timestamp"
        FROM staging.people, range(6) AS r(k)
        WHERE crm_object = 'Lead' AND CAST(substr(record_id, 2) AS INTEGER) % 3 = 0
        UNION ALL BY NAME
        SELECT 'web' AS source, 'user-' || record_id AS record_id, 'anon-' || record_id AS anonymous_id,
               'user-' || record_id AS user_id, 'login-' || record_id AS message_id, 'identify' AS type,
               created_at + to_days(CAST(20 + CAST(substr(record_id, 2) AS INTEGER) % 80 AS INTEGER))
                   AS "timestamp",
               email
        FROM staging.people
        WHERE crm_object = 'Lead' AND CAST(substr(record_id, 2) AS INTEGER) % 3 = 0
    """)
    # Every fourth customer also bought as a guest: a copy of every other order, under a guest
    # record whose email was typed only from its fourth order on.
    con.execute("""
        INSERT INTO staging.orders BY NAME
        SELECT source, 'guest-' || record_id AS record_id, 'guest-' || order_id AS order_id,
               ordered_at + INTERVAL 1 DAY AS ordered_at, amount, quantity, product_id, product_category,
               CASE WHEN row_number() OVER (PARTITION BY record_id ORDER BY ordered_at) >= 4
                    THEN email END AS email
        FROM staging.orders
        WHERE CAST(substr(record_id, 2) AS INTEGER) % 4 = 0
          AND CAST(split_part(order_id, '-', 2) AS INTEGER) % 2 = 0
    """)


def _before(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> duckdb.DuckDBPyConnection:
    """A new warehouse holding only the staging rows that arrived before `cutoff`, and nothing
    that was only known later (conversions, case closings)."""
    past = connect(":memory:")
    past.execute("CREATE SCHEMA IF NOT EXISTS staging")
    for table, column in _FACT_TIMES.items():
        past.register(
            "rows", con.sql(f"SELECT * FROM staging.{table} WHERE {column} < ?", params=[cutoff]).arrow()
        )
        past.execute(f"CREATE TABLE staging.{table} AS SELECT * FROM rows")
        past.unregister("rows")
    past.execute(
        "UPDATE staging.people SET converted = false, converted_at = NULL, status = 'Open' "
        "WHERE converted_at >= ?",
        [cutoff],
    )
    past.execute("UPDATE staging.cases SET closed_at = NULL WHERE closed_at >= ?", [cutoff])
    return past


def _people_at(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> pl.DataFrame:
    """Each key a training row can carry at the cut-off, named by its smallest record there."""
    arrived = record_arrivals(con).filter(pl.col("arrived_at").is_null() | (pl.col("arrived_at") < cutoff))
    parts = as_of_keys(con, [cutoff]).select("source", "record_id", pl.col("profile_id").alias("part"))
    return (
        read_table(con, "identity.record_xref")
        .join(arrived, on=["source", "record_id"], how="semi")
        .join(parts, on=["source", "record_id"], how="left")
        .group_by(pl.coalesce("part", "profile_id").alias("profile_id"))
        .agg(pl.format("{}:{}", "source", "record_id").min().alias("person"))
    )


def _named(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame, cutoff: datetime) -> pl.DataFrame:
    named = rows.join(_people_at(con, cutoff), on="profile_id", how="left")
    assert named["person"].null_count() == 0
    columns = ["person", *(c for c in rows.columns if c != "profile_id")]
    return named.select(columns).sort(columns, nulls_last=True)


def _training_rows(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> dict[str, pl.DataFrame]:
    lead_spine = lead_score.population(con, [cutoff], 0).drop("label")
    churn_spine = churn_risk.population(con, [cutoff], 0).drop("label")
    offer_spine = next_best_offer.population(con, [cutoff], "product_category")
    offer_pairs = offer_candidates(con, offer_spine, offer_field="product_category", n_popular=3)
    return {
        "lead_score": _named(con, lead_score.SPEC.frame(con, lead_spine, 45), cutoff),
        "churn_risk": _named(con, churn_risk.SPEC.frame(con, churn_spine, 45), cutoff),
        "next_best_offer": _named(con, training_set(con, offer_pairs, NEXT_BEST_OFFER), cutoff),
    }


@pytest.fixture(scope="module")
def worlds() -> tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection]:
    full = connect(":memory:")
    build_shop(full, customers=120, leads=150, seed=11)
    _add_identities(full)
    full.execute("DELETE FROM identity.record_xref")
    resolve_identities(full)
    past = _before(full, CUTOFF)
    resolve_identities(past)
    return full, past


def test_the_full_warehouse_knows_links_made_after_the_cutoff(worlds):
    full, _ = worlds
    xref = read_table(full, "identity.record_xref")
    split = xref.join(as_of_keys(full, [CUTOFF]), on=["source", "record_id"], how="semi")["profile_id"]
    # Profiles that are several people as of the cut-off: with browsing, and with guest orders,
    # from before it.
    for prefix, table, column in (("anon-", "events", "timestamp"), ("guest-", "orders", "ordered_at")):
        before = read_table(full, f"staging.{table}").filter(pl.col(column) < CUTOFF)["record_id"].unique()
        records = xref.filter(
            pl.col("record_id").str.starts_with(prefix) & pl.col("record_id").is_in(before.to_list())
        )
        assert records.filter(pl.col("profile_id").is_in(split.to_list())).height > 3


@pytest.mark.parametrize("model", ["lead_score", "churn_risk", "next_best_offer"])
def test_training_rows_at_a_cutoff_do_not_depend_on_what_came_after(worlds, model):
    full, past = worlds
    with_future = _training_rows(full, CUTOFF)[model]
    past_only = _training_rows(past, CUTOFF)[model]
    assert with_future.height > 20
    assert_frame_equal(with_future, past_only, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


def test_todays_identity_would_have_leaked(worlds):
    """The same rows with every link counted as known, as training did before: they differ."""
    full, past = worlds
    todays = connect(":memory:")
    for table in (*(f"staging.{t}" for t in _FACT_TIMES), "identity.record_xref", "identity.person_records"):
        todays.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
        todays.register("rows", read_table(full, table).to_arrow())
        todays.execute(f"CREATE TABLE {table} AS SELECT * FROM rows")
        todays.unregister("rows")
    todays.register("rows", read_table(full, "identity.links").drop("evidence_at").to_arrow())
    todays.execute("CREATE TABLE identity.links AS SELECT * FROM rows")
    leaked = _training_rows(todays, CUTOFF)
    honest = _training_rows(past, CUTOFF)
    assert not leaked["lead_score"].equals(honest["lead_score"])
    assert not leaked["churn_risk"].equals(honest["churn_risk"])
