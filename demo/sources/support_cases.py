"""Source `support_cases`: the CRM's Case object export (Salesforce field names, CSV).

Customers write the way customers do: some put their phone number or email address into the
description itself, which is why anything built on these texts must mask them.
"""

from pathlib import Path

import numpy as np
import polars as pl

from demo.arrays import strings
from demo.identifiers import salesforce_ids
from demo.lifecycle import CASE_SUBJECTS
from demo.messiness import MessRates, email_variants, format_phones, nicknames
from demo.profiles import contact_details_at
from demo.sources.salesforce import sf_datetime
from demo.sources.written import WrittenSource, distinct_records

NAME = "support_cases"
FILE = Path("crm") / "cases.csv"
BODIES = {
    "Delivery": "My order still hasn't arrived and the tracking page has not updated in days.",
    "Returns": "I sent my return back two weeks ago and have not seen the refund yet.",
    "Product": "The item I received does not work as described. I would like a replacement.",
    "Account": "I can't sign in to my account and the reset link never arrives.",
    "Billing": "I was charged more than the price shown at checkout. Please check my card statement.",
}
ANGRY = " This is the second time I am writing about this and nobody has replied. Very disappointed."
ORIGINS = np.array(["Email", "Phone", "Web", "Chat"], dtype=object)


def write_support_cases(
    out: Path,
    cases: pl.DataFrame,
    contacts: pl.DataFrame,
    people: pl.DataFrame,
    rng: np.random.Generator,
    rates: MessRates,
) -> WrittenSource:
    """Write the case export to `out/crm/cases.csv`.

    Args:
        out: the demo data folder.
        cases: the support cases (`pidx, opened_at, closed_at, bad, topic`).
        contacts: contact records (a case belongs to one of its person's contacts).
        people: the population.
        rng: the seeded generator.
        rates: the mess rates.

    Returns:
        The file, the row count and the records (contact id with the person).
    """
    primary = contacts.filter(pl.col("origin") != "duplicate").select("pidx", "contact_id", "account_sf_id")
    second = contacts.filter(pl.col("origin") == "duplicate").select(
        "pidx", dup_id="contact_id", dup_created="contact_created"
    )
    frame = (
        contact_details_at(cases, people, "opened_at")
        .join(primary, on="pidx", maintain_order="left")
        .join(second, on="pidx", how="left", maintain_order="left")
        .join(people.select("pidx", "first_name", "last_name"), on="pidx", maintain_order="left")
    )
    n = frame.height
    to_duplicate = (
        frame["dup_id"].is_not_null().to_numpy()
        & (frame["opened_at"].to_numpy() >= frame["dup_created"].fill_null(0).to_numpy())
        & (rng.random(n) < 0.5)
    )
    contact_id = np.where(to_duplicate, frame["dup_id"].to_numpy(), frame["contact_id"].to_numpy())
    origin = ORIGINS[rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1])]
    typed_email = np.isin(origin, ["Email", "Web"])
    email = np.where(typed_email, email_variants(frame["email_now"].to_numpy(), rates.case_noise, rng), None)
    first = nicknames(frame["first_name"].to_numpy(), rates.nickname, rng)
    full = np.char.add(np.char.add(first.astype(str), " "), frame["last_name"].to_numpy().astype(str)).astype(
        object
    )
    name = np.where(np.isin(origin, ["Web", "Chat"]), full, None)
    phone = format_phones(frame["mobile_now"].to_numpy(), rng)
    supplied_phone = np.where((origin == "Web") & (rng.random(n) < 0.5), phone, None)

    bad = frame["bad"].to_numpy()
    topics = frame["topic"].to_numpy()
    subject_pick = rng.integers(0, 3, size=n)
    subject = np.array(
        [CASE_SUBJECTS[t][k] for t, k in zip(topics.tolist(), subject_pick.tolist(), strict=True)],
        dtype=object,
    )
    body = np.array([BODIES[t] for t in topics.tolist()], dtype=object)
    body = np.where(bad & (rng.random(n) < 0.6), np.char.add(body.astype(str), ANGRY).astype(object), body)
    mention = rng.random(n)
    body = np.where(
        mention < 0.15,
        np.char.add(body.astype(str), np.char.add(" You can reach me at ", phone.astype(str))).astype(object),
        np.where(
            mention < 0.25,
            np.char.add(
                body.astype(str),
                np.char.add(
                    " Please reply to ", np.char.add(frame["email_now"].to_numpy().astype(str), " instead.")
                ),
            ).astype(object),
            body,
        ),
    )
    closed = frame["closed_at"].to_numpy() >= 0
    open_status = np.array(["Escalated", "On Hold", "Working"], dtype=object)[rng.integers(0, 3, size=n)]
    status = np.where(closed, "Closed", np.where(bad, open_status, "New")).astype(object)
    priority = np.where(
        bad,
        np.where(rng.random(n) < 0.5, "High", "Medium"),
        np.where(rng.random(n) < 0.6, "Low", "Medium"),
    ).astype(object)
    case_ids = salesforce_ids("500", n, rng)
    table = frame.with_columns(
        Id=pl.Series(case_ids),
        CaseNumber=pl.Series([f"{k:08d}" for k in range(1001, 1001 + n)], dtype=pl.String),
        ContactId=strings("ContactId", contact_id),
        SuppliedEmail=strings("SuppliedEmail", email),
        SuppliedName=strings("SuppliedName", name),
        SuppliedPhone=strings("SuppliedPhone", supplied_phone),
        Type=pl.col("topic"),
        Subject=strings("Subject", subject),
        Description=strings("Description", body),
        Status=strings("Status", status),
        Priority=strings("Priority", priority),
        Origin=strings("Origin", origin),
    ).select(
        "Id",
        "CaseNumber",
        "ContactId",
        AccountId="account_sf_id",
        SuppliedEmail="SuppliedEmail",
        SuppliedName="SuppliedName",
        SuppliedPhone="SuppliedPhone",
        Type="Type",
        Subject="Subject",
        Description="Description",
        Status="Status",
        Priority="Priority",
        Origin="Origin",
        CreatedDate=sf_datetime("opened_at"),
        ClosedDate=sf_datetime("closed_at"),
    )
    path = out / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    table.write_csv(path)
    keys = pl.DataFrame({"record_id": table["ContactId"], "pidx": frame["pidx"]})
    return WrittenSource(NAME, [path], table.height, distinct_records(keys))
