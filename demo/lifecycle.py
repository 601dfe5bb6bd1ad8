"""Customer and lead lifecycles: lead creation and conversion, accounts, support cases and churn.

The planted signals live here. A lead converts with the probability its engagement and fit give
it (`population.conversion_propensity`). A customer stops buying (churns) either on a quiet
baseline hazard that is lower for frequent buyers, or shortly after a support case, far more
often when that case went badly (which troubled customers' cases tend to do).
"""

from dataclasses import dataclass

import numpy as np
import polars as pl

from demo.timeline import DAY, HOUR, OFFICE_HOURS, T0, T1, times_on_days, uniform_times

NEVER = np.iinfo(np.int64).max // 4
CASE_SUBJECTS = {
    "Delivery": ("Where is my order?", "Package marked delivered but not received", "Delivery delayed"),
    "Returns": ("Return request", "Refund not received", "Wrong size, need exchange"),
    "Product": ("Item arrived damaged", "Product stopped working", "Missing parts"),
    "Account": ("Cannot log in to my account", "Loyalty points missing", "Update my email address"),
    "Billing": ("Charged twice", "Question about my invoice", "Promo code not applied"),
}


@dataclass(frozen=True)
class Lifecycles:
    """Who is a lead, a customer, an account holder, a loyalty member, a CRM contact, and when."""

    leads: pl.DataFrame  # pidx, created_at, form_at, converted_at (-1 if not), will_convert
    customers: pl.DataFrame  # pidx, start, active_from, churned_at (NEVER if not), channel, order_rate
    accounts: pl.DataFrame  # pidx, account_created
    loyalty: pl.DataFrame  # pidx, loyalty_joined
    contacts: pl.DataFrame  # pidx, contact_created
    cases: pl.DataFrame  # pidx, opened_at, closed_at (-1 if open), bad, topic


