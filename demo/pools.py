"""Value pools the population draws from: names with real-world frequencies, places, companies.

Faker supplies the raw material (its US name lists carry census frequencies, so common names
collide the way they do in real customer bases); numpy draws from the pools, which keeps the
generation vectorised and deterministic for a seed.
"""

from dataclasses import dataclass

import numpy as np
import polars as pl
from faker import Faker
from faker.providers.address.en_US import Provider as AddressProvider
from faker.providers.person.en_US import Provider as PersonProvider

# Formal first name -> the short forms people write on forms, receipts and support tickets.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Robert": ("Bob", "Rob", "Bobby"),
    "William": ("Bill", "Will", "Billy"),
    "Richard": ("Rick", "Dick", "Rich"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "John": ("Jack", "Johnny"),
    "Michael": ("Mike", "Mikey"),
    "Christopher": ("Chris",),
    "Joseph": ("Joe", "Joey"),
    "Thomas": ("Tom", "Tommy"),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt",),
    "Anthony": ("Tony",),
    "Steven": ("Steve",),
    "Stephen": ("Steve",),
    "Andrew": ("Andy", "Drew"),
    "Joshua": ("Josh",),
    "Kenneth": ("Ken", "Kenny"),
    "Edward": ("Ed", "Eddie", "Ted"),
    "Ronald": ("Ron", "Ronnie"),
    "Timothy": ("Tim",),
    "Jeffrey": ("Jeff",),
    "Nicholas": ("Nick",),
    "Benjamin": ("Ben",),
    "Samuel": ("Sam",),
    "Gregory": ("Greg",),
    "Alexander": ("Alex",),
    "Patrick": ("Pat",),
    "Jonathan": ("Jon",),
    "Zachary": ("Zach",),
    "Nathan": ("Nate",),
    "Gerald": ("Jerry",),
    "Lawrence": ("Larry",),
    "Raymond": ("Ray",),
    "Frederick": ("Fred",),
    "Douglas": ("Doug",),
    "Peter": ("Pete",),
    "Elizabeth": ("Liz", "Beth", "Betty", "Lizzie"),
    "Jennifer": ("Jen", "Jenny"),
    "Margaret": ("Maggie", "Peggy"),
    "Patricia": ("Pat", "Patty", "Trish"),
    "Katherine": ("Kate", "Kathy", "Katie"),
    "Catherine": ("Cathy", "Kate"),
    "Kimberly": ("Kim",),
    "Rebecca": ("Becky",),
    "Deborah": ("Debbie", "Deb"),
    "Susan": ("Sue", "Susie"),
    "Christina": ("Chris", "Tina"),
    "Christine": ("Chris", "Chrissy"),
    "Jessica": ("Jess",),
    "Samantha": ("Sam",),
    "Victoria": ("Vicky", "Tori"),
    "Alexandra": ("Alex", "Lexi"),
    "Barbara": ("Barb",),
    "Pamela": ("Pam",),
    "Cynthia": ("Cindy",),
    "Amanda": ("Mandy",),
    "Melissa": ("Mel", "Missy"),
    "Stephanie": ("Steph",),
    "Jacqueline": ("Jackie",),
    "Abigail": ("Abby",),
    "Megan": ("Meg",),
    "Theresa": ("Terri",),
    "Judith": ("Judy",),
    "Dorothy": ("Dot", "Dottie"),
}

# Real US area codes, so generated numbers pass phone validation (phonenumbers).
_AREA_CODES_TEXT = (
    "201 202 203 205 206 207 208 212 213 214 215 216 217 224 225 229 231 234 239 240 248 251 252 253 "
    "254 256 260 262 267 269 270 281 301 302 303 304 305 307 309 310 312 313 314 315 316 317 318 319 "
    "320 321 323 330 334 336 337 339 347 352 360 361 386 401 402 404 405 406 407 408 409 410 412 413 "
    "414 415 417 419 423 425 432 434 435 440 443 469 478 479 480 484 501 502 503 504 505 507 508 509 "
    "510 512 513 515 516 517 518 520 530 540 541 559 561 562 563 570 571 573 574 585 586 601 602 603 "
    "605 606 607 608 609 610 612 614 615 616 617 618 619 620 623 626 630 631 636 646 650 651 661 678 "
    "702 703 704 706 707 708 713 714 715 716 717 718 719 720 724 727 732 734 740 754 757 760 763 770 "
    "772 773 774 781 785 786 801 802 803 804 805 808 810 812 813 814 815 816 817 818 828 830 831 832 "
    "843 845 847 850 856 857 858 860 862 863 864 865 901 903 904 907 908 909 910 913 914 915 916 917 "
    "918 919 920 925 928 931 937 940 941 949 951 952 954 970 971 972 973 978 979 980 985 989"
)
AREA_CODES = np.array(_AREA_CODES_TEXT.split(), dtype=np.int64)

EMAIL_DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "aol.com",
    "comcast.net",
    "proton.me",
)
EMAIL_DOMAIN_WEIGHTS = np.array([0.46, 0.14, 0.12, 0.08, 0.12, 0.03, 0.03, 0.02])

# The states with physical stores; store shoppers live there, online shoppers anywhere.
STORE_STATES = ("CA", "OR", "WA", "CO", "TX", "IL", "NY", "MA")
COMMON_NAMES = (
    ("James", "Smith"),
    ("Michael", "Johnson"),
    ("Maria", "Garcia"),
    ("David", "Smith"),
    ("Jennifer", "Brown"),
    ("Robert", "Williams"),
    ("Mary", "Jones"),
    ("Jose", "Rodriguez"),
)

