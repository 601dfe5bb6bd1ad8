"""The answer key: which source records belong to which true person, and who those people are.

Written to `ground_truth/`, which the pipeline never reads; evaluation scripts and tests compare
identity resolution and the models against it.
"""

from pathlib import Path

import polars as pl

from demo.catalog import CATEGORY_NAMES
from demo.lifecycle import NEVER, Lifecycles
from demo.sources.written import WrittenSource

RECORDS_FILE = Path("ground_truth") / "records.csv"
PEOPLE_FILE = Path("ground_truth") / "people.csv"


def _iso(column: str) -> pl.Expr:
    return pl.when((pl.col(column) >= 0) & (pl.col(column) < NEVER)).then(
        pl.from_epoch(column).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def write_records(out: Path, sources: list[WrittenSource], people: pl.DataFrame) -> Path:
    """Write `ground_truth/records.csv`: `source, record_id, person_id` for every person key.

    Args:
        out: the demo data folder.
        sources: what each source writer produced.
        people: the population (`pidx` -> `person_id`).

    Returns:
        The file written.
    """
    frames = [s.records.with_columns(source=pl.lit(s.name)) for s in sources]
    records = (
        pl.concat(frames)
        .join(people.select("pidx", "person_id"), on="pidx")
        .select("source", "record_id", "person_id")
        .sort("source", "record_id")
    )
    path = out / RECORDS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    records.write_csv(path)
    return path


def write_people(
    out: Path,
    people: pl.DataFrame,
    lifecycles: Lifecycles,
    profiles: pl.DataFrame,
    loyalty: pl.DataFrame,
    leads: pl.DataFrame,
) -> Path:
    """Write `ground_truth/people.csv`: true attributes, latent traits and lifecycle dates per person.

    Args:
        out: the demo data folder.
        people: the population.
        lifecycles: customer lifecycles (start, churn).
        profiles: web shop accounts (`account_id`).
        loyalty: loyalty members (`loyalty_number`).
        leads: leads with their ids and conversion.

    Returns:
        The file written.
    """
    names = pl.Series(CATEGORY_NAMES)
    favourites = (
        pl.concat_list(
            [
                pl.when(pl.col(c) >= 0).then(pl.col(c).replace_strict(dict(enumerate(names)), default=None))
                for c in ("fav_1", "fav_2", "fav_3")
            ]
        )
        .list.drop_nulls()
        .list.join("|")
    )
    table = (
        people.join(
            lifecycles.customers.select("pidx", customer_since="start", churned="churned_at"),
            on="pidx",
            how="left",
        )
        .join(profiles.select("pidx", "account_id"), on="pidx", how="left")
        .join(loyalty.select("pidx", "loyalty_number"), on="pidx", how="left")
        .join(leads.select("pidx", "lead_id", "lead_created_at", "converted_at"), on="pidx", how="left")
        .sort("pidx")
        .select(
            "person_id",
            "segment",
            "gender",
            "first_name",
            "last_name",
            "birth_date",
            "email",
            email_changed_to=pl.when(pl.col("email_changed_at") >= 0).then("email_new"),
            email_changed_at=_iso("email_changed_at"),
            mobile_phone="mobile",
            mobile_changed_to=pl.when(pl.col("phone_changed_at") >= 0).then("mobile_new"),
            mobile_changed_at=_iso("phone_changed_at"),
            home_phone="home_phone",
            household_id=pl.when(pl.col("household_id") >= 0).then("household_id"),
            address_line1=pl.format("{} {}", "street_number", "street"),
            address_line2="unit",
            city="city",
            state="state",
            postcode="postcode",
            company="company",
            job_title="job_title",
            seniority=pl.when(pl.col("seniority") >= 0).then("seniority"),
            employees=pl.when(pl.col("employees") > 0).then("employees"),
            industry="industry",
            lead_source="lead_source",
            lead_id="lead_id",
            lead_created_at=_iso("lead_created_at"),
            converted_at=_iso("converted_at"),
            channel="channel",
            account_id="account_id",
            loyalty_number="loyalty_number",
            customer_since=_iso("customer_since"),
            churned_at=_iso("churned"),
            engagement=pl.col("engagement").round(4),
            lead_fit=pl.when(pl.col("segment") == "prospect").then(pl.col("fit").round(4)),
            conversion_propensity=pl.when(pl.col("segment") == "prospect").then(
                pl.col("conversion_propensity").round(4)
            ),
            orders_per_month=pl.when(pl.col("customer_since").is_not_null()).then(
                (pl.col("order_rate") * 30).round(4)
            ),
            support_trouble=pl.col("trouble").round(4),
            favourite_categories=favourites,
        )
    )
    path = out / PEOPLE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    table.write_csv(path)
    return path
