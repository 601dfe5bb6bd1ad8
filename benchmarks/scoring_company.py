"""A large synthetic company written straight into the staging tables, for scoring benchmarks.

Every profile has a CRM lead record (most still open), purchase days over 18 months with one to
three order lines each, web and email events, and sometimes a support case; one record per
source, linked one to one in `identity.record_xref`. One person in a hundred objected to
profiling and one in twenty opted out of email marketing (`profiles.consent`). Generated with numpy and polars in seconds
per million profiles; the pipeline's own demo generator is far richer and far slower.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import polars as pl

START = datetime(2024, 1, 1)
END = datetime(2025, 7, 1)
CATEGORIES = (
    "Apparel",
    "Footwear",
    "Outdoor Gear",
    "Camping",
    "Cycling",
    "Fitness",
    "Electronics",
    "Kitchen",
)
SOURCES = ("lead", "web", "referral", "event")


def _days(days: np.ndarray) -> np.ndarray:
    return (np.asarray(days) * 86_400e6).astype("timedelta64[us]")


def _times(rng: np.random.Generator, start: np.ndarray, span_days: np.ndarray) -> np.ndarray:
    return start + _days(rng.random(len(start)) * span_days)


def build_company(con: duckdb.DuckDBPyConnection, profiles: int, *, seed: int = 1) -> dict[str, int]:
    """Write `staging.people/orders/events/cases`, `identity.record_xref` and `profiles.consent`
    for `profiles` people.

    Args:
        con: a warehouse connection (its staging and identity tables are replaced).
        profiles: how many people.
        seed: the random seed.

    Returns:
        Rows written per table.
    """
    rng = np.random.default_rng(seed)
    ids = np.char.add("p", np.arange(profiles).astype(str))
    span = (END - START).days
    start = np.datetime64(START, "us")
    # People: one lead each; a rate of buying and of engaging; some leave for good.
    rate = rng.gamma(2.0, 1 / 120, profiles)  # purchase days per day
    engagement = rng.normal(size=profiles)
    first_seen = rng.uniform(0, span * 0.8, profiles)
    leaves = np.where(rng.random(profiles) < 0.4, first_seen + rng.exponential(200, profiles), span * 2)
    favourite = rng.integers(0, len(CATEGORIES), profiles)
    source = rng.integers(0, len(SOURCES), profiles)
    created = start + _days(first_seen)
    converts = rng.random(profiles) < 1 / (1 + np.exp(-(-2.5 + 0.8 * engagement + 0.7 * (source == 2))))
    converted_at = created + _days(rng.uniform(10, 120, profiles))
    converted_at = np.where(
        converts & (converted_at < np.datetime64(END, "us")), converted_at, np.datetime64("NaT")
    )
    people = pl.DataFrame(
        {
            "source": "crm",
            "record_id": ids,
            "crm_object": "Lead",
            "created_at": created,
            "converted": ~np.isnat(converted_at),
            "converted_at": converted_at,
            "lead_source": np.array(SOURCES)[source],
            "job_title": np.array(["CEO", "Engineer", "Marketing Manager", "VP Sales", "Analyst"])[
                rng.integers(0, 5, profiles)
            ],
        }
    )
    # Purchase days: Poisson over each person's active span; one to three lines per day.
    active = np.clip(np.minimum(leaves, span) - first_seen, 1, None)
    days = rng.poisson(rate * active)
    owner = np.repeat(np.arange(profiles), days)
    day_time = _times(rng, start + _days(first_seen[owner]), active[owner])
    lines = 1 + rng.binomial(2, 0.3, len(owner))
    line_owner = np.repeat(owner, lines)
    line_time = np.repeat(day_time, lines)
    category = np.where(
        rng.random(len(line_owner)) < 0.7,
        favourite[line_owner],
        rng.integers(0, len(CATEGORIES), len(line_owner)),
    )
    orders = pl.DataFrame(
        {
            "source": "shop",
            "record_id": ids[line_owner],
            "customer_id": ids[line_owner],
            "order_id": np.char.add("o", np.repeat(np.arange(len(owner)), lines).astype(str)),
            "ordered_at": line_time,
            "amount": np.round(rng.lognormal(3.5, 0.6, len(line_owner)), 2),
            "quantity": 1.0 + rng.binomial(2, 0.1, len(line_owner)),
            "product_category": np.array(CATEGORIES)[category],
            "product_id": np.char.add(
                np.array([c[:3].upper() for c in CATEGORIES])[category],
                rng.integers(100, 110, len(line_owner)).astype(str),
            ),
        }
    )
    # Events: page views and product views while active, email deliveries and opens throughout.
    visits = rng.poisson(np.exp(0.5 * engagement) * active / 90)
    visit_owner = np.repeat(np.arange(profiles), visits)
    visit_time = _times(rng, start + _days(first_seen[visit_owner]), active[visit_owner])
    viewed = rng.random(len(visit_owner)) < 0.5
    mails = rng.poisson(span / 90, profiles)
    mail_owner = np.repeat(np.arange(profiles), mails)
    mail_time = _times(rng, np.full(len(mail_owner), start), np.full(len(mail_owner), float(span)))
    opened = rng.random(len(mail_owner)) < 1 / (1 + np.exp(-engagement[mail_owner]))
    category_json = np.char.add(
        np.char.add('{"category": "', np.array(CATEGORIES)[favourite[visit_owner]]), '"}'
    )
    events = pl.concat(
        [
            pl.DataFrame(
                {
                    "record_id": ids[visit_owner],
                    "timestamp": visit_time,
                    "type": np.where(viewed, "track", "page"),
                    "event": pl.Series(np.where(viewed, "Product Viewed", "")).replace("", None),
                    "properties": pl.Series(np.where(viewed, category_json, "")).replace("", None),
                }
            ),
            pl.DataFrame(
                {
                    "record_id": ids[mail_owner],
                    "timestamp": mail_time,
                    "type": "track",
                    "event": "Email Delivered",
                    "properties": None,
                },
                schema_overrides={"properties": pl.String, "event": pl.String},
            ),
            pl.DataFrame(
                {
                    "record_id": ids[mail_owner[opened]],
                    "timestamp": mail_time[opened] + np.timedelta64(3_600_000_000, "us"),
                    "type": "track",
                    "event": "Email Opened",
                    "properties": None,
                },
                schema_overrides={"properties": pl.String, "event": pl.String},
            ),
        ],
        how="vertical_relaxed",
    ).with_columns(source=pl.lit("web"), message_id=pl.int_range(pl.len()).cast(pl.String))
    with_case = np.flatnonzero(rng.random(profiles) < 0.08)
    opened_at = start + _days(first_seen[with_case] + rng.uniform(0, 200, len(with_case)))
    cases = pl.DataFrame(
        {
            "source": "support",
            "record_id": ids[with_case],
            "customer_id": ids[with_case],
            "case_id": np.char.add("c", np.arange(len(with_case)).astype(str)),
            "opened_at": opened_at,
            "closed_at": opened_at + _days(rng.exponential(5, len(with_case))),
        }
    ).filter(pl.col("opened_at") < END)
    frames = {
        "people": people,
        "orders": orders.filter(pl.col("ordered_at") < END),
        "events": events.filter(pl.col("timestamp") < END),
        "cases": cases,
    }
    counts = {}
    for schema in ("staging", "identity"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for table, frame in frames.items():
        con.register("_company_rows", frame.to_arrow())
        con.execute(f"CREATE OR REPLACE TABLE staging.{table} AS SELECT * FROM _company_rows")
        con.unregister("_company_rows")
        counts[table] = frame.height
    con.execute(
        """CREATE OR REPLACE TABLE identity.record_xref AS
        SELECT DISTINCT source, record_id, record_id AS profile_id FROM (
            SELECT source, record_id FROM staging.people UNION ALL SELECT source, record_id FROM staging.orders
            UNION ALL SELECT source, record_id FROM staging.events UNION ALL SELECT source, record_id FROM staging.cases)"""
    )
    counts["record_xref"] = con.sql("SELECT count(*) FROM identity.record_xref").fetchall()[0][0]
    choice = rng.random(profiles)
    objects, no_email = choice < 0.01, (choice >= 0.01) & (choice < 0.06)
    consent = pl.DataFrame(
        {
            "profile_id": np.concatenate([ids[objects], ids[no_email]]),
            "channel": ["any"] * int(objects.sum()) + ["email"] * int(no_email.sum()),
            "purpose": ["profiling"] * int(objects.sum()) + ["marketing"] * int(no_email.sum()),
            "status": "opted_out",
            "source": "crm",
            "record_id": np.concatenate([ids[objects], ids[no_email]]),
            "recorded_at": START,
        }
    )
    con.execute("CREATE SCHEMA IF NOT EXISTS profiles")
    con.register("_company_rows", consent.to_arrow())
    con.execute("CREATE OR REPLACE TABLE profiles.consent AS SELECT * FROM _company_rows")
    con.unregister("_company_rows")
    counts["consent"] = consent.height
    return counts
