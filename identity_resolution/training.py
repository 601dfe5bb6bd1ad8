"""Training the probabilistic model on the data at hand.

u by seeded random sampling; the prior match rate from near-certain rules; m by expectation
maximisation on blocking rules that exist for this data (names when there are names, dates of
birth, emails, phones, ids or addresses when there are those), chosen so that every comparison
is estimated by at least one pass. When the deterministic rules linked enough pairs, their
agreement rates seed m before EM (EM starts from a measured value instead of a guess) and check
it afterwards (a comparison whose EM estimate strays far from what the linked pairs show is
logged). Every m and u ends strictly between 0 and 1, so no level can make a match weight
infinite (`math domain error`).
"""

from __future__ import annotations

import logging
import math
import time

import polars as pl
from splink import Linker, block_on

from identity_resolution.attributes import AttributeProfile
from identity_resolution.blocking import Rule, pairs_from_rule
from identity_resolution.comparisons import ComparisonSpec
from identity_resolution.links import SPLINK_RULE
from identity_resolution.splink_engine import SplinkEngine

log = logging.getLogger(__name__)

# EM passes, in order of preference: the first trains everything but names, the others train names.
EM_RULES: tuple[Rule, ...] = (
    ("first_name_norm", "last_name_norm"),
    ("date_of_birth_norm",),
    ("email_norm",),
    ("phone_norm",),
    ("national_id_norm",),
    ("address_norm",),
    ("postcode_norm",),
    ("last_name_norm", "birth_year"),
)
MAX_EM_PASSES = 3
MIN_EM_PAIRS = 50
# EM sees at most this many blocked pairs per pass (a deterministic hash sample beyond that).
EM_MAX_PAIRS = 1e6

# Near-certain rules for the prior match rate, and the share of true matches they are assumed to find.
PRIOR_RULES: tuple[Rule, ...] = (
    ("first_name_norm", "last_name_norm", "date_of_birth_norm"),
    ("email_norm",),
    ("phone_norm",),
    ("national_id_norm",),
)
PRIOR_RULES_RECALL = 0.6

# Seeding m from rule-linked pairs needs this many of them, and this many per comparison.
MIN_LABELLED_PAIRS = 200
# Beyond this many rule-linked pairs, a seeded sample of them is scored: agreement rates are
# measured to a fraction of a percent, and scoring all 350,000 of a million records took 20 s.
MAX_LABELLED_PAIRS = 50_000
MIN_LABELLED_OBSERVATIONS = 50
# Pseudo-pairs of prior added to the label counts: a level never seen among a thousand
# labelled pairs (nobody moved house in the data) is rare, not impossible.
LABEL_PRIOR_WEIGHT = 20
# The comparisons whose agreement a rule's pairs were selected on: such pairs say nothing about them.
RULE_EVIDENCE: dict[str, tuple[str, ...]] = {
    "email": ("email", "first_name"),
    "phone": ("phone", "first_name"),
    "loyalty_id": ("first_name",),
}
# An EM estimate this far (total variation distance) from the labelled pairs' is reported.
LABEL_CHECK_DISTANCE = 0.5
PROBABILITY_FLOOR = 1e-6
# Parallel sums in the database differ in their last bits from run to run; a trained model keeps
# 12 significant digits, far beyond what EM can estimate, so the same data gives the same model.
SIGNIFICANT_DIGITS = 12


def em_passes(frame: pl.DataFrame, profile: AttributeProfile, specs: list[ComparisonSpec]) -> list[Rule]:
    """The EM blocking rules for this data: at most `MAX_EM_PASSES`, each with enough pairs,
    chosen until every comparison is estimated by some pass that does not block on it.

    Args:
        frame: person records with the match keys.
        profile: their attribute profile.
        specs: the comparisons in the model.

    Returns:
        The rules, as column tuples.
    """
    untrained = {s.name for s in specs}
    passes: list[Rule] = []
    for rule in EM_RULES:
        if len(passes) == MAX_EM_PASSES or not untrained:
            break
        if not profile.has_all(rule):
            continue
        trains = {s.name for s in specs if not set(s.columns) & set(rule)} & untrained
        if not trains:
            continue
        pairs = pairs_from_rule(frame, rule)
        if pairs < MIN_EM_PAIRS:
            log.info("splink: no EM pass on %s (%d pairs)", rule, pairs)
            continue
        passes.append(rule)
        untrained -= trains
    if untrained:
        log.info("splink: m of %s stays at its prior (no EM pass can estimate it)", sorted(untrained))
    return passes


