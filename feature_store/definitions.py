"""Every feature view, on-demand feature and feature service Kindred declares.

The views themselves are declared by subject in `feature_store.profile_views` and
`feature_store.offer_views`, over the entities and sources of `feature_store.fact_sources`; this
module lists them all (`FEATURE_VIEWS`) and says which features each model uses (its feature
service). docs/features.md describes these for users; a test keeps the two in step.
"""

from __future__ import annotations

from feature_store.fact_sources import PROFILE
from feature_store.offer_views import ALL_BUYERS, OFFER_INTEREST, OFFER_POPULARITY, OFFER_PURCHASES
from feature_store.profile_views import (
    LEAD_PROFILE,
    LIFECYCLE,
    ORDER_HISTORY,
    PURCHASE_RHYTHM,
    SUPPORT,
    WEB_ENGAGEMENT,
)
from feature_store.vocabulary import FeatureService, FeatureView, OnDemandFeature

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
