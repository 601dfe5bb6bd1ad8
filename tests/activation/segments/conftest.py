"""A tiny warehouse with every table segments read, written the way upstream stages write them.

Five people, chosen so each operator has something to find and something to miss:

| id | who | country | email | notes |
|---|---|---|---|---|
| p1 | Jane | United States | jane@example.com | web visitor, seen 5 days before the as-of, churn 0.8 |
| p2 | John | Canada | john@shop.co.uk | seen 100 days before, churn 0.3, opted out of email marketing |
| p3 | Ana | (none) | (none) | a lead: lead score only, no features, never seen |
| p4 | a name full of SQL | US | bobby@example.com | churn 0.55, spent 0 |
| p5 | Zoë | Canada | zoe@Example.COM | opted out of everything |

Features, predictions and offers each have an older run with other values, so a test fails if
anything but the newest `as_of` is read. The as-of of the latest run is `AS_OF`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from activation.segments import build_profile_fields
from warehouse.config import KindredConfig, load_config
from warehouse.connection import connect

AS_OF = datetime(2026, 6, 1)
OLD = AS_OF - timedelta(days=30)
HOSTILE_NAME = "Robert'); DROP TABLE profiles.unified_profile; --"

PROFILES = [
    # profile_id, first_name, email, country, last_seen, sources
    (
        "p1",
        "Jane",
        "jane@example.com",
        "United States",
        AS_OF - timedelta(days=5),
        ["web_events", "crm_contacts"],
    ),
    ("p2", "John", "john@shop.co.uk", "Canada", AS_OF - timedelta(days=100), ["shop_orders"]),
    ("p3", "Ana", None, None, None, ["crm_leads"]),
    ("p4", HOSTILE_NAME, "bobby@example.com", "US", AS_OF - timedelta(days=40), ["web_events"]),
    ("p5", "Zoë", "zoe@Example.COM", "Canada", AS_OF - timedelta(days=1), ["web_events"]),
]
# profile_id, revenue_365d, orders_365d, unsubscribed, title_seniority (newest as_of)
FEATURES = [
    ("p1", 900.0, 4, False, "director"),
    ("p2", 120.5, 1, True, None),
    ("p4", 0.0, 0, False, "vp"),
    ("p5", 501.0, 2, None, "individual"),
]
# profile_id, model, score, score_1_99 (newest as_of)
PREDICTIONS = [
    ("p1", "churn_risk", 0.8, 80),
    ("p2", "churn_risk", 0.3, 30),
    ("p4", "churn_risk", 0.55, 55),
    ("p5", "churn_risk", 0.5, 50),
    ("p3", "lead_score", 0.07, 7),
]
# profile_id, rank, offer_id (newest as_of)
OFFERS = [("p1", 1, "Outdoor Gear"), ("p1", 2, "Books"), ("p2", 1, "Books"), ("p5", 1, "Electronics")]
CONSENT = [
    ("p2", "email", "marketing", "opted_out", "crm_contacts", "C2", datetime(2026, 1, 1)),
    ("p5", "any", "any", "opted_out", "crm_contacts", "C5", datetime(2026, 2, 1)),
]


def build_warehouse(con: duckdb.DuckDBPyConnection, *, consent: bool = True) -> None:
    """Write the tiny warehouse's tables into `con`, and `segments.profile_fields` as a run builds it."""
    con.execute("""
        CREATE TABLE profiles.unified_profile (
            profile_id VARCHAR, first_name VARCHAR, email VARCHAR, country VARCHAR,
            last_seen TIMESTAMP, sources VARCHAR[], n_sources BIGINT)
    """)
    con.executemany(
        "INSERT INTO profiles.unified_profile VALUES (?, ?, ?, ?, ?, ?, len(?))",
        [(*row, row[-1]) for row in PROFILES],
    )
    con.execute("""
        CREATE TABLE features.profile_features (
            profile_id VARCHAR, as_of TIMESTAMP, revenue_365d DOUBLE, orders_365d BIGINT,
            unsubscribed BOOLEAN, title_seniority VARCHAR)
    """)
    con.executemany(
        "INSERT INTO features.profile_features VALUES (?, ?, ?, ?, ?, ?)",
        [(p, AS_OF, *rest) for p, *rest in FEATURES],
    )
    # The older run: everyone a big spender; a segment reading it would find p2 and p4 too.
    con.executemany(
        "INSERT INTO features.profile_features VALUES (?, ?, ?, ?, ?, ?)",
        [(p, OLD, 5000.0, 9, False, "c_level") for p, *_ in FEATURES],
    )
    con.execute("""
        CREATE TABLE scores.predictions (
            profile_id VARCHAR, model VARCHAR, model_version VARCHAR, as_of TIMESTAMP, score DOUBLE,
            score_1_99 INTEGER, top_factors JSON, scored_at TIMESTAMP)
    """)
    rows = [(p, m, "2", AS_OF, s, s99, "[]", AS_OF) for p, m, s, s99 in PREDICTIONS]
    rows += [(p, m, "1", OLD, 0.99, 99, "[]", OLD) for p, m, _, _ in PREDICTIONS]
    con.executemany("INSERT INTO scores.predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("""
        CREATE TABLE scores.offers (
            profile_id VARCHAR, rank INTEGER, offer_id VARCHAR, score DOUBLE, model_version VARCHAR,
            as_of TIMESTAMP)
    """)
    rows = [(p, r, o, 1.0 / r, "2", AS_OF) for p, r, o in OFFERS]
    rows += [(p, 1, "Old Offer", 1.0, "1", OLD) for p, _, _ in OFFERS]
    con.executemany("INSERT INTO scores.offers VALUES (?, ?, ?, ?, ?, ?)", rows)
    if consent:
        con.execute("""
            CREATE TABLE profiles.consent (
                profile_id VARCHAR, channel VARCHAR, purpose VARCHAR, status VARCHAR, source VARCHAR,
                record_id VARCHAR, recorded_at TIMESTAMP)
        """)
        con.executemany("INSERT INTO profiles.consent VALUES (?, ?, ?, ?, ?, ?, ?)", CONSENT)
    build_profile_fields(con)


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """The tiny warehouse in memory, shared by a module's tests: they only read it."""
    con = connect(":memory:")
    build_warehouse(con)
    yield con
    con.close()


def write_config(folder: Path, segments_yaml: str) -> Path:
    """A kindred.yaml with one (unused) source and the given `segments:` block."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kindred.yaml"
    path.write_text("sources:\n  - {name: shop, kind: orders, path: orders.csv}\n" + segments_yaml)
    return path


def segments_config(tmp_path: Path, segments_yaml: str) -> KindredConfig:
    """Load a config holding these segments."""
    return load_config(write_config(tmp_path, segments_yaml))
