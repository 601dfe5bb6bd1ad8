"""Blocking rules chosen from the data within the comparison budget."""

import polars as pl

from identity_resolution.attributes import profile_attributes
from identity_resolution.blocking import (
    MIN_COMPARISONS,
    STRONG_RULE_SHARE,
    choose_blocking_rules,
    comparison_budget,
    pairs_from_rule,
)


def test_pairs_from_rule_counts_pairs_within_each_key_and_never_on_nulls():
    frame = pl.DataFrame({"a": ["x", "x", "x", "y", "y", None, None], "b": ["1"] * 7})
    assert pairs_from_rule(frame, ("a",)) == 3 + 1
    assert pairs_from_rule(frame, ("a", "b")) == 3 + 1


def test_budget_grows_with_the_records():
    assert comparison_budget(10) == MIN_COMPARISONS
    assert comparison_budget(10_000_000) > comparison_budget(1_000_000) > MIN_COMPARISONS


def test_a_date_of_birth_shared_by_many_is_tightened_with_the_surname():
    # 1,100 records on one date of birth: alone it would take a quarter of the budget for pairs
    # that the date and the surname's sound find among themselves.
    n = 1100
    surnames = [f"{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}son" for i in range(n)]
    frame = pl.DataFrame(
        {
            "unique_id": range(n),
            "first_name_norm": [f"name{i % 40}" for i in range(n)],
            "last_name_norm": surnames,
            "last_name_soundex": [f"{s[0].upper()}{i % 300:03d}" for i, s in enumerate(surnames)],
            "date_of_birth_norm": ["1980-01-01"] * n,
        }
    )
    assert pairs_from_rule(frame, ("date_of_birth_norm",)) > STRONG_RULE_SHARE * comparison_budget(n)
    choice = choose_blocking_rules(frame, profile_attributes(frame))
    assert ("date_of_birth_norm",) not in choice.rules
    assert ("date_of_birth_norm", "last_name_soundex") in choice.rules
    assert choice.comparisons <= choice.budget
