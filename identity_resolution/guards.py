"""Guardrails: what forbids a link whatever the evidence, and values that are evidence of nobody.

Conflict rules (`pair_conflicts`) are checked on every candidate link, from a rule or from
Splink, and again on every pair of records a cluster would put together (`clustering`):
- dates of birth further apart than typos (more than `date_of_birth_max_edits` edits, 2 by
  default, and not day and month swapped): a father and his daughter on one landline;
- national ids further apart than a typo;
- different generational suffixes (Jr. and Sr., II and III): a father and son sharing an email;
- given names that are neither equal, a typo of each other, an initial, a nickname of each
  other in either direction (the nickname table is "may be the same name" evidence, never a
  canonical name: Chris and Christina may be one person, Chris Lee born 1960 and Christina Lee
  born 1995 are two), nor the other's middle name or surname (swapped).

Blocked values (`blank_blocked_values`) are placeholders typed by people who would rather not
say (test@example.com, 0000000000, 123-45-6789): they are removed before any matching.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from identity_resolution.address_date_id_keys import identifier_expr
from identity_resolution.email_phone_keys import email_series, phone_series


@dataclass(frozen=True)
class Guardrails:
    """Which conflict rules apply, and how far apart two values may be before they conflict."""

    dates_of_birth: bool = True
    date_of_birth_max_edits: int = 2
    national_ids: bool = True
    national_id_max_edits: int = 1
    generational_suffixes: bool = True
    given_names: bool = True
    given_name_similarity: float = 0.88
    max_cluster_size: int = 100
    # Surnames are not a conflict in general (people marry, and keep their email): the phone and
    # loyalty-card rules ask for them, because a shared line or card is a household's or an office's.
    surnames: bool = False


@dataclass(frozen=True)
class BlockedValues:
    """Placeholder values that identify nobody: the defaults (when `use_defaults`) plus these."""

    use_defaults: bool = True
    email: tuple[str, ...] = ()
    phone: tuple[str, ...] = ()
    national_id: tuple[str, ...] = ()
    loyalty_id: tuple[str, ...] = ()


# Mailbox names people type to get past a form.
DEFAULT_BLOCKED_EMAIL_LOCAL_PARTS = frozenset(
    {
        "test",
        "testing",
        "tester",
        "noemail",
        "no-email",
        "no_email",
        "nomail",
        "none",
        "null",
        "nil",
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "unknown",
        "fake",
        "asdf",
        "qwerty",
        "nobody",
        "noname",
        "example",
        "sample",
        "dummy",
        "xxx",
        "abc",
        "na",
        "n.a",
        "declined",
        "refused",
    }
)
# Phone numbers ending in these (after the country code) are keyboard runs, not numbers.
_PHONE_RUNS = ("1234567890", "0123456789", "9876543210", "1234567")
# Well-known placeholder and specimen national ids (US SSNs printed in adverts and on wallets).
DEFAULT_BLOCKED_NATIONAL_IDS = frozenset({"123456789", "078051120", "219099999", "987654320"})
GUARD_COLUMNS = (
    "first_name_norm",
    "first_name_family",
    "last_name_norm",
    "full_name_norm",
    "name_suffix",
    "date_of_birth_norm",
    "national_id_norm",
)


def _one_repeated_digit(expr: pl.Expr, length: int, *, whole: bool = False) -> pl.Expr:
    """True where the last `length` characters (or, with `whole`, all of at least `length`) are
    one digit repeated: 0000000, 999999999."""
    runs = "|".join(f"{d}{{{length},}}" if whole else f"{d}{{{length}}}" for d in "0123456789")
    return expr.str.contains(f"^(?:{runs})$" if whole else f"(?:{runs})$")


def blocked_mask(
    records: pl.DataFrame, blocked: BlockedValues, *, default_phone_region: str = "US"
) -> dict[str, pl.Expr]:
    """Per normalised column, an expression that is true where the value is blocked.

    Args:
        records: person records with the normalised match keys.
        blocked: the configured values.
        default_phone_region: region for configured phone numbers written without a country code.

    Returns:
        column -> boolean expression.
    """

    def configured(values: tuple[str, ...], normalise) -> pl.Series:
        return (
            normalise(pl.Series(values, dtype=pl.Utf8)).drop_nulls()
            if values
            else pl.Series([], dtype=pl.Utf8)
        )

    emails = configured(blocked.email, email_series)
    phones = configured(blocked.phone, lambda s: phone_series(s, default_phone_region))
    ids = configured(blocked.national_id, lambda s: pl.select(identifier_expr(pl.lit(s))).to_series())
    loyalty = configured(blocked.loyalty_id, lambda s: pl.select(identifier_expr(pl.lit(s))).to_series())
    email, phone = pl.col("email_norm"), pl.col("phone_norm")
    national_id, loyalty_id = pl.col("national_id_norm"), pl.col("loyalty_id_norm")
    masks = {
        "email_norm": email.is_in(emails.implode()),
        "phone_norm": phone.is_in(phones.implode()),
        "national_id_norm": national_id.is_in(ids.implode()),
        "loyalty_id_norm": loyalty_id.is_in(loyalty.implode()),
    }
    if blocked.use_defaults:
        local = email.str.extract(r"^([^@+]+)", 1)
        masks["email_norm"] |= local.is_in(sorted(DEFAULT_BLOCKED_EMAIL_LOCAL_PARTS))
        masks["phone_norm"] |= _one_repeated_digit(phone, 7) | pl.any_horizontal(
            phone.str.ends_with(run) for run in _PHONE_RUNS
        )
        masks["national_id_norm"] |= national_id.is_in(
            sorted(DEFAULT_BLOCKED_NATIONAL_IDS)
        ) | _one_repeated_digit(national_id, 4, whole=True)
        masks["loyalty_id_norm"] |= _one_repeated_digit(loyalty_id, 3, whole=True)
    return masks


def blank_blocked_values(
    records: pl.DataFrame, blocked: BlockedValues, *, default_phone_region: str = "US"
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Remove blocked values from the match keys, so they link nobody and score nothing.

    Args:
        records: person records with the normalised match keys.
        blocked: the configured values.
        default_phone_region: region for configured phone numbers without a country code.

    Returns:
        The records with blocked values nulled, and how many were removed per column.
    """
    masks = {
        c: m
        for c, m in blocked_mask(records, blocked, default_phone_region=default_phone_region).items()
        if c in records.columns
    }
    if not masks:
        return records, {}
    counts = records.select(m.fill_null(False).sum().alias(c) for c, m in masks.items()).row(0, named=True)
    blanked = records.with_columns(
        pl.when(m.fill_null(False)).then(None).otherwise(pl.col(c)).alias(c) for c, m in masks.items()
    )
    if "email_local" in blanked.columns:
        blanked = blanked.with_columns(
            pl.when(pl.col("email_norm").is_null())
            .then(None)
            .otherwise(pl.col("email_local"))
            .alias("email_local")
        )
    return blanked, {c: int(n) for c, n in counts.items() if n}


