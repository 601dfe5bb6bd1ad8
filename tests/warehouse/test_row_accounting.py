"""Rows in the files = rows staged + rows quarantined, for every kind in every format, with bad rows mixed in."""

import csv
import io
import json

import polars as pl
import pytest

from tests.warehouse.conftest import csv_records_in, lines_in, staged_and_quarantined, write_config
from warehouse.config import load_config
from warehouse.connection import connect
from warehouse.ingest import ingest_sources
from warehouse.quarantine import account_rows
from warehouse.staging import build_staging

# Per kind: the columns mapping, good rows, and bad rows with a fragment of the reason each must get.
CASES = {
    "people": {
        "columns": "{record_id: Id, first_name: FirstName, converted: IsConverted, updated_at: Modified}",
        "good": [
            {"Id": "p1", "FirstName": "Ann", "IsConverted": "true", "Modified": "2025-01-05"},
            {"Id": "p2", "FirstName": "Bob", "IsConverted": "no", "Modified": "2025-01-06T10:00:00Z"},
            {"Id": "p3", "FirstName": "Cy", "IsConverted": "", "Modified": "2025-01-07"},
        ],
        "bad": [
            (
                {"Id": "", "FirstName": "NoId", "IsConverted": "true", "Modified": "2025-01-05"},
                "missing record_id",
            ),
            (
                {"Id": "p4", "FirstName": "Di", "IsConverted": "maybe", "Modified": "2025-01-05"},
                "unparseable boolean",
            ),
            (
                {"Id": "p5", "FirstName": "Ed", "IsConverted": "1", "Modified": "yesterday"},
                "unparseable timestamp",
            ),
            (
                {"Id": "p1", "FirstName": "Old", "IsConverted": "false", "Modified": "2024-12-01"},
                "superseded",
            ),
        ],
    },
    "events": {
        "columns": "{}",
        "good": [
            {"messageId": "m1", "type": "track", "userId": "u1", "timestamp": "2025-01-01T00:00:00Z"},
            {
                "messageId": "m2",
                "type": "page",
                "anonymousId": "a1",
                "timestamp": "2025-01-02T10:00:00.123+0100",
            },
            {"messageId": "m3", "type": "identify", "userId": "u2", "timestamp": "2025-01-03"},
        ],
        "bad": [
            (
                {"messageId": "", "type": "track", "userId": "u1", "timestamp": "2025-01-01"},
                "missing message_id",
            ),
            (
                {"messageId": "m4", "type": "clicky", "userId": "u1", "timestamp": "2025-01-01"},
                "not a Segment call type",
            ),
            (
                {"messageId": "m5", "type": "track", "timestamp": "2025-01-01"},
                "missing user_id and anonymous_id",
            ),
            (
                {"messageId": "m6", "type": "track", "userId": "u1", "timestamp": "31/12/2025"},
                "unparseable timestamp",
            ),
            (
                {"messageId": "m1", "type": "track", "userId": "u1", "timestamp": "2025-01-01T00:00:00Z"},
                "duplicate message_id",
            ),
        ],
    },
    "orders": {
        "columns": "{customer_id: CustomerID, ordered_at: InvoiceDate, amount: Amount, quantity: Qty}",
        "good": [
            {"CustomerID": "c1", "InvoiceDate": "2025-01-02 10:22:11", "Amount": "10.5", "Qty": "1"},
            {"CustomerID": "c1", "InvoiceDate": "2025-01-02 10:22:11", "Amount": "10.5", "Qty": "1"},
            {"CustomerID": "c2", "InvoiceDate": "2025-02-01T10:00:00-05:00", "Amount": "-3", "Qty": ""},
        ],
        "bad": [
            (
                {"CustomerID": "", "InvoiceDate": "2025-01-02", "Amount": "1", "Qty": "1"},
                "missing customer_id",
            ),
            (
                {"CustomerID": "c3", "InvoiceDate": "2025-01-02", "Amount": "12,50", "Qty": "1"},
                "unparseable double in amount",
            ),
            (
                {"CustomerID": "c3", "InvoiceDate": "2025-01-02", "Amount": "NaN", "Qty": "1"},
                "unparseable double in amount",
            ),
            (
                {"CustomerID": "c3", "InvoiceDate": "2025-01-02", "Amount": "1e400", "Qty": "1"},
                "unparseable double in amount",
            ),
            (
                {"CustomerID": "c3", "InvoiceDate": "99999-01-01", "Amount": "1", "Qty": "1"},
                "unparseable timestamp",
            ),
            (
                {"CustomerID": "c3", "InvoiceDate": "2025-01-02", "Amount": "1", "Qty": "two"},
                "unparseable double in quantity",
            ),
        ],
    },
    "cases": {
        "columns": "{case_id: Id, customer_id: ContactId, opened_at: Created, closed_at: Closed}",
        "good": [
            {"Id": "k1", "ContactId": "c1", "Created": "2025-02-01", "Closed": "2025-02-03"},
            {"Id": "k2", "ContactId": "c2", "Created": "2025-02-05", "Closed": ""},
        ],
        "bad": [
            ({"Id": "k3", "ContactId": "c1", "Created": "", "Closed": ""}, "missing opened_at"),
            ({"Id": "k4", "ContactId": "", "Created": "2025-02-01", "Closed": ""}, "missing customer_id"),
            (
                {"Id": "k5", "ContactId": "c1", "Created": "2025-02-01", "Closed": "soon"},
                "unparseable timestamp in closed_at",
            ),
            ({"Id": "k1", "ContactId": "c1", "Created": "2025-01-01", "Closed": ""}, "superseded"),
        ],
    },
}

