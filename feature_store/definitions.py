"""Every entity, source, feature view and feature service Kindred declares, in one place.

docs/features.md describes these for users; a test keeps the two in step.
"""

from __future__ import annotations

from feature_store.sources import EVENT_NAME_SQL, OFFER_CATALOG_TABLE
from feature_store.vocabulary import Entity, Feature, FeatureService, FeatureView, OnDemandFeature, Source

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


def _event(name: str) -> str:
    return f"f.event = '{name}'"


# ---------------------------------------------------------------------------------------------
# Feature views
ORDER_HISTORY = FeatureView(
    "order_history",
    entity=PROFILE,
    source=ORDERS,
    ttl_days=730,
    description="What a person bought and spent, from every orders source.",
    features=(
        Feature(
            "orders_30d",
            "count_distinct",
            "Orders in the 30 days before as_of.",
            "f.order_key",
            window_days=30,
        ),
        Feature(
            "orders_90d",
            "count_distinct",
            "Orders in the 90 days before as_of.",
            "f.order_key",
            window_days=90,
        ),
        Feature(
            "orders_365d",
            "count_distinct",
            "Orders in the 365 days before as_of.",
            "f.order_key",
            window_days=365,
        ),
        Feature(
            "revenue_90d", "sum", "Order amount in the 90 days before as_of.", "f.amount", window_days=90
        ),
        Feature(
            "revenue_365d", "sum", "Order amount in the 365 days before as_of.", "f.amount", window_days=365
        ),
        Feature(
            "days_since_last_order",
            "days_since_last",
            "Days from the latest order (within 2 years) to as_of.",
        ),
        Feature(
            "days_since_first_order",
            "days_since_first",
            "Days from the earliest order (within 2 years) to as_of.",
        ),
        Feature(
            "distinct_categories_365d",
            "count_distinct",
            "Product categories bought in the 365 days before as_of.",
            "f.category",
            window_days=365,
        ),
        Feature(
            "distinct_products_365d",
            "count_distinct",
            "Different products bought in the 365 days before as_of.",
            "f.product",
            window_days=365,
        ),
        Feature(
            "items_365d",
            "sum",
            "Items (quantity) ordered in the 365 days before as_of.",
            "f.quantity",
            window_days=365,
        ),
        Feature(
            "returns_365d",
            "count_distinct",
            "Orders with a negative amount (returns, cancellations) in the 365 days before as_of.",
            "f.order_key",
            where="f.amount < 0",
            window_days=365,
        ),
    ),
)
PURCHASE_RHYTHM = FeatureView(
    "purchase_rhythm",
    entity=PROFILE,
    source=PURCHASE_DAYS,
    ttl_days=730,
    description="How often and how regularly a person buys: the inputs of BG/NBD-style models, counted "
    "in days with a purchase (returns are not purchases).",
    features=(
        Feature(
            "purchase_days_30d", "count", "Days with a purchase in the 30 days before as_of.", window_days=30
        ),
        Feature(
            "purchase_days_90d", "count", "Days with a purchase in the 90 days before as_of.", window_days=90
        ),
        Feature(
            "purchase_days_180d",
            "count",
            "Days with a purchase in the 180 days before as_of.",
            window_days=180,
        ),
        Feature(
            "purchase_days_365d",
            "count",
            "Days with a purchase in the 365 days before as_of.",
            window_days=365,
        ),
        Feature("purchase_days_730d", "count", "Days with a purchase in the two years before as_of."),
        Feature(
            "days_since_last_purchase",
            "days_since_last",
            "Days from the latest purchase (not a return; within 2 years) to as_of: BG/NBD's recency, seen from as_of.",
        ),
        Feature(
            "days_since_first_purchase",
            "days_since_first",
            "Days from the first purchase (within 2 years) to as_of: BG/NBD's age T.",
        ),
        Feature(
            "mean_days_between_purchases",
            "mean",
            "Average days between consecutive purchase days: the person's own purchase rhythm.",
            "f.gap_days",
        ),
        Feature(
            "std_days_between_purchases",
            "std",
            "Standard deviation of the days between consecutive purchase days.",
            "f.gap_days",
        ),
        Feature(
            "max_days_between_purchases",
            "max",
            "Longest gap in days between consecutive purchase days.",
            "f.gap_days",
        ),
        Feature(
            "last_days_between_purchases",
            "latest",
            "Days between the latest purchase day and the one before it.",
            "f.gap_days",
        ),
    ),
)
WEB_ENGAGEMENT = FeatureView(
    "web_engagement",
    entity=PROFILE,
    source=EVENTS,
    ttl_days=365,
    description="Site, app and email behaviour from Segment-spec events.",
    features=(
        Feature(
            "page_views_30d",
            "count",
            "Page and screen views in the 30 days before as_of.",
            where="f.type IN ('page', 'screen')",
            window_days=30,
        ),
        Feature(
            "page_views_90d",
            "count",
            "Page and screen views in the 90 days before as_of.",
            where="f.type IN ('page', 'screen')",
            window_days=90,
        ),
        Feature(
            "product_views_30d",
            "count",
            "`Product Viewed` events in the 30 days before as_of.",
            where=_event("product viewed"),
            window_days=30,
        ),
        Feature(
            "cart_adds_30d",
            "count",
            "`Product Added` events in the 30 days before as_of.",
            where=_event("product added"),
            window_days=30,
        ),
        Feature(
            "email_opens_90d",
            "count",
            "`Email Opened` events in the 90 days before as_of.",
            where=_event("email opened"),
            window_days=90,
        ),
        Feature(
            "email_clicks_90d",
            "count",
            "`Email Link Clicked` events in the 90 days before as_of.",
            where=_event("email link clicked"),
            window_days=90,
        ),
        Feature(
            "unsubscribed",
            "any",
            "Whether an `Unsubscribed` event happened in the year before as_of.",
            expression=_event("unsubscribed"),
            type="boolean",
        ),
        Feature(
            "days_since_last_event", "days_since_last", "Days from the latest event (within a year) to as_of."
        ),
        Feature(
            "days_since_last_visit",
            "days_since_last",
            "Days from the person's latest page or screen view or site/app action (not an email "
            "event; within a year) to as_of.",
            where="f.type IN ('page', 'screen') OR (f.type = 'track' AND f.event NOT LIKE 'email %' "
            "AND f.event <> 'unsubscribed')",
        ),
        Feature(
            "emails_delivered_90d",
            "count",
            "`Email Delivered` events in the 90 days before as_of.",
            where=_event("email delivered"),
            window_days=90,
        ),
    ),
)
SUPPORT = FeatureView(
    "support",
    entity=PROFILE,
    source=CASES,
    ttl_days=730,
    description="Service cases a person opened.",
    features=(
        Feature("cases_180d", "count", "Cases opened in the 180 days before as_of.", window_days=180),
        Feature("cases_365d", "count", "Cases opened in the 365 days before as_of.", window_days=365),
        Feature(
            "open_cases",
            "count",
            "Cases opened before as_of and not closed by then.",
            where="f.closed_at IS NULL OR f.closed_at >= {as_of}",
        ),
        Feature(
            "days_since_last_case", "days_since_last", "Days from the latest case (within 2 years) to as_of."
        ),
    ),
)
LIFECYCLE = FeatureView(
    "lifecycle",
    entity=PROFILE,
    source=ACTIVITY,
    ttl_days=None,
    description="How long Kindred has known a person.",
    features=(
        Feature(
            "tenure_days",
            "days_since_first",
            "Days from the person's first record, event, order or case to as_of.",
        ),
    ),
)
LEAD_PROFILE = FeatureView(
    "lead_profile",
    entity=PROFILE,
    source=LEADS,
    ttl_days=None,
    description="What the CRM knows about a person's lead records (crm_object = 'Lead').",
    features=(
        Feature(
            "lead_source",
            "latest",
            "Lead source of the newest lead record.",
            "f.lead_source",
            type="categorical",
        ),
        Feature(
            "title_seniority",
            "latest",
            "Seniority read from the job title: c_level, vp, director, manager or individual.",
            "f.seniority",
            type="categorical",
        ),
        Feature(
            "industry", "latest", "Industry of the newest lead record.", "f.industry", type="categorical"
        ),
        Feature("employees", "latest", "Company size (employees) of the newest lead record.", "f.employees"),
        Feature(
            "has_company",
            "any",
            "Whether any lead record names a company.",
            "f.company IS NOT NULL AND trim(f.company) <> ''",
            type="boolean",
        ),
        Feature("lead_age_days", "days_since_first", "Days from the first lead record's creation to as_of."),
    ),
)
OFFER_PURCHASES = FeatureView(
    "offer_purchases",
    entity=PROFILE_OFFER,
    source=OFFER_ORDERS,
    ttl_days=730,
    description="How much a person bought of one offer.",
    features=(
        Feature(
            "offer_purchases_90d",
            "count_distinct",
            "Orders containing the offer in the 90 days before as_of.",
            "f.order_key",
            window_days=90,
        ),
        Feature(
            "offer_purchases_365d",
            "count_distinct",
            "Orders containing the offer in the 365 days before as_of.",
            "f.order_key",
            window_days=365,
        ),
        Feature(
            "offer_purchases_730d",
            "count_distinct",
            "Orders containing the offer in the two years before as_of.",
            "f.order_key",
        ),
        Feature(
            "offer_spend_365d",
            "sum",
            "Amount spent on the offer in the 365 days before as_of.",
            "f.amount",
            window_days=365,
        ),
        Feature(
            "offer_days_since_last_purchase",
            "days_since_last",
            "Days from the latest purchase of the offer (within two years) to as_of.",
        ),
    ),
)
OFFER_INTEREST = FeatureView(
    "offer_interest",
    entity=PROFILE_OFFER,
    source=OFFER_VIEWS,
    ttl_days=365,
    description="How much a person looked at one offer (`Product Viewed` events naming it).",
    features=(
        Feature(
            "offer_views_30d", "count", "Views of the offer in the 30 days before as_of.", window_days=30
        ),
        Feature(
            "offer_views_90d", "count", "Views of the offer in the 90 days before as_of.", window_days=90
        ),
        Feature("offer_views_365d", "count", "Views of the offer in the 365 days before as_of."),
        Feature(
            "offer_days_since_last_view",
            "days_since_last",
            "Days from the latest view of the offer (within a year) to as_of.",
        ),
    ),
)
OFFER_POPULARITY = FeatureView(
    "offer_popularity",
    entity=OFFER,
    source=OFFER_ORDERS,
    ttl_days=90,
    description="How many people bought one offer lately.",
    features=(
        Feature(
            "offer_buyers_30d",
            "count_distinct",
            "People who bought the offer in the 30 days before as_of.",
            "f.profile_id",
            window_days=30,
        ),
        Feature(
            "offer_buyers_90d",
            "count_distinct",
            "People who bought the offer in the 90 days before as_of.",
            "f.profile_id",
        ),
    ),
)
ALL_BUYERS = FeatureView(
    "all_buyers",
    entity=EVERYONE,
    source=ORDERS,
    ttl_days=90,
    description="How many people bought anything lately (the denominator of offer shares).",
    features=(
        Feature(
            "buyers_30d",
            "count_distinct",
            "People who ordered in the 30 days before as_of.",
            "f.profile_id",
            window_days=30,
        ),
        Feature(
            "buyers_90d", "count_distinct", "People who ordered in the 90 days before as_of.", "f.profile_id"
        ),
    ),
)