# Two given names that may be one person's: equal, an initial (W. J. and Willie), one a nickname
# of the other or both of one long name (one step in the nickname table, either way, with
# typos: Chris and Christina, Bob and Rob, never Christina and Christopher through Chris), a
# shared word (Mary Ann, Ann), the other's middle name, or swapped with the surname. Each term is
# made false when a side is missing, so that only a real disagreement reads as a conflict.
_NAME_TERMS = (
    "l.first_name_norm = r.first_name_norm",
    "(length(l.first_word) = 1 OR length(r.first_word) = 1) AND l.first_word[1] = r.first_word[1]",
    "list_contains(r.first_name_family, l.first_word) OR list_contains(l.first_name_family, r.first_word)",
    "list_bool_or(list_transform(r.first_name_family, lambda y: jaro_winkler_similarity(l.first_name_norm, y) >= $similarity))",
    "list_bool_or(list_transform(l.first_name_family, lambda y: jaro_winkler_similarity(r.first_name_norm, y) >= $similarity))",
    "jaro_winkler_similarity(l.first_name_norm, r.first_name_norm) >= $similarity",
    "damerau_levenshtein(l.first_name_norm, r.first_name_norm) <= 1",
    "list_has_any(string_split(l.first_name_norm, ' '), string_split(r.first_name_norm, ' '))",
    "list_contains(string_split(r.full_name_norm, ' '), l.first_name_norm)",
    "list_contains(string_split(l.full_name_norm, ' '), r.first_name_norm)",
    "l.first_name_norm = r.last_name_norm OR l.last_name_norm = r.first_name_norm",
)
_COMPATIBLE_NAMES = " OR ".join(f"coalesce({term}, false)" for term in _NAME_TERMS)
_DAY_MONTH_SWAPPED = """
    substr(l.date_of_birth_norm, 1, 4) = substr(r.date_of_birth_norm, 1, 4)
    AND substr(l.date_of_birth_norm, 6, 2) = substr(r.date_of_birth_norm, 9, 2)
    AND substr(l.date_of_birth_norm, 9, 2) = substr(r.date_of_birth_norm, 6, 2)
"""
_CONFLICT_SQL = f"""
SELECT p._pair, CASE
    WHEN $dates AND l.date_of_birth_norm <> r.date_of_birth_norm
         AND damerau_levenshtein(l.date_of_birth_norm, r.date_of_birth_norm) > $date_edits
         AND NOT ({_DAY_MONTH_SWAPPED})
        THEN 'dates of birth differ'
    WHEN $ids AND l.national_id_norm <> r.national_id_norm
         AND damerau_levenshtein(l.national_id_norm, r.national_id_norm) > $id_edits
        THEN 'national ids differ'
    WHEN $suffixes AND l.name_suffix <> r.name_suffix THEN 'generational suffixes differ'
    WHEN $names AND l.first_name_norm IS NOT NULL AND r.first_name_norm IS NOT NULL
         AND l.first_name_norm <> r.first_name_norm
         AND NOT (CASE WHEN l.first_name_norm[1] <> r.first_name_norm[1]
                            OR jaro_winkler_similarity(l.first_name_norm, r.first_name_norm) < $similarity
                       THEN {_COMPATIBLE_NAMES} ELSE true END)
        THEN 'given names differ'
    WHEN $surnames AND l.last_name_norm <> r.last_name_norm
         AND jaro_winkler_similarity(l.last_name_norm, r.last_name_norm) < $similarity
         AND NOT coalesce(l.last_name_norm = r.first_name_norm, false)
        THEN 'surnames differ'
END AS conflict
FROM _kindred_pairs p
JOIN _kindred_guard_records l ON l._row = p._l
JOIN _kindred_guard_records r ON r._row = p._r
ORDER BY p._pair
"""


