"""Blocking: which record pairs the probabilistic model scores at all.

Scoring every pair of a million records is half a trillion comparisons; blocking rules pick the
pairs worth scoring. The rules are chosen from what the data fills so that every pair sharing a
strong attribute (an email, a phone, a national id, a street address, a date of birth with a
name) is compared, then the others (shared names, postcodes, sounds) as far as a comparison
budget allows. The budget is measured with Splink's own cumulative counting of the comparisons
the rules generate together, so a rule that adds few pairs beyond the earlier ones costs little.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass

import duckdb
import polars as pl
from splink import DuckDBAPI, block_on
from splink.blocking_analysis import count_comparisons_from_blocking_rules

from identity_resolution.attributes import AttributeProfile

log = logging.getLogger(__name__)

Rule = tuple[str, ...]

# Strong attributes, each with the refinements that make a rule on it small enough when the
# attribute alone yields too many pairs (a date of birth is shared by thousands in a million).
STRONG_RULES: tuple[tuple[Rule, tuple[Rule, ...]], ...] = (
    (("email_norm",), ()),
    (("phone_norm",), (("phone_norm", "last_name_soundex"),)),
    (("national_id_norm",), ()),
    (("address_norm",), (("address_norm", "postcode_norm"), ("address_norm", "last_name_soundex"))),
    (
        ("date_of_birth_norm",),
        (
            ("date_of_birth_norm", "last_name_soundex"),
            ("date_of_birth_norm", "first_name_soundex"),
            ("date_of_birth_norm", "first_initial"),
        ),
    ),
)
# The other rules, most specific first: each catches pairs the others miss (a typo in the
# surname, a changed email, a missing date of birth).
OTHER_RULES: tuple[Rule, ...] = (
    ("first_name_norm", "last_name_norm"),
    ("last_name_norm", "date_of_birth_norm"),
    ("first_name_norm", "date_of_birth_norm"),
    ("first_name_soundex", "last_name_soundex", "birth_year"),
    ("last_name_norm", "postcode_norm"),
    ("first_name_norm", "postcode_norm"),
    ("date_of_birth_norm", "postcode_norm"),
    ("date_of_birth_norm", "city_norm"),
    ("email_local",),
    ("first_name_soundex", "last_name_soundex"),
    ("last_name_norm", "birth_year"),
    ("first_name_norm", "birth_year"),
    ("last_name_norm", "city_norm"),
    ("first_name_norm", "city_norm"),
    ("postcode_norm", "first_initial"),
    ("last_name_norm",),
    ("postcode_norm",),
)
# Comparisons allowed: at least this many, and this many per record on larger inputs. Measured
# on a million generated customer records (BENCHMARKS.md): the rules that fit in 10 per record
# (9.9 million comparisons) compare 99.7% of the true pairs, the rules that fit in 30 per record
# (29.4 million) 99.8%, and the pairwise F1 is the same (0.994) at a third of the scoring time.
MIN_COMPARISONS = 2_000_000
COMPARISONS_PER_RECORD = 10
# A strong attribute is blocked on alone while that takes at most this share of the budget;
# beyond it, its tightened forms. At a million records a date of birth is shared by a dozen
# people: alone it would take a third of the budget to find the few pairs its tightened forms
# and the name rules do not.
STRONG_RULE_SHARE = 0.25
# Counting is exact below this many records; above, Splink estimates from a hash sample.
EXACT_COUNT_RECORDS = 100_000
COUNT_SAMPLE_PROPORTION = 0.05
MAX_RECOUNTS = 4


@dataclass(frozen=True)
class BlockingChoice:
    """The chosen rules, their comparison counts (Splink's cumulative counting) and the budget."""

    rules: list[Rule]
    marginal_comparisons: list[int]
    budget: int

    @property
    def comparisons(self) -> int:
        """Comparisons all the rules generate together."""
        return sum(self.marginal_comparisons)


def pairs_from_rule(frame: pl.DataFrame, rule: Rule) -> int:
    """How many record pairs a rule generates on its own (n(n-1)/2 over its key groups).

    Args:
        frame: person records.
        rule: the columns that must be equal.

    Returns:
        The pair count (nulls never match).
    """
    groups = frame.select(rule).drop_nulls().group_by(list(rule)).len()
    return int((groups["len"].cast(pl.Int64) * (groups["len"].cast(pl.Int64) - 1) // 2).sum() or 0)


def comparison_budget(records: int) -> int:
    """The most comparisons the blocking rules may generate for this many records."""
    return max(MIN_COMPARISONS, COMPARISONS_PER_RECORD * records)


def _candidates(
    frame: pl.DataFrame, profile: AttributeProfile, budget: int, configured: list[Rule]
) -> list[Rule]:
    """Rules the data supports, each on its own within the budget (a strong attribute tightened
    when alone it would take more than `STRONG_RULE_SHARE` of it)."""
    chosen: list[Rule] = []
    for rule in configured:
        if rule not in chosen:
            chosen.append(rule)
    for base, refinements in STRONG_RULES:
        for rule in (base, *refinements):
            if not profile.has_all(rule):
                continue
            if pairs_from_rule(frame, rule) <= budget * STRONG_RULE_SHARE:
                if rule not in chosen:
                    chosen.append(rule)
                break
            log.info(
                "blocking: %s yields more pairs than %.0f%% of the budget of %d; tightening",
                rule,
                100 * STRONG_RULE_SHARE,
                budget,
            )
    for rule in OTHER_RULES:
        if profile.has_all(rule) and rule not in chosen and pairs_from_rule(frame, rule) <= budget:
            chosen.append(rule)
    return chosen


def _count(api: DuckDBAPI, table, rules: list[Rule], records: int) -> list[int]:
    """Splink's cumulative counting: the comparisons each rule adds beyond the rules before it."""
    proportion = 1.0 if records <= EXACT_COUNT_RECORDS else COUNT_SAMPLE_PROPORTION
    with warnings.catch_warnings():
        # Splink warns when a sampled estimate rests on few pairs; a small rule is cheap either way.
        warnings.simplefilter("ignore")
        counted = count_comparisons_from_blocking_rules(
            table,
            blocking_rules=[block_on(*rule) for rule in rules],
            link_type="dedupe_only",
            record_sample_proportion=proportion,
        )
    return [int(c["marginal_comparison_count"]) for c in counted]


def choose_blocking_rules(
    frame: pl.DataFrame, profile: AttributeProfile, *, configured: list[Rule] | None = None
) -> BlockingChoice:
    """Choose blocking rules from what the data fills, within the comparison budget.

    Rules from kindred.yaml come first, then one rule per strong attribute the data has (tightened
    with a name key when the attribute alone yields more than `STRONG_RULE_SHARE` of the budget),
    then the other rules in order. Walking that list, a rule is kept when the comparisons it adds to the rules kept so
    far (Splink's cumulative count) fit in what is left of the budget.

    Args:
        frame: person records with the match and derived keys and a `unique_id`.
        profile: their attribute profile.
        configured: rules from `identity.splink.blocking_rules`, as column tuples.

    Returns:
        The rules with their marginal comparison counts.
    """
    started = time.perf_counter()
    budget = comparison_budget(frame.height)
    candidates = _candidates(frame, profile, budget, configured or [])
    if not candidates or frame.height < 2:
        return BlockingChoice([], [], budget)
    columns = sorted({"unique_id", *(c for rule in candidates for c in rule)})
    con = duckdb.connect()
    try:
        api = DuckDBAPI(connection=con)
        table = api.register(frame.select(columns).to_arrow(), table_name="kindred_blocking")
        kept: list[Rule] = []
        marginals: list[int] = []
        queue = list(candidates)
        counts = _count(api, table, queue, frame.height)
        recounts = 0
        while queue:
            rule, added = queue.pop(0), counts.pop(0)
            if sum(marginals) + added <= budget or rule in (configured or []):
                kept.append(rule)
                marginals.append(added)
                continue
            log.info(
                "blocking: %s left out (%d more comparisons, %d left in the budget)",
                rule,
                added,
                budget - sum(marginals),
            )
            if queue and recounts < MAX_RECOUNTS:
                # The rules after it were counted net of it; count them again net of the kept ones.
                recounts += 1
                counts = _count(api, table, kept + queue, frame.height)[len(kept) :]
    finally:
        con.close()
    log.info(
        "blocking: %d rules, %d comparisons (budget %d), chosen in %.1f s: %s",
        len(kept),
        sum(marginals),
        budget,
        time.perf_counter() - started,
        kept,
    )
    return BlockingChoice(kept, marginals, budget)
