"""The true people of the demo company: who they are, where they live, and how they behave.

Three kinds of people: shoppers (consumers buying online, in stores or both), prospects (B2B
leads in the CRM, some of whom convert and then buy for their company) and visitors (people who
browse the web shop and never say who they are). Their latent traits (engagement, fit, order
rate, support trouble, category affinity) drive everything the behaviour simulation produces.
"""

import numpy as np
import polars as pl
from faker import Faker

from demo.arrays import to_frame
from demo.catalog import CATEGORY_NAMES
from demo.messiness import MessRates
from demo.pools import (
    COMMON_NAMES,
    EMAIL_DOMAIN_WEIGHTS,
    EMAIL_DOMAINS,
    LEAD_SOURCES,
    SENIORITY_SHARE,
    SENIORITY_TITLES,
    STORE_STATES,
    Pools,
    build_companies,
    draw_phone_numbers,
)
from demo.timeline import DAY, T0, T1

SEGMENT_SHARES = {"shopper": 0.62, "prospect": 0.28, "visitor": 0.10}
LEAD_SOURCE_SHARE = np.array([0.30, 0.12, 0.12, 0.12, 0.10, 0.14, 0.10])
# How much each lead source says about a prospect's intent (log-odds shift), in LEAD_SOURCES order.
LEAD_SOURCE_EFFECT = np.array([0.1, 0.3, 0.0, 0.8, 0.5, -0.8, -0.4])
# Popularity of the ten categories when people pick their favourites.
CATEGORY_POPULARITY = np.array([0.16, 0.12, 0.11, 0.10, 0.08, 0.10, 0.09, 0.07, 0.09, 0.08])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _households(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Household number per shopper so that about `rate` of them live with another shopper."""
    multi = rate / (2.2 - 1.2 * rate)
    sizes = rng.choice([1, 2, 3], size=n, p=[1 - multi, 0.8 * multi, 0.2 * multi])
    return np.repeat(np.arange(n), sizes)[:n]


def _ascii_lower(names: pl.Series) -> pl.Series:
    return names.str.to_lowercase().str.replace_all(r"[^a-z]", "")


def _emails(first: pl.Series, last: pl.Series, domains: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Build one plausible email address per person from their name and a domain."""
    n = len(first)
    frame = pl.DataFrame(
        {
            "f": _ascii_lower(first),
            "l": _ascii_lower(last),
            "d": domains,
            "p": rng.integers(0, 6, size=n),
            "nn": rng.integers(1, 100, size=n),
            "yy": rng.integers(60, 100, size=n),
        }
    )
    local = (
        pl.when(pl.col("p") == 0)
        .then(pl.format("{}.{}", "f", "l"))
        .when(pl.col("p") == 1)
        .then(pl.format("{}{}", "f", "l"))
        .when(pl.col("p") == 2)
        .then(pl.format("{}{}", pl.col("f").str.slice(0, 1), "l"))
        .when(pl.col("p") == 3)
        .then(pl.format("{}.{}{}", "f", "l", "nn"))
        .when(pl.col("p") == 4)
        .then(pl.format("{}{}{}", "f", pl.col("l").str.slice(0, 1), "yy"))
        .otherwise(pl.format("{}_{}", "l", "f"))
    )
    return frame.select(pl.format("{}@{}", local, "d").alias("email")).to_series()


def _make_unique(emails: pl.Series) -> pl.Series:
    """Append a counter to repeated addresses so that every address belongs to one person."""
    frame = pl.DataFrame({"e": emails}).with_columns(k=pl.int_range(pl.len()).over("e"))
    parts = pl.col("e").str.split_exact("@", 1)
    return frame.select(
        pl.when(pl.col("k") == 0)
        .then(pl.col("e"))
        .otherwise(
            pl.format(
                "{}{}@{}", parts.struct.field("field_0"), pl.col("k") + 1, parts.struct.field("field_1")
            )
        )
        .alias("email")
    ).to_series()


def _favourites(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each person's 1-3 favourite categories (padded with -1) and their relative weights."""
    k = rng.choice([1, 2, 3], size=n, p=[0.3, 0.45, 0.25])
    # Gumbel top-k: sorting noisy log-popularity draws k distinct categories in one vectorised step.
    keys = np.log(CATEGORY_POPULARITY)[None, :] - np.log(-np.log(rng.random((n, len(CATEGORY_NAMES)))))
    order = np.argsort(-keys, axis=1)[:, :3]
    weights = rng.dirichlet([2.0, 2.0, 2.0], size=n)
    mask = np.arange(3)[None, :] < k[:, None]
    order = np.where(mask, order, -1)
    weights = np.where(mask, weights, 0.0)
    return order, weights / weights.sum(axis=1, keepdims=True)


def build_population(
    n: int, fake: Faker, rng: np.random.Generator, pools: Pools, rates: MessRates
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Draw the true people and the companies the prospects work for.

    Args:
        n: number of people.
        fake: a seeded `Faker("en_US")`.
        rng: the seeded generator.
        pools: the value pools.
        rates: the mess rates (household sharing, changes, common names).

    Returns:
        `(people, companies)`: one row per person with true attributes and latent traits, and one
        row per company.
    """
    segments = np.array(list(SEGMENT_SHARES))
    counts = np.floor(np.array(list(SEGMENT_SHARES.values())) * n).astype(int)
    counts[0] += n - counts.sum()
    segment = np.repeat(segments, counts)
    is_shopper, is_prospect = segment == "shopper", segment == "prospect"
    n_shop, n_pros = int(is_shopper.sum()), int(is_prospect.sum())

    gender = np.where(rng.random(n) < 0.51, "F", "M")
    first = np.where(
        gender == "F",
        rng.choice(pools.female_first, size=n, p=pools.female_p),
        rng.choice(pools.male_first, size=n, p=pools.male_p),
    ).astype(object)
    last = rng.choice(pools.last, size=n, p=pools.last_p).astype(object)
    birth = np.datetime64("2006-12-31") - rng.integers(0, 62 * 365, size=n).astype("timedelta64[D]")

    # Shoppers share households: same address, often the same surname, sometimes one landline.
    household = np.full(n, -1)
    household[is_shopper] = _households(n_shop, rates.shared_household, rng)
    n_households = int(household.max()) + 1 if n_shop else 0
    head = np.full(n_households, -1)
    shopper_index = np.flatnonzero(is_shopper)
    first_member = np.unique(household[is_shopper], return_index=True)[1]
    head[household[shopper_index[first_member]]] = shopper_index[first_member]
    follower = is_shopper & (head[np.maximum(household, 0)] != np.arange(n))
    same_surname = follower & (rng.random(n) < 0.7)
    last[same_surname] = last[head[household[same_surname]]]

    pick = np.flatnonzero(rng.random(n) < rates.common_name)
    common = rng.integers(0, len(COMMON_NAMES), size=len(pick))
    for i, c in zip(pick.tolist(), common.tolist(), strict=True):
        first[i], last[i] = COMMON_NAMES[c]
        gender[i] = "F" if first[i] in ("Maria", "Jennifer", "Mary") else "M"

    store_places = pools.places.filter(pl.col("state").is_in(STORE_STATES))
    in_store_region = rng.random(n_households) < 0.75
    region_pick = rng.integers(0, store_places.height, size=n_households)
    any_pick = rng.integers(0, pools.places.height, size=n_households)
    places = pl.concat([store_places[region_pick.tolist()], pools.places[any_pick.tolist()]])
    place_row = np.where(in_store_region, np.arange(n_households), n_households + np.arange(n_households))
    household_place = places[place_row.tolist()]
    household_street_number = rng.integers(1, 9_999, size=n_households)
    household_street = rng.choice(pools.streets, size=n_households)
    household_unit = np.where(rng.random(n_households) < 0.2, rng.integers(1, 40, size=n_households), 0)
    household_landline = np.full(n_households, None, dtype=object)
    sizes = np.bincount(household[is_shopper], minlength=n_households)
    has_landline = rng.random(n_households) < np.where(sizes > 1, rates.shared_landline, 0.08)

    companies = build_companies(fake, rng, max(3, int(n_pros / 2.5)), pools)
    company_weight = 1.0 / np.arange(1, companies.height + 1) ** 0.6
    company_of = np.full(n, -1)
    company_of[is_prospect] = rng.choice(
        companies.height, size=n_pros, p=company_weight / company_weight.sum()
    )

    phones_taken = set(companies["switchboard"].to_list())
    mobile = draw_phone_numbers(n, rng, phones_taken)
    mobile_new = draw_phone_numbers(n, rng, phones_taken)
    household_landline[has_landline] = draw_phone_numbers(int(has_landline.sum()), rng, phones_taken)

    street_number = np.full(n, None, dtype=object)
    street = np.full(n, None, dtype=object)
    unit = np.full(n, None, dtype=object)
    city = np.full(n, None, dtype=object)
    state = np.full(n, None, dtype=object)
    postcode = np.full(n, None, dtype=object)
    home_phone = np.full(n, None, dtype=object)
    hh = household[is_shopper]
    street_number[is_shopper] = household_street_number[hh].astype(str)
    street[is_shopper] = household_street[hh]
    unit[is_shopper] = np.where(household_unit[hh] > 0, "Apt " + household_unit[hh].astype(str), None)
    city[is_shopper] = household_place["city"].to_numpy()[hh]
    state[is_shopper] = household_place["state"].to_numpy()[hh]
    postcode[is_shopper] = household_place["postcode"].to_numpy()[hh]
    home_phone[is_shopper] = household_landline[hh]
    co = company_of[is_prospect]
    street_number[is_prospect] = companies["street_number"].to_numpy()[co].astype(str)
    street[is_prospect] = companies["street"].to_numpy()[co]
    unit[is_prospect] = np.where(
        rng.random(n_pros) < 0.3, "Suite " + rng.integers(100, 900, size=n_pros).astype(str), None
    )
    city[is_prospect] = companies["city"].to_numpy()[co]
    state[is_prospect] = companies["state"].to_numpy()[co]
    postcode[is_prospect] = companies["postcode"].to_numpy()[co]

    # Work addresses for prospects, personal ones for everyone else; an address never has two owners.
    domains = rng.choice(np.array(EMAIL_DOMAINS, dtype=object), size=n, p=EMAIL_DOMAIN_WEIGHTS)
    domains[is_prospect] = companies["domain"].to_numpy()[co]
    first_s, last_s = pl.Series(first, dtype=pl.String), pl.Series(last, dtype=pl.String)
    email = _emails(first_s, last_s, domains, rng)
    new_domains = rng.choice(np.array(EMAIL_DOMAINS, dtype=object), size=n, p=EMAIL_DOMAIN_WEIGHTS)
    email_new = _emails(first_s, last_s, new_domains, rng)
    both = _make_unique(pl.concat([email, email_new]))
    email, email_new = both[:n], both[n:]

    email_changed_at = np.where(
        rng.random(n) < rates.email_change, rng.integers(T0 + 30 * DAY, T1 - 30 * DAY, size=n), -1
    )
    phone_changed_at = np.where(
        rng.random(n) < rates.phone_change, rng.integers(T0 + 30 * DAY, T1 - 30 * DAY, size=n), -1
    )

    seniority = np.where(is_prospect, rng.choice(len(SENIORITY_SHARE), size=n, p=SENIORITY_SHARE), -1)
    title = np.full(n, None, dtype=object)
    for level, titles in enumerate(SENIORITY_TITLES):
        at_level = np.flatnonzero(seniority == level)
        title[at_level] = rng.choice(np.array(titles, dtype=object), size=len(at_level))
    source_index = rng.choice(len(LEAD_SOURCES), size=n, p=LEAD_SOURCE_SHARE)
    employees = np.where(is_prospect, companies["employees"].to_numpy()[np.maximum(company_of, 0)], 0)

    engagement = rng.normal(0.0, 1.0, size=n)
    fit = np.where(
        is_prospect,
        0.45 * (seniority - 2.2)
        + 0.45 * (np.log10(np.maximum(employees, 1)) - 1.6)
        + LEAD_SOURCE_EFFECT[source_index],
        0.0,
    )
    conversion_propensity = np.where(
        is_prospect, _sigmoid(-1.3 + 1.1 * engagement + 0.9 * fit + rng.normal(0, 0.6, size=n)), 0.0
    )

    in_store_state = pl.Series(state, dtype=pl.String).is_in(STORE_STATES).fill_null(False).to_numpy()
    channel = np.where(
        is_shopper, rng.choice(["online", "store", "omni"], size=n, p=[0.45, 0.25, 0.30]), None
    )
    channel = np.where(is_shopper & ~in_store_state, "online", channel)
    channel = np.where(is_prospect, "online", channel).astype(object)
    channel[segment == "visitor"] = None
    existing = rng.random(n) < 0.45
    customer_start = np.where(
        existing,
        rng.integers(T0 - 900 * DAY, T0 - DAY, size=n),
        rng.integers(T0, T1 - 60 * DAY, size=n),
    )
    customer_start = np.where(is_shopper, customer_start, -1)
    order_rate = np.exp(rng.normal(np.log(0.55 / 30), 0.6, size=n) + 0.15 * engagement)
    trouble = rng.normal(0.0, 1.0, size=n)
    favourites, fav_weights = _favourites(n, rng)

    web_user = (segment == "visitor") | is_prospect | np.isin(channel, ["online", "omni"])
    n_web_devices = np.where(web_user, rng.choice([1, 2, 3], size=n, p=[0.6, 0.3, 0.1]), 0)
    n_web_devices = np.where(is_prospect, rng.choice([1, 2], size=n, p=[0.95, 0.05]), n_web_devices)
    n_web_devices = np.where(segment == "visitor", 1, n_web_devices)
    # The app is for shoppers; business buyers order on the web site.
    has_app = is_shopper & np.isin(channel, ["online", "omni"]) & (rng.random(n) < 0.4)
    n_app_devices = np.where(has_app, rng.choice([1, 2], size=n, p=[0.85, 0.15]), 0)
    subscribes = np.where(is_prospect, rng.random(n) < 0.9, is_shopper & (rng.random(n) < 0.75))
    # Joining the loyalty programme creates a CRM contact; web-only shoppers are synced most of the time.
    wants_contact = is_shopper & (np.isin(channel, ["store", "omni"]) | (rng.random(n) < 0.8))

    people = to_frame(
        {
            "pidx": np.arange(n),
            "person_id": [f"P{k:07d}" for k in range(1, n + 1)],
            "segment": segment,
            "gender": gender,
            "first_name": first,
            "last_name": last,
            "birth_date": birth,
            "household_id": household,
            "street_number": street_number,
            "street": street,
            "unit": unit,
            "city": city,
            "state": state,
            "postcode": postcode,
            "email": email,
            "email_new": email_new,
            "email_changed_at": email_changed_at,
            "mobile": mobile,
            "mobile_new": mobile_new,
            "phone_changed_at": phone_changed_at,
            "home_phone": home_phone,
            "company_id": company_of,
            "company": np.where(
                is_prospect, companies["company"].to_numpy()[np.maximum(company_of, 0)], None
            ),
            "switchboard": np.where(
                is_prospect, companies["switchboard"].to_numpy()[np.maximum(company_of, 0)], None
            ),
            "employees": employees,
            "industry": np.where(
                is_prospect, companies["industry"].to_numpy()[np.maximum(company_of, 0)], None
            ),
            "seniority": seniority,
            "job_title": title,
            "lead_source": np.where(is_prospect, np.array(LEAD_SOURCES, dtype=object)[source_index], None),
            "engagement": engagement,
            "fit": fit,
            "conversion_propensity": conversion_propensity,
            "channel": channel,
            "customer_start": customer_start,
            "order_rate": order_rate,
            "trouble": trouble,
            "fav_1": favourites[:, 0],
            "fav_2": favourites[:, 1],
            "fav_3": favourites[:, 2],
            "fav_w1": fav_weights[:, 0],
            "fav_w2": fav_weights[:, 1],
            "fav_w3": fav_weights[:, 2],
            "n_web_devices": n_web_devices,
            "n_app_devices": n_app_devices,
            "subscribes": subscribes,
            "wants_contact": wants_contact,
        }
    )
    return people, companies