def simulate_leads(people: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Create a CRM lead per prospect and decide whether and when it converts.

    Args:
        people: the population.
        rng: the seeded generator.

    Returns:
        One row per lead: `pidx, created_at, form_at, converted_at` (-1 when not converted by the
        export). `form_at` is when the prospect filled the web contact form: the moment the lead
        was created for web and webinar leads, some days later for the rest.
    """
    prospects = people.filter(pl.col("segment") == "prospect")
    n = prospects.height
    created = times_on_days(rng.integers(T0, T1 - 45 * DAY, size=n), rng, OFFICE_HOURS)
    will_convert = rng.random(n) < prospects["conversion_propensity"].to_numpy()
    delay = ((7 + rng.gamma(2.0, 18.0, size=n)) * DAY).astype(np.int64)
    converted_at = times_on_days(created + delay, rng, OFFICE_HOURS)
    converted_at = np.where(will_convert & (converted_at <= T1), converted_at, -1)
    from_web = prospects["lead_source"].is_in(["Web", "Webinar"]).to_numpy()
    form_at = np.where(from_web, created, created + rng.integers(DAY, 60 * DAY, size=n))
    form_at = np.where(converted_at >= 0, np.minimum(form_at, converted_at - HOUR), np.minimum(form_at, T1))
    return pl.DataFrame(
        {
            "pidx": prospects["pidx"],
            "created_at": created,
            "form_at": form_at,
            "converted_at": converted_at,
            "will_convert": will_convert,
        }
    )


def _churn_times(customers: pl.DataFrame, cases: pl.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """When each customer stops buying: a quiet baseline hazard, or soon after a bad support case."""
    rate = customers["order_rate"].to_numpy()
    engagement = customers["engagement"].to_numpy()
    hazard = (1 / 800) * (rate / (0.55 / 30)) ** -0.5 * np.exp(-0.2 * engagement)
    baseline = customers["active_from"].to_numpy() + (
        rng.exponential(1.0, size=len(rate)) / hazard * DAY
    ).astype(np.int64)
    trigger_p = np.where(cases["bad"].to_numpy(), 0.45, 0.07)
    triggered = rng.random(cases.height) < trigger_p
    trigger_at = cases["opened_at"].to_numpy() + rng.integers(2 * DAY, 40 * DAY, size=cases.height)
    by_case = (
        pl.DataFrame({"row": cases["row"], "at": np.where(triggered, trigger_at, NEVER)})
        .group_by("row")
        .agg(pl.col("at").min())
    )
    first_trigger = np.full(len(rate), NEVER, dtype=np.int64)
    first_trigger[by_case["row"].to_numpy()] = by_case["at"].to_numpy()
    churn = np.minimum(baseline, first_trigger)
    return np.where(churn > T1, NEVER, churn)


def _cases(customers: pl.DataFrame, has_contact: np.ndarray, rng: np.random.Generator) -> pl.DataFrame:
    """Support cases of customers known to the CRM; troubled customers open more and worse cases."""
    trouble = customers["trouble"].to_numpy()
    active_from = customers["active_from"].to_numpy()
    span_days = np.maximum(T1 - active_from - 5 * DAY, 0) / DAY
    counts = np.where(has_contact, rng.poisson(0.55 / 365 * np.exp(0.7 * trouble) * span_days), 0)
    row = np.repeat(np.arange(customers.height), counts)
    opened = uniform_times(active_from[row] + 5 * DAY, np.full(len(row), T1), rng, OFFICE_HOURS)
    bad = rng.random(len(row)) < 1 / (1 + np.exp(-(-1.4 + 1.0 * trouble[row])))
    quick = opened + HOUR + (rng.exponential(1.5, size=len(row)) * DAY).astype(np.int64)
    slow = opened + rng.integers(20 * DAY, 90 * DAY, size=len(row))
    never = rng.random(len(row)) < 0.5
    closed = np.where(bad, np.where(never, -1, slow), quick)
    closed = np.where(closed > T1, -1, closed)
    topics = np.array(list(CASE_SUBJECTS), dtype=object)
    return pl.DataFrame(
        {
            "row": row,
            "pidx": customers["pidx"].to_numpy()[row],
            "opened_at": opened,
            "closed_at": closed,
            "bad": bad,
            "topic": pl.Series(topics[rng.integers(0, len(topics), size=len(row))], dtype=pl.String),
        }
    )


def simulate_lifecycles(people: pl.DataFrame, rng: np.random.Generator) -> Lifecycles:
    """Run the lead, customer, support and churn lifecycles for the whole population.

    Args:
        people: the population from `build_population`.
        rng: the seeded generator.

    Returns:
        The lifecycles (see `Lifecycles`).
    """
    leads = simulate_leads(people, rng)
    converted = leads.filter(pl.col("converted_at") >= 0)
    # Most converted leads open a business account on the web shop within days and start buying.
    opens_account = rng.random(converted.height) < 0.85
    converted_buyers = (
        converted.filter(pl.Series(opens_account))
        .select(
            "pidx",
            start=pl.col("converted_at")
            + pl.Series(rng.integers(HOUR, 10 * DAY, size=int(opens_account.sum()))),
        )
        .filter(pl.col("start") < T1)
    )
    shoppers = people.filter(pl.col("segment") == "shopper").select("pidx", start=pl.col("customer_start"))
    starts = pl.concat([shoppers, converted_buyers]).sort("pidx")
    customers = (
        starts.join(
            people.select("pidx", "channel", "order_rate", "engagement", "trouble", "wants_contact"),
            on="pidx",
        )
        .with_columns(active_from=pl.max_horizontal("start", pl.lit(T0)))
        .sort("pidx")
    )
    is_converted_prospect = customers["pidx"].is_in(converted["pidx"].implode()).to_numpy()
    has_contact = customers["wants_contact"].to_numpy() | is_converted_prospect
    cases = _cases(customers, has_contact, rng)
    churned_at = _churn_times(customers, cases, rng)
    customers = customers.with_columns(churned_at=pl.Series(churned_at))
    cases = (
        cases.join(customers.select(pl.int_range(pl.len()).alias("row"), "churned_at"), on="row")
        .filter(pl.col("opened_at") < pl.col("churned_at"))
        .drop("row", "churned_at")
        .sort("opened_at", "pidx", "closed_at")
    )

    accounts = customers.filter(pl.col("channel").is_in(["online", "omni"])).select(
        "pidx", account_created=pl.col("start")
    )
    loyalty = customers.filter(pl.col("channel").is_in(["store", "omni"])).select(
        "pidx", loyalty_joined=pl.col("start")
    )
    shopper_contacts = customers.filter(pl.Series(has_contact & ~is_converted_prospect)).select(
        "pidx",
        contact_created=pl.col("start")
        + pl.Series(rng.integers(HOUR, 5 * DAY, size=int((has_contact & ~is_converted_prospect).sum()))),
    )
    prospect_contacts = converted.select("pidx", contact_created=pl.col("converted_at"))
    contacts = pl.concat([shopper_contacts, prospect_contacts]).sort("pidx")
    return Lifecycles(
        leads=leads,
        customers=customers.drop("wants_contact"),
        accounts=accounts,
        loyalty=loyalty,
        contacts=contacts,
        cases=cases,
    )
