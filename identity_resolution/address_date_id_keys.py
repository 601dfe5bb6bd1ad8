"""Addresses, postcodes, dates of birth, ids, gender and free text as match keys.

Each is a vectorised polars expression over the folding of `name_keys` (`name_expr`,
`blank_to_null`): an address has its common words abbreviated, a postcode is compacted and its
area derived, a date of birth is read in any of its usual formats, an id keeps only letters and
digits, gender words become `m` or `f`. Kept apart from names and from emails and phones because
these are the plain keys: one polars expression each, with no parsing library and none of the
name rules. Survivorship (dates of birth), the guards and the link evidence (ids) use them on
their own, as `normalise.normalise_people` does.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from identity_resolution.name_keys import blank_to_null, collapse_whitespace, name_expr

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
    compact = identifier_expr(column)
    zip_plus_four = compact.str.contains(r"^\d{9}$")
    return pl.when(zip_plus_four).then(compact.str.slice(0, 5)).otherwise(compact)


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
