"""What people typed about themselves: web shop account profiles and contact-sales forms.

The web site, the app and the shop's order export all read the same account, so they agree on
its id and name; the profile itself may carry a nickname or a typo, as people type them. The
contact-sales form is what a prospect typed on the web site; web and webinar leads are created
from it, so the CRM lead and the web identify call carry the same values.
"""

import numpy as np
import polars as pl

from demo.arrays import strings
from demo.identifiers import account_ids
from demo.lifecycle import Lifecycles
from demo.messiness import MessRates, format_phones, nicknames, typos


def build_account_profiles(
    people: pl.DataFrame, lifecycles: Lifecycles, rng: np.random.Generator, rates: MessRates
) -> pl.DataFrame:
    """Number the web shop accounts in sign-up order and draw each account's typed profile.

    Args:
        people: the population.
        lifecycles: account holders and when they signed up.
        rng: the seeded generator.
        rates: the mess rates.

    Returns:
        One row per account: `pidx, account_id, account_created, first_name, last_name,
        gives_phone, phone_style`.
    """
    accounts = lifecycles.accounts.sort("account_created", "pidx")
    n = accounts.height
    names = accounts.join(people.select("pidx", "first_name", "last_name"), on="pidx", maintain_order="left")
    first = nicknames(names["first_name"].to_numpy().astype(object), rates.nickname, rng)
    first = typos(first, rates.name_typo, rng)
    last = typos(names["last_name"].to_numpy().astype(object), rates.name_typo, rng)
    return accounts.with_columns(
        account_id=pl.Series(account_ids(n)),
        first_name=strings("first_name", first),
        last_name=strings("last_name", last),
        gives_phone=pl.Series(rng.random(n) < 0.45),
        phone_style=pl.Series(rng.integers(0, 7, size=n)),
    )


def contact_details_at(frame: pl.DataFrame, people: pl.DataFrame, at: str) -> pl.DataFrame:
    """Add each row's person's email and mobile number as they were at the row's moment.

    Args:
        frame: rows with `pidx` and an epoch-seconds column.
        people: the population (original and changed email and mobile, and when they changed).
        at: the name of the epoch-seconds column.

    Returns:
        The frame with `email_now`, `old_email` (the address before a change, else null) and
        `mobile_now` added, rows in their original order.
    """
    details = people.select(
        "pidx", "email", "email_new", "email_changed_at", "mobile", "mobile_new", "phone_changed_at"
    )
    joined = frame.join(details, on="pidx", how="left", maintain_order="left")
    email_moved = (pl.col("email_changed_at") >= 0) & (pl.col(at) >= pl.col("email_changed_at"))
    phone_moved = (pl.col("phone_changed_at") >= 0) & (pl.col(at) >= pl.col("phone_changed_at"))
    return joined.with_columns(
        email_now=pl.when(email_moved).then("email_new").otherwise("email"),
        old_email=pl.when(email_moved).then("email"),
        mobile_now=pl.when(phone_moved).then("mobile_new").otherwise("mobile"),
    ).drop("email", "email_new", "email_changed_at", "mobile", "mobile_new", "phone_changed_at")


def build_lead_forms(
    people: pl.DataFrame, leads: pl.DataFrame, rng: np.random.Generator, rates: MessRates
) -> pl.DataFrame:
    """Draw what each prospect typed into the contact-sales form.

    Args:
        people: the population.
        leads: the leads (`pidx`, `form_at`).
        rng: the seeded generator.
        rates: the mess rates.

    Returns:
        One row per lead: `pidx, form_at, first_name, last_name, email, phone, company, job_title,
        employees, industry`.
    """
    forms = contact_details_at(leads.select("pidx", "form_at"), people, "form_at").join(
        people.select(
            "pidx", "first_name", "last_name", "company", "job_title", "employees", "industry", "switchboard"
        ),
        on="pidx",
        maintain_order="left",
    )
    n = forms.height
    first = typos(nicknames(forms["first_name"].to_numpy(), rates.nickname, rng), rates.name_typo, rng)
    last = typos(forms["last_name"].to_numpy(), rates.name_typo, rng)
    roll = rng.random(n)
    digits = np.where(
        roll < rates.switchboard_phone, forms["switchboard"].to_numpy(), forms["mobile_now"].to_numpy()
    )
    digits = np.where(roll > 0.8, None, digits)
    company = forms["company"].str.replace(r" (Inc|LLC|Ltd|PLC|Group)$", "")
    company = pl.Series(
        np.where(rng.random(n) < 0.3, company.to_numpy(), forms["company"].to_numpy()), dtype=pl.String
    )
    return forms.select(
        "pidx",
        "form_at",
        first_name=strings("first_name", first),
        last_name=strings("last_name", last),
        email=pl.col("email_now"),
        phone=strings("phone", format_phones(digits, rng)),
        company=company,
        job_title=pl.col("job_title"),
        employees=pl.col("employees"),
        industry=pl.col("industry"),
    )
