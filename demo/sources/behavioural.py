"""What the web and app event writers share: product, order and identify payloads.

Both platforms send the Segment e-commerce spec events with the same properties, and identify
calls with the same account traits; only their `context` and page/screen calls differ.
"""

import numpy as np
import polars as pl

from demo.arrays import strings
from demo.catalog import BRAND, CURRENCY
from demo.messiness import format_phones
from demo.profiles import contact_details_at
from demo.sessions import (
    ADDED,
    CARE_PLAN,
    CHECKOUT_PAGE,
    CHECKOUT_STARTED,
    IDENTIFY_FORM,
    IDENTIFY_LOGIN,
    LANDING,
    ORDER_COMPLETED,
    PRODUCT_PAGE,
    VIEWED,
)
from demo.sources.segment import encode_head, encode_object, iso_timestamp

TRACK_NAMES = {
    VIEWED: "Product Viewed",
    ADDED: "Product Added",
    CHECKOUT_STARTED: "Checkout Started",
    ORDER_COMPLETED: "Order Completed",
    CARE_PLAN: "Care Plan Purchased",
}
CARE_PLAN_PRICE = 19.99


def order_summaries(orders: pl.DataFrame, catalog: pl.DataFrame) -> pl.DataFrame:
    """Per online order: its id, totals and the product list the checkout events carry.

    Args:
        orders: the order lines.
        catalog: the product catalogue.

    Returns:
        One row per online order: `order_key, order_id, revenue, shipping, total, products`.
    """
    products = catalog.select("sku", "name", product_row=pl.int_range(pl.len()))
    return (
        orders.filter(pl.col("channel") == "online")
        .join(products, on="product_row", maintain_order="left")
        .group_by("order_key")
        .agg(
            pl.col("order_id").first(),
            revenue=pl.col("amount").sum().round(2),
            products=pl.struct(
                "product_id", "sku", "name", "category", price="unit_price", quantity="quantity"
            ),
        )
        .with_columns(shipping=pl.when(pl.col("revenue") >= 75).then(0.0).otherwise(7.95))
        .with_columns(total=(pl.col("revenue") + pl.col("shipping")).round(2))
        .sort("order_key")
    )


def enrich(
    events: pl.DataFrame,
    devices: pl.DataFrame,
    catalog: pl.DataFrame,
    orders: pl.DataFrame,
    profiles: pl.DataFrame,
    forms: pl.DataFrame,
    people: pl.DataFrame,
) -> pl.DataFrame:
    """Attach everything a month of events needs for its payloads, keeping the row order.

    Args:
        events: a month of stamped skeleton events.
        devices: the devices (anonymous ids, ip, user agent, app device).
        catalog: the product catalogue.
        orders: from `order_summaries`.
        profiles: web shop account profiles.
        forms: contact-sales forms.
        people: the population.

    Returns:
        The events with product, order, device and identify columns added.
    """
    products = catalog.select(
        "product_id", "sku", "category", "price", product_name="name", product_row=pl.int_range(pl.len())
    )
    enriched = (
        events.join(
            devices.select("device_row", "anonymous_id", "device_id", "ip", "user_agent", "app_device"),
            on="device_row",
            how="left",
            maintain_order="left",
        )
        .join(products, on="product_row", how="left", maintain_order="left")
        .join(orders, on="order_key", how="left", maintain_order="left")
        .join(
            profiles.select("pidx", "first_name", "last_name", "gives_phone", "phone_style"),
            on="pidx",
            how="left",
            maintain_order="left",
        )
        .join(
            forms.select(
                "pidx",
                form_email="email",
                form_first="first_name",
                form_last="last_name",
                form_phone="phone",
                form_company="company",
                form_title="job_title",
                form_employees="employees",
                form_industry="industry",
            ),
            on="pidx",
            how="left",
            maintain_order="left",
        )
    )
    enriched = contact_details_at(enriched, people, "ts")
    digits = np.where(
        enriched["gives_phone"].fill_null(False).to_numpy(), enriched["mobile_now"].to_numpy(), None
    )
    styles = enriched["phone_style"].fill_null(0).to_numpy()
    return enriched.with_columns(
        login_phone=strings("login_phone", format_phones(digits, None, styles=styles))
    )


