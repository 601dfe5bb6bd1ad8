"""Every kind of broken landing file: a bad row is quarantined with its reason, a bad file stops the run."""

import gzip
import json
import re

import polars as pl
import pytest

from tests.warehouse.conftest import reasons_of, staged_and_quarantined, write_config
from warehouse import jsonl_reader
from warehouse.config import ConfigError, load_config
from warehouse.connection import connect, table_exists
from warehouse.ingest import ingest_sources
from warehouse.landing import LandingFileError
from warehouse.manifest import manifest_of
from warehouse.quarantine import account_rows
from warehouse.staging import build_staging

ORDERS = "{customer_id: CustomerID, ordered_at: InvoiceDate, amount: Amount}"
EVENT = {"messageId": "m1", "type": "track", "userId": "u1", "timestamp": "2025-01-01T00:00:00Z"}


def run(tmp_path, sources: str, extra: str = ""):
    config = load_config(write_config(tmp_path, f"sources:\n{sources}{extra}"))
    con = connect(":memory:")
    ingest_sources(con, config)
    build_staging(con, config)
    return con, config


def event(message_id: str, **fields) -> bytes:
    return json.dumps({**EVENT, "messageId": message_id, **fields}).encode()


def test_malformed_json_lines_keep_their_line_numbers(tmp_path):
    (tmp_path / "e.jsonl").write_bytes(
        b"\n".join(
            [event("m1"), b"{not json", b"", b'"just a string"', event("m2") + b"\r", b"[]", event("m3")]
        )
    )
    con, _ = run(tmp_path, "  - {name: web, kind: events, path: e.jsonl}\n")
    assert reasons_of(con, "web") == {
        2: "malformed JSON line",
        4: "JSON line is not an object",
        6: "JSON line is not an object",
    }
    rows = con.sql("SELECT message_id, _row_number FROM staging.events ORDER BY 2").fetchall()
    assert rows == [("m1", 1), ("m2", 5), ("m3", 7)]
    assert con.sql("SELECT raw_content FROM quarantine.web WHERE _row_number = 2").fetchall() == [
        ("{not json",)
    ]


def test_unparseable_timestamps_and_numbers_say_which_column_and_value(tmp_path):
    (tmp_path / "o.csv").write_text(
        "CustomerID,InvoiceDate,Amount\n"
        "c1,31/12/2025 10:00,5\n"
        "c2,2025-12-31,12,50\n"
        'c3,2025-12-31,"12,50"\n'
        "c4,2025-13-45,1\n"
        "c5,2025-12-31T10:00:00+02:00,1e3\n"
    )
    con, _ = run(tmp_path, f"  - {{name: shop, kind: orders, path: o.csv, columns: {ORDERS}}}\n")
    assert reasons_of(con, "shop") == {
        1: "unparseable timestamp in ordered_at (column InvoiceDate): 31/12/2025 10:00",
        2: "row has 4 fields, the header has 3",
        3: "unparseable double in amount (column Amount): 12,50",
        4: "unparseable timestamp in ordered_at (column InvoiceDate): 2025-13-45",
    }
    assert con.sql("SELECT ordered_at::VARCHAR, amount FROM staging.orders").fetchall() == [
        ("2025-12-31 08:00:00", 1000.0)
    ]


def test_formats_make_day_first_timestamps_parse(tmp_path):
    (tmp_path / "o.csv").write_text("CustomerID,InvoiceDate,Amount\nc1,31/12/2025 10:00,5\nc2,2025-12-31,5\n")
    con, _ = run(
        tmp_path,
        f"  - {{name: shop, kind: orders, path: o.csv, columns: {ORDERS}, formats: {{ordered_at: '%d/%m/%Y %H:%M'}}}}\n",
    )
    assert con.sql("SELECT ordered_at::VARCHAR FROM staging.orders").fetchall() == [("2025-12-31 10:00:00",)]
    assert reasons_of(con, "shop") == {
        2: "unparseable timestamp in ordered_at (column InvoiceDate): 2025-12-31"
    }