INDUSTRIES = (
    "Retail",
    "Technology",
    "Healthcare",
    "Education",
    "Hospitality",
    "Manufacturing",
    "Financial Services",
    "Construction",
    "Nonprofit",
    "Media",
)
LEAD_SOURCES = ("Web", "Webinar", "Trade Show", "Referral", "Partner", "Purchased List", "Cold Call")
# Seniority levels, lowest first, with example titles and their share among leads.
SENIORITY_TITLES: tuple[tuple[str, ...], ...] = (
    ("Intern", "Student", "Assistant"),
    ("Coordinator", "Specialist", "Associate", "Analyst"),
    ("Office Manager", "Purchasing Manager", "Facilities Manager", "Team Lead"),
    ("Director of Operations", "Director of Procurement", "HR Director", "Director of Facilities"),
    ("VP Operations", "VP People", "Vice President, Procurement"),
    ("CEO", "COO", "Owner", "Founder", "President"),
)
SENIORITY_SHARE = np.array([0.06, 0.30, 0.30, 0.18, 0.10, 0.06])

WEB_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:129.0) Gecko/20100101 Firefox/129.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
)
# (os name, os version, manufacturer, model, library name, library version)
APP_DEVICES = (
    ("iOS", "17.5", "Apple", "iPhone15,2", "analytics-swift", "1.5.11"),
    ("iOS", "18.1", "Apple", "iPhone16,1", "analytics-swift", "1.6.1"),
    ("Android", "14", "Google", "Pixel 8", "analytics-kotlin", "1.16.3"),
    ("Android", "13", "samsung", "SM-S911U", "analytics-kotlin", "1.15.0"),
)


@dataclass(frozen=True)
class Pools:
    """Everything the population draws from, built once per seed."""

    male_first: np.ndarray
    male_p: np.ndarray
    female_first: np.ndarray
    female_p: np.ndarray
    last: np.ndarray
    last_p: np.ndarray
    streets: np.ndarray
    places: pl.DataFrame  # city, state, postcode
    state_names: dict[str, str]


def _weighted(names: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    values = np.array(list(names), dtype=object)
    weights = np.array(list(names.values()), dtype=float)
    return values, weights / weights.sum()


def build_pools(fake: Faker, rng: np.random.Generator, n_streets: int = 1500) -> Pools:
    """Build the name, street and place pools from faker's en_US data.

    Args:
        fake: a seeded `Faker("en_US")`.
        rng: the seeded generator.
        n_streets: how many distinct street names to draw.

    Returns:
        The pools.
    """
    male_first, male_p = _weighted(PersonProvider.first_names_male)
    female_first, female_p = _weighted(PersonProvider.first_names_female)
    last, last_p = _weighted(PersonProvider.last_names)
    streets = np.array(sorted({fake.street_name() for _ in range(n_streets)}), dtype=object)
    abbreviations = [a for a in AddressProvider.states_abbr if a != "DC"]
    state_names = dict(zip(abbreviations, AddressProvider.states, strict=True))
    rows = []
    for state in sorted(state_names):
        low, high = AddressProvider.states_postcode[state]
        n_cities = 12 if state in STORE_STATES else 4
        for _ in range(n_cities):
            city = fake.city()
            for postcode in rng.integers(low, high + 1, size=int(rng.integers(1, 4))).tolist():
                rows.append({"city": city, "state": state, "postcode": f"{postcode:05d}"})
    return Pools(
        male_first, male_p, female_first, female_p, last, last_p, streets, pl.DataFrame(rows), state_names
    )


def draw_phone_numbers(n: int, rng: np.random.Generator, taken: set[str] | None = None) -> np.ndarray:
    """Draw distinct valid-looking US phone numbers as ten digits.

    Args:
        n: how many.
        rng: the seeded generator.
        taken: numbers already in use, to avoid.

    Returns:
        A numpy object array of n ten-digit strings.
    """
    taken = set() if taken is None else taken
    result: list[str] = []
    while len(result) < n:
        need = n - len(result)
        area = rng.choice(AREA_CODES, size=need)
        exchange = rng.integers(200, 1000, size=need)
        line = rng.integers(0, 10_000, size=need)
        for a, e, li in zip(area.tolist(), exchange.tolist(), line.tolist(), strict=True):
            if e % 100 == 11 or e == 555:
                continue
            number = f"{a}{e}{li:04d}"
            if number not in taken:
                taken.add(number)
                result.append(number)
    return np.array(result[:n], dtype=object)


def build_companies(fake: Faker, rng: np.random.Generator, n: int, pools: Pools) -> pl.DataFrame:
    """Build the companies the B2B leads work for, each with a domain, switchboard and office.

    Args:
        fake: a seeded `Faker("en_US")`.
        rng: the seeded generator.
        n: how many companies.
        pools: the street and place pools.

    Returns:
        One row per company: `company_id, company, domain, switchboard, street_number, street, city,
        state, postcode, employees, industry`.
    """
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        name = fake.company()
        if name not in seen:
            seen.add(name)
            names.append(name)
    domains = []
    for name in names:
        slug = "".join(ch for ch in name.split(",")[0].split(" and ")[0].lower() if ch.isalnum())
        domains.append(f"{slug}.com")
    places = pools.places.sample(n, with_replacement=True, seed=int(rng.integers(2**31)))
    employees = np.clip(np.round(rng.lognormal(3.6, 1.4, size=n)), 2, 50_000).astype(np.int64)
    return pl.DataFrame(
        {
            "company_id": np.arange(n),
            "company": names,
            "domain": domains,
            "switchboard": draw_phone_numbers(n, rng),
            "street_number": rng.integers(1, 9_000, size=n),
            "street": rng.choice(pools.streets, size=n),
            "city": places["city"],
            "state": places["state"],
            "postcode": places["postcode"],
            "employees": employees,
            "industry": rng.choice(np.array(INDUSTRIES, dtype=object), size=n),
        }
    )
