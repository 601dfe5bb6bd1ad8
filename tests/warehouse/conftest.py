"""Small landing folders written per test: one file per source kind, with known bad rows."""

import json
from pathlib import Path

import pytest

ORDERS_CSV = """CustomerID,InvoiceNo,InvoiceDate,amount,StockCode,category
c1,i1,2025-01-02,10.5,p1,toys
c2,i2,notadate,3,p2,books
,i3,2025-01-03,4,p3,books
c3,i4,04/01/2025,abc,p3,books
c1,i5,2025-02-01T10:00:00Z,7,p4,toys
"""

PEOPLE_CSV = """Id,FirstName,LastName,Email,IsConverted,CreatedDate,LastModifiedDate
00Q1, Ann ,Lee,ANN@x.com,true,2025-01-01T00:00:00.000+0000,2025-01-05T00:00:00.000+0000
00Q2,Bob,Ray,bob@y.com,maybe,2025-01-01T00:00:00.000+0000,2025-01-01T00:00:00.000+0000
00Q1,Ann,Lee,ann@new.com,true,2025-01-01T00:00:00.000+0000,2025-03-01T00:00:00.000+0000
,No,Id,n@o.com,false,2025-01-01,2025-01-01
"""

CASES_CSV = """Id,ContactId,CreatedDate,ClosedDate,Status,Subject
500A,003A,2025-02-01,2025-02-03,Closed,Refund
500B,003B,,2025-02-03,Closed,Broken
"""

EVENTS = [
    {
        "messageId": "m1",
        "type": "identify",
        "userId": "u1",
        "anonymousId": "a1",
        "timestamp": "2025-01-01T00:00:00Z",
        "traits": {"email": "X@y.com", "firstName": "Ann", "address": {"city": "Leeds"}},
    },
    {
        "messageId": "m2",
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": "a1",
        "timestamp": "2025-01-01T00:01:00Z",
        "properties": {"category": "toys"},
        "context": {"traits": {"phone": "555 0101"}},
    },
    "{bad json",
    {
        "messageId": "m2",
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": "a1",
        "timestamp": "2025-01-01T00:01:00Z",
    },
    [1, 2],
    {"messageId": "m3", "type": "page", "anonymousId": "a2", "timestamp": "yesterday"},
]


def write_landing(folder: Path) -> Path:
    """Write one file per kind and a kindred.yaml reading them; return the yaml's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "orders.csv").write_text(ORDERS_CSV)
    (folder / "leads.csv").write_text(PEOPLE_CSV)
    (folder / "cases.csv").write_text(CASES_CSV)
    lines = [e if isinstance(e, str) else json.dumps(e) for e in EVENTS]
    (folder / "events").mkdir(exist_ok=True)
    (folder / "events" / "2025-01.jsonl").write_text("\n".join(lines) + "\n\n")
    config = folder / "kindred.yaml"
    config.write_text("""
sources:
  - name: shop
    kind: orders
    path: orders.csv
    id_namespace: account
    columns: {customer_id: CustomerID, order_id: InvoiceNo, ordered_at: InvoiceDate, product_id: StockCode,
              product_category: category}
  - name: web
    kind: events
    path: events/*.jsonl
    id_namespace: account
  - name: crm_leads
    kind: people
    path: leads.csv
    constants: {crm_object: Lead}
    columns: {record_id: Id, first_name: FirstName, last_name: LastName, email: Email, converted: IsConverted,
              created_at: CreatedDate, updated_at: LastModifiedDate}
  - name: support
    kind: cases
    path: cases.csv
    columns: {case_id: Id, customer_id: ContactId, opened_at: CreatedDate, closed_at: ClosedDate, status: Status,
              subject: Subject}
""")
    return config


@pytest.fixture
def landing(tmp_path) -> Path:
    """A kindred.yaml over small files of every kind, with known bad rows."""
    return write_landing(tmp_path / "landing")


def write_config(folder: Path, body: str) -> Path:
    """Write a kindred.yaml with `body` (YAML text) into folder; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kindred.yaml"
    path.write_text(body)
    return path


def lines_in(path: Path) -> int:
    """Rows of a JSON lines file counted independently of Kindred: its non-blank lines."""
    return sum(1 for line in path.read_bytes().split(b"\n") if line.strip())


def csv_records_in(path: Path) -> int:
    """Rows of a CSV file counted independently of Kindred: non-blank records after the header."""
    import csv
    import io

    text = path.read_bytes().decode("utf-8", errors="replace")
    return sum(
        1 for record in list(csv.reader(io.StringIO(text, newline="")))[1:] if any(f.strip() for f in record)
    )


def staged_and_quarantined(con, kind: str, source: str) -> tuple[int, int]:
    """Rows of one source in staging.<kind> and in quarantine.<source>."""
    staged = con.execute(f"SELECT count(*) FROM staging.{kind} WHERE source = ?", [source]).fetchall()[0][0]
    quarantined = con.execute(f"SELECT count(*) FROM quarantine.{source}").fetchall()[0][0]
    return staged, quarantined


def reasons_of(con, source: str) -> dict[int, str]:
    """Quarantine reasons by row number."""
    return dict(con.sql(f"SELECT _row_number, reason FROM quarantine.{source} ORDER BY 1").fetchall())
