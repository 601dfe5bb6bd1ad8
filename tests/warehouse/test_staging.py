"""Ingestion and staging on small files: lineage, typing, quarantine reasons, row accounting."""

import json

import pytest

from warehouse.canonical import KINDS
from warehouse.config import load_config
from warehouse.connection import connect
from warehouse.ingest import ingest_sources
from warehouse.quarantine import account_rows
from warehouse.staging import build_staging, staging_columns


@pytest.fixture
def staged(landing):
    config = load_config(landing)
    con = connect(":memory:")
    raw = ingest_sources(con, config)
    result = build_staging(con, config)
    return con, config, raw, result


def reasons(con, source):
    return dict(con.sql(f"SELECT _row_number, reason FROM quarantine.{source} ORDER BY 1").fetchall())


def test_raw_keeps_every_row_with_lineage(staged):
    con, _, raw, _ = staged
    assert raw == {"shop": 5, "web": 6, "crm_leads": 4, "support": 2}
    rows = con.sql("SELECT source, _file, _row_number FROM raw.shop ORDER BY _row_number").fetchall()
    assert [r[2] for r in rows] == [1, 2, 3, 4, 5]
    assert all(r[0] == "shop" and r[1].endswith("orders.csv") for r in rows)


def test_every_row_is_staged_or_quarantined(staged):
    con, config, _, _ = staged
    for kind in KINDS:
        for entry in account_rows(con, config, kind):
            assert entry["balanced"], entry
            assert entry["raw"] > 0


def test_orders_are_typed_and_bad_rows_say_why(staged):
    con, *_ = staged
    good = con.sql(
        "SELECT order_id, record_id, id_namespace, ordered_at::VARCHAR, amount FROM staging.orders ORDER BY 1"
    ).fetchall()
    assert good == [
        ("i1", "c1", "account", "2025-01-02 00:00:00", 10.5),
        ("i5", "c1", "account", "2025-02-01 10:00:00", 7.0),
    ]
    assert reasons(con, "shop") == {
        2: "unparseable timestamp in ordered_at (column InvoiceDate): notadate",
        3: "missing customer_id (column CustomerID)",
        4: "unparseable timestamp in ordered_at (column InvoiceDate): 04/01/2025; "
        "unparseable double in amount (column amount): abc",
    }
    raw_content = json.loads(
        con.sql("SELECT raw_content FROM quarantine.shop WHERE _row_number = 3").fetchall()[0][0]
    )
    assert raw_content["InvoiceNo"] == "i3"


def test_events_take_segment_names_and_traits(staged):
    con, *_ = staged
    rows = con.sql(
        "SELECT message_id, type, record_id, email, first_name, city, phone FROM staging.events ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("m1", "identify", "u1", "X@y.com", "Ann", "Leeds", None),
        ("m2", "track", "a1", None, None, None, "555 0101"),
    ]
    assert reasons(con, "web") == {
        3: "malformed JSON line",
        4: "duplicate message_id (first loaded from "
        + str(con.sql("SELECT any_value(_file) FROM raw.web").fetchall()[0][0])
        + " row 2)",
        5: "JSON line is not an object",
        6: "unparseable timestamp in timestamp (column timestamp): yesterday",
    }


def test_people_keep_latest_version_and_reject_bad_booleans(staged):
    con, *_ = staged
    rows = con.sql(
        "SELECT record_id, first_name, email, converted, crm_object FROM staging.people"
    ).fetchall()
    assert rows == [("00Q1", "Ann", "ann@new.com", True, "Lead")]
    found = reasons(con, "crm_leads")
    assert found[1] == "superseded by a later version of record_id 00Q1"
    assert found[2] == "unparseable boolean in converted (column IsConverted): maybe"
    assert found[4] == "missing record_id (column Id)"


def test_cases_require_an_opening_time(staged):
    con, *_ = staged
    assert con.sql("SELECT case_id FROM staging.cases").fetchall() == [("500A",)]
    assert reasons(con, "support") == {2: "missing opened_at (column CreatedDate)"}


def test_staging_tables_have_the_contract_columns_even_when_empty(landing, tmp_path):
    config = load_config(landing)
    con = connect(":memory:")
    ingest_sources(con, config)
    build_staging(con, config)
    for kind in KINDS:
        columns = [r[0] for r in con.sql(f"DESCRIBE staging.{kind}").fetchall()]
        assert columns == staging_columns(kind)


def test_rebuilding_does_not_duplicate(staged):
    con, config, _, first = staged
    ingest_sources(con, config)
    second = build_staging(con, config)
    assert second.staged == first.staged
    assert second.quarantined == first.quarantined
