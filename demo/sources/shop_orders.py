"""Source `shop_orders`: the web shop's order export, one row per order line (CSV)."""

from pathlib import Path

import numpy as np
import polars as pl

from demo.arrays import strings
from demo.catalog import CURRENCY
from demo.messiness import (
    MessRates,
    email_variants,
    format_phones,
    state_variants,
    street_variants,
    typos,
    zip_plus_four,
)
from demo.pools import Pools
from demo.profiles import contact_details_at
from demo.sources.written import WrittenSource, distinct_records

NAME = "shop_orders"
FILE = Path("orders") / "shop_orders.csv"


def write_shop_orders(
    out: Path,
    orders: pl.DataFrame,
    catalog: pl.DataFrame,
    profiles: pl.DataFrame,
    people: pl.DataFrame,
    pools: Pools,
    rng: np.random.Generator,
    rates: MessRates,
) -> WrittenSource:
    """Write the online order lines to `out/orders/shop_orders.csv`.

    Checkout details are typed per order: the email is usually the current one (sometimes still
    the old one after a change), and the billing and shipping fields vary in format.

    Args:
        out: the demo data folder.
        orders: the order lines.
        catalog: the product catalogue.
        profiles: web shop account profiles (account id and name).
        people: the population.
        pools: state names for address variants.
        rng: the seeded generator.
        rates: the mess rates.

    Returns:
        The file, the row count and the records (account id with the person).
    """
    lines = orders.filter(pl.col("channel") == "online")
    heads = lines.filter(pl.col("line_no") == 1).select("order_key", "pidx", "ordered_at")
    heads = (
        contact_details_at(heads, people, "ordered_at")
        .join(
            profiles.select("pidx", "account_id", "first_name", "last_name"),
            on="pidx",
            how="left",
            maintain_order="left",
        )
        .join(
            people.select(
                "pidx", "street_number", "street", "unit", "city", "state", "postcode", "home_phone"
            ),
            on="pidx",
            how="left",
            maintain_order="left",
        )
    )
    n = heads.height
    use_old = heads["old_email"].is_not_null().to_numpy() & (rng.random(n) < rates.old_email_on_order)
    email = np.where(use_old, heads["old_email"].to_numpy(), heads["email_now"].to_numpy())
    email = email_variants(email, rates.case_noise, rng)
    name = heads.select(pl.format("{} {}", "first_name", "last_name")).to_series().to_numpy()
    name = typos(name, rates.name_typo / 2, rng)
    phone_digits = np.where(
        rng.random(n) < 0.3, heads["home_phone"].to_numpy(), heads["mobile_now"].to_numpy()
    )
    phone_digits = np.where(rng.random(n) < 0.5, phone_digits, None)
    street = heads.select(pl.format("{} {}", "street_number", "street")).to_series().to_numpy()
    street = street_variants(street, rates.address_variant, rng)
    state = state_variants(heads["state"].to_numpy(), pools.state_names, rates.address_variant / 3, rng)
    postcode = zip_plus_four(heads["postcode"].to_numpy(), rates.address_variant / 3, rng)
    country = np.array(["US", "United States", "USA"], dtype=object)[
        rng.choice(3, size=n, p=[0.8, 0.15, 0.05])
    ]
    per_order = heads.select(
        "order_key",
        "account_id",
        customer_email=strings("customer_email", email),
        billing_name=strings("billing_name", name),
        billing_phone=strings("billing_phone", format_phones(phone_digits, rng)),
        shipping_address1=strings("shipping_address1", street),
        shipping_address2=pl.col("unit"),
        shipping_city=pl.col("city"),
        shipping_state=strings("shipping_state", state),
        shipping_zip=strings("shipping_zip", postcode),
        shipping_country=strings("shipping_country", country),
    )
    products = catalog.select(product_name="name", product_row=pl.int_range(pl.len()))
    frame = (
        lines.join(per_order, on="order_key", maintain_order="left")
        .join(products, on="product_row", maintain_order="left")
        .sort("order_key", "line_no")
    )
    table = frame.select(
        "order_id",
        "account_id",
        "customer_email",
        created_at=pl.from_epoch("ordered_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        line_number="line_no",
        product_id="product_id",
        product_name="product_name",
        product_category="category",
        quantity="quantity",
        unit_price="unit_price",
        line_amount="amount",
        currency=pl.lit(CURRENCY),
        billing_name="billing_name",
        billing_phone="billing_phone",
        shipping_address1="shipping_address1",
        shipping_address2="shipping_address2",
        shipping_city="shipping_city",
        shipping_state="shipping_state",
        shipping_zip="shipping_zip",
        shipping_country="shipping_country",
    )
    path = out / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    table.write_csv(path, float_precision=2)
    records = distinct_records(frame.select(record_id="account_id", pidx="pidx"))
    return WrittenSource(NAME, [path], table.height, records)
