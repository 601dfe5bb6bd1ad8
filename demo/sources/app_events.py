"""Source `app_events`: the mobile app's Segment events (iOS and Android), one file per month."""

from pathlib import Path

import numpy as np
import polars as pl

from demo.catalog import BRAND
from demo.pools import APP_DEVICES
from demo.sessions import CHECKOUT_PAGE, IDENTIFY_LOGIN, LANDING, PRODUCT_PAGE, Clickstream
from demo.sources.behavioural import (
    TRACK_NAMES,
    enrich,
    head,
    identify_traits,
    order_summaries,
    track_properties,
)
from demo.sources.segment import assemble, encode_object, lines_by_kind, stamp_events, write_monthly
from demo.sources.written import WrittenSource, distinct_records

NAME = "app_events"
SCREEN_NAMES = {LANDING: "Home", PRODUCT_PAGE: "Product Detail", CHECKOUT_PAGE: "Checkout"}
APP_VERSIONS = (("4.1.0", "410"), ("4.2.0", "420"), ("4.2.1", "421"))


def _device_field(index: int, name: str) -> pl.Expr:
    values = {k: device[index] for k, device in enumerate(APP_DEVICES)}
    return pl.col("app_device").replace_strict(values, return_dtype=pl.String).alias(name)


def _context() -> pl.Expr:
    version = pl.col("app_version").replace_strict(
        {k: v for k, (v, _) in enumerate(APP_VERSIONS)}, return_dtype=pl.String
    )
    build = pl.col("app_version").replace_strict(
        {k: b for k, (_, b) in enumerate(APP_VERSIONS)}, return_dtype=pl.String
    )
    os_name = _device_field(0, "name")
    return encode_object(
        pl.struct(
            pl.struct(
                pl.lit(BRAND).alias("name"),
                version.alias("version"),
                build.alias("build"),
                pl.lit("com.northwind.outfitters").alias("namespace"),
            ).alias("app"),
            pl.struct(
                pl.col("device_id").alias("id"),
                _device_field(2, "manufacturer"),
                _device_field(3, "model"),
                os_name.str.to_lowercase().alias("type"),
            ).alias("device"),
            "ip",
            pl.struct(_device_field(4, "name"), _device_field(5, "version")).alias("library"),
            pl.lit("en-US").alias("locale"),
            pl.struct(pl.col("on_wifi").alias("wifi"), (~pl.col("on_wifi")).alias("cellular")).alias(
                "network"
            ),
            pl.struct(os_name, _device_field(1, "version")).alias("os"),
            pl.lit("America/Los_Angeles").alias("timezone"),
        )
    )


def write_app_events(
    out: Path,
    clickstream: Clickstream,
    catalog: pl.DataFrame,
    orders: pl.DataFrame,
    profiles: pl.DataFrame,
    forms: pl.DataFrame,
    people: pl.DataFrame,
    rng: np.random.Generator,
) -> WrittenSource:
    """Write the app events under `out/events/app/YYYY-MM.jsonl`.

    App users sign in with the same web shop account, so `userId` shares the web namespace;
    `anonymousId` is the app install's own id.

    Args:
        out: the demo data folder.
        clickstream: devices and the event skeleton.
        catalog: the product catalogue.
        orders: the order lines.
        profiles: web shop account profiles (identify traits on login).
        forms: contact-sales forms (unused by the app, kept for the shared enrichment).
        people: the population (email and phone at each moment).
        rng: the seeded generator.

    Returns:
        The files, the row count and the records (`userId`, else `anonymousId`, with the person).
    """
    events = clickstream.events.filter(pl.col("platform") == "app").drop("platform")
    events = stamp_events(events, rng, ["device_row", "kind", "product_row", "order_key"])
    events = events.with_columns(
        on_wifi=pl.Series(rng.random(events.height) < 0.7),
        app_version=pl.Series(
            np.minimum((events["ts"].to_numpy() - events["ts"].min()) // (240 * 86_400), 2)
            if events.height
            else []
        ),
    )
    summaries = order_summaries(orders, catalog)
    product_url = pl.format("northwind://product/{}", pl.col("product_id").str.to_lowercase())
    lines = {}
    for kind in (*SCREEN_NAMES, *TRACK_NAMES, IDENTIFY_LOGIN):
        if kind == PRODUCT_PAGE:
            properties = encode_object(
                pl.struct("product_id", "category", pl.col("product_name").alias("name"))
            )
        elif kind in SCREEN_NAMES:
            properties = pl.lit("{}")
        else:
            properties = track_properties(kind, product_url)
        objects = {"properties": properties, "context": _context(), "traits": identify_traits(kind)}
        lines[kind] = assemble(
            head(kind, SCREEN_NAMES, "screen"), {k: v for k, v in objects.items() if v is not None}
        )

    def to_lines(part: pl.DataFrame) -> pl.Series:
        return lines_by_kind(
            enrich(part, clickstream.devices, catalog, summaries, profiles, forms, people), lines
        )

    files = write_monthly(events, out / "events" / "app", to_lines)
    keys = events.join(clickstream.devices.select("device_row", "anonymous_id"), on="device_row").select(
        record_id=pl.coalesce("user_id", "anonymous_id"), pidx="pidx"
    )
    return WrittenSource(NAME, files, events.height, distinct_records(keys))
