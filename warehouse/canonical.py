"""The canonical fields of each source kind: what `columns:` in kindred.yaml may map to."""

from __future__ import annotations

from typing import Literal

SourceKind = Literal["people", "events", "orders", "cases"]
KINDS: tuple[str, ...] = ("people", "events", "orders", "cases")

PERSON_ATTRIBUTES: tuple[str, ...] = (
    "first_name",
    "last_name",
    "full_name",
    "date_of_birth",
    "gender",
    "email",
    "phone",
    "street_number",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postcode",
    "country",
    "national_id",
    "company",
    "job_title",
    "loyalty_id",
)

# Field -> type, per kind. Types: string, timestamp, double, boolean, json.
KIND_FIELDS: dict[str, dict[str, str]] = {
    "people": {
        "record_id": "string",
        "crm_object": "string",
        "created_at": "timestamp",
        "updated_at": "timestamp",
        "status": "string",
        "converted": "boolean",
        "converted_at": "timestamp",
        "lead_source": "string",
        "industry": "string",
        "employees": "double",
    },
    "events": {
        "message_id": "string",
        "type": "string",
        "event": "string",
        "user_id": "string",
        "anonymous_id": "string",
        "timestamp": "timestamp",
        "properties": "json",
        "traits": "json",
    },
    "orders": {
        "order_id": "string",
        "customer_id": "string",
        "ordered_at": "timestamp",
        "amount": "double",
        "quantity": "double",
        "product_id": "string",
        "product_category": "string",
    },
    "cases": {
        "case_id": "string",
        "customer_id": "string",
        "opened_at": "timestamp",
        "closed_at": "timestamp",
        "status": "string",
        "subject": "string",
        "description": "string",
    },
}

REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "people": ("record_id",),
    "events": ("message_id", "type", "timestamp"),
    "orders": ("customer_id", "ordered_at", "amount"),
    "cases": ("case_id", "customer_id", "opened_at"),
}

# Segment spec names map by default, so a Segment export needs no `columns:` at all.
DEFAULT_SOURCE_COLUMNS: dict[str, dict[str, str]] = {
    "events": {
        "message_id": "messageId",
        "type": "type",
        "event": "event",
        "user_id": "userId",
        "anonymous_id": "anonymousId",
        "timestamp": "timestamp",
        "properties": "properties",
        "traits": "traits",
    },
}

# Segment trait names that carry person attributes, looked up in `traits` then `context.traits`.
SEGMENT_TRAITS: dict[str, str] = {
    "email": "email",
    "phone": "phone",
    "first_name": "firstName",
    "last_name": "lastName",
    "full_name": "name",
    "date_of_birth": "birthday",
    "gender": "gender",
    "job_title": "title",
    "company": "company.name",
    "address_line1": "address.street",
    "city": "address.city",
    "state": "address.state",
    "postcode": "address.postalCode",
    "country": "address.country",
}

# The person key of a row, which becomes `record_id` in identity.record_xref.
PERSON_KEY: dict[str, str] = {
    "people": "record_id",
    "events": "coalesce(user_id, anonymous_id)",
    "orders": "customer_id",
    "cases": "customer_id",
}

# The time a row happened, for lineage and partitioning.
EVENT_TIME: dict[str, str] = {
    "people": "coalesce(updated_at, created_at)",
    "events": "timestamp",
    "orders": "ordered_at",
    "cases": "opened_at",
}


def canonical_fields(kind: str) -> dict[str, str]:
    """All canonical fields of a kind with their types (kind fields, then person attributes)."""
    fields = dict(KIND_FIELDS[kind])
    fields.update({name: "string" for name in PERSON_ATTRIBUTES if name not in fields})
    return fields
