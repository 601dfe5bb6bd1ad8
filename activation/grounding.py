"""PII-safe grounding documents an LLM copilot reads before talking to or about a customer.

`crm.grounding` holds one JSON document per CRM record: who the person is (first name, last
initial, masked emails and phones, location, company, role, tenure), their current scores with
reasons, their best offers, their recent orders, support cases and web/app/email activity, and
activity counts. Every email and phone is masked and every free-text field is scrubbed (see
`activation.masking`) before the document is written, so `masked` is always true.

The document also says what the person consents to, and leaves out the contact points of
channels they opted out of entirely (`activation.grounding_consent`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from activation.grounding_consent import consent_permissions, offered
from activation.grounding_hash import document_text_and_hash
from activation.masking import TextScrubber, mask_name, mask_phone
from activation.reasons import factor_reasons
from activation.record_scores import utc_naive
from activation.warehouse_inputs import crm_sql, input_views
from warehouse.config import ConsentConfig
from warehouse.connection import quote_table, table_exists

log = logging.getLogger(__name__)

GROUNDING = "crm.grounding"
GROUNDING_SCHEMA: dict[str, pl.DataType] = {
    "crm_object": pl.String(),
    "crm_record_id": pl.String(),
    "profile_id": pl.String(),
    "context": pl.String(),
    "masked": pl.Boolean(),
    "generated_at": pl.Datetime("us"),
    # Not in the original contract: the people source of the record (see crm.record_scores).
    "source": pl.String(),
    # The document's content without its build stamp (activation.grounding_hash): CRM syncs send
    # a document again only when this changes.
    "content_hash": pl.String(),
}
OFFER_LIMIT = 3
SUBJECT_CHARS = 200
DESCRIPTION_CHARS = 300
# Records per slice of build_grounding: bounds memory (a slice's activity and documents) while
# keeping the number of scans of the activity tables small.
_PART_RECORDS = 50_000
# Rows turned into Python objects at once.
_BATCH_ROWS = 5_000
_GROUNDING_DDL = (
    "crm_object VARCHAR, crm_record_id VARCHAR, profile_id VARCHAR, context VARCHAR, masked BOOLEAN, "
    "generated_at TIMESTAMP, source VARCHAR, content_hash VARCHAR"
)
_CHANNEL_WORDS = (
    ("email", ("email", "mail", "newsletter")),
    ("app", ("app", "mobile", "ios", "android")),
    ("web", ("web", "site", "shop", "store", "page")),
)


def build_grounding(
    con: duckdb.DuckDBPyConnection,
    *,
    now: datetime | None = None,
    recent_limit: int = 10,
    phone_region: str = "US",
    consent: ConsentConfig | None = None,
) -> int:
    """Rebuild `crm.grounding`: one masked JSON grounding document per CRM record.

    Documents are built for a slice of the records at a time and written in one transaction, so
    memory stays flat however many records there are and readers see the old table or the new
    one, never a mix.

    Args:
        con: warehouse connection.
        now: the moment the documents describe (UTC); activity after it is left out. Defaults to
            the current time.
        recent_limit: how many recent orders, cases and events each document lists.
        phone_region: the region for phone numbers written without a country code
            (`identity.default_phone_region` in kindred.yaml).
        consent: the `consent:` settings (channels, opt-in regimes); None for the defaults.

    Returns:
        The number of rows written.
    """
    if recent_limit < 0:
        raise ValueError(f"recent_limit must be 0 or more, got {recent_limit}")
    generated_at = utc_naive(now)
    target = quote_table(GROUNDING)
    written = 0
    with input_views(con):
        n_records = con.sql("SELECT count(*) FROM activation_crm_records").fetchall()[0][0]
        parts = max(1, math.ceil(n_records / _PART_RECORDS))
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"CREATE OR REPLACE TABLE {target} ({_GROUNDING_DDL})")
            for part in range(parts):
                frame = _part_documents(
                    con,
                    generated_at=generated_at,
                    recent_limit=recent_limit,
                    phone_region=phone_region,
                    part=(part, parts),
                    only=(None, None, None),
                    consent=consent,
                )
                _insert(con, target, frame)
                written += frame.height
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    log.info("crm.grounding: %d documents (%d parts)", written, parts)
    return written


def grounding_for(
    con: duckdb.DuckDBPyConnection,
    crm_object: str,
    crm_record_id: str,
    *,
    source: str | None = None,
    fresh: bool = False,
    now: datetime | None = None,
    recent_limit: int = 10,
    phone_region: str = "US",
    consent: ConsentConfig | None = None,
) -> dict:
    """The grounding document of one CRM record.

    By default it is read from `crm.grounding` (what the last pipeline run wrote); with
    `fresh=True` it is built now from the current warehouse tables, without writing anything.

    Args:
        con: warehouse connection.
        crm_object: the CRM object, e.g. `Lead` or `Contact` (exact case, as loaded).
        crm_record_id: the record's id in the CRM.
        source: the people source, needed only when two sources hold the same object and id.
        fresh: build the document now instead of reading the stored one.
        now: with `fresh`, the moment the document describes; defaults to the current time.
        recent_limit: with `fresh`, how many recent items per list.
        phone_region: with `fresh`, the region for phone numbers without a country code.
        consent: with `fresh`, the `consent:` settings; None for the defaults.

    Returns:
        The document as a dict (the parsed `context`).

    Raises:
        LookupError: no such CRM record (or, when not `fresh`, `crm.grounding` was never built).
        ValueError: the object and id match records of several sources and `source` is not given.
    """
    if fresh:
        with input_views(con):
            frame = _part_documents(
                con,
                generated_at=utc_naive(now),
                recent_limit=recent_limit,
                phone_region=phone_region,
                part=(0, 1),
                only=(crm_object, crm_record_id, source),
                consent=consent,
            )
        rows = frame.select("source", "context").rows()
    else:
        if not table_exists(con, GROUNDING):
            raise LookupError(
                f"{GROUNDING} has not been built yet: run the pipeline (`kindred run`) or ask for a fresh document"
            )
        rows = con.sql(
            f"SELECT source, context FROM {quote_table(GROUNDING)} "
            "WHERE crm_object = ? AND crm_record_id = ? AND (? IS NULL OR source = ?) ORDER BY source",
            params=[crm_object, crm_record_id, source, source],
        ).fetchall()
    if not rows:
        where = f" in source {source!r}" if source else ""
        raise LookupError(f"no CRM record {crm_object} {crm_record_id!r}{where}")
    if len(rows) > 1:
        sources = ", ".join(str(r[0]) for r in rows)
        raise ValueError(
            f"CRM record {crm_object} {crm_record_id!r} exists in several sources ({sources}): pass source="
        )
    return json.loads(rows[0][1])


def _part_documents(
    con: duckdb.DuckDBPyConnection,
    *,
    generated_at: datetime,
    recent_limit: int,
    phone_region: str,
    part: tuple[int, int],
    only: tuple[str | None, str | None, str | None],
    consent: ConsentConfig | None,
) -> pl.DataFrame:
    """The documents of one slice of the CRM records (input views must exist)."""
    index, count = part
    params = [generated_at, recent_limit, OFFER_LIMIT, *only, count, index]
    rows = con.sql(crm_sql("grounding"), params=params).to_arrow_table()
    permissions = consent_permissions(con, rows.column("profile_id").to_pylist(), consent)
    frames = [
        _documents(
            batch.to_pylist(), generated_at=generated_at, phone_region=phone_region, consent=permissions
        )
        for batch in rows.to_batches(max_chunksize=_BATCH_ROWS)
    ]
    if not frames:
        return pl.DataFrame(schema=GROUNDING_SCHEMA)
    return pl.concat(frames, how="vertical").sort(["crm_object", "crm_record_id", "source"], nulls_last=True)


def _insert(con: duckdb.DuckDBPyConnection, target: str, frame: pl.DataFrame) -> None:
    view = "_kindred_grounding_part"
    con.register(view, frame.to_arrow())
    try:
        con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {view}")
    finally:
        con.unregister(view)


def _documents(
    rows: list[dict[str, Any]], *, generated_at: datetime, phone_region: str, consent: dict[str | None, dict]
) -> pl.DataFrame:
    out: dict[str, list] = {name: [] for name in GROUNDING_SCHEMA}
    for row in rows:
        context = build_context(
            row, generated_at=generated_at, phone_region=phone_region, consent=consent.get(row["profile_id"])
        )
        text, content_hash = document_text_and_hash(context)
        out["crm_object"].append(row["crm_object"])
        out["crm_record_id"].append(row["crm_record_id"])
        out["profile_id"].append(row["profile_id"])
        out["context"].append(text)
        out["content_hash"].append(content_hash)
        out["masked"].append(True)
        out["generated_at"].append(generated_at)
        out["source"].append(row["source"])
    return pl.DataFrame(out, schema=GROUNDING_SCHEMA)


def build_context(
    row: dict[str, Any], *, generated_at: datetime, phone_region: str = "US", consent: dict | None = None
) -> dict:
    """One record's grounding document from its row of `warehouse/sql/crm/grounding.sql`.

    Args:
        row: the query row (column name -> value).
        generated_at: the moment the document describes.
        phone_region: the region for phone numbers without a country code.
        consent: the person's consent section (`consent_permissions`); None when unknown, in
            which case the document has no `consent` key and withholds nothing.

    Returns:
        The document, keys in a fixed order, every email and phone masked, the contact points of
        channels the person opted out of entirely left out.
    """
    emails = _present(row.get("contact_emails"), [row.get("profile_email"), row.get("record_email")])
    phones = _present(row.get("contact_phones"), [row.get("profile_phone"), row.get("record_phone")])
    last_names = _present([row.get("last_name"), row.get("record_last_name")], row.get("known_last_names"))
    scrub = TextScrubber(
        region=phone_region,
        emails=[*emails, *(row.get("known_emails") or [])],
        phones=[*phones, *(row.get("known_phones") or [])],
        last_names=last_names,
    )
    document = {
        "record": {
            "crm_object": scrub.identifier(row["crm_object"]),
            "source": row["source"],
            "status": scrub(row.get("crm_status")),
            "lead_source": scrub(row.get("crm_lead_source")),
            "converted": row.get("crm_converted"),
            "converted_at": row.get("crm_converted_at"),
            "created_at": row.get("crm_created_at"),
        },
        "profile": {
            "first_name": scrub(row.get("first_name")),
            "last_name": mask_name(row.get("last_name")),
            "emails": _distinct(scrub.mask_email(e) for e in offered(emails, "emails", consent)),
            "phones": _distinct(
                mask_phone(p, region=phone_region) for p in offered(phones, "phones", consent)
            ),
            "city": scrub(row.get("city")),
            "country": scrub(row.get("country")),
            "company": scrub(row.get("company")),
            "job_title": scrub(row.get("job_title")),
            "customer_since": row.get("first_order_at"),
            "first_seen": row.get("first_seen"),
            "last_seen": row.get("last_seen"),
            "n_sources": row.get("n_sources"),
        },
        "consent": consent,
        "scores": {
            "lead_score": _score(row, "lead_score"),
            "churn_risk": _score(row, "churn_risk"),
        },
        "next_best_offers": _offers(row, scrub),
        "recent_activity": {
            "orders": [_order(o, scrub) for o in row.get("recent_orders") or []],
            "cases": [_case(c, scrub) for c in row.get("recent_cases") or []],
            "events": [_event(e, scrub) for e in row.get("recent_events") or []],
        },
        "counts": {
            "orders": row.get("n_orders") or 0,
            "total_spent": _money(row.get("total_spent")),
            "cases": row.get("n_cases") or 0,
            "open_cases": row.get("n_open_cases") or 0,
            "events": row.get("n_events") or 0,
            "events_last_30_days": row.get("n_events_30d") or 0,
        },
        "generated_at": generated_at.replace(microsecond=0).isoformat() + "Z",
    }
    if consent is None:
        del document["consent"]
    return document


def _score(row: dict[str, Any], model: str) -> dict | None:
    if row.get(model) is None:
        return None
    return {
        "score": round(row[model], 4),
        "score_1_99": row.get(f"{model}_1_99"),
        "reasons": factor_reasons(row.get(f"{model}_factors")),
        "model_version": row.get(f"{model}_model_version"),
        "as_of": row.get(f"{model}_as_of"),
    }


def _offers(row: dict[str, Any], scrub: TextScrubber) -> dict | None:
    items = row.get("offers") or []
    if not items:
        return None
    return {
        "model_version": row.get("next_best_offer_model_version"),
        "offers": [
            {
                "rank": item["rank"],
                "offer": scrub.identifier(item["offer_id"]),
                "score": None if item["score"] is None else round(item["score"], 4),
            }
            for item in items
        ],
    }


def _order(item: dict[str, Any], scrub: TextScrubber) -> dict:
    categories = [scrub.identifier(c) for c in item.get("categories") or [] if c is not None]
    return {
        "ordered_at": item.get("ordered_at"),
        "order_id": scrub.identifier(item.get("order_id")),
        "category": ", ".join(c for c in categories if c) or None,
        "amount": _money(item.get("amount")),
        "quantity": item.get("quantity"),
    }


def _case(item: dict[str, Any], scrub: TextScrubber) -> dict:
    # Scrub before cutting: a cut through an address would hide it from the email pattern.
    return {
        "opened_at": item.get("opened_at"),
        "closed_at": item.get("closed_at"),
        "case_id": scrub.identifier(item.get("case_id")),
        "status": scrub(item.get("status")),
        "open": item.get("is_open"),
        "subject": _cut(scrub(item.get("subject")), SUBJECT_CHARS),
        "description": _cut(scrub(item.get("description")), DESCRIPTION_CHARS),
    }


def _event(item: dict[str, Any], scrub: TextScrubber) -> dict:
    return {
        "at": item.get("timestamp"),
        "channel": event_channel(item.get("source"), item.get("type"), item.get("event")),
        "type": item.get("type"),
        "event": _cut(scrub(item.get("event")), SUBJECT_CHARS),
    }


def event_channel(source: str | None, event_type: str | None, event: str | None) -> str:
    """Which channel an activity event belongs to: `web`, `app`, `email` or `other`.

    Args:
        source: the events source name from kindred.yaml (e.g. `web_events`, `mobile_app`).
        event_type: the Segment call type (`track`, `page`, `screen`).
        event: the event name (`Email Opened`, `Order Completed`, ...).

    Returns:
        `app` for screen calls, `email` for email events (Segment's email spec names them
        `Email ...`), `web` for page calls, else the channel the source name suggests.
    """
    if event_type == "screen":
        return "app"
    if event and "email" in event.lower():
        return "email"
    if event_type == "page":
        return "web"
    name = (source or "").lower()
    for channel, words in _CHANNEL_WORDS:
        if any(word in name for word in words):
            return channel
    return "other"


def _present(first: Iterable[Any] | None, then: Iterable[Any] | None) -> list[str]:
    values: list[str] = []
    for value in [*(first or []), *(then or [])]:
        if isinstance(value, str) and value.strip() and value not in values:
            values.append(value)
    return values


def _distinct(values: Iterable[str | None]) -> list[str]:
    out: list[str] = []
    for value in values:
        if value and value not in out:
            out.append(value)
    return out


def _cut(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