FEATURE_VIEWS: tuple[FeatureView, ...] = (
    ORDER_HISTORY,
    PURCHASE_RHYTHM,
    WEB_ENGAGEMENT,
    SUPPORT,
    LIFECYCLE,
    LEAD_PROFILE,
    OFFER_PURCHASES,
    OFFER_INTEREST,
    OFFER_POPULARITY,
    ALL_BUYERS,
)

ON_DEMAND_FEATURES: tuple[OnDemandFeature, ...] = (
    OnDemandFeature(
        "avg_order_value_365d",
        "revenue_365d / nullif(orders_365d, 0)",
        ("revenue_365d", "orders_365d"),
        "Average order amount over the 365 days before as_of.",
    ),
    OnDemandFeature(
        "email_click_rate_90d",
        "email_clicks_90d / nullif(email_opens_90d, 0)",
        ("email_clicks_90d", "email_opens_90d"),
        "Email clicks per open over the 90 days before as_of.",
    ),
    OnDemandFeature(
        "email_open_rate_90d",
        "email_opens_90d / nullif(emails_delivered_90d, 0)",
        ("email_opens_90d", "emails_delivered_90d"),
        "Email opens per delivered email over the 90 days before as_of.",
    ),
    OnDemandFeature(
        "purchase_span_days",
        "days_since_first_purchase - days_since_last_purchase",
        ("days_since_first_purchase", "days_since_last_purchase"),
        "Days from the first to the latest purchase (within 2 years): BG/NBD's recency t_x.",
    ),
    OnDemandFeature(
        "recency_in_purchase_gaps",
        "days_since_last_purchase / nullif(mean_days_between_purchases, 0)",
        ("days_since_last_purchase", "mean_days_between_purchases"),
        "Days since the latest purchase in units of the person's own average gap: above 1 is overdue.",
    ),
    OnDemandFeature(
        "age_in_purchase_gaps",
        "days_since_first_purchase / nullif(mean_days_between_purchases, 0)",
        ("days_since_first_purchase", "mean_days_between_purchases"),
        "Days since the first purchase in units of the person's own average gap.",
    ),
    OnDemandFeature(
        "days_overdue",
        "days_since_last_purchase - mean_days_between_purchases",
        ("days_since_last_purchase", "mean_days_between_purchases"),
        "Days since the latest purchase minus the person's average gap: how late the next purchase is.",
    ),
    OnDemandFeature(
        "purchase_gap_variation",
        "std_days_between_purchases / nullif(mean_days_between_purchases, 0)",
        ("std_days_between_purchases", "mean_days_between_purchases"),
        "How irregular the person's purchase rhythm is (standard deviation over mean of the gaps).",
    ),
    OnDemandFeature(
        "repeat_purchases_per_year",
        "(purchase_days_730d - 1) * 365.0 / nullif(days_since_first_purchase, 0)",
        ("purchase_days_730d", "days_since_first_purchase"),
        "Purchase days after the first, per year since the first purchase (within 2 years).",
    ),
    OnDemandFeature(
        "spend_per_purchase_day_365d",
        "revenue_365d / nullif(purchase_days_365d, 0)",
        ("revenue_365d", "purchase_days_365d"),
        "Order amount per day with a purchase over the 365 days before as_of.",
    ),
    OnDemandFeature(
        "items_per_purchase_day_365d",
        "items_365d / nullif(purchase_days_365d, 0)",
        ("items_365d", "purchase_days_365d"),
        "Items ordered per day with a purchase over the 365 days before as_of.",
    ),
    OnDemandFeature(
        "offer_spend_share_365d",
        "offer_spend_365d / nullif(revenue_365d, 0)",
        ("offer_spend_365d", "revenue_365d"),
        "Share of the person's 365-day spend that went to the offer.",
    ),
    OnDemandFeature(
        "offer_purchase_share_730d",
        "offer_purchases_730d / nullif(purchase_days_730d, 0)",
        ("offer_purchases_730d", "purchase_days_730d"),
        "Share of the person's purchase days in the two years before as_of that included the offer.",
    ),
    OnDemandFeature(
        "offer_buyers_share_30d",
        "offer_buyers_30d / nullif(buyers_30d, 0)",
        ("offer_buyers_30d", "buyers_30d"),
        "Share of the last 30 days' buyers who bought the offer.",
    ),
    OnDemandFeature(
        "offer_buyers_share_90d",
        "offer_buyers_90d / nullif(buyers_90d, 0)",
        ("offer_buyers_90d", "buyers_90d"),
        "Share of the last 90 days' buyers who bought the offer.",
    ),
)

