"""What features are computed from: the entities they describe and the facts (sources) they count.

Entities name the keys a feature is about (a person, a (person, offer) pair, an offer, everyone);
sources say which staging tables hold a kind of fact, its timestamp and the columns views read.
Part of the declarations in `feature_store.definitions`; docs/features.md describes them for users.
"""

from __future__ import annotations

from feature_store.sources import EVENT_NAME_SQL, OFFER_CATALOG_TABLE
from feature_store.vocabulary import Entity, Source

# ---------------------------------------------------------------------------------------------
# Entities
PROFILE = Entity("profile", ("profile_id",), "One person: a unified profile from identity resolution.")
PROFILE_OFFER = Entity(
    "profile_offer", ("profile_id", "offer_id"), "One person and one offer (a value of the offer field)."
)
OFFER = Entity("offer", ("offer_id",), "One offer, across everybody.")
EVERYONE = Entity("everyone", (), "Facts about all customers together, as of a date.")

# ---------------------------------------------------------------------------------------------
# Sources
ORDERS = Source(
    "orders",
    parts=(("orders", "ordered_at"),),
    columns={
        # One order spans several lines; lines without an order id count as their own order.
        "order_key": "coalesce(t.order_id, t.source || ':' || t.record_id || ':' || CAST(t.ordered_at AS VARCHAR))",
        "amount": "t.amount",
        "quantity": "t.quantity",
        "category": "t.product_category",
        "product": "t.product_id",
    },
)
# One row per person and day with a purchase (an order line that is not a return: amount >= 0 or
# unknown), stamped with that day's first purchase and carrying the days since the previous
# purchase day: what BG/NBD-style models count (frequency, recency, age, inter-purchase times).
PURCHASE_DAYS = Source(
    "purchase_days",
    parts=(("orders", "ordered_at"),),
    where="coalesce(t.amount, 0) >= 0",
    regroup="""SELECT profile_id, _as_of, ts,
        date_diff('day', lag(day) OVER (PARTITION BY profile_id, _as_of ORDER BY day), day) AS gap_days
        FROM (SELECT profile_id, _as_of, CAST(ts AS DATE) AS day, min(ts) AS ts FROM ({facts})
              GROUP BY profile_id, _as_of, CAST(ts AS DATE))""",
)
EVENTS = Source(
    "events",
    parts=(("events", "timestamp"),),
    columns={"type": "lower(t.type)", "event": EVENT_NAME_SQL},
)
CASES = Source("cases", parts=(("cases", "opened_at"),), columns={"closed_at": "t.closed_at"})
LEADS = Source(
    "leads",
    parts=(("people", "created_at"),),
    columns={
        "lead_source": "lower(trim(t.lead_source))",
        "industry": "lower(trim(t.industry))",
        "employees": "t.employees",
        "company": "t.company",
        # Seniority from the job title: the signal a title carries, without its free-text variety.
        "seniority": r"""CASE
            WHEN t.job_title IS NULL OR trim(t.job_title) = '' THEN NULL
            WHEN regexp_matches(lower(t.job_title), '\b(ceo|cto|cfo|coo|cmo|cio|chief|founder|owner|president|partner)\b') THEN 'c_level'
            WHEN regexp_matches(lower(t.job_title), '\b(vp|svp|evp|vice president)\b') THEN 'vp'
            WHEN regexp_matches(lower(t.job_title), '\b(head|director)\b') THEN 'director'
            WHEN regexp_matches(lower(t.job_title), '\b(manager|lead|supervisor)\b') THEN 'manager'
            ELSE 'individual' END""",
    },
    where="lower(t.crm_object) = 'lead'",
)
ACTIVITY = Source(
    "activity",
    parts=(
        ("people", "created_at"),
        ("events", "timestamp"),
        ("orders", "ordered_at"),
        ("cases", "opened_at"),
    ),
    first_only=True,
)
_ORDER_KEY = "coalesce(t.order_id, t.source || ':' || t.record_id || ':' || CAST(t.ordered_at AS VARCHAR))"
# Order lines and views of a product are facts of every catalog offer covering it.
_COVERED_BY_AN_OFFER = f"""SELECT f.* EXCLUDE (product, category), c.offer_id FROM ({{facts}}) f
        JOIN {OFFER_CATALOG_TABLE} c
          ON list_contains(c.product_ids, f.product) OR list_contains(c.categories, f.category)"""
# With an offer catalog (`scores.offer_catalog`, written from kindred.yaml by the next best offer
# model), an order line is a purchase of every offer covering its product or category, and a track
# event named in an offer's `taken` is that offer taken (one "order" per event; the amount from the
# event's `revenue` property when it has one).
_CATALOG_ORDER_LINES = Source(
    "offer_orders",
    parts=(("orders", "ordered_at"),),
    columns={
        "product": "t.product_id",
        "category": "t.product_category",
        "order_key": _ORDER_KEY,
        "amount": "t.amount",
    },
    regroup=_COVERED_BY_AN_OFFER,
)
_CATALOG_TAKEN_EVENTS = Source(
    "offer_takes",
    parts=(("events", "timestamp"),),
    columns={
        "event": EVENT_NAME_SQL,
        "amount": "TRY_CAST(json_extract_string(t.properties, '$.revenue') AS DOUBLE)",
    },
    regroup=f"""SELECT f.* EXCLUDE (event), c.offer_id,
            c.offer_id || ':' || f.profile_id || ':' || CAST(f.ts AS VARCHAR) AS order_key
        FROM ({{facts}}) f JOIN {OFFER_CATALOG_TABLE} c ON c.taken_event = f.event""",
)
_CATALOG_VIEWS = Source(
    "offer_views",
    parts=(("events", "timestamp"),),
    columns={
        "product": "json_extract_string(t.properties, '$.product_id')",
        "category": "json_extract_string(t.properties, '$.category')",
    },
    where=f"{EVENT_NAME_SQL} = 'product viewed'",
    regroup=_COVERED_BY_AN_OFFER,
)
OFFER_ORDERS = Source(
    "offer_orders",
    parts=(("orders", "ordered_at"),),
    columns={"offer_id": "t.{offer_field}", "order_key": _ORDER_KEY, "amount": "t.amount"},
    where="t.{offer_field} IS NOT NULL",
    catalog=(_CATALOG_ORDER_LINES, _CATALOG_TAKEN_EVENTS),
)
OFFER_VIEWS = Source(
    "offer_views",
    parts=(("events", "timestamp"),),
    columns={"offer_id": "json_extract_string(t.properties, '$.{offer_property}')"},
    where=f"{EVENT_NAME_SQL} = 'product viewed' "
    "AND json_extract_string(t.properties, '$.{offer_property}') IS NOT NULL",
    catalog=(_CATALOG_VIEWS,),
)
