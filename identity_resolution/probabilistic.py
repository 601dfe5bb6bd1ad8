"""Probabilistic matching with Splink (Fellegi-Sunter) for the pairs no rule settles.

The model (`comparisons`) compares names, date of birth, email, phone, location, gender, job and
company, using only the attributes the data carries; candidate pairs come from `blocking`; the
parameters from `training` (m learnt from the rule-linked pairs when there are enough, else by
EM; priors untouched on inputs too small to train on). Pairs above the match threshold become
links in the `identity.links` shape, each with an explanation: the match weight and every
compared field's level and weight, strongest first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import duckdb
import polars as pl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from identity_resolution.blocking import (
    DERIVED_BLOCKING_COLUMNS,
    MATCH_COLUMNS,
    choose_blocking_rules,
    filled_columns,
    with_blocking_keys,
)
from identity_resolution.comparisons import ComparisonSpec, comparison_specs
from identity_resolution.links import LINK_SCHEMA, SPLINK_RULE, empty_links
from identity_resolution.training import MIN_LABELLED_PAIRS, labelled_pairs, train_model

log = logging.getLogger(__name__)

# Chosen by measurement. On the demo company (2,000, 3,000 and 5,000 people) pairwise F1 is flat
# from 0.8 to 0.999 (0.977-0.990) and falls off a cliff below 0.7, where a few low-evidence
# links merge large clusters; on historical_50k F1 peaks at 0.7-0.8 (0.908) and is 0.897 at 0.9.
# 0.9 keeps a margin above the cliff and precision at 0.978 or more on both: a false merge leaks
# one customer's data into another's profile, a missed one only splits a history.
DEFAULT_MATCH_THRESHOLD = 0.9
# Before training (and in place of it on tiny inputs) each record is assumed to have about one
# duplicate, but never that more than one pair in a hundred matches: in a file of three
# records, "every other pair is the same person" would let two namesakes merge on names alone.
UNTRAINED_MATCH_RATE_CAP = 0.01


@dataclass
class ProbabilisticResult:
    """What the probabilistic stage produced and how."""

    links: pl.DataFrame
    trained: bool
    comparisons: list[str] = field(default_factory=list)
    blocking_rules: list[str] = field(default_factory=list)
    records_compared: int = 0
    household_pairs_held_back: int = 0
    m_source: str = "prior parameters"


def probabilistic_links(
    records: pl.DataFrame,
    *,
    rule_links: pl.DataFrame | None = None,
    match_threshold: float = DEFAULT_MATCH_THRESHOLD,
    seed: int = 42,
    min_records_to_train: int = 1000,
    u_max_pairs: float = 2e6,
) -> ProbabilisticResult:
    """Score candidate pairs of records with Splink and keep those above the threshold.

    Args:
        records: `identity.person_records` (with the normalised match keys).
        rule_links: the deterministic links; when there are enough of them they are the labelled
            matches the m probabilities are learnt from (see `m_from_rule_links`), else m is
            learnt by expectation maximisation.
        match_threshold: the match probability a pair needs to be linked.
        seed: seed of u sampling, for repeatable models.
        min_records_to_train: below this many comparable records the priors are used untrained.
        u_max_pairs: random pairs sampled to estimate u.

    Returns:
        The links (rule `splink`, match_probability, an explanation with each field's level and
        match weight) and how the model was built.
    """
    matchable = with_blocking_keys(
        records.with_row_index("unique_id").filter(
            pl.any_horizontal(pl.col(c).is_not_null() for c in MATCH_COLUMNS if c != "first_name_aliases")
        )
    )
    filled = filled_columns(matchable)
    n = matchable.height
    trained = n >= min_records_to_train
    labelled = labelled_pairs(rule_links, matchable)
    learn_m_from_labels = trained and labelled.height >= MIN_LABELLED_PAIRS
    specs = comparison_specs(filled, joint_names=learn_m_from_labels)
    blocking = choose_blocking_rules(matchable, filled)
    if matchable.height < 2 or not specs or not blocking:
        return ProbabilisticResult(links=empty_links(), trained=False)

    columns = [
        "unique_id",
        *(c for c in (*MATCH_COLUMNS, *DERIVED_BLOCKING_COLUMNS) if c in matchable.columns),
    ]
    con = duckdb.connect()
    try:
        db_api = DuckDBAPI(connection=con)
        sdf = db_api.register(matchable.select(columns).to_arrow(), table_name="kindred_person_records")
        settings = SettingsCreator(
            link_type="dedupe_only",
            comparisons=[s.creator(term_frequencies=trained) for s in specs],
            blocking_rules_to_generate_predictions=[block_on(*rule) for rule in blocking],
            probability_two_random_records_match=min(UNTRAINED_MATCH_RATE_CAP, 1.0 / max(n - 1, 1)),
            retain_intermediate_calculation_columns=True,
            retain_matching_columns=True,
        )
        linker = Linker(sdf, settings, log_level=logging.WARNING)
        if trained:
            linker = train_model(
                linker,
                sdf,
                db_api,
                matchable,
                filled,
                labelled if learn_m_from_labels else None,
                specs,
                seed=seed,
                u_max_pairs=u_max_pairs,
            )
        predictions = linker.inference.predict(
            threshold_match_probability=match_threshold, warning_mode="never"
        )
        scored = con.sql(f"SELECT * FROM {predictions.physical_name}").pl()
    finally:
        con.close()
    household = _household_pair(scored, specs)
    held_back = int(scored.select(household.sum()).item() or 0) if household is not None else 0
    if held_back:
        scored = scored.filter(~household)
        log.info(
            "splink: %d pairs at one address with one surname and different first names not linked", held_back
        )
    links = _to_links(scored, matchable, specs)
    how = ("m from rule links" if learn_m_from_labels else "m by EM") if trained else "prior parameters"
    log.info("splink: %d records, %d links above %.3f (%s)", n, links.height, match_threshold, how)
    return ProbabilisticResult(
        links=links,
        trained=trained,
        comparisons=[s.name for s in specs],
        blocking_rules=[" & ".join(rule) for rule in blocking],
        records_compared=n,
        household_pairs_held_back=held_back,
        m_source=how,
    )


def _gamma_is(
    scored: pl.DataFrame, specs: list[ComparisonSpec], name: str, labels: set[str]
) -> pl.Expr | None:
    spec = next((s for s in specs if s.name == name), None)
    if spec is None or f"gamma_{name}" not in scored.columns:
        return None
    gammas = [g for g, label in spec.labels_by_gamma().items() if label in labels]
    return pl.col(f"gamma_{name}").is_in(pl.Series(gammas, dtype=pl.Int64).implode()) if gammas else None


def _household_pair(scored: pl.DataFrame, specs: list[ComparisonSpec]) -> pl.Expr | None:
    """The household guard: pairs at the same (or nearly the same) street address, with the same
    surname and different first names, are two members of a family, however much else they
    share. A shared home, landline and surname add up to a high score under the model's
    independence assumption, yet they are the very things a household has in common; the
    first name is what tells its members apart. Such pairs are not linked."""
    same_home = _gamma_is(
        scored, specs, "location", {"same address", "similar address (jaro-winkler >= 0.9)"}
    )
    relatives = _gamma_is(scored, specs, "name", {"same last name, different first"})
    if relatives is None:
        first = _gamma_is(scored, specs, "first_name", {"different"})
        last = _gamma_is(scored, specs, "last_name", {"exact"})
        relatives = first & last if first is not None and last is not None else None
    if same_home is None or relatives is None:
        return None
    return same_home & relatives


def _to_links(scored: pl.DataFrame, matchable: pl.DataFrame, specs: list[ComparisonSpec]) -> pl.DataFrame:
    """Predictions -> links: ids mapped back to (source, record_id), an explanation per pair."""
    if scored.height == 0:
        return empty_links()
    ids = matchable.select("unique_id", "source", "record_id")
    scored = scored.with_row_index("_pair")
    parts = []
    for spec in specs:
        gamma, weight, tf_weight = f"gamma_{spec.name}", f"mw_{spec.name}", f"mw_tf_adj_{spec.name}"
        total = pl.col(weight) + (pl.col(tf_weight).fill_null(0.0) if tf_weight in scored.columns else 0.0)
        parts.append(
            scored.filter(pl.col(gamma) >= 0).select(
                "_pair",
                pl.lit(spec.name).alias("field"),
                pl.col(gamma)
                .replace_strict(spec.labels_by_gamma(), default=None, return_dtype=pl.Utf8)
                .alias("level"),
                total.round(3).alias("weight"),
            )
        )
    # One JSON object per pair, fields strongest first; built as text in long form, which is much
    # faster than sorting a list of structs inside every row.
    fields = (
        pl.concat(parts)
        .sort(["_pair", "weight", "field"], descending=[False, True, False])
        .group_by("_pair", maintain_order=True)
        .agg(
            pl.concat_str(
                pl.lit('{"field":"'),
                "field",
                pl.lit('","level":"'),
                "level",
                pl.lit('","weight":'),
                pl.col("weight").cast(pl.Utf8),
                pl.lit("}"),
            )
            .str.join(",")
            .alias("_fields")
        )
    )
    explanation = pl.concat_str(
        pl.lit('{"match_weight":'),
        pl.col("match_weight").round(3).cast(pl.Utf8),
        pl.lit(',"fields":['),
        pl.col("_fields").fill_null(""),
        pl.lit("]}"),
    )
    scored = scored.join(fields, on="_pair", how="left")
    pairs = (
        scored.select("unique_id_l", "unique_id_r", "match_probability", explanation.alias("explanation"))
        .join(
            ids.rename({"unique_id": "unique_id_l", "source": "source_l", "record_id": "record_id_l"}),
            on="unique_id_l",
        )
        .join(
            ids.rename({"unique_id": "unique_id_r", "source": "source_r", "record_id": "record_id_r"}),
            on="unique_id_r",
        )
    )
    # The left side is the smaller (source, record_id), as in every link.
    swap = (pl.col("source_l") > pl.col("source_r")) | (
        (pl.col("source_l") == pl.col("source_r")) & (pl.col("record_id_l") > pl.col("record_id_r"))
    )
    return (
        pairs.select(
            pl.when(swap).then("source_r").otherwise("source_l").alias("source_l"),
            pl.when(swap).then("record_id_r").otherwise("record_id_l").alias("record_id_l"),
            pl.when(swap).then("source_l").otherwise("source_r").alias("source_r"),
            pl.when(swap).then("record_id_l").otherwise("record_id_r").alias("record_id_r"),
            pl.lit(SPLINK_RULE).alias("rule"),
            "match_probability",
            "explanation",
        )
        .cast(LINK_SCHEMA)
        .sort("source_l", "record_id_l", "source_r", "record_id_r")
    )
