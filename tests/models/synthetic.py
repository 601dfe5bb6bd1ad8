"""A small synthetic shop and CRM with planted signal, written straight into staging tables.

Customers either stay (order every few weeks until the end) or leave at a random date; leaving
customers stop opening emails a month before their last order, so engagement predicts churn.
Leads from `referral` or with many page views convert far more often. Each customer has a
favourite category that most of their orders fall in; every few months the favourite moves to
another category, which the customer browses in the weeks before the move, so recent views
predict the next purchases better than the year's most-bought category.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np

from tests.feature_store.staging_frames import write_staging

START = datetime(2023, 1, 1)
END = datetime(2024, 7, 1)  # exclusive: the day after the latest fact is END
CATEGORIES = ["books", "garden", "kitchen", "outdoor", "toys"]


def _days(rng: np.random.Generator, low: float, high: float) -> timedelta:
    return timedelta(days=float(rng.uniform(low, high)))


def _next_interest(
    rng: np.random.Generator, now: datetime, favourite: str, rid: str, events: list[dict]
) -> tuple[datetime, str]:
    """When the favourite category moves next and to which, with the views that announce it."""
    switch = now + _days(rng, 60, 150)
    upcoming = CATEGORIES[
        (CATEGORIES.index(favourite) + 1 + int(rng.integers(len(CATEGORIES) - 1))) % len(CATEGORIES)
    ]
    for v in range(3):
        viewed = switch - _days(rng, 2, 25)
        if viewed >= END:
            continue
        events.append(
            {
                "record_id": rid,
                "message_id": f"{rid}-i{switch.timestamp():.0f}-{v}",
                "type": "track",
                "event": "Product Viewed",
                "timestamp": viewed,
                "properties": {"category": upcoming},
            }
        )
    return switch, upcoming


def build_shop(
    con: duckdb.DuckDBPyConnection,
    *,
    customers: int = 240,
    leads: int = 240,
    seed: int = 1,
    with_orders: bool = True,
    with_leads: bool = True,
) -> None:
    """Fill staging and record_xref with a synthetic shop (customers) and CRM (leads)."""
    rng = np.random.default_rng(seed)
    orders, events, people, cases = [], [], [], []
    span = (END - START).days
    for i in range(customers if with_orders else 0):
        rid = f"c{i}"
        first = START + _days(rng, 0, 200)
        stays = rng.random() < 0.5
        stop = END if stays else first + _days(rng, 60, span - 10)
        stop = min(stop, END)
        favourite = CATEGORIES[i % len(CATEGORIES)]
        switch, upcoming = _next_interest(rng, first, favourite, rid, events)
        t, n = first, 0
        while t < stop:
            if t >= switch:
                favourite = upcoming
                switch, upcoming = _next_interest(rng, t, favourite, rid, events)
            category = favourite if rng.random() < 0.8 else CATEGORIES[rng.integers(len(CATEGORIES))]
            orders.append(
                {
                    "record_id": rid,
                    "order_id": f"{rid}-{n}",
                    "ordered_at": t,
                    "amount": float(rng.uniform(10, 80)),
                    "product_category": category,
                    "product_id": f"{category}-{rng.integers(3)}",
                }
            )
            if rng.random() < 0.5:
                events.append(
                    {
                        "record_id": rid,
                        "message_id": f"{rid}-v{n}",
                        "type": "track",
                        "event": "Product Viewed",
                        "timestamp": t - timedelta(hours=2),
                        "properties": {"category": favourite},
                    }
                )
            n += 1
            t += _days(rng, 10, 30)
        e, k = first, 0
        engaged_until = stop - timedelta(days=30)
        while e < min(END, stop + timedelta(days=60)):
            if e < engaged_until and rng.random() < 0.8:
                events.append(
                    {
                        "record_id": rid,
                        "message_id": f"{rid}-e{k}",
                        "type": "track",
                        "event": "Email Opened",
                        "timestamp": e,
                    }
                )
            e += _days(rng, 5, 12)
            k += 1
        if rng.random() < 0.2:
            opened = first + _days(rng, 0, span / 2)
            cases.append(
                {
                    "record_id": rid,
                    "case_id": f"{rid}-case",
                    "opened_at": opened,
                    "closed_at": opened + timedelta(days=3),
                }
            )
    for i in range(leads if with_leads else 0):
        rid = f"l{i}"
        created = START + _days(rng, 0, span - 20)
        source = ["referral", "web", "event", "paid"][i % 4]
        views = int(rng.integers(0, 12))
        for v in range(views):
            events.append(
                {
                    "record_id": rid,
                    "message_id": f"{rid}-p{v}",
                    "type": "page",
                    "timestamp": created + _days(rng, 0, 20),
                }
            )
        p = 0.08 + (0.5 if source == "referral" else 0.0) + 0.04 * views
        converts = rng.random() < min(p, 0.95)
        converted_at = created + _days(rng, 21, 80) if converts else None
        if converted_at is not None and converted_at >= END:
            converted_at = None
        people.append(
            {
                "record_id": rid,
                "crm_object": "Lead",
                "created_at": created,
                "lead_source": source,
                "job_title": ["CEO", "Engineer", "Marketing Manager", "VP Sales"][i % 4],
                "converted": converted_at is not None,
                "converted_at": converted_at,
                "status": "Converted" if converted_at else "Open",
            }
        )
    write_staging(con, people=people, events=events, orders=orders, cases=cases)
