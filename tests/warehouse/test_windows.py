"""Daily windows of events and orders: re-staging days gives what a full rebuild gives, and never loses a row."""

import json
from datetime import date

from tests.warehouse.conftest import write_config
from warehouse.config import load_config
from warehouse.connection import connect
from warehouse.ingest import ingest_source, ingest_sources
from warehouse.quarantine import account_rows
from warehouse.staging import build_staging, days_touched, event_days, stage_window

ORDERS = "CustomerID,InvoiceDate,Amount\n"


def events(*rows: tuple[str, str]) -> str:
    return "".join(
        json.dumps({"messageId": m, "type": "track", "userId": "u", "timestamp": t}) + "\n" for m, t in rows
    )


def setup(tmp_path, formats: str = ""):
    (tmp_path / "ev").mkdir(exist_ok=True)
    (tmp_path / "ev" / "a.jsonl").write_text(
        events(
            ("m1", "2025-01-01T10:00:00Z"),
            ("m2", "2025-01-02T23:59:59Z"),
            ("m3", "2025-01-03"),
            ("m4", "never"),
        )
    )
    (tmp_path / "o.csv").write_text(ORDERS + "c1,02/01/2025,5\nc2,2025-01-03,x\nc3,2025-01-03,7\n")
    body = (
        "sources:\n  - {name: web, kind: events, path: 'ev/*.jsonl'}\n"
        "  - {name: shop, kind: orders, path: o.csv, columns: {customer_id: CustomerID, ordered_at: InvoiceDate,"
        f" amount: Amount}}{formats}}}\n"
    )
    return load_config(write_config(tmp_path, body))


def snapshot(con):
    """Everything staging and quarantine hold, comparable between runs."""
    staged = {
        kind: sorted(con.sql(f"SELECT * EXCLUDE (_ingested_at) FROM staging.{kind}").fetchall(), key=str)
        for kind in ("events", "orders")
    }
    quarantined = {
        s: sorted(con.sql(f"SELECT _file, _row_number, reason FROM quarantine.{s}").fetchall())
        for s in ("web", "shop")
    }
    return staged, quarantined


def test_windows_covering_all_days_give_the_full_rebuild(tmp_path):
    config = setup(tmp_path)
    con = connect(":memory:")
    ingest_sources(con, config)
    build_staging(con, config)
    full = snapshot(con)
    # Day by day, starting from a warehouse staged before any file existed.
    other = connect(":memory:")
    ingest_sources(other, config)
    result = stage_window(other, config, date(2025, 1, 1), date(2025, 1, 2))
    # New file versions are staged whatever their day, so one window already balances the ledger.
    assert all(e["balanced"] for kind in ("events", "orders") for e in account_rows(other, config, kind))
    assert result.staged == {"events": 1, "orders": 0}
    for day in range(2, 5):
        stage_window(other, config, date(2025, 1, day), date(2025, 1, day + 1))
    assert snapshot(other) == full


def test_a_new_file_is_staged_by_the_next_window_and_replaced_rows_leave(tmp_path):
    config = setup(tmp_path)
    con = connect(":memory:")
    ingest_sources(con, config)
    build_staging(con, config)
    (tmp_path / "ev" / "b.jsonl").write_text(events(("m5", "2025-02-01"), ("m1", "2025-01-01T10:00:00Z")))
    (tmp_path / "ev" / "a.jsonl").write_text(events(("m1", "2025-01-01T10:00:00Z"), ("m6", "2025-01-02")))
    load = ingest_source(con, config, config.sources[0])
    touched = days_touched(con, "events", config.sources[0], load.loaded, load.replaced)
    # m2 and m3 left a.jsonl (their days 2 and 3), m6 arrived (day 2), b.jsonl brought days 1 and 32.
    assert touched == [date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 3), date(2025, 2, 1)]
    stage_window(con, config, date(2025, 1, 2), date(2025, 1, 3), ["events"])
    staged = con.sql("SELECT message_id FROM staging.events ORDER BY 1").fetchall()
    assert staged == [("m1",), ("m5",), ("m6",)]
    assert all(e["balanced"] for e in account_rows(con, config, "events"))
    reasons = dict(
        con.sql(
            "SELECT _row_number || '@' || split_part(_file, '/', -1), reason FROM quarantine.web"
        ).fetchall()
    )
    assert reasons == {
        "2@b.jsonl": f"duplicate message_id (first loaded from {tmp_path / 'ev' / 'a.jsonl'} row 1)",
    }
    rebuilt = connect(":memory:")
    ingest_sources(rebuilt, config)
    build_staging(rebuilt, config)
    assert snapshot(con)[0]["events"] == snapshot(rebuilt)[0]["events"]


def test_changed_settings_re_stage_the_source_whole(tmp_path):
    config = setup(tmp_path)
    con = connect(":memory:")
    ingest_sources(con, config)
    build_staging(con, config)
    assert con.sql("SELECT count(*) FROM quarantine.shop").fetchall() == [(2,)]
    fixed = setup(tmp_path, ", formats: {ordered_at: '%d/%m/%Y'}")
    # The window is elsewhere, but the new date format changes rows of other days: all are re-staged.
    stage_window(con, fixed, date(2025, 3, 1), date(2025, 3, 2), ["orders"])
    assert con.sql("SELECT customer_id, ordered_at::DATE::VARCHAR FROM staging.orders").fetchall() == [
        ("c1", "2025-01-02")
    ]
    assert all(e["balanced"] for e in account_rows(con, fixed, "orders"))


def test_event_days_reads_the_days_of_files(tmp_path):
    config = setup(tmp_path)
    con = connect(":memory:")
    ingest_sources(con, config)
    assert event_days(con, "events", config.sources[0]) == [
        date(2025, 1, 1),
        date(2025, 1, 2),
        date(2025, 1, 3),
    ]
    assert event_days(con, "events", config.sources[0], []) == []
