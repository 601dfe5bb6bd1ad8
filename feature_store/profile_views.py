"""The feature views about one person: orders, purchase rhythm, web and email engagement, support,
lifecycle and the lead's CRM record.

Part of the declarations in `feature_store.definitions`; docs/features.md describes them for users.
"""

from __future__ import annotations

from feature_store.fact_sources import ACTIVITY, CASES, EVENTS, LEADS, ORDERS, PROFILE, PURCHASE_DAYS
from feature_store.vocabulary import Feature, FeatureView


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
