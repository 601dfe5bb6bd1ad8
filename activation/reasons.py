"""Turning a model's top factors into short sentences a sales or service rep reads in a CRM field.

A factor is `{feature, value, contribution}` from `scores.predictions.top_factors`. Known feature
shapes read as sentences (`email_opens_90d` = 7 -> "Opened 7 emails in 90 days"); any other
feature name is prettified (`avg_basket_size_30d` = 3.2 -> "Avg basket size (30 days): 3.2").
Each reason ends with `(+)` when the factor pushed the score up and `(-)` when it pulled it down.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

MAX_REASONS = 3
# CRM text fields commonly cap at 255 characters (Salesforce Text(255), HubSpot single-line text).
MAX_REASONS_CHARS = 255
REASON_SEPARATOR = "; "

# Counted things: feature stem -> (verb, singular noun, plural noun). An empty verb puts the count
# first ("3 sessions").
_COUNTED: dict[str, tuple[str, str, str]] = {
    "email_opens": ("Opened", "email", "emails"),
    "emails_opened": ("Opened", "email", "emails"),
    "email_opened": ("Opened", "email", "emails"),
    "email_clicks": ("Clicked", "email", "emails"),
    "emails_clicked": ("Clicked", "email", "emails"),
    "email_clicked": ("Clicked", "email", "emails"),
    "email_link_clicks": ("Clicked links in", "email", "emails"),
    "emails_sent": ("Received", "email", "emails"),
    "email_sends": ("Received", "email", "emails"),
    "emails_delivered": ("Received", "email", "emails"),
    "email_unsubscribes": ("Unsubscribed", "time", "times"),
    "orders": ("Placed", "order", "orders"),
    "order_count": ("Placed", "order", "orders"),
    "purchases": ("Made", "purchase", "purchases"),
    "items": ("Bought", "item", "items"),
    "items_bought": ("Bought", "item", "items"),
    "quantity": ("Bought", "item", "items"),
    "distinct_categories": ("Bought from", "category", "categories"),
    "categories": ("Bought from", "category", "categories"),
    "distinct_products": ("Bought", "different product", "different products"),
    "products": ("Bought", "different product", "different products"),
    "page_views": ("Viewed", "page", "pages"),
    "product_views": ("Viewed", "product", "products"),
    "cart_adds": ("Added", "product to the cart", "products to the cart"),
    "pageviews": ("Viewed", "page", "pages"),
    "pages": ("Viewed", "page", "pages"),
    "screen_views": ("Viewed", "app screen", "app screens"),
    "screens": ("Viewed", "app screen", "app screens"),
    "sessions": ("", "session", "sessions"),
    "web_sessions": ("", "web session", "web sessions"),
    "app_sessions": ("", "app session", "app sessions"),
    "app_opens": ("Opened the app", "time", "times"),
    "logins": ("Logged in", "time", "times"),
    "events": ("", "tracked event", "tracked events"),
    "track_events": ("", "tracked event", "tracked events"),
    "web_events": ("", "web event", "web events"),
    "app_events": ("", "app event", "app events"),
    "active_days": ("Active on", "day", "days"),
    "cases": ("Opened", "support case", "support cases"),
    "support_cases": ("Opened", "support case", "support cases"),
    "tickets": ("Opened", "support ticket", "support tickets"),
    "open_cases": ("Has", "open support case", "open support cases"),
    "closed_cases": ("Had", "closed support case", "closed support cases"),
    "escalations": ("Had", "escalation", "escalations"),
    "complaints": ("Made", "complaint", "complaints"),
    "returns": ("Returned", "order", "orders"),
    "refunds": ("Got", "refund", "refunds"),
    "sources": ("Known in", "source", "sources"),
    "records": ("Known through", "record", "records"),
    "form_submits": ("Submitted", "form", "forms"),
    "form_submissions": ("Submitted", "form", "forms"),
    "webinar_attendances": ("Attended", "webinar", "webinars"),
    "demo_requests": ("Requested", "demo", "demos"),
    "downloads": ("Downloaded", "asset", "assets"),
}

# Money amounts: feature stem -> phrase before the amount.
_MONEY: dict[str, str] = {
    "spend": "Spent",
    "total_spend": "Spent",
    "spent": "Spent",
    "revenue": "Spent",
    "monetary": "Spent",
    "monetary_value": "Spent",
    "amount": "Spent",
    "total_amount": "Spent",
    "sales": "Spent",
    "avg_order_value": "Average order of",
    "average_order_value": "Average order of",
    "aov": "Average order of",
    "avg_amount": "Average order of",
    "mean_amount": "Average order of",
    "max_order_value": "Largest order of",
    "max_amount": "Largest order of",
    "refund_amount": "Refunded",
    "clv": "Lifetime value of",
    "ltv": "Lifetime value of",
    "lifetime_value": "Lifetime value of",
}

# Durations: feature name -> sentence with `{v}` for the number of days.
_DAYS: dict[str, str] = {
    "recency_days": "Last activity {v} days ago",
    "recency": "Last activity {v} days ago",
    "days_since_last_activity": "Last activity {v} days ago",
    "days_since_last_seen": "Last seen {v} days ago",
    "days_since_last_order": "Last order {v} days ago",
    "days_since_last_purchase": "Last purchase {v} days ago",
    "days_since_first_order": "First order {v} days ago",
    "days_since_first_purchase": "First purchase {v} days ago",
    "days_since_last_event": "Last tracked activity {v} days ago",
    "days_since_last_visit": "Last visit {v} days ago",
    "days_since_last_email_open": "Last opened an email {v} days ago",
    "days_since_last_email_click": "Last clicked an email {v} days ago",
    "days_since_last_case": "Last support case {v} days ago",
    "days_since_created": "Record created {v} days ago",
    "days_since_first_seen": "First seen {v} days ago",
    "tenure_days": "Known for {v} days",
    "customer_tenure_days": "Customer for {v} days",
    "account_age_days": "Known for {v} days",
    "lead_age_days": "Lead for {v} days",
    "age_days": "Known for {v} days",
    "avg_days_between_orders": "Orders every {v} days on average",
    "mean_days_between_orders": "Orders every {v} days on average",
    "avg_case_resolution_days": "Support cases took {v} days to close on average",
    "avg_resolution_days": "Support cases took {v} days to close on average",
}

# Yes/no features: name -> (sentence when true, sentence when false).
_FLAGS: dict[str, tuple[str, str]] = {
    "unsubscribed": ("Unsubscribed from emails", "Still subscribed to emails"),
    "has_company": ("Company given", "No company given"),
    "converted": ("Converted", "Not converted yet"),
    "is_customer": ("Already a customer", "Not a customer yet"),
    "has_open_case": ("Has an open support case", "No open support case"),
}

# Labels for features whose prettified name reads badly.
_LABELS: dict[str, str] = {
    "title_seniority": "Seniority",
    "employees": "Company size (employees)",
    "n_employees": "Company size (employees)",
    "lead_source": "Lead source",
}

_WINDOW = re.compile(r"^(?P<stem>.+?)_(?:last_)?(?P<n>\d+)_?(?P<unit>d|days|w|weeks|m|months|y|years)$")
_COUNT_PREFIX = re.compile(r"^(?:n|num|number_of|count|cnt|total|nb)_(?P<stem>.+)$")
_COUNT_SUFFIX = re.compile(r"^(?P<stem>.+)_(?:count|cnt|n|total)$")
_DAYS_SINCE = re.compile(r"^days_since_(?:the_)?(?P<what>.+)$")
_RATE_WORDS = ("rate", "ratio", "share", "pct", "percent", "fraction", "propensity")
_ABBREVIATIONS = {
    "avg": "avg",
    "n": "number of",
    "num": "number of",
    "cnt": "count",
    "pct": "%",
    "qty": "quantity",
    "amt": "amount",
    "nb": "number of",
    "id": "ID",
    "crm": "CRM",
    "url": "URL",
    "utm": "UTM",
    "b2b": "B2B",
    "b2c": "B2C",
    "sms": "SMS",
    "nps": "NPS",
    "csat": "CSAT",
}
_UNIT_WORDS = {
    "d": "day",
    "days": "day",
    "w": "week",
    "weeks": "week",
    "m": "month",
    "months": "month",
    "y": "year",
    "years": "year",
}


def reason_text(feature: str, value: Any, contribution: float | None) -> str:
    """One factor as a short sentence a rep can read.

    Args:
        feature: the feature name, as the model saw it.
        value: the person's value of that feature.
        contribution: the factor's signed contribution to the score (positive raises it).

    Returns:
        A sentence such as `Opened 7 emails in 90 days (+)`.

    Example:
        >>> reason_text("email_opens_90d", 7, 0.4)
        'Opened 7 emails in 90 days (+)'
    """
    sentence = _sentence(feature, value)
    if contribution is None or (isinstance(contribution, float) and math.isnan(contribution)):
        return sentence
    if contribution > 0:
        return f"{sentence} (+)"
    if contribution < 0:
        return f"{sentence} (-)"
    return sentence


def factor_reasons(top_factors: str | Sequence[dict] | None, *, limit: int = MAX_REASONS) -> list[str]:
    """The strongest factors of one prediction as sentences, strongest first.

    Args:
        top_factors: the JSON list from `scores.predictions.top_factors` (text or parsed).
        limit: how many reasons to keep.

    Returns:
        Up to `limit` sentences; factors with a zero contribution are left out; an empty list when
        there are no usable factors.
    """
    factors = _parse_factors(top_factors)
    usable = [f for f in factors if isinstance(f, dict) and f.get("feature")]
    usable = [f for f in usable if _number(f.get("contribution")) != 0.0]
    usable.sort(key=lambda f: -abs(_number(f.get("contribution")) or 0.0))
    return [
        reason_text(str(f["feature"]), f.get("value"), _number(f.get("contribution"))) for f in usable[:limit]
    ]


def reasons_field(top_factors: str | Sequence[dict] | None) -> str | None:
    """The reasons of one prediction as a single CRM text field.

    Args:
        top_factors: the JSON list from `scores.predictions.top_factors`.

    Returns:
        Reasons joined by `; `, cut at a whole reason to fit 255 characters; None when there are
        none.
    """
    out = ""
    for reason in factor_reasons(top_factors):
        candidate = f"{out}{REASON_SEPARATOR}{reason}" if out else reason
        if len(candidate) > MAX_REASONS_CHARS:
            break
        out = candidate
    if not out:
        return None
    return out


def _parse_factors(top_factors: str | Sequence[dict] | None) -> list:
    if top_factors is None:
        return []
    parsed: Any = top_factors
    # A JSON list stored as a JSON string (double-encoded) is unwrapped once more.
    for _ in range(2):
        if not isinstance(parsed, str):
            break
        try:
            parsed = json.loads(parsed)
        except json.JSONDecodeError:
            log.warning("top_factors is not JSON: %.80s", parsed)
            return []
    return list(parsed) if isinstance(parsed, list | tuple) else []


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _sentence(feature: str, value: Any) -> str:
    name = feature.strip().lower()
    if "=" in name:
        column, _, level = feature.partition("=")
        return f"{_pretty(column.strip().lower())}: {level.strip()}"
    number = _number(value)

    if name in _FLAGS and (isinstance(value, bool) or number in (0.0, 1.0)):
        yes, no = _FLAGS[name]
        return yes if bool(value) else no
    if name in _DAYS and number is not None:
        return _DAYS[name].format(v=_format_number(number))
    since = _DAYS_SINCE.match(name)
    if since and number is not None:
        what = since.group("what").removeprefix("last_")
        return f"Last {_words(what)} {_format_number(number)} days ago"
    if since and value is None:
        # Missing recency means the thing never happened within the feature's look-back.
        what = since.group("what").removeprefix("last_").removeprefix("first_")
        return f"No {_words(what)} on record"

    stem, window = name, ""
    windowed = _WINDOW.match(name)
    if windowed:
        stem = windowed.group("stem")
        n = int(windowed.group("n"))
        unit = _UNIT_WORDS[windowed.group("unit")]
        window = f" in {n} {unit}{'' if n == 1 else 's'}"

    if number is not None:
        if stem in _DAYS:
            return f"{_DAYS[stem].format(v=_format_number(number))}{window}"
        counted = _counted(stem)
        if counted:
            verb, singular, plural = counted
            noun = singular if number == 1 else plural
            phrase = f"{verb} {_format_number(number)} {noun}" if verb else f"{_format_number(number)} {noun}"
            return f"{phrase}{window}"
        money = _MONEY.get(stem) or _MONEY.get(_strip_count(stem) or "")
        if money:
            return f"{money} {_format_money(number)}{window}"
        if window and stem.endswith("_days"):
            return f"{_pretty(stem)}{window}: {_format_number(number)}"

    label = _LABELS.get(stem) or _pretty(stem)
    if window:
        label = f"{label} ({window.strip().removeprefix('in ')})"
    return f"{label}: {_format_value(stem, value)}"


def _counted(stem: str) -> tuple[str, str, str] | None:
    if stem in _COUNTED:
        return _COUNTED[stem]
    inner = _strip_count(stem)
    if inner and inner in _COUNTED:
        return _COUNTED[inner]
    return None


def _strip_count(stem: str) -> str | None:
    for pattern in (_COUNT_PREFIX, _COUNT_SUFFIX):
        match = pattern.match(stem)
        if match:
            return match.group("stem")
    return None


def _words(name: str) -> str:
    return " ".join(_ABBREVIATIONS.get(w, w) for w in name.split("_") if w)


def _pretty(name: str) -> str:
    words = _words(name)
    return words[:1].upper() + words[1:] if words else name


def _format_value(name: str, value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    number = _number(value)
    if number is None:
        return str(value)
    if any(word in name for word in _RATE_WORDS) and 0.0 <= number <= 1.0:
        return f"{number * 100:.0f}%"
    if name.startswith(("is_", "has_")) and number in (0.0, 1.0):
        return "yes" if number == 1.0 else "no"
    return _format_number(number)


def _format_number(number: float) -> str:
    if number == int(number) and abs(number) < 1e15:
        return f"{int(number):,}"
    if abs(number) >= 100:
        return f"{number:,.0f}"
    return f"{number:,.2f}".rstrip("0").rstrip(".")


def _format_money(number: float) -> str:
    if number == int(number):
        return f"{int(number):,}"
    return f"{number:,.2f}"
