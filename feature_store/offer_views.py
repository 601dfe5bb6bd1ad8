"""The feature views about offers: a person's buying and viewing of each offer, each offer's
popularity, and how many people buy at all (the denominator of an offer's share of buyers).

Part of the declarations in `feature_store.definitions`; docs/features.md describes them for users.
"""

from __future__ import annotations

from feature_store.fact_sources import EVERYONE, OFFER, OFFER_ORDERS, OFFER_VIEWS, ORDERS, PROFILE_OFFER
from feature_store.vocabulary import Feature, FeatureView

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
