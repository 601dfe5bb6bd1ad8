"""Reason text built from a model's top factors."""

from __future__ import annotations

import json

import pytest

from activation.reasons import MAX_REASONS_CHARS, factor_reasons, reason_text, reasons_field


@pytest.mark.parametrize(
    ("feature", "value", "contribution", "text"),
    [
        ("email_opens_90d", 7, 0.4, "Opened 7 emails in 90 days (+)"),
        ("email_opens_90d", 1, 0.4, "Opened 1 email in 90 days (+)"),
        ("n_orders_365d", 3, -0.2, "Placed 3 orders in 365 days (-)"),
        ("days_since_last_order", 120, 0.3, "Last order 120 days ago (+)"),
        ("days_since_last_webinar", 5, 0.3, "Last webinar 5 days ago (+)"),
        ("total_spend_365d", 1234.5, -0.1, "Spent 1,234.50 in 365 days (-)"),
        ("email_open_rate_90d", 0.35, 0.1, "Email open rate (90 days): 35% (+)"),
        ("lead_source", "Webinar", 0.2, "Lead source: Webinar (+)"),
        ("lead_source=webinar", 1, 0.2, "Lead source: webinar (+)"),
        ("has_open_case", 1, 0.2, "Has an open support case (+)"),
        ("is_vip", 1, 0.2, "Is vip: yes (+)"),
        ("tenure_days", 400, -0.5, "Known for 400 days (-)"),
        ("product_views_30d", 4, 0.2, "Viewed 4 products in 30 days (+)"),
        ("cart_adds_30d", 1, 0.2, "Added 1 product to the cart in 30 days (+)"),
        ("revenue_90d", 250.0, 0.2, "Spent 250 in 90 days (+)"),
        ("avg_order_value_365d", 45.2, 0.2, "Average order of 45.20 in 365 days (+)"),
        ("distinct_categories_365d", 3, 0.2, "Bought from 3 categories in 365 days (+)"),
        ("cases_180d", 2, 0.2, "Opened 2 support cases in 180 days (+)"),
        ("open_cases", 1, 0.2, "Has 1 open support case (+)"),
        ("unsubscribed", True, 0.3, "Unsubscribed from emails (+)"),
        ("unsubscribed", 0, -0.3, "Still subscribed to emails (-)"),
        ("has_company", False, -0.1, "No company given (-)"),
        ("title_seniority", "executive", 0.2, "Seniority: executive (+)"),
        ("employees", 250, 0.2, "Company size (employees): 250 (+)"),
        ("days_since_last_order", None, 0.4, "No order on record (+)"),
        ("days_since_last_event", 3, -0.4, "Last tracked activity 3 days ago (-)"),
        ("lead_age_days", 12, 0.1, "Lead for 12 days (+)"),
        ("email_click_rate_90d", 0.125, 0.1, "Email click rate (90 days): 12% (+)"),
        ("sessions_last_30_days", 5, 0.1, "5 sessions in 30 days (+)"),
    ],
)
def test_known_features_read_as_sentences(feature, value, contribution, text):
    assert reason_text(feature, value, contribution) == text


@pytest.mark.parametrize(
    ("feature", "value", "text"),
    [
        ("avg_basket_size_30d", 3.2, "Avg basket size (30 days): 3.2 (+)"),
        ("support_load_90d", 2, "Support load (90 days): 2 (+)"),
        ("crm_segment_code", "B2", "CRM segment code: B2 (+)"),
        ("weird_feature", None, "Weird feature: unknown (+)"),
    ],
)
def test_unknown_features_are_prettified(feature, value, text):
    assert reason_text(feature, value, 0.1) == text


def test_zero_or_missing_contribution_has_no_sign():
    assert reason_text("email_opens_90d", 2, 0.0) == "Opened 2 emails in 90 days"
    assert reason_text("email_opens_90d", 2, None) == "Opened 2 emails in 90 days"


def test_factor_reasons_strongest_first_and_limited():
    factors = [
        {"feature": "n_orders_365d", "value": 1, "contribution": 0.05},
        {"feature": "email_opens_90d", "value": 7, "contribution": -0.6},
        {"feature": "noise", "value": 1, "contribution": 0.0},
        {"feature": "days_since_last_order", "value": 30, "contribution": 0.2},
        {"feature": "tenure_days", "value": 10, "contribution": 0.1},
    ]
    reasons = factor_reasons(json.dumps(factors))
    assert reasons == [
        "Opened 7 emails in 90 days (-)",
        "Last order 30 days ago (+)",
        "Known for 10 days (+)",
    ]
    assert factor_reasons(factors, limit=1) == ["Opened 7 emails in 90 days (-)"]


@pytest.mark.parametrize("bad", [None, "", "not json", "[]", json.dumps({"no": "list"}), "[1, 2]"])
def test_unusable_factors_give_no_reasons(bad):
    assert reasons_field(bad) is None


def test_double_encoded_json_is_read():
    factors = json.dumps([{"feature": "email_opens_90d", "value": 7, "contribution": 0.4}])
    assert reasons_field(json.dumps(factors)) == "Opened 7 emails in 90 days (+)"


def test_reasons_field_fits_a_crm_text_field():
    factors = [
        {
            "feature": f"feature_with_a_very_long_name_number_{i}_" * 3,
            "value": i,
            "contribution": 1.0 / (i + 1),
        }
        for i in range(3)
    ]
    field = reasons_field(factors)
    assert field is not None
    assert len(field) <= MAX_REASONS_CHARS
    # Cut at a whole reason, never mid-sentence.
    assert field.endswith(("(+)", "(-)"))
    assert field.count("; ") < 2
