"""Source `store_orders`: the stores' point-of-sale export of loyalty purchases (CSV).

The tills record the loyalty card and, when the cashier typed it, the customer's name; never an
email. Times are local and written day first (`31/01/2026 14:05`), as the POS vendor exports them.
"""

from pathlib import Path

import numpy as np
import polars as pl

from demo.arrays import strings
from demo.messiness import MessRates, nicknames, typos
from demo.sources.written import WrittenSource, distinct_records

NAME = "store_orders"
FILE = Path("orders") / "store_orders.csv"
TIME_FORMAT = "%d/%m/%Y %H:%M"


def write_store_orders(
    out: Path,
    orders: pl.DataFrame,
    catalog: pl.DataFrame,
    loyalty: pl.DataFrame,
    people: pl.DataFrame,
    rng: np.random.Generator,
    rates: MessRates,
) -> WrittenSource:
    """Write the store order lines to `out/orders/store_orders.csv`.

    Args:
        out: the demo data folder.
        orders: the order lines.
        catalog: the product catalogue.
        loyalty: `pidx, loyalty_number` of loyalty members.
        people: the population (names).
        rng: the seeded generator.
        rates: the mess rates.

    Returns:
        The file, the row count and the records (loyalty number with the person).
    """
    lines = orders.filter(pl.col("channel") == "store")
    heads = (
        lines.filter(pl.col("line_no") == 1)
        .select("order_key", "pidx")
        .join(people.select("pidx", "first_name", "last_name"), on="pidx", maintain_order="left")
    )
    n = heads.height
    first = typos(nicknames(heads["first_name"].to_numpy(), rates.nickname, rng), rates.name_typo, rng)
    last = typos(heads["last_name"].to_numpy(), rates.name_typo, rng)
    style = rng.choice(3, size=n, p=[0.5, 0.35, 0.15])
    name = np.where(
        style == 0,
        np.char.add(np.char.add(first.astype(str), " "), last.astype(str)),
        np.where(
            style == 1,
            np.char.upper(np.char.add(np.char.add(last.astype(str), ", "), first.astype(str))),
            np.char.add(np.char.add(first.astype(str).astype("<U1"), ". "), last.astype(str)),
        ),
    ).astype(object)
    name[rng.random(n) >= 0.4] = None
    per_order = heads.select(
        "order_key",
        customer_name=strings("customer_name", name),
        register=pl.Series(rng.integers(1, 6, size=n)),
        payment_type=pl.Series(
            np.array(["VISA", "MASTERCARD", "AMEX", "DEBIT", "CASH", "APPLE PAY"], dtype=object)[
                rng.choice(6, size=n, p=[0.35, 0.2, 0.07, 0.18, 0.08, 0.12])
            ],
            dtype=pl.String,
        ),
    )
    products = catalog.select(
        item_description=pl.col("name").str.to_uppercase(), product_row=pl.int_range(pl.len())
    )
    frame = (
        lines.join(per_order, on="order_key", maintain_order="left")
        .join(products, on="product_row", maintain_order="left")
        .join(loyalty.select("pidx", "loyalty_number"), on="pidx", maintain_order="left")
        .sort("order_key", "line_no")
    )
    table = frame.select(
        receipt_id="order_id",
        store_id=pl.format("S{}", pl.col("store_id").cast(pl.String).str.zfill(3)),
        register=pl.format("{}", "register"),
        loyalty_number="loyalty_number",
        customer_name="customer_name",
        transaction_time=pl.from_epoch("ordered_at").dt.strftime(TIME_FORMAT),
        line_number="line_no",
        item_code="product_id",
        item_description="item_description",
        department="category",
        qty="quantity",
        unit_price="unit_price",
        line_amount="amount",
        payment_type="payment_type",
    )
    path = out / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    table.write_csv(path, float_precision=2)
    records = distinct_records(frame.select(record_id="loyalty_number", pidx="pidx"))
    return WrittenSource(NAME, [path], table.height, records)
