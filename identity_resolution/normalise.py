"""Normalising person attributes into comparable match keys: `normalise_people` adds them all.

Names (`name_keys`), dates, postcodes and ids are normalised with vectorised polars expressions.
Emails and phone numbers (`email_phone_keys`) are normalised by vectorised expressions too for
the forms that cover nearly all real values, and parsed once per distinct value for the rest.
Every normaliser returns None (null) for a value it cannot make sense of, never a guess.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from identity_resolution.email_phone_keys import email_series, phone_series
from identity_resolution.name_keys import (
    blank_to_null,
    collapse_whitespace,
    first_name_aliases_expr,
    first_name_expr,
    first_name_family_expr,
    full_name_expr,
    last_name_expr,
    name_expr,
    name_suffix_expr,
    soundex_expr,
)

_ADDRESS_WORDS = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "drive": "dr",
    "lane": "ln",
    "boulevard": "blvd",
    "court": "ct",
    "place": "pl",
    "square": "sq",
    "terrace": "ter",
    "highway": "hwy",
    "parkway": "pkwy",
    "circle": "cir",
    "crescent": "cres",
    "close": "cl",
    "apartment": "apt",
    "suite": "ste",
    "unit": "unit",
    "floor": "fl",
    "building": "bldg",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "mount": "mt",
    "saint": "st",
    "fort": "ft",
    "number": "no",
}
_GENDERS = {
    "m": "m",
    "male": "m",
    "man": "m",
    "boy": "m",
    "masculine": "m",
    "f": "f",
    "female": "f",
    "woman": "f",
    "girl": "f",
    "feminine": "f",
}

# Formats tried in order; slashed dates are ambiguous, so their order depends on `day_first`.
_ISO_DATE_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d"]
_DAY_FIRST_FORMATS = ["%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"]
_MONTH_FIRST_FORMATS = ["%m/%d/%Y", "%m-%d-%Y"]
_WORDY_DATE_FORMATS = ["%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y"]
_EARLIEST_BIRTH_YEAR = 1000


def postcode_expr(column: str | pl.Expr) -> pl.Expr:
    """Upper-case alphanumeric postcode; a US ZIP+4 keeps its five-digit ZIP
    (`"sw1a 2aa"` -> `"SW1A2AA"`, `"12345-6789"` -> `"12345"`).

    Args:
        column: a column name or expression.

    Returns:
        A polars expression.
    """
    expr = pl.col(column) if isinstance(column, str) else column
    compact = blank_to_null(expr).str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    zip_plus_four = compact.str.contains(r"^\d{9}$")
    compact = pl.when(zip_plus_four).then(compact.str.slice(0, 5)).otherwise(compact)
    return pl.when(compact == "").then(None).otherwise(compact)


def postcode_area_expr(postcode_norm: str | pl.Expr) -> pl.Expr:
    """The coarse area of a normalised postcode: a numeric code's first three
    digits (US ZIP3), else everything but the last three characters (UK outward code).

    Args:
        postcode_norm: a column name or expression.

    Returns:
        A polars expression.
    """
    expr = pl.col(postcode_norm) if isinstance(postcode_norm, str) else postcode_norm
    numeric = expr.str.contains(r"^\d+$")
    return (
        pl.when(expr.str.len_chars() < 5)
        .then(None)
        .when(numeric)
        .then(expr.str.slice(0, 3))
        .otherwise(expr.str.slice(0, expr.str.len_chars() - 3))
    )


def date_of_birth_expr(column: str | pl.Expr, *, day_first: bool = False) -> pl.Expr:
    """A date of birth in any of several formats, as an ISO `YYYY-MM-DD` string.

    Accepts ISO dates (optionally with a time), `YYYY/MM/DD`, `YYYYMMDD`, `DD.MM.YYYY`, slashed
    or dashed day-month-year and month-day-year (`day_first` decides when both read as valid,
    otherwise the one that is valid wins) and month names (`March 5, 1980`, `5 Mar 1980`).
    Dates in the future or before year 1000 are null.

    Args:
        column: a column name or expression.
        day_first: read ambiguous slashed dates as day/month/year.

    Returns:
        A polars expression.
    """
    expr = pl.col(column) if isinstance(column, str) else column
    text = blank_to_null(expr)
    iso_prefix = text.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$", 1)
    wordy = text.str.replace_all(r"[,]", " ").str.replace_all(r"(\d)(st|nd|rd|th)\b", "$1")
    wordy = collapse_whitespace(wordy).str.to_titlecase()
    slashed = (
        _DAY_FIRST_FORMATS + _MONTH_FIRST_FORMATS if day_first else _MONTH_FIRST_FORMATS + _DAY_FIRST_FORMATS
    )
    attempts = [iso_prefix.str.strptime(pl.Date, "%Y-%m-%d", strict=False)]
    attempts += [
        text.str.strptime(pl.Date, fmt, strict=False, exact=True) for fmt in _ISO_DATE_FORMATS + slashed
    ]
    attempts += [wordy.str.strptime(pl.Date, fmt, strict=False, exact=True) for fmt in _WORDY_DATE_FORMATS]
    parsed = pl.coalesce(attempts)
    plausible = (parsed.dt.year() >= _EARLIEST_BIRTH_YEAR) & (parsed <= pl.lit(dt.date.today()))
    # A year-first date that is not a calendar date (1816-17-30, 1859-01-00) is almost always a
    # typo of a real one: kept as text, it still agrees with that date to one character.
    digits = text.str.extract(r"^(\d{4})[-/.](\d{2})[-/.](\d{2})$", 0).str.replace_all(r"[/.]", "-")
    year = digits.str.slice(0, 4).cast(pl.Int32, strict=False)
    typo = pl.when(year.is_between(_EARLIEST_BIRTH_YEAR, dt.date.today().year)).then(digits)
    return pl.when(plausible).then(parsed.dt.strftime("%Y-%m-%d")).when(parsed.is_null()).then(typo)


def identifier_expr(column: str | pl.Expr) -> pl.Expr:
    """An id (loyalty number, national id) upper-cased with everything but
    letters and digits removed (`"ab-123 45"` -> `"AB12345"`).

    Args:
        column: a column name or expression.

    Returns:
        A polars expression.
    """
    expr = pl.col(column) if isinstance(column, str) else column
    compact = blank_to_null(expr).str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    return pl.when(compact == "").then(None).otherwise(compact)


def gender_expr(column: str | pl.Expr) -> pl.Expr:
    """`m`, `f`, or the normalised text of any other stated gender.

    Args:
        column: a column name or expression.

    Returns:
        A polars expression.
    """
    text = name_expr(column)
    return text.replace(_GENDERS)


def address_expr(column: str | pl.Expr) -> pl.Expr:
    """A normalised street address with common words abbreviated
    (`"12 North Main Street"` -> `"12 n main st"`).

    Args:
        column: a column name or expression.

    Returns:
        A polars expression.
    """
    text = name_expr(column)
    tokens = text.str.split(" ").list.eval(pl.element().replace(_ADDRESS_WORDS))
    return pl.when(text.is_null()).then(None).otherwise(tokens.list.join(" "))


def text_expr(column: str | pl.Expr) -> pl.Expr:
    """Free text (city, company, job title) folded like a name.

    Args:
        column: a column name or expression.

    Returns:
        A polars expression.
    """
    return name_expr(column)


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
