"""What the demo company's people said about contact and profiling, and where each system recorded it.

- The CRM (Salesforce fields on leads and contacts): `HasOptedOutOfEmail`, ticked by sales for
  people who are not on the newsletter and asked for no marketing email (the newsletter's own
  unsubscribes stay in the email provider), and `DoNotCall`, more common on purchased lists.
- The email provider: the `Unsubscribed` events it already sends (`demo.campaigns`).
- The preference centre (a page linked from every newsletter and the account page), exported as
  `consent/preferences.csv`, one row per change, by email address: the newsletter opt-in people
  confirm when they join a list (a few never confirm: `pending`), a third of the people who
  unsubscribed opting back in weeks or months later, objections to profiling (a fifth of them
  withdrawn later), and SMS marketing opt-outs.

Everything is drawn from its own random stream (seed, CONSENT_STREAM), so adding consent leaves
every other file of the demo exactly as it was. The truth, with person ids, is written to
`ground_truth/consent.csv`, which the pipeline never reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from demo.campaigns import EmailActivity, subscribers
from demo.lifecycle import Lifecycles
from demo.sources.salesforce import sf_boolean
from demo.timeline import DAY, T1

CONSENT_STREAM = 0x_C0_45E7
PREFERENCES_FILE = Path("consent") / "preferences.csv"
TRUTH_FILE = Path("ground_truth") / "consent.csv"
PREFERENCE_CENTRE = "preference_centre"
# Shares of people: objections to profiling among the people the company knows, SMS opt-outs,
# newsletter joiners whose opt-in the preference centre recorded, and unsubscribers who return.
OBJECTION_RATE = 0.04
OBJECTION_WITHDRAWN = 0.2
SMS_OPT_OUT_RATE = 0.03
SIGN_UP_RECORDED = 0.6
SIGN_UP_PENDING = 0.03
RESUBSCRIBE_RATE = 0.35


@dataclass(frozen=True)
class ConsentPlan:
    """The consent the demo plants.

    Attributes:
        lead_flags: `Id, HasOptedOutOfEmail, DoNotCall` per lead (Salesforce booleans).
        contact_flags: the same per contact.
        preferences: the preference-centre export, in its own column names.
        truth: one row per true statement: `person_id, source, record_id, channel, purpose,
            status, recorded_at` (CRM statements are dated by their record's LastModifiedDate,
            else CreatedDate, so `recorded_at` is empty for them; pending sign-ups are no
            statement and are not listed).
    """

    lead_flags: pl.DataFrame
    contact_flags: pl.DataFrame
    preferences: pl.DataFrame
    truth: pl.DataFrame


def consent_rng(seed: int) -> np.random.Generator:
    """The random stream of the consent plan: independent of every other draw of the demo."""
    return np.random.default_rng([seed, CONSENT_STREAM])


def plan_consent(
    people: pl.DataFrame,
    lifecycles: Lifecycles,
    leads: pl.DataFrame,
    contacts: pl.DataFrame,
    email: EmailActivity,
    rng: np.random.Generator,
) -> ConsentPlan:
    """Decide who opted out of or into what, where it was recorded and when.

    Args:
        people: the population.
        lifecycles: leads, accounts and contacts (who the company knows, and since when).
        leads: leads with `lead_id` (from `build_crm_records`).
        contacts: contact records with `contact_id`.
        email: the newsletter sends, with each unsubscribe.
        rng: the consent stream (`consent_rng`).

    Returns:
        The plan.
    """
    on_list = set(subscribers(people, lifecycles)["pidx"].to_list())
    lead_flags = _crm_flags(
        leads.select("pidx", Id="lead_id", listed=pl.col("pidx").is_in(list(on_list))), rng, people
    )
    contact_flags = _crm_flags(
        contacts.select("pidx", Id="contact_id", listed=pl.col("pidx").is_in(list(on_list))), rng, None
    )
    statements = pl.concat(
        [
            _sign_ups(people, lifecycles, rng),
            _returns(email, rng),
            _objections(people, lifecycles, rng),
            _sms_opt_outs(people, lifecycles, rng),
        ]
    ).sort("at", "pidx", "channel", "purpose")
    statements = statements.with_columns(
        address=_address_at(
            statements.join(
                people.select("pidx", "email", "email_new", "email_changed_at"),
                on="pidx",
                maintain_order="left",
            ),
            rng,
        ),
        PreferenceId=pl.format("PC-{}", (pl.int_range(pl.len()) + 100001).cast(pl.String)),
    )
    preferences = statements.select(
        "PreferenceId",
        Email="address",
        Channel="channel",
        Purpose="purpose",
        Status="status",
        UpdatedAt=pl.from_epoch("at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return ConsentPlan(
        lead_flags=lead_flags.drop("pidx"),
        contact_flags=contact_flags.drop("pidx"),
        preferences=preferences,
        truth=_truth(people, lead_flags, contact_flags, email, statements),
    )


def with_crm_flags(table: pl.DataFrame, flags: pl.DataFrame, after: str) -> pl.DataFrame:
    """A Salesforce export with the consent flags joined by `Id` and placed after one column.

    Args:
        table: the export (one row per `Id`).
        flags: `Id, HasOptedOutOfEmail, DoNotCall`.
        after: the column the flags follow.

    Returns:
        The export with the two columns added, rows in their order.
    """
    joined = table.join(flags, on="Id", how="left", maintain_order="left")
    columns = [c for c in table.columns]
    at = columns.index(after) + 1
    return joined.select([*columns[:at], "HasOptedOutOfEmail", "DoNotCall", *columns[at:]])


def write_preferences(out: Path, plan: ConsentPlan) -> Path:
    """Write the preference-centre export to `out/consent/preferences.csv`."""
    path = out / PREFERENCES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    plan.preferences.write_csv(path)
    return path


def write_truth(out: Path, plan: ConsentPlan) -> Path:
    """Write `ground_truth/consent.csv` (never read by the pipeline)."""
    path = out / TRUTH_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    plan.truth.write_csv(path)
    return path


def _crm_flags(records: pl.DataFrame, rng: np.random.Generator, people: pl.DataFrame | None) -> pl.DataFrame:
    """`HasOptedOutOfEmail` for some people off the newsletter, `DoNotCall` for some of everyone."""
    n = records.height
    listed = records["listed"].to_numpy()
    no_email = ~listed & (rng.random(n) < 0.12)
    call_rate = np.full(n, 0.03)
    if people is not None:
        # Leads: purchased lists carry many numbers registered against calls.
        source = records.join(
            people.select("pidx", "lead_source"), on="pidx", how="left", maintain_order="left"
        )
        call_rate = np.where(source["lead_source"].to_numpy() == "Purchased List", 0.15, 0.05)
    no_call = rng.random(n) < call_rate
    return records.select(
        "pidx",
        "Id",
        HasOptedOutOfEmail=sf_boolean(pl.Series(no_email)),
        DoNotCall=sf_boolean(pl.Series(no_call)),
    )


def _rows(
    pidx: np.ndarray, at: np.ndarray, channel: str, purpose: str, status: str | np.ndarray
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "pidx": pl.Series(pidx, dtype=pl.Int64),
            "at": pl.Series(at, dtype=pl.Int64),
            "channel": channel,
            "purpose": purpose,
            "status": pl.Series(
                np.broadcast_to(np.asarray(status, dtype=object), len(pidx)), dtype=pl.String
            ),
        }
    )


def _known_since(people: pl.DataFrame, lifecycles: Lifecycles) -> pl.DataFrame:
    """When the company first held each person's details (account, contact or lead)."""
    return (
        pl.concat(
            [
                lifecycles.accounts.select("pidx", since="account_created"),
                lifecycles.contacts.select("pidx", since="contact_created"),
                lifecycles.leads.select("pidx", since="created_at"),
            ]
        )
        .filter(pl.col("since").is_between(0, T1 - 30 * DAY))
        .group_by("pidx")
        .agg(pl.col("since").min())
        .sort("pidx")
    )