def head(kind: int, page_names: dict[int, str], page_type: str) -> pl.Expr:
    """The encoded top-level fields of one kind of call.

    Args:
        kind: the event kind.
        page_names: page or screen kinds -> page or screen names.
        page_type: `page` on the web, `screen` in the app.

    Returns:
        A string expression (see `encode_head`).
    """
    fields = [pl.col("message_id").alias("messageId")]
    if kind in TRACK_NAMES:
        fields += [pl.lit("track").alias("type"), pl.lit(TRACK_NAMES[kind]).alias("event")]
    elif kind in page_names:
        fields += [pl.lit(page_type).alias("type"), pl.lit(page_names[kind]).alias("name")]
    else:
        fields += [pl.lit("identify").alias("type")]
    fields += [
        pl.col("user_id").alias("userId"),
        pl.col("anonymous_id").alias("anonymousId"),
        iso_timestamp("ts_ms").alias("timestamp"),
    ]
    return encode_head(fields)


def track_properties(kind: int, product_url: pl.Expr) -> pl.Expr | None:
    """The e-commerce spec properties of one kind of track call, encoded.

    Args:
        kind: the event kind.
        product_url: the product page URL expression.

    Returns:
        A string expression, or None when the kind is not a track call.
    """
    product = [
        "product_id",
        "sku",
        "category",
        pl.col("product_name").alias("name"),
        pl.lit(BRAND).alias("brand"),
        "price",
        pl.lit(CURRENCY).alias("currency"),
    ]
    if kind == VIEWED:
        return encode_object(pl.struct([*product, product_url.alias("url")]))
    if kind == ADDED:
        return encode_object(pl.struct([*product, "quantity"]))
    if kind == CHECKOUT_STARTED:
        return encode_object(
            pl.struct(
                [
                    "order_id",
                    pl.col("total").alias("value"),
                    "revenue",
                    "shipping",
                    pl.lit(CURRENCY).alias("currency"),
                    "products",
                ]
            )
        )
    if kind == CARE_PLAN:
        return encode_object(
            pl.struct(
                "order_id",
                pl.lit("Northwind Care Plan").alias("plan"),
                pl.lit(CARE_PLAN_PRICE).alias("revenue"),
                pl.lit(CURRENCY).alias("currency"),
            )
        )
    if kind == ORDER_COMPLETED:
        return encode_object(
            pl.struct(
                ["order_id", "total", "revenue", "shipping", pl.lit(CURRENCY).alias("currency"), "products"]
            )
        )
    return None


def identify_traits(kind: int) -> pl.Expr | None:
    """The traits of an identify call: the account profile on login, the form on a contact request.

    Args:
        kind: the event kind.

    Returns:
        A string expression, or None when the kind is not an identify call.
    """
    if kind == IDENTIFY_LOGIN:
        return encode_object(
            pl.struct(
                pl.col("email_now").alias("email"),
                pl.col("first_name").alias("firstName"),
                pl.col("last_name").alias("lastName"),
                pl.col("login_phone").alias("phone"),
            )
        )
    if kind == IDENTIFY_FORM:
        return encode_object(
            pl.struct(
                pl.col("form_email").alias("email"),
                pl.col("form_first").alias("firstName"),
                pl.col("form_last").alias("lastName"),
                pl.col("form_phone").alias("phone"),
                pl.col("form_title").alias("title"),
                pl.struct(
                    pl.col("form_company").alias("name"),
                    pl.col("form_employees").alias("employee_count"),
                    pl.col("form_industry").alias("industry"),
                ).alias("company"),
            )
        )
    return None


def product_path() -> pl.Expr:
    """The web path of the event's product page (`/p/cmp-101`).

    Returns:
        A string expression.
    """
    return pl.format("/p/{}", pl.col("product_id").str.to_lowercase())


def page_of(kind: int) -> tuple[pl.Expr, pl.Expr]:
    """The web page (path and title) an event of this kind happens on.

    Args:
        kind: the event kind.

    Returns:
        `(path, title)` expressions.
    """
    if kind in (PRODUCT_PAGE, VIEWED, ADDED):
        return product_path(), pl.format("{} | {}", "product_name", pl.lit(BRAND))
    fixed = {
        LANDING: ("/", BRAND),
        CHECKOUT_PAGE: ("/checkout", f"Checkout | {BRAND}"),
        CHECKOUT_STARTED: ("/checkout", f"Checkout | {BRAND}"),
        ORDER_COMPLETED: ("/checkout/confirmation", f"Thank you | {BRAND}"),
        CARE_PLAN: ("/checkout/confirmation", f"Thank you | {BRAND}"),
        IDENTIFY_LOGIN: ("/account/login", f"Sign in | {BRAND}"),
    }
    path, title = fixed.get(kind, ("/business/contact", f"Contact sales | {BRAND}"))
    return pl.lit(path), pl.lit(title)
