"""Source `crm_contacts`: the CRM's Contact object export (Salesforce field names, CSV).

Shoppers become contacts when they join the loyalty programme or open a web account; converted
leads become contacts of their company's account. A few shoppers were entered twice by service
agents (no loyalty number, a later email). Contacts are not always kept current: when a person
changes email or phone, the CRM picks it up only some of the time.
"""

from pathlib import Path

import numpy as np
import polars as pl

from demo.arrays import strings
from demo.consent import with_crm_flags
from demo.messiness import (
    MessRates,
    blank,
    email_variants,
    format_phones,
    state_variants,
    street_variants,
    zip_plus_four,
)
from demo.pools import Pools
from demo.sources.salesforce import sf_datetime, typed_names
from demo.sources.written import WrittenSource, distinct_records
from demo.timeline import DAY, EXPORTED_AT

NAME = "crm_contacts"
FILE = Path("crm") / "contacts.csv"


def _current(
    old: np.ndarray, new: np.ndarray, changed_at: np.ndarray, created: np.ndarray, updated: np.ndarray
) -> np.ndarray:
    """The value a CRM record holds: the new one if it existed at creation or the record was updated."""
    moved_before = (changed_at >= 0) & (changed_at <= created)
    moved_after = (changed_at > created) & updated
    return np.where(moved_before | moved_after, new, old)


def write_crm_contacts(
    out: Path,
    contacts: pl.DataFrame,
    loyalty: pl.DataFrame,
    profiles: pl.DataFrame,
    people: pl.DataFrame,
    pools: Pools,
    rng: np.random.Generator,
    rates: MessRates,
    consent_flags: pl.DataFrame,
) -> WrittenSource:
    """Write the contact export to `out/crm/contacts.csv`.

    Args:
        out: the demo data folder.
        contacts: contact records with ids and accounts (from `build_crm_records`).
        loyalty: `pidx, loyalty_number` of loyalty members.
        profiles: web shop account profiles (`Web_Account_Id__c`).
        people: the population.
        pools: state names for address variants.
        rng: the seeded generator.
        rates: the mess rates.
        consent_flags: `Id, HasOptedOutOfEmail, DoNotCall` per contact (`demo.consent`).

    Returns:
        The file, the row count and the records (contact id with the person).
    """
    frame = (
        contacts.join(
            people.select(
                "pidx",
                "first_name",
                "last_name",
                "birth_date",
                "email",
                "email_new",
                "email_changed_at",
                "mobile",
                "mobile_new",
                "phone_changed_at",
                "home_phone",
                "job_title",
                "street_number",
                "street",
                "unit",
                "city",
                "state",
                "postcode",
            ),
            on="pidx",
            maintain_order="left",
        )
        .join(loyalty.select("pidx", "loyalty_number"), on="pidx", how="left", maintain_order="left")
        .join(profiles.select("pidx", "account_id"), on="pidx", how="left", maintain_order="left")
    )
    n = frame.height
    exported = int(EXPORTED_AT.timestamp())
    created = frame["contact_created"].to_numpy()
    duplicate = (frame["origin"] == "duplicate").to_numpy()
    converted = (frame["origin"] == "converted").to_numpy()
    updated = rng.random(n) < rates.crm_updated_on_change
    email = _current(
        frame["email"].to_numpy(),
        frame["email_new"].to_numpy(),
        frame["email_changed_at"].to_numpy(),
        created,
        updated,
    )
    email = email_variants(email, rates.case_noise, rng)
    mobile = _current(
        frame["mobile"].to_numpy(),
        frame["mobile_new"].to_numpy(),
        frame["phone_changed_at"].to_numpy(),
        created,
        updated,
    )
    phone_digits = np.where(
        frame["home_phone"].is_not_null().to_numpy(), frame["home_phone"].to_numpy(), mobile
    )
    phone_digits = blank(phone_digits, rates.missing_phone, rng)
    mobile_digits = np.where(rng.random(n) < 0.5, mobile, None)
    first, last = typed_names(
        frame["first_name"].to_numpy(),
        frame["last_name"].to_numpy(),
        rng,
        rates,
        np.where(duplicate, 0.4, 0.08),
        rates.case_noise,
    )
    street = frame.select(pl.format("{} {}", "street_number", "street")).to_series().to_numpy()
    street = street_variants(street, rates.address_variant, rng)
    has_address = rng.random(n) < np.where(duplicate, 0.5, 0.92)
    birth_known = ~duplicate & (rng.random(n) < np.where(converted, 0.1, 1 - rates.missing_birthdate))
    loyalty_known = ~duplicate & (rng.random(n) < 0.98)
    account_known = ~duplicate & (rng.random(n) < 0.7)
    touched = created + (rng.random(n) * np.maximum(exported - DAY - created, 0)).astype(np.int64)
    modified = np.maximum(created, np.where(rng.random(n) < 0.6, touched, created))
    table = frame.with_columns(
        FirstName=first,
        LastName=last,
        Email=strings("Email", email),
        Phone=strings("Phone", format_phones(phone_digits, rng)),
        MobilePhone=strings("MobilePhone", format_phones(mobile_digits, rng)),
        Birthdate=pl.when(pl.Series(birth_known)).then(pl.col("birth_date").dt.strftime("%Y-%m-%d")),
        MailingStreet=strings("MailingStreet", np.where(has_address, street, None)),
        MailingCity=pl.when(pl.Series(has_address)).then("city"),
        MailingState=strings(
            "MailingState",
            np.where(
                has_address, state_variants(frame["state"].to_numpy(), pools.state_names, 0.1, rng), None
            ),
        ),
        MailingPostalCode=strings(
            "MailingPostalCode",
            np.where(has_address, zip_plus_four(frame["postcode"].to_numpy(), 0.1, rng), None),
        ),
        MailingCountry=pl.when(pl.Series(has_address)).then(pl.lit("United States")),
        Loyalty_Number__c=pl.when(pl.Series(loyalty_known)).then("loyalty_number"),
        Web_Account_Id__c=pl.when(pl.Series(account_known)).then("account_id"),
        modified=pl.Series(modified),
    ).select(
        Id="contact_id",
        AccountId="account_sf_id",
        FirstName="FirstName",
        LastName="LastName",
        Email="Email",
        Phone="Phone",
        MobilePhone="MobilePhone",
        Title=pl.when(pl.Series(converted)).then("job_title"),
        Birthdate="Birthdate",
        MailingStreet="MailingStreet",
        MailingCity="MailingCity",
        MailingState="MailingState",
        MailingPostalCode="MailingPostalCode",
        MailingCountry="MailingCountry",
        Loyalty_Number__c="Loyalty_Number__c",
        Web_Account_Id__c="Web_Account_Id__c",
        CreatedDate=sf_datetime("contact_created"),
        LastModifiedDate=sf_datetime("modified"),
    )
    table = with_crm_flags(table, consent_flags, after="MobilePhone")
    path = out / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    table.write_csv(path)
    records = distinct_records(frame.select(record_id="contact_id", pidx="pidx"))
    return WrittenSource(NAME, [path], table.height, records)
