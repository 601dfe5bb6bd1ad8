"""A small warehouse holding one person in every layer, for the erasure tests.

Zephyrine Quillfeather (a name no other row carries) is a CRM contact, a web account with an
anonymous visit before logging in, a shop customer, and has a support case; one of her web events
is a broken JSON line and one order has a date that cannot be read (both quarantined with their
content); a raw column that is not mapped (MobilePhone) holds a second phone. Bob Ray is the
control: nothing of his may go. Identity is resolved by the real stage; the later layers
(features, scores, CRM tables and change feed, segments, an audit-like table, overrides keyed by
record pairs, exports) are written the way those stages write them, so the generic rules are
what finds her there. The serving tables are published (serving.publish) and the audit log has a
grounding read of her record and one of Bob's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from identity_resolution.resolve import resolve_identities
from privacy.audit import AuditLog
from privacy.callers import Caller
from serving.publish import publish, serving_tables
from warehouse.config import load_config
from warehouse.connection import open_warehouse
from warehouse.ingest import ingest_sources
from warehouse.raw_store import replace_view
from warehouse.staging import build_staging

EMAIL = "zephyrine.q@example.org"
PHONE_WRITTEN = "(415) 555-0134"
PHONE_E164 = "+14155550134"
MOBILE = "+1 415 555 0199"
NAME = "Quillfeather"
CONTACT = "003A"
# What must be nowhere once she is erased: as the sources wrote it, and normalised.
NEEDLES = [EMAIL, NAME, PHONE_WRITTEN, PHONE_E164, "4155550134", MOBILE, "4155550199"]
BOB_EMAIL = "bob@y.com"
READER = Caller("crm-copilot", "reader", "api")

CONTACTS_CSV = f"""Id,FirstName,LastName,Email,Phone,MobilePhone,LastModifiedDate
{CONTACT},Zephyrine,{NAME},Zephyrine.Q@Example.org,{PHONE_WRITTEN},{MOBILE},2025-03-01T00:00:00Z
003B,Bob,Ray,{BOB_EMAIL},212-555-0100,,2025-03-01T00:00:00Z
"""
ORDERS_CSV = """account_id,order_id,created_at,line_amount,product_category
acc_77,o1,2025-01-02,10.5,toys
acc_77,o2,2025-02-02,20,books
acc_77,o3,not a date,5,books
acc_88,o4,2025-01-05,7,toys
"""
CASES_CSV = f"""Id,ContactId,CreatedDate,Subject,Description
500A,{CONTACT},2025-02-01,Refund,please call me at {PHONE_WRITTEN}
500B,003B,2025-02-03,Broken,it broke
"""
EVENTS = [
    {"messageId": "m0", "type": "page", "anonymousId": "anon-1", "timestamp": "2025-01-01T09:00:00Z"},
    {
        "messageId": "m1",
        "type": "identify",
        "userId": "acc_77",
        "anonymousId": "anon-1",
        "timestamp": "2025-01-01T10:00:00Z",
        "traits": {"email": EMAIL, "firstName": "Zephyrine", "lastName": NAME, "phone": "415.555.0134"},
    },
    {"messageId": "m2", "type": "track", "event": "Product Viewed", "userId": "acc_77", "timestamp": "2025-01-02T10:00:00Z"},
    {"messageId": "m3", "type": "identify", "userId": "acc_88", "timestamp": "2025-01-01T10:00:00Z",
     "traits": {"email": BOB_EMAIL, "firstName": "Bob", "lastName": "Ray"}},
    {"messageId": "m4", "type": "track", "event": "Product Viewed", "userId": "acc_88", "timestamp": "2025-01-03T10:00:00Z"},
]  # fmt: skip
BROKEN_LINE = '{"messageId": "m9", "userId": "acc_77", "traits": {"email": "' + EMAIL + '"'
CONFIG = """
sources:
  - name: crm_contacts
    kind: people
    path: contacts.csv
    id_namespace: crm
    constants: {crm_object: Contact}
    columns: {record_id: Id, first_name: FirstName, last_name: LastName, email: Email, phone: Phone,
              updated_at: LastModifiedDate}
  - name: web_events
    kind: events
    path: events/*.jsonl
    id_namespace: web_account
    columns: {email: traits.email, first_name: traits.firstName, last_name: traits.lastName, phone: traits.phone}
  - name: shop_orders
    kind: orders
    path: orders.csv
    id_namespace: web_account
    columns: {customer_id: account_id, order_id: order_id, ordered_at: created_at, amount: line_amount,
              product_category: product_category}
  - name: support_cases
    kind: cases
    path: cases.csv
    id_namespace: crm
    columns: {case_id: Id, customer_id: ContactId, opened_at: CreatedDate, subject: Subject, description: Description}
"""


def write_landing(folder: Path) -> Path:
    """The landing files and kindred.yaml; returns the yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "contacts.csv").write_text(CONTACTS_CSV)
    (folder / "orders.csv").write_text(ORDERS_CSV)
    (folder / "cases.csv").write_text(CASES_CSV)
    (folder / "events").mkdir(exist_ok=True)
    lines = [json.dumps(e) for e in EVENTS] + [BROKEN_LINE]
    (folder / "events" / "2025-01.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "kindred.yaml").write_text(CONFIG)
    return folder / "kindred.yaml"


def build_home(landing: Path, home: Path) -> None:
    """Ingest, stage and resolve the landing files into `home`, then write the later layers."""
    config = load_config(write_landing(landing))
    home.mkdir(parents=True, exist_ok=True)
    with open_warehouse(home / "warehouse.duckdb") as con:
        ingest_sources(con, config)
        build_staging(con, config)
        resolve_identities(con)
        _later_layers(con)
        exports = home / "exports" / "crm" / "20250301T000000"
        exports.mkdir(parents=True)
        con.execute(f"COPY crm.record_scores TO '{exports / 'record_scores.parquet'}' (FORMAT parquet)")
        con.execute(f"COPY crm.grounding TO '{exports / 'grounding.parquet'}' (FORMAT parquet)")
        con.execute(
            f"COPY segments.membership TO '{home / 'exports' / 'segment.csv'}' (FORMAT csv, HEADER true)"
        )
        publish(con, home, tables=serving_tables(con, config))
        audit = AuditLog(home)
        for record in (CONTACT, "003B"):
            audit.record_access(
                READER,
                resource="grounding",
                crm_object="Contact",
                crm_record_id=record,
                profile_id=profile_of(con, "crm_contacts", record),
                fields=["profile", "scores"],
            )
        audit.close()


def _later_layers(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        CREATE TABLE features.profile_features AS
          SELECT profile_id, TIMESTAMP '2025-03-01' AS as_of, 1 AS orders_90d FROM profiles.unified_profile;
        CREATE TABLE scores.predictions AS
          SELECT profile_id, 'churn_risk' AS model, 0.5 AS score,
                 '[{"feature": "orders_90d", "value": 1}]'::JSON AS top_factors FROM profiles.unified_profile;
        CREATE TABLE scores.offers AS
          SELECT profile_id, 1 AS rank, 'toys' AS offer_id FROM profiles.unified_profile;
        CREATE TABLE crm.record_scores AS
          SELECT p.source, p.crm_object, p.record_id AS crm_record_id, x.profile_id, 0.5 AS churn_risk,
                 TIMESTAMP '2025-03-01' AS updated_at
          FROM staging.people p JOIN identity.record_xref x USING (source, record_id);
        CREATE TABLE crm.record_scores_changes AS
          SELECT *, c AS change, TIMESTAMP '2025-03-01' AS changed_at FROM crm.record_scores, (VALUES ('insert'), ('update')) v(c);
        CREATE TABLE crm.grounding AS
          SELECT crm_object, crm_record_id, profile_id,
                 json_object('profile', json_object('name', 'Z. Q.', 'emails', ['<EMAIL_1>'])) AS context,
                 true AS masked, source FROM crm.record_scores;
        CREATE TABLE segments.membership AS
          SELECT 'everyone' AS segment, profile_id, TIMESTAMP '2025-03-01' AS entered_at FROM profiles.unified_profile;
        CREATE TABLE segments.membership_history AS
          SELECT segment, profile_id, 'entered' AS change, entered_at AS at FROM segments.membership;
        CREATE TABLE identity.overrides AS
          SELECT 'crm_contacts' AS source_a, '003A' AS record_id_a, 'shop_orders' AS source_b,
                 'acc_77' AS record_id_b, 'do_not_link' AS kind
          UNION ALL SELECT 'crm_contacts', '003B', 'shop_orders', 'acc_88', 'force_link';
        CREATE TABLE audit.access_log AS
          SELECT 'api:reader' AS who, TIMESTAMP '2025-03-02' AS at, 'grounding of crm_contacts:003A' AS what
          UNION ALL SELECT 'api:reader', TIMESTAMP '2025-03-02', 'grounding of crm_contacts:003B';
    """)  # fmt: skip


def copy_home(template: Path, home: Path) -> None:
    """A copy of a built home whose raw views read its own raw store."""
    shutil.copytree(template, home)
    with open_warehouse(home / "warehouse.duckdb") as con:
        for (source,) in con.execute("SELECT DISTINCT source FROM raw._manifest").fetchall():
            replace_view(con, source)


def profile_of(con: duckdb.DuckDBPyConnection, source: str, record_id: str) -> str:
    """The profile a record resolved to."""
    return con.execute(
        "SELECT profile_id FROM identity.record_xref WHERE source = ? AND record_id = ?", [source, record_id]
    ).fetchall()[0][0]