def _sign_ups(people: pl.DataFrame, lifecycles: Lifecycles, rng: np.random.Generator) -> pl.DataFrame:
    """The confirmed (or never confirmed) newsletter opt-ins the preference centre recorded."""
    joined = (
        subscribers(people, lifecycles)
        .filter(pl.col("since").is_between(0, T1))
        .unique("pidx", keep="first")
        .sort("pidx")
    )
    n = joined.height
    roll = rng.random(n)
    recorded = roll < SIGN_UP_RECORDED
    status = np.where(roll < SIGN_UP_PENDING, "pending", "opted_in")
    at = joined["since"].to_numpy() + rng.integers(60, 3 * 3600, size=n)
    return _rows(
        joined["pidx"].to_numpy()[recorded],
        np.minimum(at, T1)[recorded],
        "email",
        "marketing",
        status[recorded],
    )


def _returns(email: EmailActivity, rng: np.random.Generator) -> pl.DataFrame:
    """Unsubscribers who opt in to the newsletter again, weeks or months later."""
    left = email.sends.filter(pl.col("unsubscribed_at").is_between(0, T1)).sort("pidx")
    back = rng.random(left.height) < RESUBSCRIBE_RATE
    at = left["unsubscribed_at"].to_numpy() + rng.integers(14 * DAY, 240 * DAY, size=left.height)
    keep = back & (at <= T1)
    return _rows(left["pidx"].to_numpy()[keep], at[keep], "email", "marketing", "opted_in")