def train_model(
    linker: Linker,
    engine: SplinkEngine,
    sdf,
    frame: pl.DataFrame,
    profile: AttributeProfile,
    specs: list[ComparisonSpec],
    labelled: pl.DataFrame | None,
    *,
    seed: int,
    u_max_pairs: float,
) -> dict:
    """Train the model and return it as a Splink settings dict.

    Args:
        linker: a linker over `sdf` with the prior parameters.
        engine: the Splink engine `sdf` lives in.
        sdf: the registered person records.
        frame: the same records as a frame (to size the EM passes).
        profile: their attribute profile.
        specs: the comparisons in the model.
        labelled: rule-linked pairs from `labelled_pairs` to seed and check m, or None.
        seed: seed of u sampling.
        u_max_pairs: random pairs sampled to estimate u.

    Returns:
        The trained model (Splink settings JSON as a dict), every m and u in (0, 1).
    """
    started = time.perf_counter()
    laps: dict[str, float] = {}

    def lap(step: str) -> None:
        nonlocal started
        now = time.perf_counter()
        laps[step] = round(now - started, 1)
        started = now

    prior_rules = [rule for rule in PRIOR_RULES if profile.has_all(rule)]
    if prior_rules:
        linker.training.estimate_probability_two_random_records_match(
            [block_on(*rule) for rule in prior_rules], recall=PRIOR_RULES_RECALL
        )
    lap("prior")
    # At its default number of pairs Splink warns that more would estimate u better; Kindred
    # chooses the default on purpose (see `probabilistic.U_MAX_PAIRS`), so the warning is noise.
    u_log = logging.getLogger("splink.internals.linker_components.training")
    level = u_log.level
    u_log.setLevel(logging.ERROR)
    try:
        linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
    finally:
        u_log.setLevel(level)
    lap("u")
    label_m: dict[str, list[float]] = {}
    if labelled is not None and labelled.height >= MIN_LABELLED_PAIRS:
        if labelled.height > MAX_LABELLED_PAIRS:
            labelled = labelled.sample(MAX_LABELLED_PAIRS, seed=seed).sort("unique_id_l", "unique_id_r")
        model = sanitised(linker.misc.save_model_to_json())
        label_m = m_from_labelled_pairs(engine, sdf, model, labelled, specs)
        for comparison in model["comparisons"]:
            for level, m in zip(
                _non_null(comparison), label_m.get(comparison["output_column_name"], []), strict=False
            ):
                level["m_probability"] = m
        linker = Linker(sdf, model, log_level=logging.WARNING)
        log.info("splink: m seeded from %d rule-linked pairs for %s", labelled.height, sorted(label_m))
        lap("m from rule-linked pairs")
    for rule in em_passes(frame, profile, specs):
        # A pass whose EM fails (Splink refuses one that drives a level's m to zero) is dropped
        # with the model put back as it was before it; the other passes' estimates stand.
        saved = linker._settings_obj.core_model_settings.copy()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*rule), estimate_without_term_frequencies=True, max_pairs=EM_MAX_PAIRS
            )
        except (ValueError, ZeroDivisionError, ArithmeticError) as error:
            linker._settings_obj.core_model_settings = saved
            log.warning("splink: EM pass on %s not used: %s", rule, str(error).split(".")[0])
    lap("EM")
    model = sanitised(linker.misc.save_model_to_json())
    _check_against_labels(model, label_m)
    log.info("splink: training seconds %s", laps)
    return model


def _non_null(comparison: dict) -> list[dict]:
    return [level for level in comparison["comparison_levels"] if not level.get("is_null_level")]


def sanitised(model: dict) -> dict:
    """The model with every level's m and u rounded to `SIGNIFICANT_DIGITS`, clamped into (0, 1)
    and each comparison's m and u summing to 1: a zero would make a match weight infinite and
    scoring fail.

    Args:
        model: a Splink settings dict.

    Returns:
        The same dict, fixed in place (without the random per-linker id, so equal models are equal).
    """
    model.pop("linker_uid", None)
    if model.get("probability_two_random_records_match") is not None:
        model["probability_two_random_records_match"] = _rounded(
            model["probability_two_random_records_match"]
        )
    for comparison in model["comparisons"]:
        levels = _non_null(comparison)
        for key in ("m_probability", "u_probability"):
            values = [_rounded(level.get(key)) for level in levels]
            values = [
                PROBABILITY_FLOOR if v is None or not math.isfinite(v) else max(v, PROBABILITY_FLOOR)
                for v in values
            ]
            total = sum(values)
            for level, value in zip(levels, values, strict=True):
                level[key] = value / total
    return model


def _rounded(value: float | None) -> float | None:
    if value is None or not math.isfinite(value) or value == 0:
        return value
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _check_against_labels(model: dict, label_m: dict[str, list[float]]) -> None:
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        if name not in label_m:
            continue
        em = [level["m_probability"] for level in _non_null(comparison)]
        distance = 0.5 * sum(abs(a - b) for a, b in zip(em, label_m[name], strict=False))
        if distance > LABEL_CHECK_DISTANCE:
            log.warning(
                "splink: EM's m of %s is far from what rule-linked pairs show (distance %.2f); "
                "the data may hold households or colleagues that look alike",
                name,
                distance,
            )


