"""One CRM record's grounding document, built in clear from its row of `warehouse/sql/crm/grounding.sql`.

The clear document holds the person's real values and never leaves as it is:
`activation.grounding_fields.mask_document` masks it for whoever reads it (display masking for
the stored `crm.grounding`, typed placeholders for an LLM prompt, nothing for a `pii_reader` who
asked for clear data). Its keys are `activation.grounding_fields.DOCUMENT_FIELDS`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from activation.grounding_consent import offered
from activation.reasons import factor_reasons

_CHANNEL_WORDS = (
    ("email", ("email", "mail", "newsletter")),
    ("app", ("app", "mobile", "ios", "android")),
    ("web", ("web", "site", "shop", "store", "page")),
)


def clear_document(row: dict[str, Any], *, as_of: datetime, generated_at: datetime) -> dict:
    """One record's grounding document with the person's real values, keys in a fixed order.

    Args:
        row: the query row (column name -> value), with the person's consent section under
            `consent` (`activation.grounding_consent.consent_permissions`; None: no section, and
            no contact point withheld).
        as_of: the cut-off the row was queried at: nothing at or after it is in the row.
        generated_at: when the document is built.

    Returns:
        The document (see `DOCUMENT_FIELDS`); texts are not cut yet (`mask_document` cuts them).
    """
    emails = _present(row.get("contact_emails"), [row.get("profile_email"), row.get("record_email")])
    phones = _present(row.get("contact_phones"), [row.get("profile_phone"), row.get("record_phone")])
    consent = row.get("consent")
    document = {
        "record": {
            "crm_object": row["crm_object"],
            "source": row["source"],
            "status": row.get("crm_status"),
            "lead_source": row.get("crm_lead_source"),
            "converted": row.get("crm_converted"),
            "converted_at": row.get("crm_converted_at"),
            "created_at": row.get("crm_created_at"),
        },
        "profile": {
            "first_name": row.get("first_name"),
            "last_name": row.get("last_name"),
            "emails": offered(emails, "emails", consent),
            "phones": offered(phones, "phones", consent),
            "city": row.get("city"),
            "country": row.get("country"),
            "company": row.get("company"),
            "job_title": row.get("job_title"),
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
        "next_best_offers": _offers(row),
        "recent_activity": {
            "orders": [_order(o) for o in row.get("recent_orders") or []],
            "cases": [_case(c) for c in row.get("recent_cases") or []],
            "events": [_event(e) for e in row.get("recent_events") or []],
        },
        "counts": {
            "orders": row.get("n_orders") or 0,
            "total_spent": _money(row.get("total_spent")),
            "cases": row.get("n_cases") or 0,
            "open_cases": row.get("n_open_cases") or 0,
            "events": row.get("n_events") or 0,
            "events_last_30_days": row.get("n_events_30d") or 0,
        },
        "provenance": _provenance(row),
        "as_of": _instant(as_of),
        "generated_at": _instant(generated_at),
    }
    if consent is None:
        del document["consent"]
    return document


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


def _offers(row: dict[str, Any]) -> dict | None:
    items = row.get("offers") or []
    if not items:
        return None
    return {
        "model_version": row.get("next_best_offer_model_version"),
        "offers": [
            {
                "rank": item["rank"],
                "offer": item["offer_id"],
                "name": item.get("offer_name"),
                "score": None if item["score"] is None else round(item["score"], 4),
            }
            for item in items
        ],
    }


def _order(item: dict[str, Any]) -> dict:
    categories = [c for c in item.get("categories") or [] if c is not None]
    rows = ",".join(str(r) for r in item.get("rows") or [])
    return {
        "ordered_at": item.get("ordered_at"),
        "order_id": item.get("order_id"),
        "category": ", ".join(categories) or None,
        "amount": _money(item.get("amount")),
        "quantity": item.get("quantity"),
        "source": item.get("source"),
        "source_rows": _source_row(item.get("file"), rows),
    }


def _case(item: dict[str, Any]) -> dict:
    return {
        "opened_at": item.get("opened_at"),
        "closed_at": item.get("closed_at"),
        "case_id": item.get("case_id"),
        "status": item.get("status"),
        "open": item.get("is_open"),
        "subject": item.get("subject"),
        "description": item.get("description"),
        "source": item.get("source"),
        "source_row": _source_row(item.get("file"), item.get("row")),
    }


def _event(item: dict[str, Any]) -> dict:
    return {
        "at": item.get("timestamp"),
        "channel": event_channel(item.get("source"), item.get("type"), item.get("event")),
        "type": item.get("type"),
        "event": item.get("event"),
        "source": item.get("source"),
        "source_row": _source_row(item.get("file"), item.get("row")),
    }


def _provenance(row: dict[str, Any]) -> dict:
    """Where each section came from: tables, and the CRM record's own source row."""
    activity = ["staging.orders", "staging.cases", "staging.events"]
    return {
        "record": {
            "tables": ["staging.people"],
            "source": row["source"],
            "source_row": _source_row(row.get("record_file"), row.get("record_row")),
        },
        "profile": {
            "tables": ["profiles.unified_profile", "profiles.contact_points", "identity.record_xref"],
            "profile_id": row.get("profile_id"),
            "sources": list(row.get("profile_sources") or []),
        },
        "scores": {"tables": ["scores.predictions"]},
        "next_best_offers": {"tables": ["scores.offers"]},
        "recent_activity": {"tables": activity},
        "counts": {"tables": activity},
    }


def _source_row(file: str | None, row: object) -> str | None:
    """`file.csv:12`: the landing file's name (not its folder) and line, enough to cite the row."""
    if not file:
        return None
    name = os.path.basename(file)
    return f"{name}:{row}" if row not in (None, "") else name


def _instant(moment: datetime) -> str:
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _present(first: Iterable[Any] | None, then: Iterable[Any] | None) -> list[str]:
    values: list[str] = []
    for value in [*(first or []), *(then or [])]:
        if isinstance(value, str) and value.strip() and value not in values:
            values.append(value)
    return values


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
