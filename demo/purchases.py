"""Purchases: every order line each customer makes online or in a store until they churn.

People keep buying from their favourite one to three categories (85% of lines), which is the
signal the next-best-offer model learns.
"""

import numpy as np
import polars as pl

from demo.arrays import labels
from demo.lifecycle import Lifecycles
from demo.timeline import DAY, STORE_HOURS, T0, T1, WEB_HOURS, times_on_days, uniform_times

N_STORES = 24
FAVOURITE_SHARE = 0.85
# Within a category a few products sell far more than the rest.
PRODUCT_SLOT_WEIGHTS = np.array([0.25, 0.2, 0.15, 0.12, 0.1, 0.08, 0.06, 0.04])


def sample_products(
    people: pl.DataFrame,
    pidx: np.ndarray,
    catalog: pl.DataFrame,
    favourite_share: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Pick one catalogue row per draw, mostly from the person's favourite categories.

    Args:
        people: the population (favourite columns `fav_1..3`, `fav_w1..3`).
        pidx: the person behind each draw.
        catalog: the product catalogue, ordered by category then slot.
        favourite_share: chance a draw comes from a favourite category.
        rng: the seeded generator.

    Returns:
        Row numbers into `catalog`, one per draw.
    """
    favs = people.select("fav_1", "fav_2", "fav_3").to_numpy()[pidx]
    weights = people.select("fav_w1", "fav_w2", "fav_w3").to_numpy()[pidx]
    slot = (rng.random(len(pidx))[:, None] > np.cumsum(weights, axis=1)).sum(axis=1).clip(0, 2)
    favourite = favs[np.arange(len(pidx)), slot]
    n_categories = int(catalog["category_index"].max()) + 1
    per_category = catalog.height // n_categories
    category = np.where(
        (rng.random(len(pidx)) < favourite_share) & (favourite >= 0),
        favourite,
        rng.integers(0, n_categories, size=len(pidx)),
    )
    slots = rng.choice(
        per_category,
        size=len(pidx),
        p=PRODUCT_SLOT_WEIGHTS[:per_category] / PRODUCT_SLOT_WEIGHTS[:per_category].sum(),
    )
    return category * per_category + slots


def simulate_orders(
    people: pl.DataFrame, lifecycles: Lifecycles, catalog: pl.DataFrame, rng: np.random.Generator
) -> pl.DataFrame:
    """Draw every order line of the window, online and in store.

    Args:
        people: the population.
        lifecycles: the customer lifecycles (start, churn, channel, order rate).
        catalog: the product catalogue.
        rng: the seeded generator.

    Returns:
        One row per order line: `order_key, order_id, pidx, channel, platform, store_id, ordered_at,
        line_no, n_lines, product_row, product_id, category, quantity, unit_price, amount`, ordered by
        time. Online orders are numbered `NW-1000001`, ...; store receipts `R007-000123` per store.
    """
    customers = lifecycles.customers
    pidx = customers["pidx"].to_numpy()
    start = customers["start"].to_numpy()
    active_from = customers["active_from"].to_numpy()
    end = np.minimum(customers["churned_at"].to_numpy(), T1)
    span_days = np.maximum(end - active_from, 0) / 86_400
    counts = rng.poisson(customers["order_rate"].to_numpy() * span_days)
    row = np.repeat(np.arange(len(pidx)), counts)
    ordered_at = uniform_times(active_from[row], end[row], rng)
    # New customers are acquired by their first purchase.
    first = np.flatnonzero((start >= T0) & (start < end))
    row = np.concatenate([row, first])
    ordered_at = np.concatenate([ordered_at, start[first]])

    channel_of = customers["channel"].to_numpy()[row]
    online = np.where(channel_of == "omni", rng.random(len(row)) < 0.5, channel_of == "online")
    by_web_hours = times_on_days(ordered_at, rng, WEB_HOURS)
    by_store_hours = times_on_days(ordered_at, rng, STORE_HOURS)
    ordered_at = np.where(online, by_web_hours, by_store_hours)
    # A new customer's first purchase lands on their first day, at an hour their channel is open.
    first_day = (np.maximum(start[row], active_from[row]) // DAY) * DAY
    ordered_at = np.clip(ordered_at, first_day, np.maximum(end[row], first_day))
    person = pidx[row]
    n_app = people["n_app_devices"].to_numpy()[person]
    platform = np.where(online, np.where((n_app > 0) & (rng.random(len(row)) < 0.4), "app", "web"), "")
    home_store = rng.integers(1, N_STORES + 1, size=people.height)[person]
    store = np.where(rng.random(len(row)) < 0.85, home_store, rng.integers(1, N_STORES + 1, size=len(row)))

    n_lines = 1 + np.minimum(rng.poisson(0.45, size=len(row)), 3)
    order_key = np.repeat(np.arange(len(row)), n_lines)
    line_no = np.arange(len(order_key)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1
    line_person = person[order_key]
    product_row = sample_products(people, line_person, catalog, FAVOURITE_SHARE, rng)
    quantity = 1 + (rng.random(len(order_key)) < 0.12) + (rng.random(len(order_key)) < 0.03)
    list_price = catalog["price"].to_numpy()[product_row]
    unit_price = np.where(rng.random(len(order_key)) < 0.1, np.round(list_price * 0.8, 2), list_price)
    lines = pl.DataFrame(
        {
            "order_key": order_key,
            "pidx": line_person,
            "channel": labels("channel", np.where(online, "online", "store")[order_key]),
            "platform": labels("platform", platform[order_key]),
            "store_id": store[order_key],
            "ordered_at": ordered_at[order_key],
            "line_no": line_no,
            "n_lines": n_lines[order_key],
            "product_row": product_row,
            "product_id": catalog["product_id"].gather(product_row),
            "category": catalog["category"].gather(product_row),
            "quantity": quantity,
            "unit_price": unit_price,
            "amount": np.round(quantity * unit_price, 2),
        }
    )
    # Renumber orders in time order, so order numbers grow the way a shop's do.
    order_rank = (
        lines.filter(pl.col("line_no") == 1)
        .sort("ordered_at", "pidx", "order_key")
        .select("order_key", new_key=pl.int_range(pl.len()))
    )
    lines = (
        lines.join(order_rank, on="order_key")
        .drop("order_key")
        .rename({"new_key": "order_key"})
        .sort("order_key", "line_no")
    )
    online_number = pl.col("order_key").rank("dense").over("channel")
    return lines.with_columns(
        order_id=pl.when(pl.col("channel") == "online")
        .then(pl.format("NW-{}", (online_number + 1_000_000).cast(pl.String)))
        .otherwise(
            pl.format(
                "R{}-{}",
                pl.col("store_id").cast(pl.String).str.zfill(3),
                pl.col("order_key").rank("dense").over("channel", "store_id").cast(pl.String).str.zfill(6),
            )
        )
    )
