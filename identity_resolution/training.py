"""Training the probabilistic model: u by seeded random sampling, the prior match rate from
near-certain rules, and m either from the pairs the deterministic rules linked (customer data
has thousands of them) or by expectation maximisation (a register with no shared ids)."""

from __future__ import annotations

import logging

import polars as pl
from splink import DuckDBAPI, Linker, block_on

from identity_resolution.blocking import pairs_from_rule, usable_rules
from identity_resolution.comparisons import ComparisonSpec
from identity_resolution.links import SPLINK_RULE

log = logging.getLogger(__name__)

# EM passes: each estimates the m of every comparison not used by its blocking rule.
TRAINING_RULES: tuple[tuple[str, ...], ...] = (
    ("first_name_canonical", "last_name_norm"),
    ("date_of_birth_norm",),
    ("email_norm",),
    ("phone_norm",),
    ("postcode_norm",),
)

# EM sees at most this many blocked pairs per pass (a deterministic sample beyond that).
EM_MAX_PAIRS = 1e6

# Near-certain rules for the prior match rate, and the share of true matches they are assumed
# to find.
PRIOR_RULES: tuple[tuple[str, ...], ...] = (
    ("first_name_norm", "last_name_norm", "date_of_birth_norm"),
    ("email_norm",),
    ("phone_norm",),
)
PRIOR_RULES_RECALL = 0.6

# Learning m from rule-linked pairs needs this many of them, and this many per comparison.
MIN_LABELLED_PAIRS = 200
MIN_LABELLED_OBSERVATIONS = 50
# Pseudo-pairs of prior added to the label counts: a level never seen among a thousand
# labelled pairs (nobody moved house in the data) is rare, not impossible.
LABEL_PRIOR_WEIGHT = 20
# The comparisons whose agreement a rule's pairs were selected on (see `m_from_rule_links`).
RULE_EVIDENCE: dict[str, tuple[str, ...]] = {
    "email": ("email", "name"),
    "phone": ("phone", "name"),
    "loyalty_id": (),
    "identify_call": (),
    "same_id_namespace": (),
}


def train_model(
    linker: Linker,
    sdf,
    db_api: DuckDBAPI,
    matchable: pl.DataFrame,
    filled: set[str],
    labelled: pl.DataFrame | None,
    specs: list[ComparisonSpec],
    *,
    seed: int,
    u_max_pairs: float,
) -> Linker:
    """Train the model: u by seeded random sampling, the prior match rate from near-certain
    rules, then m from the rule-linked pairs when given, else by EM passes.

    Args:
        linker: a linker over `sdf` with the prior parameters.
        sdf: the registered person records.
        db_api: the database API the records are registered with.
        matchable: the same records as a frame (to size the EM passes).
        filled: the usable columns.
        labelled: rule-linked pairs from `labelled_pairs`, or None to learn m by EM.
        specs: the comparisons in the model.
        seed: seed of u sampling.
        u_max_pairs: random pairs sampled to estimate u.

    Returns:
        The trained linker (a new one when m came from the labelled pairs).
    """
    prior_rules = usable_rules(PRIOR_RULES, filled)
    if prior_rules:
        linker.training.estimate_probability_two_random_records_match(
            [block_on(*rule) for rule in prior_rules], recall=PRIOR_RULES_RECALL
        )
    linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
    if labelled is not None:
        model = m_from_rule_links(linker, sdf, db_api, labelled, specs)
        return Linker(sdf, model, log_level=logging.WARNING)
    _train_m_by_em(linker, matchable, filled)
    return linker