def test_missing_ids(tmp_path):
    (tmp_path / "e.jsonl").write_bytes(
        b"\n".join(
            [
                json.dumps({"type": "track", "userId": "u1", "timestamp": "2025-01-01"}).encode(),
                json.dumps(
                    {"messageId": "m2", "type": "track", "userId": " ", "timestamp": "2025-01-01"}
                ).encode(),
                json.dumps(
                    {"messageId": "m3", "type": "track", "anonymousId": "a3", "timestamp": "2025-01-01"}
                ).encode(),
                json.dumps({"messageId": "m4", "userId": 42, "timestamp": "2025-01-01"}).encode(),
            ]
        )
    )
    (tmp_path / "c.csv").write_text(
        "Id,ContactId,Created\n,c1,2025-01-01\nk2,,2025-01-01\nk3,c3,2025-01-01\n"
    )
    con, _ = run(
        tmp_path,
        "  - {name: web, kind: events, path: e.jsonl}\n"
        "  - {name: support, kind: cases, path: c.csv, columns: {case_id: Id, customer_id: ContactId, opened_at: Created}}\n",
    )
    assert reasons_of(con, "web") == {
        1: "missing message_id (column messageId)",
        2: "missing user_id and anonymous_id (columns userId, anonymousId)",
        4: "missing type (column type)",
    }
    assert con.sql("SELECT record_id FROM staging.events").fetchall() == [("a3",)]
    assert reasons_of(con, "support") == {
        1: "missing case_id (column Id)",
        2: "missing customer_id (column ContactId)",
    }


def test_invalid_utf8_costs_one_row_not_the_file(tmp_path):
    (tmp_path / "e.jsonl").write_bytes(
        event("m1") + b"\n" + event("m2").replace(b"u1", b"u\xff\xfe1") + b"\n" + event("m3")
    )
    (tmp_path / "o.csv").write_bytes(
        b"CustomerID,InvoiceDate,Amount\nc1,2025-01-01,1\nc\xe92,2025-01-01,2\nc3,2025-01-01,3\n"
    )
    con, _ = run(
        tmp_path,
        f"  - {{name: web, kind: events, path: e.jsonl}}\n  - {{name: shop, kind: orders, path: o.csv, columns: {ORDERS}}}\n",
    )
    assert con.sql("SELECT message_id FROM staging.events ORDER BY 1").fetchall() == [("m1",), ("m3",)]
    assert con.sql("SELECT customer_id FROM staging.orders ORDER BY 1").fetchall() == [("c1",), ("c3",)]
    web = con.sql("SELECT _row_number, reason, raw_content FROM quarantine.web").fetchall()
    assert web[0][0] == 2 and web[0][1].startswith("invalid UTF-8") and "u\ufffd\ufffd1" in web[0][2]
    shop = con.sql("SELECT _row_number, reason, raw_content FROM quarantine.shop").fetchall()
    assert shop == [(2, "invalid UTF-8 (undecodable bytes shown as U+FFFD)", "c\ufffd2,2025-01-01,2")]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_empty_files_load_nothing_and_stop_nothing(tmp_path, fmt):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / f"empty.{fmt}").write_bytes(b"")
    (tmp_path / "a" / f"blank.{fmt}").write_bytes(b"\n \n\r\n")
    if fmt == "csv":
        (tmp_path / "a" / "header_only.csv").write_text("CustomerID,InvoiceDate,Amount\n")
    if fmt == "parquet":
        pl.DataFrame(
            schema={"CustomerID": pl.String, "InvoiceDate": pl.String, "Amount": pl.String}
        ).write_parquet(tmp_path / "a" / "no_rows.parquet")
    con, config = run(tmp_path, f"  - {{name: shop, kind: orders, path: 'a/*.{fmt}', columns: {ORDERS}}}\n")
    assert staged_and_quarantined(con, "orders", "shop") == (0, 0)
    entries = manifest_of(con, "shop")
    assert len(entries) == (3 if fmt in ("csv", "parquet") else 2)
    assert all(e["rows"] == 0 and e["status"] == "loaded" for e in entries)
    assert account_rows(con, config, "orders")[0]["balanced"]


def test_a_header_only_file_still_needs_the_required_columns(tmp_path):
    (tmp_path / "o.csv").write_text("CustomerID,Amount\n")
    config = load_config(
        write_config(
            tmp_path, f"sources:\n  - {{name: shop, kind: orders, path: o.csv, columns: {ORDERS}}}\n"
        )
    )
    with pytest.raises(ConfigError, match="has no column 'InvoiceDate' for required field 'ordered_at'"):
        ingest_sources(connect(":memory:"), config)