def pair_conflicts(pairs: pl.DataFrame, records: pl.DataFrame, guards: Guardrails) -> pl.Series:
    """The conflict rule each pair breaks, or null.

    Args:
        pairs: `_l, _r`: row numbers in `records` of the two sides.
        records: person records with the columns of `GUARD_COLUMNS`.
        guards: which rules apply and their tolerances.

    Returns:
        A `conflict` text series aligned with `pairs` (null where the pair may link).
    """
    if pairs.height == 0:
        return pl.Series("conflict", [], dtype=pl.Utf8)
    present = [c for c in GUARD_COLUMNS if c in records.columns]
    # Only the records the pairs name: a few hundred thousand pairs of a million records touch
    # a fraction of them, and every record would otherwise be copied and handed to DuckDB.
    rows = pl.concat([pairs.get_column("_l"), pairs.get_column("_r")]).cast(pl.UInt32).unique()
    named = records.select(present).with_row_index("_row").filter(pl.col("_row").is_in(rows.implode()))
    guard_records = named.select(
        "_row",
        (
            pl.col("first_name_norm").str.split(" ").list.first()
            if "first_name_norm" in named.columns
            else pl.lit(None, dtype=pl.Utf8)
        ).alias("first_word"),
        *present,
        *(
            pl.lit(None, dtype=pl.List(pl.Utf8) if c == "first_name_family" else pl.Utf8).alias(c)
            for c in GUARD_COLUMNS
            if c not in present
        ),
    )
    con = duckdb.connect()
    try:
        con.register("_kindred_guard_records", guard_records.to_arrow())
        con.register(
            "_kindred_pairs",
            pairs.select(
                pl.int_range(pl.len(), dtype=pl.UInt32).alias("_pair"),
                pl.col("_l").cast(pl.UInt32),
                pl.col("_r").cast(pl.UInt32),
            ).to_arrow(),
        )
        params = {
            "dates": guards.dates_of_birth,
            "date_edits": guards.date_of_birth_max_edits,
            "ids": guards.national_ids,
            "id_edits": guards.national_id_max_edits,
            "suffixes": guards.generational_suffixes,
            "names": guards.given_names,
            "similarity": guards.given_name_similarity,
            "surnames": guards.surnames,
        }
        result = con.sql(_CONFLICT_SQL, params=params).pl()
    finally:
        con.close()
    return result.get_column("conflict").alias("conflict")
