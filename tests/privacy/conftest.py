"""A small company whose sources state consent in every way Kindred reads it.

Five people, each known to identity resolution as one profile (written by hand below, so these
tests depend only on the `identity.record_xref` and `profiles.contact_points` contract):

- Ann (pA): her lead says HasOptedOutOfEmail on 1 March, her contact again on 1 April, and the
  email provider reports a `Subscribed` event on 1 May: opted in again. Her contact opted in to
  texts (`SMS_Opt_In__c`).
- Bob (pB): `DoNotCall` on his lead (no LastModifiedDate: dated by CreatedDate); the preference
  centre has his objection to profiling, by email written with odd spelling of the status.
- Cid (pC): a web sign-up (JSON lines) carries `prefs.noProfiling`; his lead's opt-out cell
  says "maybe" (ignored and counted), and the preference centre row about him is garbage.
- Dee (pD): unsubscribed by email on 1 April, opted in again at the preference centre on 1 June
  (by her address in capitals); her contact says no to texts (`SMS_Opt_In__c` false).
- Eve (pE): her lead's email opt-out and a preference-centre opt-in carry the very same time
  (the opt-out wins). She shares a landline with Bob: an SMS opt-out by that number covers both,
  the later opt-in by it covers neither (it cannot tell whose it is).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

# The models' tests keep a migrated MLflow database per session; the scoring tests here use it too.
from tests.models.conftest import mlflow_template  # noqa: F401
from warehouse.config import KindredConfig, load_config
from warehouse.connection import connect, replace_table
from warehouse.ingest import ingest_sources
from warehouse.staging import build_staging

LEADS = """Id,FirstName,LastName,Email,Phone,HasOptedOutOfEmail,DoNotCall,CreatedDate,LastModifiedDate
L1,Ann,Lee,ann@example.com,,true,false,2025-01-01T10:00:00Z,2025-03-01T10:00:00Z
L2,Bob,Ray,bob@example.com,+1 415 555 0199,false,Yes,2025-01-02T10:00:00Z,
L3,Cid,Moe,cid@example.com,,maybe,,2025-01-03T10:00:00Z,2025-02-01T00:00:00Z
L4,Eve,Kim,eve@example.com,(415) 555-0199,TRUE,,2025-01-04T10:00:00Z,2025-02-01T00:00:00Z
"""
CONTACTS = """Id,FirstName,LastName,Email,HasOptedOutOfEmail,SMS_Opt_In__c,CreatedDate,LastModifiedDate
C1,Dee,Fox,dee@example.com,0,false,2025-01-01T10:00:00Z,2025-01-05T10:00:00Z
C2,Ann,Lee,ann@example.com,1,true,2025-01-01T10:00:00Z,2025-04-01T00:00:00Z
"""
SIGNUPS = [
    {
        "id": "S1",
        "email": "cid@example.com",
        "updatedAt": "2025-03-03T00:00:00Z",
        "prefs": {"noProfiling": "true"},
    },
    {"id": "S2", "email": "zed@example.com", "updatedAt": "2025-03-03T00:00:00Z", "prefs": {}},
]
EVENTS = [
    ("m1", "Unsubscribed", "dee@example.com", "2025-04-01T00:00:00Z"),
    ("m2", "Subscribed", "ann@example.com", "2025-05-01T00:00:00Z"),
    ("m3", "Email Opened", "bob@example.com", "2025-05-01T00:00:00Z"),
]
PREFERENCES = """email,phone,source,record_id,channel,purpose,status,recorded_at
DEE@EXAMPLE.COM,,,,Email,marketing,opted_in,2025-06-01T00:00:00Z
bob@example.com,,,,any,profiling,Opted-Out,2025-02-01
nobody@example.com,,,,email,marketing,opted_out,2025-02-01
cid@example.com,,,,fax,marketing,pending,2025-02-01
,,,,email,marketing,opted_out,2025-02-01
,+1 (415) 555-0199,,,sms,marketing,unsubscribed,2025-03-01
,415.555.0199,,,sms,marketing,granted,2025-04-01
,,crm_leads,L4,email,marketing,opted_in,2025-02-01T00:00:00Z
,,crm_other,X9,email,marketing,opted_in,2025-02-01
ann@example.com,,,,email,marketing,opted_in,yesterday
"""
CONSENT_SECTION = """
consent:
  fields:
    - {column: HasOptedOutOfEmail, channel: email}
    - {column: DoNotCall, channel: phone, purpose: any}
    - {column: SMS_Opt_In__c, channel: sms, true_means: opted_in, false_means: opposite}
    - {column: prefs.noProfiling, purpose: profiling, sources: [web_signups]}
  events:
    Unsubscribed: email
    Subscribed: {channel: email, status: opted_in}
  file: {path: preferences.csv, name: preference_centre}