def test_extra_and_missing_columns(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "1.csv").write_text("CustomerID,InvoiceDate,Amount,Note\nc1,2025-01-01,1,hello\n")
    # The second export lost the optional quantity column and gained a coupon column.
    (tmp_path / "a" / "2.csv").write_text("Coupon,Amount,InvoiceDate,CustomerID\nX1,2,2025-01-02,c2\n")
    con, _ = run(
        tmp_path,
        "  - {name: shop, kind: orders, path: 'a/*.csv', columns: {customer_id: CustomerID, ordered_at: InvoiceDate,"
        " amount: Amount, quantity: Qty, product_category: Note}}\n",
    )
    rows = con.sql(
        "SELECT customer_id, amount, quantity, product_category FROM staging.orders ORDER BY 1"
    ).fetchall()
    assert rows == [("c1", 1.0, None, "hello"), ("c2", 2.0, None, None)]
    raw = con.sql("SELECT Note, Coupon FROM raw.shop ORDER BY _file").fetchall()
    assert raw == [("hello", None), (None, "X1")]


def test_ragged_rows_are_quarantined_not_truncated(tmp_path):
    (tmp_path / "o.csv").write_text(
        "CustomerID,InvoiceDate,Amount\nc1,2025-01-01,1\nc2,2025-01-01,2,surprise\nc3,2025-01-01\nc4,2025-01-01,4\n"
    )
    con, _ = run(tmp_path, f"  - {{name: shop, kind: orders, path: o.csv, columns: {ORDERS}}}\n")
    assert reasons_of(con, "shop") == {
        2: "row has 4 fields, the header has 3",
        3: "row has 2 fields, the header has 3",
    }
    assert con.sql("SELECT raw_content FROM quarantine.shop WHERE _row_number = 2").fetchall() == [
        ("c2,2025-01-01,2,surprise",)
    ]
    assert con.sql("SELECT customer_id FROM staging.orders ORDER BY 1").fetchall() == [("c1",), ("c4",)]


def test_a_missing_required_column_stops_everything_and_says_how_to_fix_it(tmp_path):
    (tmp_path / "good.jsonl").write_bytes(event("m1"))
    (tmp_path / "o.csv").write_text("Customer,InvoiceDate,Amount\nc1,2025-01-01,1\n")
    config = load_config(
        write_config(
            tmp_path,
            f"sources:\n  - {{name: web, kind: events, path: good.jsonl}}\n"
            f"  - {{name: shop, kind: orders, path: o.csv, columns: {ORDERS}}}\n",
        )
    )
    con = connect(":memory:")
    with pytest.raises(ConfigError) as error:
        ingest_sources(con, config)
    message = str(error.value)
    assert "source 'shop'" in message and str(tmp_path / "o.csv") in message
    assert "no column 'CustomerID' for required field 'customer_id'" in message
    assert "fix `columns: {customer_id: CustomerID}` in kindred.yaml" in message
    assert "Columns found: Customer, InvoiceDate, Amount" in message
    assert not table_exists(con, "raw.web") and not table_exists(con, "raw.shop")
    assert manifest_of(con) == []


def test_a_mapping_change_to_a_missing_column_stops_the_next_run(tmp_path):
    (tmp_path / "o.csv").write_text("CustomerID,InvoiceDate,Amount\nc1,2025-01-01,1\n")
    con = connect(":memory:")
    ingest_sources(
        con,
        load_config(
            write_config(
                tmp_path, f"sources:\n  - {{name: shop, kind: orders, path: o.csv, columns: {ORDERS}}}\n"
            )
        ),
    )
    changed = load_config(
        write_config(
            tmp_path,
            "sources:\n  - {name: shop, kind: orders, path: o.csv, columns: {customer_id: Client, ordered_at: InvoiceDate, amount: Amount}}\n",
        )
    )
    with pytest.raises(ConfigError, match=r"o.csv has no column 'Client' for required field 'customer_id'"):
        ingest_sources(con, changed)


