"""Normalising person attributes into comparable match keys: `normalise_people` adds them all.

The keys are built in three modules: names in `name_keys`; emails and phone numbers in
`email_phone_keys`; addresses, postcodes, dates of birth, ids, gender and free text in
`address_date_id_keys`. Names, dates, postcodes and ids are normalised with vectorised polars
expressions; emails and phones by vectorised expressions too for the forms that cover nearly all
real values, and parsed once per distinct value for the rest. Every normaliser returns None
(null) for a value it cannot make sense of, never a guess. This module puts them together over a
frame (`normalise_people`, `MATCH_KEYS`) and holds the scalar forms for single values.
"""

from __future__ import annotations

import polars as pl

from identity_resolution.address_date_id_keys import (
    address_expr,
    date_of_birth_expr,
    gender_expr,
    identifier_expr,
    postcode_area_expr,
    postcode_expr,
    text_expr,
)
from identity_resolution.email_phone_keys import email_series, phone_series
from identity_resolution.name_keys import (
    first_name_aliases_expr,
    first_name_expr,
    first_name_family_expr,
    full_name_expr,
    last_name_expr,
    name_expr,
    name_suffix_expr,
    soundex_expr,
)

# --- scalar forms of the expressions (one implementation, handy for single values) ------------


def _one(expr: pl.Expr, value: str | None) -> str | None:
    return pl.DataFrame({"x": [value]}, schema={"x": pl.Utf8}).select(expr).item()


def normalise_name(value: str | None) -> str | None:
    """Trim, lower-case, strip accents and punctuation, collapse whitespace.

    Args:
        value: a name as a source had it.

    Returns:
        The normalised name (`" José  O'Neil "` -> `"jose oneil"`), or None when empty.
    """
    return _one(name_expr("x"), value)


def normalise_postcode(value: str | None) -> str | None:
    """Upper-case alphanumeric postcode; ZIP+4 reduced to the ZIP.

    Args:
        value: a postcode or ZIP code as a source had it.

    Returns:
        The normalised postcode (`"sw1a 2aa"` -> `"SW1A2AA"`), or None.
    """
    return _one(postcode_expr("x"), value)


def normalise_date_of_birth(value: str | None, *, day_first: bool = False) -> str | None:
    """A date of birth as an ISO `YYYY-MM-DD` string.

    Args:
        value: the date as a source had it (see `date_of_birth_expr` for the formats).
        day_first: read an ambiguous `01/02/1980` as 1 February rather than 2 January.

    Returns:
        The ISO date, or None when it is not a plausible date of birth.
    """
    return _one(date_of_birth_expr("x", day_first=day_first), value)


def normalise_loyalty_id(value: str | None) -> str | None:
    """A loyalty number (or any other id): upper-case letters and digits only.

    Args:
        value: the id as a source had it.

    Returns:
        The normalised id (`"ab-123 45"` -> `"AB12345"`), or None when empty.
    """
    return _one(identifier_expr("x"), value)


# --- a whole frame of person attributes ------------------------------------------------------


def _last_comma_first(expr: pl.Expr) -> pl.Expr:
    """`"ORTIZ, DEBORAH"` -> `"DEBORAH ORTIZ"`: a single word before the only comma is a surname
    (registers and receipts write names that way); `"John Smith, Jr."` is left alone."""
    parts = expr.str.extract_groups(r"^\s*([^,\s]+)\s*,\s*([^,]+?)\s*$")
    return (
        pl.when(parts.struct.field("1").is_not_null())
        .then(pl.concat_str(parts.struct.field("2"), pl.lit(" "), parts.struct.field("1")))
        .otherwise(expr)
    )


MATCH_KEYS: tuple[str, ...] = (
    "first_name_norm",
    "first_name_aliases",
    "first_name_family",
    "first_name_soundex",
    "last_name_norm",
    "last_name_soundex",
    "name_suffix",
    "full_name_norm",
    "date_of_birth_norm",
    "gender_norm",
    "email_norm",
    "email_local",
    "phone_norm",
    "address_norm",
    "city_norm",
    "state_norm",
    "postcode_norm",
    "postcode_area",
    "country_norm",
    "national_id_norm",
    "company_norm",
    "job_title_norm",
    "loyalty_id_norm",
)