def _objections(people: pl.DataFrame, lifecycles: Lifecycles, rng: np.random.Generator) -> pl.DataFrame:
    """Objections to profiling, a fifth of them withdrawn later."""
    known = _known_since(people, lifecycles)
    chosen = known.filter(pl.Series(rng.random(known.height) < OBJECTION_RATE))
    since = chosen["since"].to_numpy()
    at = since + (rng.random(chosen.height) * (T1 - since)).astype(np.int64)
    withdrawn_at = at + rng.integers(30 * DAY, 300 * DAY, size=chosen.height)
    withdrawn = (rng.random(chosen.height) < OBJECTION_WITHDRAWN) & (withdrawn_at <= T1)
    pidx = chosen["pidx"].to_numpy()
    return pl.concat(
        [
            _rows(pidx, at, "any", "profiling", "opted_out"),
            _rows(pidx[withdrawn], withdrawn_at[withdrawn], "any", "profiling", "opted_in"),
        ]
    )


def _sms_opt_outs(people: pl.DataFrame, lifecycles: Lifecycles, rng: np.random.Generator) -> pl.DataFrame:
    known = _known_since(people, lifecycles)
    chosen = known.filter(pl.Series(rng.random(known.height) < SMS_OPT_OUT_RATE))
    since = chosen["since"].to_numpy()
    at = since + (rng.random(chosen.height) * (T1 - since)).astype(np.int64)
    return _rows(chosen["pidx"].to_numpy(), at, "sms", "marketing", "opted_out")


def _address_at(statements: pl.DataFrame, rng: np.random.Generator) -> pl.Series:
    """The address a person used at the statement's time, typed as people type (some in capitals)."""
    changed = statements["email_changed_at"].to_numpy()
    at = statements["at"].to_numpy()
    address = np.where(
        (changed >= 0) & (at >= changed), statements["email_new"].to_numpy(), statements["email"].to_numpy()
    )
    shouted = rng.random(len(address)) < 0.05
    return pl.Series(
        "address",
        [a.upper() if s and a else a for a, s in zip(address, shouted, strict=True)],
        dtype=pl.String,
    )


def _truth(
    people: pl.DataFrame,
    lead_flags: pl.DataFrame,
    contact_flags: pl.DataFrame,
    email: EmailActivity,
    statements: pl.DataFrame,
) -> pl.DataFrame:
    def flags(frame: pl.DataFrame, source: str) -> pl.DataFrame:
        return pl.concat(
            [
                frame.filter(pl.col(column) == "true").select(
                    "pidx",
                    source=pl.lit(source),
                    record_id="Id",
                    channel=pl.lit(channel),
                    purpose=pl.lit(purpose),
                )
                for column, channel, purpose in (
                    ("HasOptedOutOfEmail", "email", "marketing"),
                    ("DoNotCall", "phone", "any"),
                )
            ]
        ).with_columns(status=pl.lit("opted_out"), recorded_at=pl.lit(None, dtype=pl.String))

    iso = "%Y-%m-%dT%H:%M:%SZ"
    unsubscribes = email.sends.filter(pl.col("unsubscribed_at").is_between(0, T1)).select(
        "pidx",
        source=pl.lit("email_events"),
        record_id=pl.lit(None, dtype=pl.String),
        channel=pl.lit("email"),
        purpose=pl.lit("marketing"),
        status=pl.lit("opted_out"),
        recorded_at=pl.from_epoch("unsubscribed_at").dt.strftime(iso),
    )
    centre = statements.filter(pl.col("status") != "pending").select(
        "pidx",
        source=pl.lit(PREFERENCE_CENTRE),
        record_id="PreferenceId",
        channel="channel",
        purpose="purpose",
        status="status",
        recorded_at=pl.from_epoch("at").dt.strftime(iso),
    )
    return (
        pl.concat(
            [flags(lead_flags, "crm_leads"), flags(contact_flags, "crm_contacts"), unsubscribes, centre]
        )
        .join(people.select("pidx", "person_id"), on="pidx")
        .select("person_id", "source", "record_id", "channel", "purpose", "status", "recorded_at")
        .sort("person_id", "source", "recorded_at", "channel", "purpose", "record_id", nulls_last=True)
    )
