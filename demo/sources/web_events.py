"""Source `web_events`: the web shop's analytics.js events, one JSON-lines file per month."""

from pathlib import Path

import numpy as np
import polars as pl

from demo.catalog import SHOP_URL
from demo.sessions import (
    CHECKOUT_PAGE,
    CONTACT_PAGE,
    IDENTIFY_FORM,
    IDENTIFY_LOGIN,
    LANDING,
    PRODUCT_PAGE,
    Clickstream,
)
from demo.sources.behavioural import (
    TRACK_NAMES,
    enrich,
    head,
    identify_traits,
    order_summaries,
    page_of,
    product_path,
    track_properties,
)
from demo.sources.segment import assemble, encode_object, lines_by_kind, stamp_events, write_monthly
from demo.sources.written import WrittenSource, distinct_records

NAME = "web_events"
PAGE_NAMES = {
    LANDING: "Home",
    PRODUCT_PAGE: "Product",
    CHECKOUT_PAGE: "Checkout",
    CONTACT_PAGE: "Contact Sales",
}
REFERRERS = (
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://www.instagram.com/",
    "https://duckduckgo.com/",
)
LIBRARY_VERSION = "npm:next-1.72.0"


def _context(path: pl.Expr, title: pl.Expr, url: pl.Expr) -> pl.Expr:
    return encode_object(
        pl.struct(
            "ip",
            pl.struct(pl.lit("analytics.js").alias("name"), pl.lit(LIBRARY_VERSION).alias("version")).alias(
                "library"
            ),
            pl.lit("en-US").alias("locale"),
            pl.struct(path.alias("path"), pl.col("referrer"), title.alias("title"), url.alias("url")).alias(
                "page"
            ),
            pl.col("user_agent").alias("userAgent"),
        )
    )


def write_web_events(
    out: Path,
    clickstream: Clickstream,
    catalog: pl.DataFrame,
    orders: pl.DataFrame,
    profiles: pl.DataFrame,
    forms: pl.DataFrame,
    people: pl.DataFrame,
    rng: np.random.Generator,
) -> WrittenSource:
    """Write the web events under `out/events/web/YYYY-MM.jsonl`.

    Args:
        out: the demo data folder.
        clickstream: devices and the event skeleton.
        catalog: the product catalogue.
        orders: the order lines.
        profiles: web shop account profiles (identify traits on login).
        forms: contact-sales forms (identify traits of prospects).
        people: the population (email and phone at each moment).
        rng: the seeded generator.

    Returns:
        The files, the row count and the records (`userId`, else `anonymousId`, with the person).
    """
    events = clickstream.events.filter(pl.col("platform") == "web").drop("platform")
    events = stamp_events(events, rng, ["device_row", "kind", "product_row", "order_key"])
    referrer = np.array([*REFERRERS, ""], dtype=object)[
        rng.choice(5, size=events.height, p=[0.45, 0.05, 0.1, 0.05, 0.35])
    ]
    events = events.with_columns(
        referrer=pl.when(pl.col("kind") == LANDING).then(
            pl.Series(referrer, dtype=pl.String).replace("", None)
        )
    )
    summaries = order_summaries(orders, catalog)
    product_url = pl.format(f"{SHOP_URL}{{}}", product_path())
    lines = {}
    for kind in (*PAGE_NAMES, *TRACK_NAMES, IDENTIFY_LOGIN, IDENTIFY_FORM):
        path, title = page_of(kind)
        url = pl.format(f"{SHOP_URL}{{}}", path)
        if kind in PAGE_NAMES:
            properties = encode_object(
                pl.struct(path.alias("path"), pl.col("referrer"), title.alias("title"), url.alias("url"))
            )
        else:
            properties = track_properties(kind, product_url)
        objects = {
            "properties": properties,
            "context": _context(path, title, url),
            "traits": identify_traits(kind),
        }
        lines[kind] = assemble(
            head(kind, PAGE_NAMES, "page"), {k: v for k, v in objects.items() if v is not None}
        )

    def to_lines(part: pl.DataFrame) -> pl.Series:
        return lines_by_kind(
            enrich(part, clickstream.devices, catalog, summaries, profiles, forms, people), lines
        )

    files = write_monthly(events, out / "events" / "web", to_lines)
    keys = events.join(clickstream.devices.select("device_row", "anonymous_id"), on="device_row").select(
        record_id=pl.coalesce("user_id", "anonymous_id"), pidx="pidx"
    )
    return WrittenSource(NAME, files, events.height, distinct_records(keys))
