"""Blocking: which record pairs the probabilistic model scores at all.

Scoring every pair of a million records is half a trillion comparisons; blocking rules pick the
pairs worth scoring (those sharing a name, an email, a birth date and postcode, ...).
"""

from __future__ import annotations

import logging

import polars as pl

log = logging.getLogger(__name__)

MATCH_COLUMNS: tuple[str, ...] = (
    "first_name_norm",
    "first_name_canonical",
    "first_name_aliases",
    "last_name_norm",
    "date_of_birth_norm",
    "email_norm",
    "email_local",
    "phone_norm",
    "address_norm",
    "postcode_norm",
    "postcode_area",
    "city_norm",
    "gender_norm",
    "job_title_norm",
    "company_norm",
    "national_id_norm",
)
# Keys derived from the match columns: coarse blocking keys, and the whole name whose frequency
# adjusts a full-name match.
DERIVED_BLOCKING_COLUMNS: tuple[str, ...] = ("birth_year", "last_name_prefix", "name_key")


# Candidate pairs come from any of these: each catches what the others miss (a typo in the
# surname, a changed email, a missing date of birth). They are listed from most to least
# specific; a rule is used when its columns are filled and it yields at most the pair budget
# (see `choose_blocking_rules`), so a broad rule such as "same surname" serves a small register
# but is skipped for a million customers, where it would cost billions of comparisons.
BLOCKING_RULES: tuple[tuple[str, ...], ...] = (
    ("first_name_canonical", "last_name_norm"),
    ("email_norm",),
    ("phone_norm",),
    ("national_id_norm",),
    ("last_name_norm", "date_of_birth_norm"),
    ("first_name_canonical", "date_of_birth_norm"),
    ("first_name_canonical", "postcode_norm"),
    ("last_name_norm", "postcode_norm"),
    ("date_of_birth_norm", "postcode_norm"),
    ("date_of_birth_norm", "city_norm"),
    ("address_norm", "last_name_norm"),
    ("email_local", "last_name_norm"),
    ("last_name_norm", "city_norm"),
    ("first_name_canonical", "city_norm"),
    ("postcode_norm",),
    ("address_norm",),
    ("email_local",),
    ("last_name_norm",),
    ("city_norm", "job_title_norm"),
    ("last_name_prefix", "city_norm"),
    ("first_name_canonical", "postcode_area"),
    ("city_norm", "birth_year"),
    ("postcode_area", "birth_year"),
    ("last_name_norm", "birth_year"),
)
MIN_PAIR_BUDGET = 1_000_000
PAIRS_PER_RECORD_BUDGET = 20


def with_blocking_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the derived keys of `DERIVED_BLOCKING_COLUMNS` to the person records.

    Args:
        frame: person records with the normalised match keys.

    Returns:
        The frame with `birth_year`, `last_name_prefix` and `name_key` added.
    """
    return frame.with_columns(
        pl.col("date_of_birth_norm").str.slice(0, 4).alias("birth_year"),
        pl.col("last_name_norm").str.slice(0, 3).alias("last_name_prefix"),
        pl.concat_str("first_name_norm", "last_name_norm", separator=" ").alias("name_key"),
    )


def filled_columns(frame: pl.DataFrame, min_values: int = 2) -> set[str]:
    """The match and derived columns that carry data.

    Args:
        frame: person records with the match and derived keys.
        min_values: how many non-null values make a column usable.

    Returns:
        The names of the usable columns.
    """
    columns = [*MATCH_COLUMNS, *DERIVED_BLOCKING_COLUMNS]
    counts = frame.select(pl.col(c).is_not_null().sum() for c in columns).row(0)
    return {c for c, n in zip(columns, counts, strict=True) if n >= min_values}


def usable_rules(rules: tuple[tuple[str, ...], ...], filled: set[str]) -> list[tuple[str, ...]]:
    """The rules whose columns all carry data.

    Args:
        rules: rules as tuples of column names.
        filled: the usable columns (`filled_columns`).

    Returns:
        The usable rules, in order.
    """
    return [rule for rule in rules if set(rule) <= filled]


def pairs_from_rule(frame: pl.DataFrame, rule: tuple[str, ...]) -> int:
    """How many record pairs a blocking rule generates.

    Args:
        frame: person records.
        rule: the columns that must be equal.

    Returns:
        n(n-1)/2 summed over the rule's key groups (nulls never match).
    """
    groups = frame.drop_nulls(list(rule)).group_by(list(rule)).len()
    return int((groups["len"].cast(pl.Int64) * (groups["len"].cast(pl.Int64) - 1) // 2).sum() or 0)


def choose_blocking_rules(frame: pl.DataFrame, filled: set[str]) -> list[tuple[str, ...]]:
    """The blocking rules whose columns are filled and whose pair count fits the budget.

    Args:
        frame: person records with the match and derived keys.
        filled: the usable columns.

    Returns:
        The rules of `BLOCKING_RULES` that yield at most
        `max(MIN_PAIR_BUDGET, PAIRS_PER_RECORD_BUDGET * records)` pairs each.
    """
    budget = max(MIN_PAIR_BUDGET, PAIRS_PER_RECORD_BUDGET * frame.height)
    chosen = []
    for rule in usable_rules(BLOCKING_RULES, filled):
        pairs = pairs_from_rule(frame, rule)
        if pairs <= budget:
            chosen.append(rule)
        else:
            log.info("splink: blocking rule %s skipped (%d pairs > budget %d)", rule, pairs, budget)
    return chosen