def _per_distinct(values: pl.Series, normalise) -> pl.Series:
    """Apply a normalising expression to each distinct value once and map the results back:
    a million records hold a few thousand distinct first names or cities."""
    lookup = pl.DataFrame({"v": values.drop_nulls().unique()})
    lookup = lookup.with_columns(normalise(pl.col("v")).alias("n"))
    joined = pl.DataFrame({"v": values}).join(lookup, on="v", how="left", maintain_order="left")
    return joined.get_column("n").alias(values.name)


def normalise_people(
    frame: pl.DataFrame, *, default_phone_region: str = "US", day_first: bool = False
) -> pl.DataFrame:
    """Add the normalised match keys (`MATCH_KEYS`) to a frame of canonical person attributes.

    Missing attribute columns count as null. A record with only a full name gets its first and
    last name from the full name's first and last words. Each distinct value is normalised once.

    Args:
        frame: rows with any of the canonical person attributes (`first_name`, `email`, ...).
        default_phone_region: region for phone numbers written without a country code.
        day_first: read ambiguous slashed dates of birth as day/month/year.

    Returns:
        The frame with the match-key columns appended.
    """

    def source(name: str) -> pl.Series:
        if name in frame.columns:
            return frame.get_column(name).cast(pl.Utf8)
        return pl.Series(name, [None] * frame.height, dtype=pl.Utf8)

    def normalised(name: str, normalise) -> pl.Series:
        return _per_distinct(source(name), normalise)

    full = normalised("full_name", lambda e: full_name_expr(_last_comma_first(e)))
    address = _per_distinct(
        frame.select(
            pl.concat_str(source("street_number"), source("address_line1"), separator=" ", ignore_nulls=True)
        ).to_series(),
        address_expr,
    )
    keys = pl.DataFrame(
        {
            "_full": full,
            "_first": normalised("first_name", first_name_expr),
            "_last": normalised("last_name", last_name_expr),
            "_suffix_first": normalised("first_name", name_suffix_expr),
            "_suffix_last": normalised("last_name", name_suffix_expr),
            "_suffix_full": normalised("full_name", name_suffix_expr),
            "date_of_birth_norm": normalised(
                "date_of_birth", lambda e: date_of_birth_expr(e, day_first=day_first)
            ),
            "gender_norm": normalised("gender", gender_expr),
            "email_norm": email_series(source("email")),
            "phone_norm": phone_series(source("phone"), default_phone_region),
            "address_norm": address,
            "city_norm": normalised("city", text_expr),
            "state_norm": normalised("state", text_expr),
            "postcode_norm": normalised("postcode", postcode_expr),
            "country_norm": normalised("country", text_expr),
            "national_id_norm": normalised("national_id", identifier_expr),
            "company_norm": normalised("company", text_expr),
            "job_title_norm": normalised("job_title", text_expr),
            "loyalty_id_norm": normalised("loyalty_id", identifier_expr),
        }
    )
    words = pl.col("_full").str.split(" ")
    has_two_words = words.list.len() >= 2
    keys = keys.with_columns(
        pl.coalesce("_first", pl.when(has_two_words).then(words.list.first())).alias("first_name_norm"),
        pl.coalesce("_last", pl.when(has_two_words).then(words.list.last())).alias("last_name_norm"),
    )
    first = keys.get_column("first_name_norm")
    keys = keys.with_columns(
        _per_distinct(first, first_name_aliases_expr).alias("first_name_aliases"),
        _per_distinct(first, first_name_family_expr).alias("first_name_family"),
        _per_distinct(first, soundex_expr).alias("first_name_soundex"),
        _per_distinct(keys.get_column("last_name_norm"), soundex_expr).alias("last_name_soundex"),
        pl.coalesce("_suffix_last", "_suffix_full", "_suffix_first").alias("name_suffix"),
        pl.coalesce(
            "_full", pl.concat_str("first_name_norm", "last_name_norm", separator=" ", ignore_nulls=True)
        ).alias("full_name_norm"),
        # The local part without a +tag: the same mailbox at a changed domain still says a lot.
        pl.col("email_norm").str.extract(r"^([^@+]+)", 1).alias("email_local"),
        postcode_area_expr("postcode_norm").alias("postcode_area"),
    )
    return pl.concat([frame, keys.select(MATCH_KEYS)], how="horizontal")