# Rows that cannot even be read, per format: (raw line bytes, reason fragment).
UNREADABLE = {
    "csv": [(b"x,y,z,w,extra,more\n", "fields, the header has"), (b"only\n", "fields, the header has")],
    "jsonl": [
        (b"{broken json\n", "malformed JSON line"),
        (b"[1, 2]\n", "JSON line is not an object"),
        (b'{"messageId": "bad\xff\xfe"}\n', "invalid UTF-8"),
    ],
    "parquet": [],
}


def write_source(folder, kind, fmt):
    """Write one file of a kind in a format (good rows, bad rows, unreadable rows); return it and its bad reasons."""
    case = CASES[kind]
    rows = [r for r in case["good"]] + [r for r, _ in case["bad"]]
    # The rows every format reads the same way come first: the repeated id's first copy is a good row.
    columns = list(dict.fromkeys(k for r in rows for k in r))
    path = folder / f"{kind}.{fmt}"
    reasons = [reason for _, reason in case["bad"]]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows([{c: r.get(c, "") for c in columns} for r in rows])
        data = buffer.getvalue().encode()
        data += b"".join(line for line, _ in UNREADABLE["csv"])
        data += b"\n" + ",".join(["bad\xff"] * len(columns)).encode("latin-1") + b"\n"
        reasons += [reason for _, reason in UNREADABLE["csv"]] + ["invalid UTF-8"]
        path.write_bytes(data)
    elif fmt == "jsonl":
        lines = [json.dumps({k: v for k, v in r.items() if v != ""}).encode() + b"\n" for r in rows]
        lines.insert(2, b"\n   \n")  # blank lines are layout, not rows
        path.write_bytes(b"".join(lines) + b"".join(line for line, _ in UNREADABLE["jsonl"]))
        reasons += [reason for _, reason in UNREADABLE["jsonl"]]
    else:
        pl.DataFrame(
            [{c: (r.get(c) or None) for c in columns} for r in rows], schema=dict.fromkeys(columns, pl.String)
        ).write_parquet(path)
    return path, reasons


def rows_in(path, fmt):
    if fmt == "csv":
        return csv_records_in(path)
    if fmt == "jsonl":
        return lines_in(path)
    return pl.read_parquet(path).height


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("kind", ["people", "events", "orders", "cases"])
def test_rows_in_files_equal_rows_staged_plus_quarantined(tmp_path, kind, fmt):
    path, reasons = write_source(tmp_path, kind, fmt)
    config = load_config(
        write_config(
            tmp_path,
            f"sources:\n  - {{name: src, kind: {kind}, path: {path.name}, columns: {CASES[kind]['columns']}}}\n",
        )
    )
    con = connect(":memory:")
    raw = ingest_sources(con, config)
    build_staging(con, config)

    in_file = rows_in(path, fmt)
    staged, quarantined = staged_and_quarantined(con, kind, "src")
    assert raw["src"] == in_file
    assert staged + quarantined == in_file
    assert staged == len(CASES[kind]["good"])
    found = [r[0] for r in con.sql("SELECT reason FROM quarantine.src").fetchall()]
    assert len(found) == len(reasons)
    for reason in reasons:
        assert any(reason in f for f in found), (reason, found)
    assert all(entry["balanced"] for entry in account_rows(con, config, kind))
    # Every quarantined row keeps its original content, line number and file.
    assert con.sql(
        "SELECT count(*) FROM quarantine.src WHERE raw_content IS NULL OR _row_number IS NULL"
    ).fetchall() == [(0,)]
