"""An evidence oracle over the demo files: how well could a careful matcher do at best?

For every record it keeps the latest non-empty email, phone, loyalty number and name/address keys
(what `identity.person_records` keeps), links two records of the same true person when they share
one of those or an id namespace or an identify call, and measures the pairwise recall of the
resulting clusters against the ground truth. Precision is 1 by construction, so the recall is an
upper bound on what a matcher that never merges strangers could reach.
"""

import glob
from pathlib import Path

import polars as pl

NAMESPACES = {
    "web_events": "web_account",
    "app_events": "web_account",
    "shop_orders": "web_account",
    "email_events": "email",
    "store_orders": "loyalty",
    "crm_leads": "crm",
    "crm_contacts": "crm",
    "support_cases": "crm",
}


def _norm_email() -> pl.Expr:
    return pl.col("email").str.strip_chars().str.to_lowercase()


def _norm_phone() -> pl.Expr:
    return pl.col("phone").str.replace_all(r"\D", "").str.slice(-10)


def _norm_name(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().str.to_lowercase().str.replace_all(r"[^a-z]", "")


EVENT_FIELDS = {
    "userId": pl.String,
    "anonymousId": pl.String,
    "timestamp": pl.String,
    "type": pl.String,
    "traits": pl.Struct({"email": pl.String, "phone": pl.String}),
}


def read_events(out: Path, folder: str) -> pl.DataFrame:
    """The id, time and identify fields of every event of one event source."""
    files = sorted(glob.glob(str(out / "events" / folder / "*.jsonl")))
    # A fixed schema reads only these fields, which is many times faster than inferring them all.
    return pl.concat([pl.read_ndjson(f, schema=EVENT_FIELDS) for f in files])


def _latest(frame: pl.DataFrame, order: str, columns: list[str]) -> pl.DataFrame:
    return (
        frame.sort(order)
        .group_by("record_id")
        .agg([pl.col(c).drop_nulls().filter(pl.col(c).drop_nulls() != "").last().alias(c) for c in columns])
    )


def record_keys(out: Path) -> pl.DataFrame:
    """One row per (source, record_id) with its latest evidence values."""
    parts = []
    for source, folder in (("web_events", "web"), ("app_events", "app")):
        ev = read_events(out, folder).with_columns(
            record_id=pl.coalesce("userId", "anonymousId"),
            email=pl.col("traits").struct.field("email"),
            phone=pl.col("traits").struct.field("phone"),
        )
        keys = _latest(ev, "timestamp", ["email", "phone"]).with_columns(source=pl.lit(source))
        parts.append(keys)
    em = read_events(out, "email").with_columns(record_id=pl.col("userId"), email=pl.col("userId"))
    parts.append(_latest(em, "timestamp", ["email"]).with_columns(source=pl.lit("email_events")))
    shop = pl.read_csv(out / "orders" / "shop_orders.csv", infer_schema=False).with_columns(
        record_id=pl.col("account_id"),
        email=pl.col("customer_email"),
        phone=pl.col("billing_phone"),
        name_zip=pl.format(
            "{}|{}", _norm_name("billing_name").str.slice(-6), pl.col("shipping_zip").str.slice(0, 5)
        ),
    )
    parts.append(
        _latest(shop, "created_at", ["email", "phone", "name_zip"]).with_columns(source=pl.lit("shop_orders"))
    )
    store = pl.read_csv(out / "orders" / "store_orders.csv", infer_schema=False).with_columns(
        record_id=pl.col("loyalty_number"), loyalty=pl.col("loyalty_number")
    )
    parts.append(store.select("record_id", "loyalty").unique().with_columns(source=pl.lit("store_orders")))
    leads = pl.read_csv(out / "crm" / "leads.csv", infer_schema=False).with_columns(
        record_id=pl.col("Id"), email=pl.col("Email"), phone=pl.col("Phone")
    )
    parts.append(leads.select("record_id", "email", "phone").with_columns(source=pl.lit("crm_leads")))
    contacts = pl.read_csv(out / "crm" / "contacts.csv", infer_schema=False).with_columns(
        record_id=pl.col("Id"),
        email=pl.col("Email"),
        phone=pl.col("Phone"),
        loyalty=pl.col("Loyalty_Number__c"),
        name_zip=pl.format(
            "{}|{}",
            (_norm_name("FirstName") + _norm_name("LastName")).str.slice(-6),
            pl.col("MailingPostalCode").str.slice(0, 5),
        ),
    )
    parts.append(
        contacts.select("record_id", "email", "phone", "loyalty", "name_zip").with_columns(
            source=pl.lit("crm_contacts")
        )
    )
    cases = pl.read_csv(out / "crm" / "cases.csv", infer_schema=False)
    parts.append(cases.select(record_id="ContactId").unique().with_columns(source=pl.lit("support_cases")))
    keys = pl.concat(parts, how="diagonal_relaxed").with_columns(
        email=_norm_email(), phone=_norm_phone(), namespace=pl.col("source").replace_strict(NAMESPACES)
    )
    return keys


def identify_links(out: Path) -> pl.DataFrame:
    """Pairs (anonymousId record, userId record) from events carrying both ids."""
    links = []
    for source, folder in (("web_events", "web"), ("app_events", "app")):
        ev = read_events(out, folder).filter(pl.col("userId").is_not_null())
        links.append(ev.select(source=pl.lit(source), a="anonymousId", b="userId").unique())
    return pl.concat(links)


def oracle_recall(out: Path) -> dict[str, float]:
    """Pairwise recall of evidence-only clusters (no false merges) against the ground truth."""
    truth = pl.read_csv(out / "ground_truth" / "records.csv", infer_schema=False)
    keys = record_keys(out).join(truth, on=["source", "record_id"], how="inner")
    nodes = keys.select("source", "record_id", "person_id").unique().with_row_index("node")
    keys = keys.join(nodes, on=["source", "record_id", "person_id"])
    parent = list(range(nodes.height))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union_groups(frame: pl.DataFrame, key: str) -> None:
        grouped = (
            frame.filter(pl.col(key).is_not_null() & (pl.col(key) != ""))
            .group_by("person_id", key)
            .agg(pl.col("node").unique())
        )
        for members in grouped["node"].to_list():
            root = find(members[0])
            for m in members[1:]:
                parent[find(m)] = root

    keys = keys.with_columns(ns_key=pl.format("{}|{}", "namespace", "record_id"))
    for key in ("ns_key", "email", "phone", "loyalty", "name_zip"):
        union_groups(keys, key)
    node_of = {(s, r): n for s, r, n in nodes.select("source", "record_id", "node").iter_rows()}
    for source, a, b in identify_links(out).iter_rows():
        if (source, a) in node_of and (source, b) in node_of:
            parent[find(node_of[(source, a)])] = find(node_of[(source, b)])
    roots = [find(i) for i in range(nodes.height)]
    clusters = nodes.with_columns(cluster=pl.Series(roots))

    def pairs(counts: pl.Series) -> int:
        return int((counts * (counts - 1) // 2).sum())

    true_pairs = pairs(clusters.group_by("person_id").len()["len"])
    found_pairs = pairs(clusters.group_by("cluster").len()["len"])
    singletons = clusters.group_by("person_id").agg(pl.col("cluster").n_unique().alias("k"))
    return {
        "recall": found_pairs / true_pairs if true_pairs else 1.0,
        "f1": 2 * (found_pairs / true_pairs) / (1 + found_pairs / true_pairs) if true_pairs else 1.0,
        "people_split": float((singletons["k"] > 1).mean()),
        "records": float(nodes.height),
    }


if __name__ == "__main__":
    import sys

    print(oracle_recall(Path(sys.argv[1])))