"""
SOURCES = """
sources:
  - name: crm_leads
    kind: people
    path: leads.csv
    id_namespace: crm
    constants: {crm_object: Lead}
    columns: {record_id: Id, first_name: FirstName, last_name: LastName, email: Email, phone: Phone,
              created_at: CreatedDate, updated_at: LastModifiedDate}
  - name: crm_contacts
    kind: people
    path: contacts.csv
    id_namespace: crm
    constants: {crm_object: Contact}
    columns: {record_id: Id, first_name: FirstName, last_name: LastName, email: Email,
              created_at: CreatedDate, updated_at: LastModifiedDate}
  - name: web_signups
    kind: people
    path: signups.jsonl
    columns: {record_id: id, email: email, updated_at: updatedAt}
  - name: email_events
    kind: events
    path: email/*.jsonl
    id_namespace: email
"""
XREF = {
    ("crm_leads", "L1"): "pA",
    ("crm_contacts", "C2"): "pA",
    ("email_events", "ann@example.com"): "pA",
    ("crm_leads", "L2"): "pB",
    ("email_events", "bob@example.com"): "pB",
    ("crm_leads", "L3"): "pC",
    ("web_signups", "S1"): "pC",
    ("crm_contacts", "C1"): "pD",
    ("email_events", "dee@example.com"): "pD",
    ("crm_leads", "L4"): "pE",
    ("web_signups", "S2"): "pZ",
}
CONTACT_POINTS = [
    ("pA", "email", "ann@example.com"),
    ("pB", "email", "bob@example.com"),
    ("pB", "phone", "+14155550199"),
    ("pC", "email", "cid@example.com"),
    ("pD", "email", "dee@example.com"),
    ("pE", "email", "eve@example.com"),
    ("pE", "phone", "+14155550199"),
    ("pZ", "email", "zed@example.com"),
]


def write_company(folder: Path, consent: str = CONSENT_SECTION) -> Path:
    """Write the landing files and a kindred.yaml with the given consent section; returns the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leads.csv").write_text(LEADS)
    (folder / "contacts.csv").write_text(CONTACTS)
    (folder / "signups.jsonl").write_text("".join(json.dumps(s) + "\n" for s in SIGNUPS))
    (folder / "email").mkdir(exist_ok=True)
    lines = [
        {
            "messageId": m,
            "type": "track",
            "event": event,
            "userId": user,
            "timestamp": at,
            "properties": {},
            "context": {"traits": {"email": user}},
        }
        for m, event, user, at in EVENTS
    ]
    (folder / "email" / "2025.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (folder / "preferences.csv").write_text(PREFERENCES)
    path = folder / "kindred.yaml"
    path.write_text(SOURCES + consent)
    return path


def staged_company(folder: Path, consent: str = CONSENT_SECTION):
    """The company ingested and staged into an in-memory warehouse, with identity written by hand."""
    config = load_config(write_company(folder, consent))
    con = connect(":memory:")
    ingest_sources(con, config)
    build_staging(con, config)
    write_identity(con)
    return con, config


def write_identity(con) -> None:
    """`identity.record_xref` and `profiles.contact_points` for the five people."""
    replace_table(
        con,
        "identity.record_xref",
        pl.DataFrame(
            [(s, r, p) for (s, r), p in XREF.items()],
            schema=["source", "record_id", "profile_id"],
            orient="row",
        ),
    )
    replace_table(
        con,
        "profiles.contact_points",
        pl.DataFrame(CONTACT_POINTS, schema=["profile_id", "kind", "value"], orient="row"),
    )


def with_consent(config: KindredConfig, section: str) -> KindredConfig:
    """The same sources with another consent section (validated as kindred.yaml would be)."""
    import yaml

    document = yaml.safe_load(section) or {}
    return KindredConfig.model_validate(
        {
            **config.model_dump(exclude={"consent"}),
            "consent": document.get("consent", {}),
        }
    )
