"""The demo company's product catalogue: ten categories of outdoor and lifestyle goods."""

import numpy as np
import polars as pl

BRAND = "Northwind Outfitters"
SHOP_URL = "https://www.northwind-outfitters.example"
CURRENCY = "USD"

# category: (sku prefix, typical price, nouns used to name its products)
CATEGORIES: dict[str, tuple[str, float, tuple[str, ...]]] = {
    "Apparel": (
        "APP",
        45.0,
        ("Fleece Jacket", "Merino Tee", "Rain Shell", "Hoodie", "Chino Pants", "Beanie"),
    ),
    "Footwear": ("FTW", 110.0, ("Trail Runner", "Hiking Boot", "Sandal", "Sneaker", "Wool Sock Pack")),
    "Outdoor Gear": ("OUT", 70.0, ("Daypack", "Headlamp", "Trekking Poles", "Water Filter", "Multitool")),
    "Camping": ("CMP", 130.0, ("2-Person Tent", "Sleeping Bag", "Camp Stove", "Sleeping Pad", "Camp Chair")),
    "Cycling": ("CYC", 85.0, ("Bike Helmet", "Bike Light Set", "Saddle Bag", "Cycling Gloves", "Mini Pump")),
    "Fitness": ("FIT", 40.0, ("Yoga Mat", "Kettlebell", "Resistance Bands", "Foam Roller", "Jump Rope")),
    "Electronics": ("ELC", 160.0, ("GPS Watch", "Action Camera", "Power Bank", "Earbuds", "Solar Charger")),
    "Home Office": ("HOM", 95.0, ("Desk Lamp", "Ergonomic Chair Cushion", "Monitor Stand", "Notebook Set")),
    "Kitchen": ("KIT", 35.0, ("Insulated Bottle", "Coffee Press", "Lunch Box", "Travel Mug", "Spice Kit")),
    "Travel": ("TRV", 75.0, ("Carry-on Bag", "Packing Cubes", "Travel Pillow", "Passport Wallet", "Duffel")),
}
CATEGORY_NAMES: tuple[str, ...] = tuple(CATEGORIES)
ADJECTIVES = ("Summit", "Ridge", "Trail", "Basecamp", "Harbor", "Canyon", "Alpine", "Coastal")


def build_catalog(rng: np.random.Generator, per_category: int = 8) -> pl.DataFrame:
    """Build the product list with stable ids, names and list prices.

    Args:
        rng: the seeded generator (prices vary around each category's typical price).
        per_category: products per category.

    Returns:
        One row per product: `product_id, sku, name, category, category_index, price`.
    """
    rows = []
    for index, (category, (prefix, typical, nouns)) in enumerate(CATEGORIES.items()):
        for k in range(per_category):
            noun = nouns[k % len(nouns)]
            adjective = ADJECTIVES[(k + index) % len(ADJECTIVES)]
            price = round(float(typical * rng.lognormal(0.0, 0.35)), 0) - 0.01
            rows.append(
                {
                    "product_id": f"{prefix}-{101 + k}",
                    "sku": f"NW-{prefix}-{101 + k}-{'SML'[k % 3]}",
                    "name": f"{adjective} {noun}",
                    "category": category,
                    "category_index": index,
                    "price": max(price, 4.99),
                }
            )
    return pl.DataFrame(rows)
