"""Probabilistic matching with Splink (Fellegi-Sunter) for the pairs no rule settles.

`fit_model` builds the model from what the data carries: comparisons (`comparisons`) and
blocking rules (`blocking`) chosen from the attribute profile, trained by `training` (or left at
its priors on an input too small to train on, which the log says). `score_pairs` runs a model
(new or saved) over the blocked pairs and returns those above the match threshold with an
explanation: the match weight and every compared field's level and weight, strongest first.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import polars as pl
from splink import Linker, SettingsCreator, block_on

from identity_resolution.attributes import (
    DERIVED_COLUMNS,
    MATCH_COLUMNS,
    AttributeProfile,
    profile_attributes,
    with_blocking_keys,
)
from identity_resolution.blocking import Rule, choose_blocking_rules
from identity_resolution.comparisons import ComparisonSpec, comparison_specs
from identity_resolution.explanations import with_explanations
from identity_resolution.splink_engine import EngineFactory, SplinkEngine, duckdb_engine
from identity_resolution.training import labelled_pairs, sanitised, train_model

log = logging.getLogger(__name__)

# Chosen on the tuning parts of the benchmark data (BENCHMARKS.md), by what the data holds.
# Customer data whose rules link many records (shared emails, phones, ids) also holds households
# and colleagues that look alike: there precision falls below 0.9 (demo company: pairwise
# precision 0.992 at 0.9, 0.970 at 0.5). Registers without such links (people known by name, date
# of birth and address) gain recall lower down, the guardrails keeping precision up: on their
# tuning parts F1 at 0.3 / 0.4 / 0.5 is 0.931 / 0.930 / 0.925 (historical_50k), 0.815 / 0.812 /
# 0.803 (its names and dates of birth), 0.976 / 0.974 / 0.971 (generated names and dates of
# birth). 0.4 is within 0.004 of the best on each, with precision 0.974 or more where 0.3 falls
# to 0.964.
DEFAULT_MATCH_THRESHOLD = 0.9
REGISTER_MATCH_THRESHOLD = 0.4
# This many rule-linked pairs make the data "customer data" for the default threshold.
RULE_LINKS_FOR_CUSTOMER_DATA = 200


# On customer data (as `default_threshold` tells it), a pair with nothing but the name to go on
# (no date of birth, contact point, address or id can be compared: one side lacks them all)
# links only at this match probability or above. Splink's weight for a name rises as the name
# gets rarer (term frequencies), so a rare name can still link on its own, but two customers
# who merely share a common name (two Kevin Grays, one known only from a till receipt) do not.
# Registers keep the match threshold alone: there a name with a missing date of birth is the
# usual duplicate, not a stranger. Chosen on the tuning parts (BENCHMARKS.md): demo precision
# 0.993 -> 0.996 with it (F1 0.991 -> 0.992); on registers it would cost F1 (generated names and
# dates of birth 0.971 -> 0.931, historical_50k 0.925 -> 0.915 at 0.5).
NAME_ONLY_THRESHOLD = 0.99
# Comparisons that are "the name" for that rule (gender says nothing about who someone is).
NAME_COMPARISONS = frozenset({"first_name", "last_name", "gender"})


def default_threshold(rule_links: int) -> float:
    """The match threshold when kindred.yaml sets none, from how many pairs the rules linked.

    Args:
        rule_links: deterministic links found in the data.

    Returns:
        `DEFAULT_MATCH_THRESHOLD` for customer data, `REGISTER_MATCH_THRESHOLD` for a register.
    """
    return DEFAULT_MATCH_THRESHOLD if rule_links >= RULE_LINKS_FOR_CUSTOMER_DATA else REGISTER_MATCH_THRESHOLD


def default_name_only_threshold(rule_links: int) -> float | None:
    """The match probability a pair needs when nothing but the name can be compared.

    Args:
        rule_links: deterministic links found in the data.

    Returns:
        `NAME_ONLY_THRESHOLD` for customer data; None (the match threshold alone) for a register.
    """
    return NAME_ONLY_THRESHOLD if rule_links >= RULE_LINKS_FOR_CUSTOMER_DATA else None


# Before training (and in place of it on tiny inputs) each record is assumed to have about one
# duplicate, but never that more than one pair in a hundred matches: in a file of three
# records, "every other pair is the same person" would let two namesakes merge on names alone.
UNTRAINED_MATCH_RATE_CAP = 0.01
MIN_RECORDS_TO_TRAIN = 1000
# Splink's default: a fixed number of random pairs, whatever the size of the data (the time u
# takes does not grow with it; a million pairs see every level common enough to matter).
U_MAX_PAIRS = 1e6
SEED = 42
SPLINK_TABLE = "kindred_person_records"
# Columns that are not compared but must reach Splink: ids, and the keys behind tf adjustments.
_ALWAYS = ("unique_id",)


@dataclass
class MatchModel:
    """A model ready to score: the Splink settings JSON, and how it came about."""

    settings: dict
    trained: bool
    how: str
    profile: dict = field(default_factory=dict)
    blocking_comparisons: int = 0

    @property
    def comparisons(self) -> list[str]:
        """The compared fields."""
        return [c["output_column_name"] for c in self.settings.get("comparisons", [])]

    @property
    def blocking_rules(self) -> list[str]:
        """The blocking rules, as SQL."""
        return [
            r["blocking_rule"] if isinstance(r, dict) else str(r)
            for r in self.settings.get("blocking_rules_to_generate_predictions", [])
        ]


def matchable_records(records: pl.DataFrame) -> pl.DataFrame:
    """The records Splink can say something about (any match column filled), with a `unique_id`
    (the row number in `records`) and the derived blocking keys.

    Args:
        records: `identity.person_records` with the match keys.

    Returns:
        The matchable records.
    """
    # Only what Splink and the training need: the filter copies every column it keeps.
    kept = ["source", "record_id", *(c for c in MATCH_COLUMNS if c in records.columns)]
    keyed = with_blocking_keys(records.select(kept).with_row_index("unique_id"))
    compared = [c for c in MATCH_COLUMNS if c in keyed.columns and c != "first_name_aliases"]
    return keyed.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in compared))


def _splink_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c in (*_ALWAYS, *MATCH_COLUMNS, *DERIVED_COLUMNS) if c in frame.columns]


def _prior_settings(
    specs: list[ComparisonSpec], rules: list[Rule], records: int, *, trained: bool
) -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[s.creator(term_frequencies=trained) for s in specs],
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in rules],
        probability_two_random_records_match=min(UNTRAINED_MATCH_RATE_CAP, 1.0 / max(records - 1, 1)),
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


def fit_model(
    matchable: pl.DataFrame,
    *,
    profile: AttributeProfile | None = None,
    rule_links: pl.DataFrame | None = None,
    configured_comparisons: list[ComparisonSpec] | None = None,
    configured_blocking: list[Rule] | None = None,
    engine_factory: EngineFactory = duckdb_engine,
    seed: int = SEED,
    min_records_to_train: int = MIN_RECORDS_TO_TRAIN,
    u_max_pairs: float = U_MAX_PAIRS,
) -> MatchModel | None:
    """Build (and, on inputs large enough, train) the model for these records.

    Args:
        matchable: records from `matchable_records`.
        profile: their attribute profile (computed when not given).
        rule_links: the deterministic links; their pairs seed and check m (see `training`).
        configured_comparisons: comparisons from kindred.yaml, replacing built-in ones of the same name.
        configured_blocking: blocking rules from kindred.yaml, used before the chosen ones.
        engine_factory: where Splink runs (`splink_engine`).
        seed: seed of u sampling, for repeatable models.
        min_records_to_train: below this many records the priors are used untrained.
        u_max_pairs: random pairs sampled to estimate u.

    Returns:
        The model, or None when the records carry nothing to compare or block on.
    """
    profile = profile or profile_attributes(matchable)
    specs = comparison_specs(profile, configured_comparisons)
    blocking = choose_blocking_rules(matchable, profile, configured=configured_blocking)
    if matchable.height < 2 or not specs or not blocking.rules:
        log.info("splink: nothing to compare (%d records, %d comparisons)", matchable.height, len(specs))
        return None
    trained = matchable.height >= min_records_to_train
    settings = _prior_settings(specs, blocking.rules, matchable.height, trained=trained)
    if not trained:
        log.info(
            "splink: prior parameters only: %d records are too few to train on (%d needed); "
            "links need strong agreement",
            matchable.height,
            min_records_to_train,
        )
        model = sanitised(_settings_dict(settings))
        how = f"prior parameters ({matchable.height} records, fewer than {min_records_to_train} to train on)"
        return MatchModel(model, False, how, profile.as_dict(), blocking.comparisons)
    engine = engine_factory()
    try:
        sdf = engine.register(matchable.select(_splink_columns(matchable)), SPLINK_TABLE)
        linker = Linker(sdf, settings, log_level=logging.WARNING)
        labelled = labelled_pairs(rule_links, matchable)
        model = train_model(
            linker, engine, sdf, matchable, profile, specs, labelled, seed=seed, u_max_pairs=u_max_pairs
        )
    finally:
        engine.close()
    how = f"trained on {matchable.height} records: u by random sampling, m by EM" + (
        f" seeded from {labelled.height} rule-linked pairs" if labelled.height else ""
    )
    log.info("splink: %s; comparisons %s", how, [s.name for s in specs])
    return MatchModel(model, True, how, profile.as_dict(), blocking.comparisons)


def _settings_dict(settings: SettingsCreator) -> dict:
    """A settings creator as the JSON dict Splink saves (without needing data)."""
    return settings.create_settings_dict("duckdb")


def score_pairs(
    matchable: pl.DataFrame,
    model: MatchModel,
    *,
    match_threshold: float,
    name_only_threshold: float | None = None,
    engine_factory: EngineFactory = duckdb_engine,
) -> pl.DataFrame:
    """Score the blocked pairs with a model and keep those at or above the threshold.

    Args:
        matchable: records from `matchable_records`.
        model: a fitted or saved model.
        match_threshold: the match probability a pair needs.
        name_only_threshold: the match probability a pair needs when nothing but the name can be
            compared (`default_name_only_threshold`), never below `match_threshold`; None: no
            such rule.
        engine_factory: where Splink runs.

    Returns:
        `unique_id_l, unique_id_r, match_weight, match_probability, explanation` per pair.
    """
    engine: SplinkEngine = engine_factory()
    try:
        sdf = engine.register(matchable.select(_splink_columns(matchable)), SPLINK_TABLE)
        # Each comparison's match weight (mw_*) tells its level (see `_levels_from_weights`), so the
        # matching columns need not be carried through every blocked pair.
        settings = {
            **model.settings,
            "retain_matching_columns": False,
            "retain_intermediate_calculation_columns": True,
        }
        linker = Linker(sdf, settings, log_level=logging.WARNING)
        started = time.perf_counter()
        predictions = linker.inference.predict(
            threshold_match_probability=match_threshold, warning_mode="never"
        )
        scored = engine.to_polars(predictions)
        log.info(
            "splink: %d pairs at or above %.2f in %.1f s",
            scored.height,
            match_threshold,
            time.perf_counter() - started,
        )
    finally:
        engine.close()
    if name_only_threshold is not None:
        scored = scored.filter(
            other_evidence(scored, model.settings)
            | (pl.col("match_probability") >= max(name_only_threshold, match_threshold))
        )
    return with_explanations(scored, model.settings)


def other_evidence(scored: pl.DataFrame, settings: dict) -> pl.Expr:
    """True for pairs where some comparison besides the name could be made, whichever way it
    went: a date of birth, a contact point, an address, an id (its level is not the null level,
    whose match weight is exactly 0).

    Args:
        scored: Splink predictions with the `mw_*` columns.
        settings: the model's settings dict.

    Returns:
        A boolean expression over `scored`.
    """
    compared = [
        pl.col(f"mw_{c['output_column_name']}") != 0
        for c in settings.get("comparisons", [])
        if c["output_column_name"] not in NAME_COMPARISONS
        and f"mw_{c['output_column_name']}" in scored.columns
    ]
    return pl.any_horizontal(compared) if compared else pl.lit(False)