def labelled_pairs(rule_links: pl.DataFrame | None, matchable: pl.DataFrame) -> pl.DataFrame:
    """Rule links as pairs of Splink ids, with the rules that linked each pair.

    Args:
        rule_links: deterministic links (`identity.links` shape); `splink` rows are ignored.
        matchable: the records given to Splink, with their `unique_id`.

    Returns:
        `unique_id_l, unique_id_r, rules` (left < right), one row per pair.
    """
    schema = {"unique_id_l": pl.UInt32, "unique_id_r": pl.UInt32, "rules": pl.List(pl.Utf8)}
    if rule_links is None or rule_links.height == 0:
        return pl.DataFrame(schema=schema)
    ids = matchable.select("unique_id", "source", "record_id")
    pairs = (
        rule_links.filter(pl.col("rule") != SPLINK_RULE)
        .join(
            ids.rename({"unique_id": "a", "source": "source_l", "record_id": "record_id_l"}),
            on=["source_l", "record_id_l"],
        )
        .join(
            ids.rename({"unique_id": "b", "source": "source_r", "record_id": "record_id_r"}),
            on=["source_r", "record_id_r"],
        )
        .select(
            pl.min_horizontal("a", "b").alias("unique_id_l"),
            pl.max_horizontal("a", "b").alias("unique_id_r"),
            "rule",
        )
    )
    return (
        pairs.group_by("unique_id_l", "unique_id_r")
        .agg(pl.col("rule").unique().sort().alias("rules"))
        .sort("unique_id_l", "unique_id_r")
        .cast(schema)
    )


def m_from_labelled_pairs(
    engine: SplinkEngine, sdf, model: dict, labelled: pl.DataFrame, specs: list[ComparisonSpec]
) -> dict[str, list[float]]:
    """Each comparison's m probabilities as measured on the pairs the deterministic rules linked.

    Those pairs are near-certain matches, so how often their names, birth dates or addresses
    agree measures m directly. A pair does not count for a comparison whose evidence made the
    rule fire (pairs linked by email say nothing about how often a person's email differs).
    Counts are smoothed towards the prior (`LABEL_PRIOR_WEIGHT` pseudo-pairs); a comparison seen
    on fewer than `MIN_LABELLED_OBSERVATIONS` pairs is left out.

    Args:
        engine: the Splink engine `sdf` lives in.
        sdf: the registered person records.
        model: the model with u trained.
        labelled: `unique_id_l, unique_id_r, rules` from `labelled_pairs`.
        specs: the comparisons in the model.

    Returns:
        Comparison name -> m per non-null level, best level first.
    """
    # The comparison levels (gamma) come out of predict only with the matching columns.
    scorer = Linker(sdf, {**model, "retain_matching_columns": True}, log_level=logging.WARNING)
    blocked = labelled.select(
        pl.lit("0").alias("match_key"),
        pl.col("unique_id_l").alias("join_key_l"),
        pl.col("unique_id_r").alias("join_key_r"),
    )
    scorer.table_management.register_blocked_pairs_for_predict(
        engine.register(blocked, "kindred_labelled_pairs")
    )
    gammas = engine.to_polars(scorer.inference.predict(warning_mode="never"))
    # The registered pairs live in the database API's cache, which every linker on it shares:
    # without this, the final model would score only these pairs instead of blocking.
    scorer.table_management.invalidate_cache()
    gammas = gammas.join(labelled, on=["unique_id_l", "unique_id_r"])
    by_name = {c["output_column_name"]: c for c in model["comparisons"]}
    measured: dict[str, list[float]] = {}
    for spec in specs:
        if spec.name not in by_name or f"gamma_{spec.name}" not in gammas.columns:
            continue
        excluded = [rule for rule, fields in RULE_EVIDENCE.items() if spec.name in fields]
        usable = gammas.filter(~pl.col("rules").list.eval(pl.element().is_in(excluded)).list.any())
        observed = usable.filter(pl.col(f"gamma_{spec.name}") >= 0).get_column(f"gamma_{spec.name}")
        if observed.len() < MIN_LABELLED_OBSERVATIONS:
            continue
        counts = dict(observed.value_counts().iter_rows())
        levels = _non_null(by_name[spec.name])
        n = len(levels)
        measured[spec.name] = [
            (counts.get(n - 1 - i, 0) + LABEL_PRIOR_WEIGHT * level["m_probability"])
            / (observed.len() + LABEL_PRIOR_WEIGHT)
            for i, level in enumerate(levels)
        ]
    return measured
