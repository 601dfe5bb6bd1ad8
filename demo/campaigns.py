"""Email marketing: the campaigns of the window and what every subscriber did with each send.

Opens and clicks follow each person's engagement, the same latent trait that drives lead
conversion and web visits; churned customers open half as often.
"""

from dataclasses import dataclass

import numpy as np
import polars as pl

from demo.catalog import CATEGORY_NAMES, SHOP_URL
from demo.lifecycle import Lifecycles
from demo.timeline import DAY, HOUR, T0, T1

CONSUMER_THEMES = (
    "New arrivals in {c}",
    "Members save 20% on {c}",
    "The {c} gear guide",
    "Weekend flash sale: {c}",
    "Back in stock: {c} favourites",
    "Last chance: {c} clearance",
)
B2B_THEMES = (
    "Outfitting your team for the season",
    "Corporate gifting made easy",
    "Bulk pricing for teams",
    "Webinar: healthier hybrid offices",
    "Case study: equipping 200 field staff",
    "Your account manager is here to help",
)


@dataclass(frozen=True)
class EmailActivity:
    """The campaigns and one row per delivered email with what happened to it."""

    campaigns: pl.DataFrame  # campaign_idx, campaign_id, campaign_name, subject, audience, sent_at
    sends: (
        pl.DataFrame
    )  # pidx, campaign_idx, email, delivered_at, opened_at, clicked_at, unsubscribed_at, link_url


def build_campaigns(rng: np.random.Generator) -> pl.DataFrame:
    """Schedule the consumer newsletter (every other Tuesday) and the B2B one (monthly, Thursdays).

    Args:
        rng: the seeded generator.

    Returns:
        One row per campaign, in send order.
    """
    # 2025-01-01 is a Wednesday: the first Tuesday is the 7th, the first Thursday the 2nd.
    consumer_days = np.arange(T0 + 6 * DAY, T1, 14 * DAY)
    b2b_days = np.arange(T0 + 8 * DAY, T1, 28 * DAY)
    rows = []
    for k, day in enumerate(consumer_days.tolist()):
        category = CATEGORY_NAMES[int(rng.integers(0, len(CATEGORY_NAMES)))]
        subject = CONSUMER_THEMES[k % len(CONSUMER_THEMES)].format(c=category)
        rows.append(("consumer", day + 15 * HOUR, subject, category))
    for k, day in enumerate(b2b_days.tolist()):
        rows.append(("b2b", day + 14 * HOUR, B2B_THEMES[k % len(B2B_THEMES)], None))
    rows.sort(key=lambda r: r[1])
    frame = pl.DataFrame(rows, schema=["audience", "sent_at", "subject", "category"], orient="row")
    return frame.with_columns(
        campaign_idx=pl.int_range(pl.len()),
        campaign_id=pl.format("cmp_{}", (pl.int_range(pl.len()) + 1001).cast(pl.String)),
        campaign_name=pl.format(
            "{} {} {}",
            pl.when(pl.col("audience") == "b2b").then(pl.lit("B2B")).otherwise(pl.lit("Newsletter")),
            pl.from_epoch("sent_at").dt.strftime("%Y-%m-%d"),
            pl.col("subject").str.split(":").list.first(),
        ),
    )


def subscribers(people: pl.DataFrame, lifecycles: Lifecycles) -> pl.DataFrame:
    """Who is on which list and from when: shoppers known by account or CRM, and prospects.

    Args:
        people: the population.
        lifecycles: accounts, contacts and leads.

    Returns:
        `pidx, since, audience` (`consumer` or `b2b`), one row per subscriber.
    """
    known = (
        pl.concat(
            [
                lifecycles.accounts.select("pidx", since="account_created"),
                lifecycles.contacts.select("pidx", since="contact_created"),
            ]
        )
        .group_by("pidx")
        .agg(pl.col("since").min())
        .join(people.select("pidx", "segment", "subscribes"), on="pidx")
        .filter((pl.col("segment") == "shopper") & pl.col("subscribes"))
        .select("pidx", "since", audience=pl.lit("consumer"))
    )
    prospects = (
        lifecycles.leads.join(people.select("pidx", "subscribes"), on="pidx")
        .filter(pl.col("subscribes"))
        .select("pidx", since=pl.col("created_at") + DAY, audience=pl.lit("b2b"))
    )
    return pl.concat([known, prospects]).sort("pidx")


