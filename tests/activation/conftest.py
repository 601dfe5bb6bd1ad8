"""A tiny warehouse in memory with every table activation reads.

Three people, written the way upstream stages write them: Jane Doe (a Lead with web, shop and
support history, scored by every model), John Smith (a Contact with a UK phone) and Ana Lopez (a
Lead nobody scored), plus a Lead identity resolution has not linked yet and a newsletter record
that is not a CRM record. Case texts and raw staging values carry the people's emails and phones
in awkward formats, so the masking tests have something real to catch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from warehouse.connection import connect, replace_table

NOW = datetime(2024, 6, 30, 12, 0, 0)
LATER = datetime(2024, 7, 1, 12, 0, 0)

PERSON_COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "address_line1",
    "postcode",
    "city",
    "country",
    "company",
    "job_title",
)

JANE_FACTORS = [
    {"feature": "email_opens_90d", "value": 7, "contribution": 0.41},
    {"feature": "days_since_last_order", "value": 12, "contribution": -0.12},
    {"feature": "avg_basket_size_30d", "value": 3.25, "contribution": 0.08},
]
JANE_CHURN_FACTORS = [{"feature": "n_open_cases", "value": 1, "contribution": 0.2}]
JOHN_CHURN_FACTORS = [{"feature": "total_spend_365d", "value": 1234.5, "contribution": -0.3}]

ADVERSARIAL_SUBJECT = (
    "Please call me at 415.555.0101 or (415)5550101, or write to JANE.DOE+support@Example.com"
)
ADVERSARIAL_DESCRIPTION = (
    "Customer Jane Doe says her other numbers are +1 415 555 0199 and 001-415-555-0101x12; "
    "her husband's mail is j.doe-family@mail.example.co.uk, phone +44 (0)20 7946 0958. "
    "Order 4711 arrived damaged on 2024-05-02."
)


# A closed case whose text holds what a regex scrubber let through: a card number with spaces, an
# SSN in the form of a published sample, the person's street address, another person's name.
HOSTILE_DESCRIPTION = (
    "Card 4111 1111 1111 1111 was charged twice; SSN 123-45-6789 on file. Ship to 12 Main Street, "
    "Austin, TX 78701. My neighbour Priya Natarajan can sign for it."
)


def _people_row(source: str, record_id: str, crm_object: str | None, **person: str | None) -> dict:
    row = {"source": source, "record_id": record_id, "id_namespace": source, "crm_object": crm_object}
    row.update({c: person.get(c) for c in PERSON_COLUMNS})
    row.update(
        {
            "created_at": datetime(2023, 1, 10),
            "updated_at": datetime(2024, 6, 1),
            "status": person.get("status"),
            "converted": None,
            "converted_at": None,
            "lead_source": person.get("lead_source"),
            "_file": f"/landing/{source}/people.csv",
            "_row_number": int(person.get("row", 1)),
        }
    )
    return row


def people_frame() -> pl.DataFrame:
    rows = [
        _people_row(
            "crm",
            "L1",
            "Lead",
            first_name="Jane",
            last_name="Doe",
            email="Jane.Doe@Example.com",
            phone="(415) 555-0101",
            row="17",
            address_line1="12 Main St",
            postcode="78701",
            city="Austin",
            country="US",
            company="Acme",
            job_title="CTO",
            status="Working",
            lead_source="Webinar",
        ),
        _people_row(
            "crm",
            "C1",
            "Contact",
            first_name="John",
            last_name="Smith",
            email="john.smith+work@mail.example.org",
            phone="020 7946 0958",
            city="London",
            country="GB",
        ),
        _people_row("crm", "L2", "Lead", first_name="Ana", last_name="Lopez", email="ana@lopez.example"),
        _people_row("crm", "L3", "Lead", first_name="Unlinked", last_name="Person", phone="+1 212 555 0142"),
        _people_row("newsletter", "N1", None, email="jane@doe.example", first_name="Jane"),
    ]
    return pl.DataFrame(rows)


def xref_frame() -> pl.DataFrame:
    rows = [
        ("crm", "L1", "P1"),
        ("crm", "C1", "P2"),
        ("crm", "L2", "P3"),
        ("newsletter", "N1", "P1"),
        ("web", "u1", "P1"),
        ("mobile_app", "u1", "P1"),
        ("email_esp", "u1", "P1"),
        ("shop", "c1", "P1"),
        ("shop", "c2", "P2"),
        ("desk", "c1", "P1"),
    ]
    return pl.DataFrame(
        {
            "source": [r[0] for r in rows],
            "record_id": [r[1] for r in rows],
            "profile_id": [r[2] for r in rows],
            "resolved_at": [NOW] * len(rows),
        }
    )


def unified_profile_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "profile_id": ["P1", "P2", "P3"],
            "first_name": ["Jane", "John", "Ana"],
            "last_name": ["Doe", "Smith", "Lopez"],
            "full_name": ["Jane Doe", "John Smith", "Ana Lopez"],
            "email": ["jane.doe@example.com", "john.smith+work@mail.example.org", "ana@lopez.example"],
            "phone": ["+14155550101", "+442079460958", None],
            "address_line1": ["12 Main St", "1 Kings Road", None],
            "postcode": ["78701", "SW3 4NB", None],
            "city": ["Austin", "London", None],
            "country": ["US", "GB", None],
            "company": ["Acme", "Globex", None],
            "job_title": ["CTO", "Buyer", None],
            "n_records": [7, 2, 1],
            "n_sources": [6, 2, 1],
            "first_seen": [datetime(2022, 11, 5), datetime(2023, 2, 1), datetime(2024, 1, 1)],
            "last_seen": [datetime(2024, 6, 29), datetime(2024, 5, 1), datetime(2024, 1, 1)],
            "updated_at": [NOW] * 3,
        }
    )


def contact_points_frame() -> pl.DataFrame:
    rows = [
        ("P1", "email", "jane.doe@example.com", "crm", "L1", True),
        ("P1", "email", "jane@doe.example", "newsletter", "N1", False),
        ("P1", "phone", "+14155550101", "crm", "L1", True),
        ("P1", "phone", "+14155550199", "desk", "c1", False),
        ("P2", "email", "john.smith+work@mail.example.org", "crm", "C1", True),
        ("P2", "phone", "+442079460958", "crm", "C1", True),
        ("P3", "email", "ana@lopez.example", "crm", "L2", True),
    ]
    return pl.DataFrame(
        {
            "profile_id": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "value": [r[2] for r in rows],
            "source": [r[3] for r in rows],
            "record_id": [r[4] for r in rows],
            "last_seen": [datetime(2024, 6, 1)] * len(rows),
            "is_primary": [r[5] for r in rows],
        }
    )


def predictions_frame() -> pl.DataFrame:
    rows = [
        # An older run: must be ignored in favour of the newest as_of.
        ("P1", "lead_score", "1", date(2024, 5, 31), 0.11, 11, [], datetime(2024, 6, 1)),
        ("P1", "lead_score", "2", date(2024, 6, 30), 0.83, 83, JANE_FACTORS, NOW),
        ("P1", "churn_risk", "5", date(2024, 6, 30), 0.2, 20, JANE_CHURN_FACTORS, NOW),
        ("P2", "lead_score", "2", date(2024, 6, 30), 0.5, 50, JANE_FACTORS, NOW),
        ("P2", "churn_risk", "5", date(2024, 6, 30), 0.7, 70, JOHN_CHURN_FACTORS, NOW),
    ]
    return pl.DataFrame(
        {
            "profile_id": [r[0] for r in rows],
            "model": [r[1] for r in rows],
            "model_version": [r[2] for r in rows],
            "as_of": [r[3] for r in rows],
            "score": [r[4] for r in rows],
            "score_1_99": [r[5] for r in rows],
            "top_factors": [json.dumps(r[6]) for r in rows],
            "scored_at": [r[7] for r in rows],
        },
        schema_overrides={"score_1_99": pl.Int32},
    )


def offers_frame() -> pl.DataFrame:
    rows = [
        ("P1", 2, "Books", 0.3),
        ("P1", 1, "Outdoor", 0.4),
        ("P1", 3, "Garden", 0.2),
        ("P1", 4, "Toys", 0.1),
        ("P2", 1, "Garden", 0.6),
    ]
    return pl.DataFrame(
        {
            "profile_id": [r[0] for r in rows],
            "rank": [r[1] for r in rows],
            "offer_id": [r[2] for r in rows],
            "score": [r[3] for r in rows],
            "model_version": ["7"] * len(rows),
            "as_of": [date(2024, 6, 30)] * len(rows),
        },
        schema_overrides={"rank": pl.Int32},
    )


def _staging_person(n: int, **values: str | None) -> dict[str, list]:
    return {c: [values.get(c)] * n for c in PERSON_COLUMNS}


def events_frame() -> pl.DataFrame:
    rows = [
        ("web", "m1", "page", None, {"path": "/pricing", "name": "Pricing"}, datetime(2024, 6, 20, 9, 0)),
        ("mobile_app", "m2", "screen", None, {"name": "Home"}, datetime(2024, 6, 21, 9, 0)),
        ("email_esp", "m3", "track", "Email Opened", {"campaign": "June"}, datetime(2024, 6, 22, 9, 0)),
        ("web", "m4", "track", "Product Viewed", {"sku": "A1"}, datetime(2024, 6, 23, 9, 0)),
        ("web", "m5", "identify", None, {}, datetime(2024, 6, 24, 9, 0)),
        # After NOW: a document "as of" NOW must not see it.
        ("web", "m6", "track", "Checkout Started", {}, datetime(2024, 7, 5, 9, 0)),
        ("web", "m7", "track", "Signed up as jane.doe@example.com", {}, datetime(2024, 1, 2, 9, 0)),
    ]
    n = len(rows)
    frame = {
        "source": [r[0] for r in rows],
        "message_id": [r[1] for r in rows],
        "type": [r[2] for r in rows],
        "event": [r[3] for r in rows],
        "user_id": ["u1"] * n,
        "anonymous_id": [None] * n,
        "record_id": ["u1"] * n,
        "id_namespace": ["web"] * n,
        "timestamp": [r[5] for r in rows],
        "properties": [json.dumps(r[4]) for r in rows],
        "traits": [None] * n,
        **_staging_person(n),
        "_file": [f"/landing/{r[0]}/2024-06.jsonl" for r in rows],
        "_row_number": list(range(1, n + 1)),
    }
    # The identify call carries the person's traits, with a raw phone format.
    frame["email"][4] = "JANE.DOE@EXAMPLE.COM"
    frame["phone"][4] = "415-555-0101"
    frame["last_name"][4] = "Doe"
    return pl.DataFrame(frame)


def orders_frame() -> pl.DataFrame:
    rows = [
        ("shop", "O1", "c1", datetime(2023, 3, 4, 10, 0), 20.0, 1.0, "Outdoor"),
        ("shop", "O1", "c1", datetime(2023, 3, 4, 10, 0), 15.5, 2.0, "Books"),
        ("shop", "O2", "c1", datetime(2024, 6, 18, 15, 30), 99.99, 1.0, "Outdoor"),
        ("shop", "O3", "c2", datetime(2024, 4, 1, 8, 0), 1234.5, 3.0, "Garden"),
    ]
    n = len(rows)
    return pl.DataFrame(
        {
            "source": [r[0] for r in rows],
            "order_id": [r[1] for r in rows],
            "customer_id": [r[2] for r in rows],
            "record_id": [r[2] for r in rows],
            "id_namespace": ["shop"] * n,
            "ordered_at": [r[3] for r in rows],
            "amount": [r[4] for r in rows],
            "quantity": [r[5] for r in rows],
            "product_id": ["SKU"] * n,
            "product_category": [r[6] for r in rows],
            **_staging_person(n, email="jdoe.shopper@example.net", phone="4155550101"),
            "_file": ["/landing/shop/orders.csv"] * n,
            "_row_number": [2, 3, 4, 5],
        }
    )


def cases_frame() -> pl.DataFrame:
    rows = [
        ("K1", datetime(2024, 6, 25, 10, 0), None, "Open", ADVERSARIAL_SUBJECT, ADVERSARIAL_DESCRIPTION),
        ("K2", datetime(2024, 2, 1, 10, 0), datetime(2024, 2, 3, 10, 0), "Closed", "Invoice copy", None),
        (
            "K3",
            datetime(2023, 12, 1, 10, 0),
            datetime(2023, 12, 4, 10, 0),
            "Closed",
            "Double charge",
            HOSTILE_DESCRIPTION,
        ),
    ]
    n = len(rows)
    return pl.DataFrame(
        {
            "source": ["desk"] * n,
            "case_id": [r[0] for r in rows],
            "customer_id": ["c1"] * n,
            "record_id": ["c1"] * n,
            "id_namespace": ["desk"] * n,
            "opened_at": [r[1] for r in rows],
            "closed_at": [r[2] for r in rows],
            "status": [r[3] for r in rows],
            "subject": [r[4] for r in rows],
            "description": [r[5] for r in rows],
            **_staging_person(n, email="jane.d@work.example", phone="+1.415.555.0199", last_name="Doe"),
            "_file": ["/landing/desk/cases.csv"] * n,
            "_row_number": [8, 9, 10],
        },
        schema_overrides={"closed_at": pl.Datetime("us")},
    )


TABLES = {
    "staging.people": people_frame,
    "identity.record_xref": xref_frame,
    "profiles.unified_profile": unified_profile_frame,
    "profiles.contact_points": contact_points_frame,
    "scores.predictions": predictions_frame,
    "scores.offers": offers_frame,
    "staging.events": events_frame,
    "staging.orders": orders_frame,
    "staging.cases": cases_frame,
}


def make_warehouse(skip: tuple[str, ...] = (), path: str | Path = ":memory:") -> duckdb.DuckDBPyConnection:
    """A warehouse (in memory unless `path` is given) with every input table except those in `skip`."""
    con = connect(path)
    for name, build in TABLES.items():
        if name not in skip:
            frame = build()
            # All-NULL columns would get no type; staging declares them VARCHAR.
            frame = frame.with_columns(
                pl.col(c).cast(pl.String) for c, t in frame.schema.items() if t == pl.Null
            )
            replace_table(con, name, frame)
    return con


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = make_warehouse()
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def warehouse_file(tmp_path_factory) -> Path:
    """The same warehouse as a file with crm.grounding built as of NOW, for commands and generation.

    Module-scoped: building grounding is the slow part; tests open it read-only.
    """
    from activation.grounding import build_grounding

    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    with make_warehouse(path=path) as con:
        build_grounding(con, as_of=NOW, generated_at=NOW)
    return path
