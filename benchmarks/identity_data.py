"""Person-record files with known truth, generated for the identity benchmarks and tests.

- `names_and_dates_of_birth`: only first name, last name and date of birth (the file users
  reported: 10,000 records, 10% of them duplicates with typos).
- `febrl_style`: the classic synthetic layout (given name, surname, street number, address,
  suburb, postcode, state, date of birth, social security id), originals and duplicates with up
  to three modifications each (typos, missing values, swapped or abbreviated words).
- `scale_sources`: several source files of one population (CRM, shop, support desk) with 30%
  duplicate records and realistic errors, for the million-record benchmark.

Names come from faker's US lists with their census frequencies, so common names collide as they
do in real files. Everything is drawn from one seeded generator: a seed always gives the same files.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from faker.providers.address.en_US import Provider as AddressProvider
from faker.providers.person.en_US import Provider as PersonProvider

from identity_resolution.nicknames import NAME_FAMILIES

_FEMALE = PersonProvider.first_names_female
_MALE = PersonProvider.first_names_male
_LAST = PersonProvider.last_names
_STREET_SUFFIX = {
    "Street": "St",
    "Avenue": "Ave",
    "Road": "Rd",
    "Drive": "Dr",
    "Lane": "Ln",
    "Court": "Ct",
    "Place": "Pl",
}
_NICKNAME = {
    name.title(): tuple(n.title() for n in family if n != name)
    for name, family in NAME_FAMILIES.items()
    if len(family) > 1
}
_DOMAINS = np.array(
    ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com", "proton.me"]
)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _weighted(names: dict[str, float], n: int, rng: np.random.Generator) -> np.ndarray:
    keys = np.array(list(names))
    weights = np.array(list(names.values()), dtype=float)
    return keys[rng.choice(len(keys), size=n, p=weights / weights.sum())]


def population(n: int, rng: np.random.Generator) -> pl.DataFrame:
    """`n` true people with every attribute filled: person_id, names, gender, date of birth,
    email, phone, street address, city, state, postcode and a nine-digit national id."""
    female = rng.random(n) < 0.5
    first = np.where(female, _weighted(_FEMALE, n, rng), _weighted(_MALE, n, rng))
    last = _weighted(_LAST, n, rng)
    born = np.datetime64("1940-01-01") + rng.integers(0, 365 * 65, size=n).astype("timedelta64[D]")
    streets = np.array(
        [f"{w.title()} {s}" for w in _weighted(_LAST, 3000, rng) for s in [rng.choice(list(_STREET_SUFFIX))]]
    )
    cities = np.array(
        [
            f"{c}{s}"
            for c, s in zip(
                _weighted(_LAST, 800, rng), rng.choice(AddressProvider.city_suffixes, 800), strict=True
            )
        ]
    )
    city_of = rng.integers(0, len(cities), size=n)
    frame = pl.DataFrame(
        {
            "person_id": np.arange(n),
            "first_name": first,
            "last_name": last,
            "gender": np.where(female, "F", "M"),
            "date_of_birth": born.astype(str),
            "street_number": rng.integers(1, 9999, size=n).astype(str),
            "street": streets[rng.integers(0, len(streets), size=n)],
            "city": cities[city_of],
            "state": np.array(AddressProvider.states_abbr)[city_of % len(AddressProvider.states_abbr)],
            "postcode": (10000 + city_of * 97 + rng.integers(0, 40, size=n)).astype(str),
            "phone_digits": (
                rng.integers(201, 989, size=n) * 10_000_000 + rng.integers(2_000_000, 9_999_999, size=n)
            ).astype(str),
            "national_id": rng.integers(100_000_000, 899_999_999, size=n).astype(str),
            "_domain": _DOMAINS[rng.integers(0, len(_DOMAINS), size=n)],
            "_number": rng.integers(1, 999, size=n),
        }
    )
    local = pl.concat_str(
        pl.col("first_name").str.to_lowercase(),
        pl.lit("."),
        pl.col("last_name").str.to_lowercase(),
        pl.col("_number").cast(pl.Utf8),
    )
    return frame.with_columns(pl.concat_str(local, pl.lit("@"), pl.col("_domain")).alias("email")).drop(
        "_domain", "_number"
    )


def typo(text: str | None, rng: np.random.Generator) -> str | None:
    """One keyboard error: a character dropped, doubled, replaced, or two neighbours swapped."""
    if not text or len(text) < 2:
        return text
    i = int(rng.integers(0, len(text)))
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return text[:i] + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i] + text[i:]
    if kind == 2:
        pool = "0123456789" if text[i].isdigit() else _LETTERS
        return text[:i] + pool[int(rng.integers(0, len(pool)))] + text[i + 1 :]
    j = min(i + 1, len(text) - 1)
    return text[:i] + text[j] + text[i] + text[j + 1 :] if j > i else text


def _apply(values: list, share: float, change, rng: np.random.Generator) -> list:
    chosen = rng.random(len(values)) < share
    return [change(v) if c else v for v, c in zip(values, chosen, strict=True)]


def corrupt(people: pl.DataFrame, rng: np.random.Generator, *, level: float = 1.0) -> pl.DataFrame:
    """The errors a second record of a person carries: typos in names, nicknames, initials,
    missing values, a digit wrong in the date of birth or day and month swapped, a changed
    email, a phone written another way or with a digit wrong, an abbreviated or changed address.

    Args:
        people: rows of `population`.
        rng: the generator.
        level: scales every error rate (1.0: the rates below).

    Returns:
        The corrupted rows (same columns).
    """
    r = level
    first = people["first_name"].to_list()
    first = _apply(
        first, 0.08 * r, lambda v: rng.choice(_NICKNAME[v]) if v in _NICKNAME else typo(v, rng), rng
    )
    first = _apply(first, 0.08 * r, lambda v: typo(v, rng), rng)
    first = _apply(first, 0.02 * r, lambda v: v[0] if v else v, rng)
    last = _apply(people["last_name"].to_list(), 0.08 * r, lambda v: typo(v, rng), rng)
    dob = _apply(
        people["date_of_birth"].to_list(), 0.05 * r, lambda v: v[:5] + typo(v[5:], rng) if v else v, rng
    )
    dob = _apply(
        dob, 0.02 * r, lambda v: f"{v[:4]}-{v[8:10]}-{v[5:7]}" if v and int(v[8:10]) <= 12 else v, rng
    )
    email = _apply(
        people["email"].to_list(), 0.05 * r, lambda v: v.split("@")[0] + "@" + str(rng.choice(_DOMAINS)), rng
    )
    email = _apply(email, 0.02 * r, lambda v: typo(v, rng), rng)
    phone = _apply(people["phone_digits"].to_list(), 0.04 * r, lambda v: typo(v, rng), rng)
    street = _apply(
        people["street"].to_list(), 0.5, lambda v: " ".join(_STREET_SUFFIX.get(w, w) for w in v.split()), rng
    )
    street = _apply(street, 0.05 * r, lambda v: typo(v, rng), rng)
    national_id = _apply(people["national_id"].to_list(), 0.04 * r, lambda v: typo(v, rng), rng)
    out = people.with_columns(
        pl.Series("first_name", first, dtype=pl.Utf8),
        pl.Series("last_name", last, dtype=pl.Utf8),
        pl.Series("date_of_birth", dob, dtype=pl.Utf8),
        pl.Series("email", email, dtype=pl.Utf8),
        pl.Series("phone_digits", phone, dtype=pl.Utf8),
        pl.Series("street", street, dtype=pl.Utf8),
        pl.Series("national_id", national_id, dtype=pl.Utf8),
    )
    missing = {
        "first_name": 0.02,
        "last_name": 0.01,
        "date_of_birth": 0.08,
        "email": 0.1,
        "phone_digits": 0.1,
        "street": 0.05,
        "postcode": 0.03,
        "national_id": 0.1,
    }
    return out.with_columns(
        pl.when(pl.Series(rng.random(out.height) < share * r))
        .then(None)
        .otherwise(pl.col(column))
        .alias(column)
        for column, share in missing.items()
    )


def _with_duplicates(
    n_records: int, duplicate_share: float, rng: np.random.Generator, level: float = 1.0
) -> pl.DataFrame:
    """`n_records` records: originals, then duplicates of randomly chosen originals (corrupted)."""
    n_dup = int(round(n_records * duplicate_share))
    people = population(n_records - n_dup, rng)
    twins = people[rng.integers(0, people.height, size=n_dup).tolist()]
    return pl.concat(
        [
            people.with_columns(pl.lit(False).alias("_duplicate")),
            corrupt(twins, rng, level=level).with_columns(pl.lit(True).alias("_duplicate")),
        ]
    )


def _phone_text(digits: pl.Expr, style: pl.Expr) -> pl.Expr:
    a, b, c = digits.str.slice(0, 3), digits.str.slice(3, 3), digits.str.slice(6)
    return (
        pl.when(style == 0)
        .then(pl.format("({}) {}-{}", a, b, c))
        .when(style == 1)
        .then(pl.format("{}-{}-{}", a, b, c))
        .when(style == 2)
        .then(pl.format("+1 {} {} {}", a, b, c))
        .otherwise(pl.format("{}.{}.{}", a, b, c))
    )


def names_and_dates_of_birth(
    n_records: int = 10_000, duplicate_share: float = 0.1, seed: int = 1
) -> pl.DataFrame:
    """Only names and dates of birth: `id, person_id, first_name, last_name, date_of_birth`.

    Args:
        n_records: records in the file.
        duplicate_share: share of records that are another record's person, with typos.
        seed: random seed.

    Returns:
        The file, shuffled.
    """
    rng = np.random.default_rng(seed)
    records = _with_duplicates(n_records, duplicate_share, rng)
    # Every duplicate keeps its date of birth: the reported file had no missing ones.
    return (
        records.select("person_id", "first_name", "last_name", "date_of_birth")
        .sample(fraction=1.0, shuffle=True, seed=seed)
        .with_columns(pl.int_range(pl.len()).cast(pl.Utf8).alias("id"))
        .select("id", "person_id", "first_name", "last_name", "date_of_birth")
    )


def febrl_style(n_originals: int = 2000, n_duplicates: int = 3000, seed: int = 1) -> pl.DataFrame:
    """The classic synthetic layout: `rec_id, person_id, given_name, surname, street_number,
    address_1, address_2, suburb, postcode, state, date_of_birth, soc_sec_id`; an original has up
    to five duplicates.

    Args:
        n_originals: people.
        n_duplicates: extra records of them.
        seed: random seed.

    Returns:
        The file, shuffled.
    """
    rng = np.random.default_rng(seed)
    people = population(n_originals, rng)
    counts = np.minimum(rng.zipf(1.6, size=n_originals), 5)
    owners = np.repeat(np.arange(n_originals), counts)[:n_duplicates]
    while len(owners) < n_duplicates:
        owners = np.concatenate([owners, rng.integers(0, n_originals, size=n_duplicates - len(owners))])
    dups = corrupt(people[owners.tolist()], rng)
    rows = pl.concat(
        [people.with_columns(pl.lit("org").alias("_kind")), dups.with_columns(pl.lit("dup").alias("_kind"))]
    )
    address_2 = rng.choice(["", "", "", "Apt 2", "Unit 5", "Flat 3"], size=rows.height)
    return (
        rows.with_columns(pl.Series("address_2", address_2).replace("", None))
        .select(
            "person_id",
            pl.col("first_name").alias("given_name"),
            pl.col("last_name").alias("surname"),
            "street_number",
            pl.col("street").alias("address_1"),
            "address_2",
            pl.col("city").alias("suburb"),
            "postcode",
            "state",
            pl.col("date_of_birth").str.replace_all("-", ""),
            pl.col("national_id").alias("soc_sec_id"),
        )
        .sample(fraction=1.0, shuffle=True, seed=seed)
        .with_columns(pl.format("rec-{}", pl.int_range(pl.len())).alias("rec_id"))
        .select("rec_id", pl.exclude("rec_id"))
    )


SCALE_SOURCES = {
    # source: (share of records, columns it has)
    "crm": (
        0.4,
        ("first_name", "last_name", "email", "phone", "date_of_birth", "street", "city", "state", "postcode"),
    ),
    "shop": (0.4, ("first_name", "last_name", "email", "phone", "street", "city", "postcode")),
    "support": (0.2, ("first_name", "last_name", "email", "phone")),
}


def scale_sources(
    n_records: int = 1_000_000, duplicate_share: float = 0.3, seed: int = 1
) -> dict[str, pl.DataFrame]:
    """One population spread over several source files: `id, person_id` and each source's columns.

    Args:
        n_records: records over all sources.
        duplicate_share: share of records that repeat a person already in the data.
        seed: random seed.

    Returns:
        Source name -> its file (phones written in four styles).
    """
    rng = np.random.default_rng(seed)
    records = _with_duplicates(n_records, duplicate_share, rng)
    records = records.sample(fraction=1.0, shuffle=True, seed=seed).with_columns(
        _phone_text(pl.col("phone_digits"), pl.Series(rng.integers(0, 4, size=records.height))).alias("phone")
    )
    shares = np.array([share for share, _ in SCALE_SOURCES.values()])
    source_of = rng.choice(len(SCALE_SOURCES), size=records.height, p=shares / shares.sum())
    files = {}
    for i, (name, (_, columns)) in enumerate(SCALE_SOURCES.items()):
        part = records.filter(pl.Series(source_of == i))
        files[name] = part.select(
            pl.format("{}-{}", pl.lit(name), pl.int_range(pl.len())).alias("id"), "person_id", *columns
        )
    return files
