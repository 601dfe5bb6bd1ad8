"""Source `crm_leads`: the CRM's Lead object export (Salesforce field names, CSV)."""

from pathlib import Path

import numpy as np
import polars as pl

from demo.arrays import strings
from demo.consent import with_crm_flags
from demo.messiness import MessRates, email_variants, format_phones, state_variants, street_variants
from demo.pools import Pools
from demo.profiles import contact_details_at
from demo.sources.salesforce import sf_boolean, sf_date, sf_datetime, typed_names
from demo.sources.written import WrittenSource, distinct_records
from demo.timeline import DAY, EXPORTED_AT

NAME = "crm_leads"
FILE = Path("crm") / "leads.csv"


def _status(leads: pl.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each lead's status at export time and when it last changed."""
    exported = int(EXPORTED_AT.timestamp())
    created = leads["created_at"].to_numpy()
    converted = leads["converted_at"].to_numpy()
    age_days = (exported - created) / DAY
    roll = rng.random(len(created))
    status = np.where(
        converted >= 0,
        "Closed - Converted",
        np.where(
            (age_days > 150) & (roll < 0.65),
            "Closed - Not Converted",
            np.where((age_days < 14) & (roll < 0.5), "Open - Not Contacted", "Working - Contacted"),
        ),
    ).astype(object)
    touched = created + (rng.random(len(created)) * np.minimum(age_days, 120) * DAY).astype(np.int64)
    modified = np.where(
        converted >= 0, converted, np.where(status == "Open - Not Contacted", created, touched)
    )
    return status, np.minimum(modified, exported - DAY)


def write_crm_leads(
    out: Path,
    leads: pl.DataFrame,
    contacts: pl.DataFrame,
    forms: pl.DataFrame,
    people: pl.DataFrame,
    pools: Pools,
    rng: np.random.Generator,
    rates: MessRates,
    consent_flags: pl.DataFrame,
) -> WrittenSource:
    """Write the lead export to `out/crm/leads.csv`.

    Web and webinar leads were created by the contact-sales form, so they carry what the prospect
    typed; the others were keyed in or imported (purchased lists often arrive in capitals).

    Args:
        out: the demo data folder.
        leads: leads with their ids and conversion (from `build_crm_records`).
        contacts: contact records (a converted lead points at its contact).
        forms: the contact-sales forms.
        people: the population.
        pools: state names for address variants.
        rng: the seeded generator.
        rates: the mess rates.
        consent_flags: `Id, HasOptedOutOfEmail, DoNotCall` per lead (`demo.consent`).

    Returns:
        The file, the row count and the records (lead id with the person).
    """
    frame = contact_details_at(leads, people, "created_at").join(
        people.select(
            "pidx",
            "first_name",
            "last_name",
            "company",
            "job_title",
            "lead_source",
            "switchboard",
            "street_number",
            "street",
            "unit",
            "city",
            "state",
            "postcode",
            "employees",
            "industry",
        ),
        on="pidx",
        maintain_order="left",
    )
    frame = frame.join(
        forms.select(
            "pidx",
            form_first="first_name",
            form_last="last_name",
            form_email="email",
            form_phone="phone",
            form_company="company",
        ),
        on="pidx",
        maintain_order="left",
    ).join(
        contacts.filter(pl.col("origin") == "converted").select("pidx", "contact_id", "account_sf_id"),
        on="pidx",
        how="left",
        maintain_order="left",
    )
    n = frame.height
    from_form = frame["lead_source"].is_in(["Web", "Webinar"]).to_numpy()
    shouting = np.where(frame["lead_source"].to_numpy() == "Purchased List", 0.35, rates.case_noise)
    keyed_first, keyed_last = typed_names(
        frame["first_name"].to_numpy(), frame["last_name"].to_numpy(), rng, rates, 0.08, shouting
    )
    first = np.where(from_form, frame["form_first"].to_numpy(), keyed_first.to_numpy())
    last = np.where(from_form, frame["form_last"].to_numpy(), keyed_last.to_numpy())
    keyed_email = email_variants(frame["email_now"].to_numpy(), rates.case_noise, rng)
    email = np.where(from_form, frame["form_email"].to_numpy(), keyed_email)
    roll = rng.random(n)
    digits = np.where(
        roll < rates.switchboard_phone, frame["switchboard"].to_numpy(), frame["mobile_now"].to_numpy()
    )
    digits = np.where(roll > 1 - rates.missing_phone, None, digits)
    phone = np.where(from_form, frame["form_phone"].to_numpy(), format_phones(digits, rng))
    company = np.where(from_form, frame["form_company"].to_numpy(), frame["company"].to_numpy())
    has_address = rng.random(n) < np.where(from_form, 0.35, 0.8)
    street = (
        frame.select(
            pl.when(pl.col("unit").is_not_null())
            .then(pl.format("{} {}, {}", "street_number", "street", "unit"))
            .otherwise(pl.format("{} {}", "street_number", "street"))
        )
        .to_series()
        .to_numpy()
    )
    street = street_variants(street, rates.address_variant, rng)
    state = state_variants(frame["state"].to_numpy(), pools.state_names, rates.address_variant / 3, rng)
    status, modified = _status(frame, rng)
    table = frame.with_columns(
        FirstName=strings("FirstName", first),
        LastName=strings("LastName", last),
        Email=strings("Email", email),
        Phone=strings("Phone", phone),
        Company=strings("Company", company),
        Street=strings("Street", np.where(has_address, street, None)),
        City=strings("City", np.where(has_address, frame["city"].to_numpy(), None)),
        State=strings("State", np.where(has_address, state, None)),
        PostalCode=strings("PostalCode", np.where(has_address, frame["postcode"].to_numpy(), None)),
        Country=strings("Country", np.where(has_address, "United States", None).astype(object)),
        Status=strings("Status", status),
        modified=pl.Series(modified),
        employees_known=pl.Series(rng.random(n) < 0.8),
        industry_known=pl.Series(rng.random(n) < 0.7),
    ).select(
        Id="lead_id",
        FirstName="FirstName",
        LastName="LastName",
        Email="Email",
        Phone="Phone",
        Company="Company",
        Title="job_title",
        LeadSource="lead_source",
        Status="Status",
        IsConverted=sf_boolean(pl.col("converted_at") >= 0),
        ConvertedDate=sf_date("converted_at"),
        ConvertedContactId=pl.when(pl.col("converted_at") >= 0).then("contact_id"),
        ConvertedAccountId=pl.when(pl.col("converted_at") >= 0).then("account_sf_id"),
        CreatedDate=sf_datetime("created_at"),
        LastModifiedDate=sf_datetime("modified"),
        Street="Street",
        City="City",
        State="State",
        PostalCode="PostalCode",
        Country="Country",
        NumberOfEmployees=pl.when("employees_known").then("employees"),
        Industry=pl.when("industry_known").then("industry"),
    )
    table = with_crm_flags(table, consent_flags, after="Phone")
    path = out / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    table.write_csv(path)
    records = distinct_records(frame.select(record_id="lead_id", pidx="pidx"))
    return WrittenSource(NAME, [path], table.height, records)
