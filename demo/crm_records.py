"""The CRM's records: lead, contact and account ids, including contacts entered twice.

Ids are assigned here, before any CRM file is written, because the files point at each other:
a converted lead names its contact, and a support case names the contact it belongs to.
"""

import numpy as np
import polars as pl

from demo.identifiers import salesforce_ids
from demo.lifecycle import Lifecycles
from demo.messiness import MessRates
from demo.timeline import DAY, T1


def build_crm_records(
    people: pl.DataFrame, lifecycles: Lifecycles, rng: np.random.Generator, rates: MessRates
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Give every lead and contact its Salesforce id and every contact its account.

    Args:
        people: the population (households and companies group contacts into accounts).
        lifecycles: leads and contacts with their creation times.
        rng: the seeded generator.
        rates: the mess rates (share of contacts entered twice).

    Returns:
        `(leads, contacts)`: leads with `lead_id`, and one row per contact record with
        `contact_id, pidx, contact_created, origin` (`shopper`, `converted` or `duplicate`) and
        `account_sf_id`.
    """
    leads = lifecycles.leads.sort("created_at", "pidx")
    leads = leads.with_columns(lead_id=pl.Series(salesforce_ids("00Q", leads.height, rng)))
    converted = set(leads.filter(pl.col("converted_at") >= 0)["pidx"].to_list())
    contacts = lifecycles.contacts.with_columns(
        origin=pl.when(pl.col("pidx").is_in(list(converted)))
        .then(pl.lit("converted"))
        .otherwise(pl.lit("shopper"))
    )
    shoppers = contacts.filter(pl.col("origin") == "shopper")
    twice = shoppers.filter(pl.Series(rng.random(shoppers.height) < rates.duplicate_contact))
    duplicates = twice.select(
        "pidx",
        contact_created=pl.Series(
            np.minimum(
                twice["contact_created"].to_numpy() + rng.integers(20 * DAY, 400 * DAY, size=twice.height),
                T1 - DAY,
            )
        ),
        origin=pl.lit("duplicate"),
    )
    contacts = pl.concat([contacts, duplicates]).sort("contact_created", "pidx", "origin")
    contacts = contacts.with_columns(contact_id=pl.Series(salesforce_ids("003", contacts.height, rng)))
    # Consumers sit in one household account each, business contacts in their company's account.
    groups = people.select(
        "pidx",
        group=pl.when(pl.col("company_id") >= 0)
        .then(pl.format("company-{}", "company_id"))
        .otherwise(pl.format("household-{}", "household_id")),
    )
    contacts = contacts.join(groups, on="pidx", how="left", maintain_order="left")
    account_keys = contacts["group"].unique(maintain_order=True)
    accounts = pl.DataFrame(
        {"group": account_keys, "account_sf_id": salesforce_ids("001", len(account_keys), rng)}
    )
    contacts = contacts.join(accounts, on="group", how="left", maintain_order="left").drop("group")
    return leads, contacts
