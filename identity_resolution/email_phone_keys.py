"""Emails and phone numbers as match keys: vectorised for the common forms, parsed for the rest.

Plain ASCII addresses and numbers of the North American plan, nearly all real values, are
normalised by vectorised polars expressions; every other value is parsed once per distinct value
with email-validator and phonenumbers, which at 15-25 us a value would cost half a minute on a
million records. Kept apart from the other match keys because these two rest on parsing
libraries, and because their cached scalar forms (`normalise_email`, `normalise_phone`) are used
on their own wherever a single address or number comes in: consent files, erasure requests,
activation look-ups. Every normaliser returns None (null) for a value it cannot make sense of,
never a guess.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
import polars as pl
from email_validator import EmailNotValidError, validate_email


@lru_cache(maxsize=1_000_000)
def normalise_email(value: str | None) -> str | None:
    """Trim and lower-case an email address, or None when it is not shaped like one.

    Args:
        value: the email as a source had it.

    Returns:
        The normalised address (`" Ann.Lee@Example.COM "` -> `"ann.lee@example.com"`), or None.
    """
    if value is None:
        return None
    text = value.strip().lower()
    if text.startswith("mailto:"):
        text = text[len("mailto:") :]
    if not text or "@" not in text:
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


@lru_cache(maxsize=1_000_000)
def normalise_phone(value: str | None, default_region: str = "US") -> str | None:
    """A phone number in E.164 form, or None when it cannot be a phone number.

    Args:
        value: the number as a source had it (any punctuation, optional extension).
        default_region: ISO country code assumed when the number has no country code.

    Returns:
        E.164 text such as `"+12125550123"`, or None.
    """
    if value is None or not value.strip():
        return None
    number = _possible_number(value, default_region)
    if number is None and value.strip().startswith("00"):
        # "00" is the international call prefix in most countries ("001-212-..." is +1 212 ...),
        # but the library only applies the default region's own prefix.
        number = _possible_number("+" + value.strip()[2:], default_region)
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _possible_number(value: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    # Possible (right length for the country) rather than valid: test and demo numbers such as
    # 555 ones are not allocated, yet they identify a person just as well. Local-only numbers
    # (no area code) are rejected: they cannot be told apart across areas.
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return number


# A plain ASCII address (RFC 5322 dot-atoms, a dotted domain with an alphabetic top level):
# what email-validator accepts among such strings, decided without a Python call per value.
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN_EMAIL = rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[a-z]{{1,63}}$"


def email_series(values: pl.Series) -> pl.Series:
    """`normalise_email` over a series: plain ASCII addresses by one vectorised check, the
    rest (international addresses, quoted local parts) by email-validator, once per distinct value.

    Args:
        values: the raw values.

    Returns:
        The normalised values, null where invalid.
    """
    text = pl.col("v").str.strip_chars().str.to_lowercase().str.strip_prefix("mailto:")
    frame = pl.DataFrame({"v": values.cast(pl.Utf8)}).with_columns(text.alias("t"))
    # Punycode domains come back from email-validator in Unicode, so they take the slow path.
    plain = pl.col("t").str.contains(r"^[\x00-\x7f]*$") & ~pl.col("t").str.contains("xn--")
    ok = pl.col("t").str.contains(_PLAIN_EMAIL) & (pl.col("t").str.len_bytes() <= 254)
    ok = ok & (pl.col("t").str.split("@").list.first().str.len_bytes() <= 64)
    frame = frame.with_columns(
        pl.when(plain & ok).then(pl.col("t")).alias("fast"),
        (~plain & pl.col("t").str.contains("@")).alias("slow"),
    )
    slow = frame.filter(pl.col("slow")).get_column("v")
    if slow.len():
        parsed = _map_distinct(slow, normalise_email)
        frame = frame.with_columns(
            pl.when(pl.col("slow"))
            .then(
                pl.col("v").replace_strict(
                    dict(zip(slow.to_list(), parsed.to_list(), strict=True)),
                    default=None,
                    return_dtype=pl.Utf8,
                )
            )
            .otherwise(pl.col("fast"))
            .alias("fast")
        )
    return frame.get_column("fast").alias(values.name)


# Regions whose numbers follow the North American plan: ten digits, country code 1.
_NANP_REGIONS = frozenset(
    {
        "US",
        "CA",
        "AG",
        "AI",
        "AS",
        "BB",
        "BM",
        "BS",
        "DM",
        "DO",
        "GD",
        "GU",
        "JM",
        "KN",
        "KY",
        "LC",
        "MP",
        "MS",
        "PR",
        "SX",
        "TC",
        "TT",
        "VC",
        "VG",
        "VI",
    }
)
_EXTENSION = r"(?i)\s*(?:ext\.?|extension|x|#)\s*\d{1,6}\s*$"


def phone_series(values: pl.Series, default_region: str = "US") -> pl.Series:
    """`normalise_phone` over a series. Numbers of the North American plan (a +1 number, or a
    number without a country code when the default region uses the plan) are read by one
    vectorised expression with the same result as phonenumbers' possible-number check (ten
    digits); every other value is parsed with phonenumbers once per distinct value.

    Args:
        values: the raw values.
        default_region: region for numbers without a country code.

    Returns:
        The normalised values, null where invalid.
    """
    body = pl.col("v").str.strip_chars().str.replace(_EXTENSION, "")
    digits = body.str.replace_all(r"[^0-9]", "")
    punctuation_only = body.str.contains(r"^\+?[0-9 ().\-/]+$")
    plus = body.str.starts_with("+")
    nanp = default_region.upper() in _NANP_REGIONS
    fast = (
        pl.when(~punctuation_only | body.str.starts_with("00"))
        .then(None)
        .when(plus & (digits.str.len_chars() == 11) & digits.str.starts_with("1"))
        .then(pl.lit("+") + digits)
        .when(~plus & pl.lit(nanp) & (digits.str.len_chars() == 10))
        .then(pl.lit("+1") + digits)
        # The national prefix 1 is only taken off when an area code (2-9) follows it.
        .when(~plus & pl.lit(nanp) & (digits.str.len_chars() == 11) & digits.str.contains("^1[2-9]"))
        .then(pl.lit("+") + digits)
    )
    # What the fast path does not settle: another country's number, letters, an 00 prefix.
    decided = (
        pl.when(~punctuation_only | body.str.starts_with("00"))
        .then(False)
        .when(plus)
        .then(digits.str.starts_with("1"))
        .when((digits.str.len_chars() == 11) & digits.str.contains("^1[01]"))
        .then(False)
        .otherwise(pl.lit(nanp))
    )
    frame = pl.DataFrame({"v": values.cast(pl.Utf8)}).with_columns(
        fast.alias("fast"), (decided | pl.col("v").is_null() | (body == "")).alias("decided")
    )
    slow = frame.filter(~pl.col("decided")).get_column("v").unique()
    if slow.len():
        parsed = _map_distinct(slow, lambda v: normalise_phone(v, default_region))
        lookup = dict(zip(slow.to_list(), parsed.to_list(), strict=True))
        frame = frame.with_columns(
            pl.when(pl.col("decided"))
            .then(pl.col("fast"))
            .otherwise(pl.col("v").replace_strict(lookup, default=None, return_dtype=pl.Utf8))
            .alias("fast")
        )
    return frame.get_column("fast").alias(values.name)


def _map_distinct(values: pl.Series, parse) -> pl.Series:
    distinct = values.drop_nulls().unique()
    lookup = dict(zip(distinct.to_list(), [parse(v) for v in distinct.to_list()], strict=True))
    return values.replace_strict(lookup, default=None, return_dtype=pl.Utf8)