@pytest.mark.parametrize(
    ("name", "content", "fmt", "message"),
    [
        ("events.csv", event("m1") + b"\n" + event("m2"), None, "looks like JSON, not CSV"),
        (
            "orders.jsonl",
            b"CustomerID,InvoiceDate,Amount\nc1,2025-01-01,1\n",
            None,
            "does not look like JSON lines",
        ),
        (
            "orders.json",
            b'[\n  {"CustomerID": "c1"}\n]\n',
            None,
            "looks like one JSON document (pretty-printed)",
        ),
        (
            "orders.parquet",
            b"CustomerID,InvoiceDate,Amount\nc1,2025-01-01,1\n",
            None,
            "is not a Parquet file",
        ),
        (
            "orders.csv",
            gzip.compress(b"CustomerID,InvoiceDate,Amount\n", mtime=0),
            None,
            "is gzip-compressed, not CSV",
        ),
        ("orders.csv", b"PAR1\x00\x00binary", None, "is a Parquet file, not CSV"),
        ("orders.txt", b"CustomerID,InvoiceDate,Amount\x00\x01\n", "csv", "contains binary data"),
        ("orders.csv", "CustomerID,InvoiceDate,Amount\n".encode("utf-16"), None, "is UTF-16 text, not CSV"),
    ],
)
def test_content_that_is_not_what_the_extension_says_stops_the_run(tmp_path, name, content, fmt, message):
    (tmp_path / "ok.csv").write_text("CustomerID,InvoiceDate,Amount\nc1,2025-01-01,1\n")
    (tmp_path / name).write_bytes(content)
    fmt_setting = f", format: {fmt}" if fmt else ""
    config = load_config(
        write_config(
            tmp_path,
            f"sources:\n  - {{name: fine, kind: orders, path: ok.csv, columns: {ORDERS}}}\n"
            f"  - {{name: odd, kind: orders, path: {name}, columns: {ORDERS}{fmt_setting}}}\n",
        )
    )
    con = connect(":memory:")
    with pytest.raises(LandingFileError) as error:
        ingest_sources(con, config)
    assert message in str(error.value)
    assert str(error.value).startswith(f"source 'odd': {tmp_path / name}: ")
    assert "set `format:`" in str(error.value)
    assert not table_exists(con, "raw.fine")


def test_huge_values_load_whole_and_oversized_rows_are_quarantined(tmp_path):
    big = "x" * 3_000_000  # longer than DuckDB's default 2 MB line
    (tmp_path / "o.csv").write_text(
        f"CustomerID,InvoiceDate,Amount,Note\nc1,2025-01-01,1,{big}\nc2,2025-01-01,99999999999999999999,n\n"
    )
    (tmp_path / "e.jsonl").write_text(
        json.dumps({**EVENT, "properties": {"blob": big}})
        + "\n"
        + json.dumps({**EVENT, "messageId": "m2"})
        + "\n"
    )
    con, _ = run(
        tmp_path,
        "  - {name: shop, kind: orders, path: o.csv, columns: {customer_id: CustomerID, ordered_at: InvoiceDate, "
        "amount: Amount, product_category: Note}}\n  - {name: web, kind: events, path: e.jsonl}\n",
    )
    assert con.sql("SELECT length(product_category), amount FROM staging.orders ORDER BY 1").fetchall() == [
        (1, 1e20),
        (3_000_000, 1.0),
    ]
    assert con.sql(
        "SELECT length(properties->>'$.blob') FROM staging.events WHERE message_id = 'm1'"
    ).fetchall() == [(3_000_000,)]
    # With a limit below the row size, the rows are quarantined, with a preview, not loaded.
    con2, _ = run(
        tmp_path / "limited",
        f"  - {{name: shop, kind: orders, path: ../o.csv, columns: {ORDERS}}}\n  - {{name: web, kind: events, path: ../e.jsonl}}\n",
        "ingestion: {max_row_bytes: 100000}\n",
    )
    for source in ("shop", "web"):
        rows = con2.sql(f"SELECT reason, length(raw_content) FROM quarantine.{source}").fetchall()
        assert len(rows) == 1
        assert re.match(r"row of 3,000,\d{3} bytes exceeds ingestion.max_row_bytes \(100,000\)", rows[0][0])
        assert rows[0][1] < 1100


def test_lines_longer_than_a_read_block_and_lines_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl_reader, "_BLOCK", 256)
    lines = [event(f"m{i}", properties={"pad": "p" * (i * 37 % 300)}) for i in range(40)]
    lines[7] = event("m7", properties={"pad": "q" * 5000})  # twenty blocks long, under the limit
    lines[9] = event("m9", properties={"pad": "r" * 200_000})  # over the limit
    (tmp_path / "e.jsonl").write_bytes(b"\n".join(lines))  # no newline at the end
    con, _ = run(
        tmp_path, "  - {name: web, kind: events, path: e.jsonl}\n", "ingestion: {max_row_bytes: 100000}\n"
    )
    numbers = [r[0] for r in con.sql("SELECT _row_number FROM raw.web ORDER BY 1").fetchall()]
    assert numbers == list(range(1, 41))
    assert con.sql("SELECT message_id FROM staging.events WHERE _row_number = 8").fetchall() == [("m7",)]
    assert con.sql("SELECT message_id FROM staging.events WHERE _row_number = 40").fetchall() == [("m39",)]
    assert list(reasons_of(con, "web")) == [10]
    assert staged_and_quarantined(con, "events", "web") == (39, 1)