# ---------------------------------------------------------------------------------------------
# Feature services: exactly the features each model uses.
_ENGAGEMENT = (
    "page_views_30d",
    "page_views_90d",
    "product_views_30d",
    "cart_adds_30d",
    "email_opens_90d",
    "email_clicks_90d",
    "email_click_rate_90d",
    "unsubscribed",
    "days_since_last_event",
)
# BG/NBD's inputs (frequency, recency, age) and the person's own purchase rhythm.
_PURCHASE_RHYTHM = (
    "purchase_days_30d",
    "purchase_days_90d",
    "purchase_days_180d",
    "purchase_days_365d",
    "purchase_days_730d",
    "days_since_last_purchase",
    "days_since_first_purchase",
    "purchase_span_days",
    "mean_days_between_purchases",
    "std_days_between_purchases",
    "max_days_between_purchases",
    "last_days_between_purchases",
    "recency_in_purchase_gaps",
    "age_in_purchase_gaps",
    "days_overdue",
    "purchase_gap_variation",
    "repeat_purchases_per_year",
)
CHURN_RISK = FeatureService(
    "churn_risk",
    (
        "orders_30d",
        "orders_90d",
        "orders_365d",
        "revenue_90d",
        "revenue_365d",
        "avg_order_value_365d",
        "days_since_last_order",
        "days_since_first_order",
        "distinct_categories_365d",
        "distinct_products_365d",
        "items_365d",
        "returns_365d",
        "spend_per_purchase_day_365d",
        "items_per_purchase_day_365d",
        *_PURCHASE_RHYTHM,
        *_ENGAGEMENT,
        "days_since_last_visit",
        "emails_delivered_90d",
        "email_open_rate_90d",
        "cases_180d",
        "open_cases",
        "days_since_last_case",
        "tenure_days",
    ),
)
LEAD_SCORE = FeatureService(
    "lead_score",
    (
        "lead_source",
        "title_seniority",
        "industry",
        "employees",
        "has_company",
        "lead_age_days",
        *_ENGAGEMENT,
        "orders_365d",
        "cases_365d",
        "tenure_days",
    ),
)
NEXT_BEST_OFFER = FeatureService(
    "next_best_offer",
    (
        "offer_purchases_90d",
        "offer_purchases_365d",
        "offer_purchases_730d",
        "offer_purchase_share_730d",
        "offer_spend_share_365d",
        "offer_days_since_last_purchase",
        "offer_views_30d",
        "offer_views_90d",
        "offer_views_365d",
        "offer_days_since_last_view",
        "offer_buyers_share_30d",
        "offer_buyers_share_90d",
        "orders_365d",
        "days_since_last_order",
        "distinct_categories_365d",
        "product_views_30d",
    ),
)
PROFILE_FEATURES = FeatureService(
    "profile_features",
    tuple(
        [f.name for view in FEATURE_VIEWS if view.entity is PROFILE for f in view.features]
        + [f.name for f in ON_DEMAND_FEATURES if not f.name.startswith("offer_")]
    ),
)

FEATURE_SERVICES: dict[str, FeatureService] = {
    s.name: s for s in (CHURN_RISK, LEAD_SCORE, NEXT_BEST_OFFER, PROFILE_FEATURES)
}
