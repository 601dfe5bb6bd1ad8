"""Tiny staging tables that look like a real company's: a CRM, a website, a shop and a help desk.

The people behind the records are known (`person` in each row below, dropped before the row is
staged), so tests can assert who should end up together. The frames are written with the exact
column set and types of `warehouse.staging`, so the library sees what the pipeline gives it.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from warehouse.canonical import canonical_fields
from warehouse.connection import connect
from warehouse.staging import staging_columns

_POLARS_TYPES = {
    "string": pl.Utf8,
    "timestamp": pl.Datetime("us"),
    "double": pl.Float64,
    "boolean": pl.Boolean,
    "json": pl.Utf8,
}
_SQL_TYPES = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "json": "JSON",
}


def ts(text: str) -> dt.datetime:
    """A staging timestamp from `YYYY-MM-DD` or `YYYY-MM-DD HH:MM`."""
    return dt.datetime.fromisoformat(text)


def write_staging(con, kind: str, rows: list[dict]) -> None:
    """Create `staging.<kind>` with the pipeline's columns and types and insert `rows`."""
    fields = canonical_fields(kind)
    columns = staging_columns(kind)

    def type_of(column: str) -> str:
        if column == "_row_number":
            return "integer"
        if column == "_ingested_at":
            return "timestamp"
        return fields.get(column, "string")

    schema = {c: (pl.Int64 if type_of(c) == "integer" else _POLARS_TYPES[type_of(c)]) for c in columns}
    filled = []
    for number, row in enumerate(rows, start=1):
        record = {c: None for c in columns}
        record.update({k: v for k, v in row.items() if k != "person"})
        if kind != "people" and record.get("record_id") is None:
            key = (
                record.get("user_id") or record.get("anonymous_id")
                if kind == "events"
                else record.get("customer_id")
            )
            record["record_id"] = key
        record.setdefault("id_namespace", None)
        record["id_namespace"] = record["id_namespace"] or record["source"]
        record["_file"] = record["_file"] or f"{record['source']}.csv"
        record["_row_number"] = record["_row_number"] or number
        record["_ingested_at"] = record["_ingested_at"] or ts("2025-06-01")
        filled.append(record)
    frame = pl.DataFrame(filled, schema=schema, orient="row")
    typed = ", ".join(
        f"{c} {'BIGINT' if type_of(c) == 'integer' else _SQL_TYPES[type_of(c)]}" for c in columns
    )
    con.execute(f"CREATE OR REPLACE TABLE staging.{kind} ({typed})")
    con.register("_rows", frame.to_arrow())
    con.execute(f"INSERT INTO staging.{kind} SELECT {', '.join(columns)} FROM _rows")
    con.unregister("_rows")


# person A: Robert Smith, CRM lead + contact, web user with an anonymous visit, shop customer.
# person B: Jane Doe, CRM contact and help-desk customer; the shop has her old phone format.
# persons C..G: leads at Acme Corp, all giving the company switchboard (212) 555-0000.
# person H: Priya Patel, shop customer known only by loyalty number in the store.
PEOPLE = [
    dict(
        person="A",
        source="crm",
        record_id="L1",
        crm_object="Lead",
        first_name="Robert",
        last_name="Smith",
        email="Bob.Smith@Example.com",
        phone="(212) 555-0101",
        city="New York",
        created_at=ts("2024-01-05"),
        updated_at=ts("2024-01-05"),
    ),
    dict(
        person="A",
        source="crm",
        record_id="C1",
        crm_object="Contact",
        first_name="Bob",
        last_name="Smith",
        email="bob.smith@example.com ",
        phone="+1 212 555 0101",
        city="New York",
        job_title="Buyer",
        created_at=ts("2024-02-01"),
        updated_at=ts("2024-05-01"),
    ),
    dict(
        person="B",
        source="crm",
        record_id="C2",
        crm_object="Contact",
        first_name="Jane",
        last_name="Doe",
        email="jane.doe@example.org",
        phone="415.555.0199",
        date_of_birth="1985-04-12",
        created_at=ts("2024-01-10"),
        updated_at=ts("2024-03-01"),
    ),
    *[
        dict(
            person=p,
            source="crm",
            record_id=f"L{i}",
            crm_object="Lead",
            first_name=first,
            last_name=last,
            email=f"{first.lower()}.{last.lower()}@acme.com",
            phone="(212) 555-0000",
            company="Acme Corp",
            created_at=ts("2024-03-01"),
            updated_at=ts("2024-03-01"),
        )
        for i, (p, first, last) in enumerate(
            [
                ("C", "Alice", "Ng"),
                ("D", "Omar", "Haddad"),
                ("E", "Li", "Wei"),
                ("F", "Maria", "Lopez"),
                ("G", "Tom", "Baker"),
            ],
            start=2,
        )
    ],
]
EVENTS = [
    dict(
        person="A",
        source="web",
        message_id="m1",
        type="page",
        anonymous_id="anon-1",
        timestamp=ts("2024-04-01 10:00"),
    ),
    dict(
        person="A",
        source="web",
        message_id="m2",
        type="identify",
        anonymous_id="anon-1",
        user_id="u-1",
        email="bob.smith@example.com",
        first_name="Bob",
        timestamp=ts("2024-04-01 10:05"),
    ),
    dict(
        person="A",
        source="web",
        message_id="m3",
        type="track",
        event="Order Completed",
        user_id="u-1",
        timestamp=ts("2024-04-02 09:00"),
    ),
    dict(
        person="X",
        source="web",
        message_id="m4",
        type="page",
        anonymous_id="anon-2",
        timestamp=ts("2024-04-03 09:00"),
    ),
]
ORDERS = [
    # The shop shares the website's account ids (id_namespace web), so u-1 is the same person.
    dict(
        person="A",
        source="shop",
        id_namespace="web",
        order_id="o1",
        customer_id="u-1",
        ordered_at=ts("2024-04-02 09:00"),
        amount=30.0,
        phone="2125550101",
    ),
    dict(
        person="H",
        source="store",
        order_id="o2",
        customer_id="s-77",
        ordered_at=ts("2024-05-01"),
        amount=12.0,
        first_name="Priya",
        last_name="Patel",
        loyalty_id="loy 0042",
    ),
    dict(
        person="H",
        source="store",
        order_id="o3",
        customer_id="s-78",
        ordered_at=ts("2024-05-09"),
        amount=8.0,
        loyalty_id="LOY0042",
    ),
]
CASES = [
    dict(
        person="B",
        source="helpdesk",
        case_id="k1",
        customer_id="hd-9",
        opened_at=ts("2024-06-01"),
        email="JANE.DOE@example.org",
        first_name="Jane",
        last_name="Doe",
    ),
]


def truth_of(rows: list[dict]) -> dict[tuple[str, str], str]:
    """(source, record_id) -> person for the rows above."""
    truth = {}
    for row in rows:
        key = row.get("record_id") or row.get("user_id") or row.get("anonymous_id") or row.get("customer_id")
        truth[(row["source"], key)] = row["person"]
    return truth


@pytest.fixture
def warehouse():
    """An in-memory warehouse with the four staging tables of the small company above."""
    con = connect(":memory:")
    write_staging(con, "people", PEOPLE)
    write_staging(con, "events", EVENTS)
    write_staging(con, "orders", ORDERS)
    write_staging(con, "cases", CASES)
    yield con
    con.close()