def simulate_email(people: pl.DataFrame, lifecycles: Lifecycles, rng: np.random.Generator) -> EmailActivity:
    """Send every campaign to its list and draw deliveries, opens, clicks and unsubscribes.

    Args:
        people: the population.
        lifecycles: accounts, contacts and leads (who is subscribed from when) and churn.
        rng: the seeded generator.

    Returns:
        The campaigns and sends (see `EmailActivity`).
    """
    campaigns = build_campaigns(rng)
    subscribers_ = subscribers(people, lifecycles)
    parts = []
    for audience in ("consumer", "b2b"):
        own = campaigns.filter(pl.col("audience") == audience)
        times = own["sent_at"].to_numpy()
        subs = subscribers_.filter(pl.col("audience") == audience)
        k0 = np.searchsorted(times, subs["since"].to_numpy())
        n_sends = len(times) - k0
        rep = np.repeat(np.arange(subs.height), n_sends)
        within = np.arange(len(rep)) - np.repeat(np.cumsum(n_sends) - n_sends, n_sends)
        parts.append(
            pl.DataFrame(
                {
                    "pidx": subs["pidx"].to_numpy()[rep],
                    "campaign_idx": own["campaign_idx"].to_numpy()[k0[rep] + within],
                    "nth": within,
                }
            )
        )
    sends = pl.concat(parts).join(campaigns.select("campaign_idx", "sent_at", "category"), on="campaign_idx")
    sends = (
        sends.join(people.select("pidx", "engagement", "email", "email_new", "email_changed_at"), on="pidx")
        .join(lifecycles.customers.select("pidx", "churned_at"), on="pidx", how="left")
        .sort("pidx", "campaign_idx")
    )

    # Each subscriber unsubscribes at most once; nothing is sent to them after that.
    per_person = sends.group_by("pidx").agg(pl.col("engagement").first()).sort("pidx")
    p_unsub = 0.005 * np.exp(-0.6 * per_person["engagement"].to_numpy())
    per_person = per_person.select("pidx", u=pl.Series(rng.geometric(np.clip(p_unsub, 1e-6, 1)) - 1))
    sends = (
        sends.join(per_person, on="pidx").filter(pl.col("nth") <= pl.col("u")).sort("pidx", "campaign_idx")
    )
    n = sends.height
    engagement = sends["engagement"].to_numpy()
    sent_at = sends["sent_at"].to_numpy()
    churned = sends["churned_at"].fill_null(np.iinfo(np.int64).max).to_numpy() < sent_at
    p_open = 1 / (1 + np.exp(-(-1.1 + 1.0 * engagement))) * np.where(churned, 0.5, 1.0)
    p_click = 1 / (1 + np.exp(-(-1.3 + 0.8 * engagement)))
    delivered = sent_at + rng.integers(0, 1800, size=n)
    opened = rng.random(n) < p_open
    opened_at = np.where(
        opened, delivered + (rng.lognormal(np.log(3 * HOUR), 1.2, size=n)).astype(np.int64), -1
    )
    clicked = opened & (rng.random(n) < p_click)
    clicked_at = np.where(clicked, opened_at + rng.integers(5, 600, size=n), -1)
    is_unsub = (sends["nth"] == sends["u"]).to_numpy()
    unsub_at = np.where(is_unsub, np.where(opened, opened_at, delivered) + rng.integers(5, 300, size=n), -1)
    changed_at = sends["email_changed_at"].to_numpy()
    recipient = np.where(
        (changed_at >= 0) & (sent_at >= changed_at), sends["email_new"].to_numpy(), sends["email"].to_numpy()
    )
    link = (
        pl.when(pl.col("category").is_null())
        .then(pl.lit(f"{SHOP_URL}/business"))
        .otherwise(
            pl.format(f"{SHOP_URL}/c/{{}}", pl.col("category").str.to_lowercase().str.replace_all(" ", "-"))
        )
    )
    sends = sends.select(
        "pidx",
        "campaign_idx",
        email=pl.Series(recipient, dtype=pl.String),
        delivered_at=pl.Series(delivered),
        opened_at=pl.Series(opened_at),
        clicked_at=pl.Series(clicked_at),
        unsubscribed_at=pl.Series(unsub_at),
        link_url=link,
    )
    sends = sends.filter(pl.col("delivered_at") <= T1).sort("delivered_at", "pidx")
    return EmailActivity(campaigns=campaigns, sends=sends)