def test_csv_quoting_line_endings_bom_and_odd_headers(tmp_path):
    (tmp_path / "o.csv").write_bytes(
        b"\xef\xbb\xbfCustomerID,InvoiceDate,Amount,source,Amount\r\n"
        b'c1,2025-01-01,1,web,x\r\n"c2","2025-01-02","2","a ""quoted""\r\nmulti-line value",y\r\n'
        b"\r\nc3,2025-01-03,3,shop,z\r\n"
    )
    con, _ = run(
        tmp_path,
        "  - {name: shop, kind: orders, path: o.csv, columns: {customer_id: CustomerID, ordered_at: InvoiceDate,"
        " amount: Amount, product_category: source, product_id: Amount_2}}\n",
    )
    rows = con.sql(
        "SELECT customer_id, amount, product_category, product_id, _row_number, source FROM staging.orders ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("c1", 1.0, "web", "x", 1, "shop"),
        ("c2", 2.0, 'a "quoted"\r\nmulti-line value', "y", 2, "shop"),
        ("c3", 3.0, "shop", "z", 5, "shop"),
    ]
    # The file's own `source` column is kept beside the lineage column, not overwritten by it.
    assert con.sql("SELECT DISTINCT source FROM raw.shop").fetchall() == [("shop",)]
    assert sorted(r[0] for r in con.sql("SELECT _col_source FROM raw.shop").fetchall()) == [
        'a "quoted"\r\nmulti-line value',
        "shop",
        "web",
    ]


def test_an_unterminated_quote_quarantines_each_remaining_line(tmp_path):
    (tmp_path / "o.csv").write_text(
        'CustomerID,InvoiceDate,Amount\nc1,2025-01-01,1\n"c2,2025-01-02,2\nc3,2025-01-03,3\n'
    )
    con, config = run(tmp_path, f"  - {{name: shop, kind: orders, path: o.csv, columns: {ORDERS}}}\n")
    reasons = reasons_of(con, "shop")
    assert list(reasons) == [2, 3]
    assert all("unterminated quote" in r and "line 3" in r for r in reasons.values())
    assert account_rows(con, config, "orders")[0]["balanced"]


def test_a_semicolon_delimiter(tmp_path):
    (tmp_path / "o.csv").write_text("CustomerID;InvoiceDate;Amount\nc1;2025-01-01;1.5\n")
    con, _ = run(
        tmp_path, f"  - {{name: shop, kind: orders, path: o.csv, delimiter: ';', columns: {ORDERS}}}\n"
    )
    assert con.sql("SELECT customer_id, amount FROM staging.orders").fetchall() == [("c1", 1.5)]


def test_broken_ingestion_settings_name_the_setting(tmp_path):
    with pytest.raises(ConfigError, match=r"ingestion.max_row_bytes"):
        load_config(
            write_config(
                tmp_path, "sources:\n  - {name: a, kind: orders, path: x}\ningestion: {max_row_bytes: 10}\n"
            )
        )
    with pytest.raises(ConfigError, match=r"sources\[0\] \('a'\).delimiter"):
        load_config(
            write_config(tmp_path, "sources:\n  - {name: a, kind: orders, path: x, delimiter: ';;'}\n")
        )


def test_blank_lines_before_the_header_and_bracketed_header_names(tmp_path):
    (tmp_path / "o.csv").write_text("\n\n[CustomerID],[InvoiceDate],[Amount]\nc1,2025-01-01,1\n")
    con, _ = run(
        tmp_path,
        "  - {name: shop, kind: orders, path: o.csv, columns: {customer_id: '[CustomerID]', ordered_at: '[InvoiceDate]',"
        " amount: '[Amount]'}}\n",
    )
    assert con.sql("SELECT customer_id, _row_number FROM staging.orders").fetchall() == [("c1", 1)]