def _train_m_by_em(linker: Linker, matchable: pl.DataFrame, filled: set[str]) -> None:
    for rule in usable_rules(TRAINING_RULES, filled):
        # A pass needs pairs to learn from; a column filled on a handful of records has none.
        pairs = pairs_from_rule(matchable, rule)
        if pairs < 100:
            log.info("splink: EM pass on %s skipped (%d pairs)", rule, pairs)
            continue
        # Splink 5.0 refuses a pass whose EM drives some level's m to zero (a near-perfect
        # attribute: true matches in that pass never differ on it), after it has already dropped
        # the pass's blocked comparisons from the linker's model. So the model is saved before
        # each pass and put back when a pass is refused; the other passes' estimates stand.
        saved = linker._settings_obj.core_model_settings.copy()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*rule), estimate_without_term_frequencies=True, max_pairs=EM_MAX_PAIRS
            )
        except ValueError as error:
            linker._settings_obj.core_model_settings = saved
            log.warning("splink: EM pass on %s not used: %s", rule, str(error).split(".")[0])


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


def m_from_rule_links(
    linker: Linker, sdf, db_api: DuckDBAPI, labelled: pl.DataFrame, specs: list[ComparisonSpec]
) -> dict:
    """Learn each comparison's m probabilities from the pairs the deterministic rules linked.

    Those pairs are near-certain matches, so how often their names, birth dates or addresses
    agree is a direct measurement of m, with none of the failure modes of EM on customer data
    (colleagues sharing an office address, or a household its landline, look like matches to
    EM). A pair does not count for a comparison whose evidence made the rule fire: pairs linked
    by email say nothing about how often a person's email differs, and the email and phone
    rules only link records with the same first name. Counts are smoothed towards the prior
    (`LABEL_PRIOR_WEIGHT` pseudo-pairs), and a comparison seen on fewer than `MIN_LABELLED_OBSERVATIONS`
    labelled pairs keeps its prior m.

    Args:
        linker: the linker with u (and the prior match rate) trained.
        sdf: its input records.
        db_api: its database API, to register the labelled pairs.
        labelled: `unique_id_l, unique_id_r, rules` from `labelled_pairs`.
        specs: the comparisons in the model.

    Returns:
        The model as a Splink settings dict with the learnt m probabilities.
    """
    model = linker.misc.save_model_to_json()
    scorer = Linker(sdf, model, log_level=logging.WARNING)
    blocked = labelled.select(
        pl.lit("0").alias("match_key"),
        pl.col("unique_id_l").alias("join_key_l"),
        pl.col("unique_id_r").alias("join_key_r"),
    )
    scorer.table_management.register_blocked_pairs_for_predict(db_api.register(blocked.to_arrow()))
    scored = scorer.inference.predict(warning_mode="never")
    gammas = db_api.duckdb_con.sql(f"SELECT * FROM {scored.physical_name}").pl()
    # The registered pairs live in the database API's cache, which every linker on it shares:
    # without this, the final model would score only these pairs instead of blocking.
    scorer.table_management.invalidate_cache()
    gammas = gammas.join(labelled, on=["unique_id_l", "unique_id_r"])
    by_name = {c["output_column_name"]: c for c in model["comparisons"]}
    for spec in specs:
        excluded = [rule for rule, fields in RULE_EVIDENCE.items() if spec.name in fields]
        usable = gammas.filter(~pl.col("rules").list.eval(pl.element().is_in(excluded)).list.any())
        observed = usable.filter(pl.col(f"gamma_{spec.name}") >= 0).get_column(f"gamma_{spec.name}")
        if observed.len() < MIN_LABELLED_OBSERVATIONS:
            log.info("splink: m of %s kept from the prior (%d labelled pairs)", spec.name, observed.len())
            continue
        counts = dict(observed.value_counts().iter_rows())
        levels = [lv for lv in by_name[spec.name]["comparison_levels"] if not lv.get("is_null_level")]
        priors = [*(lv.m for lv in spec.levels), max(1e-4, 1 - sum(lv.m for lv in spec.levels))]
        n_levels = len(levels)
        for i, level in enumerate(levels):
            gamma = n_levels - 1 - i
            level["m_probability"] = (counts.get(gamma, 0) + LABEL_PRIOR_WEIGHT * priors[i]) / (
                observed.len() + LABEL_PRIOR_WEIGHT
            )
        log.info("splink: m of %s from %d labelled pairs", spec.name, observed.len())
    return model
