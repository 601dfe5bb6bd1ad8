"""From person records to who is who: blocked values out, rules, Splink, guardrails, clusters.

`match_records` is the core both entry points share (`resolve_identities` on the warehouse,
`resolve_records` on files). Every candidate link, from a rule or from Splink, passes the
conflict rules of `guards`; clusters are then built so that none holds conflicting records or
more than the maximum size. What was left out, and why, is returned beside the links.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

import duckdb
import polars as pl

from identity_resolution.attributes import profile_attributes
from identity_resolution.clustering import assign_profile_ids, guarded_clusters
from identity_resolution.deterministic import deterministic_links, without_guarded_values
from identity_resolution.guards import blank_blocked_values, pair_conflicts
from identity_resolution.links import LINK_SCHEMA, SPLINK_RULE
from identity_resolution.model_store import SavedModel, retrain_reason
from identity_resolution.options import MatchOptions
from identity_resolution.probabilistic import (
    MatchModel,
    default_name_only_threshold,
    default_threshold,
    fit_model,
    matchable_records,
    score_pairs,
)
from identity_resolution.splink_engine import EngineFactory, duckdb_engine

log = logging.getLogger(__name__)

# Which links a cluster keeps first when it must be split: ids, then contact points, then Splink
# by match weight (Splink weights stay far below these).
RULE_STRENGTH = {
    "same_id_namespace": 1000.0,
    "identify_call": 1000.0,
    "email": 500.0,
    "loyalty_id": 450.0,
    "phone": 400.0,
}
REJECTED_SCHEMA: dict[str, pl.DataType] = {**LINK_SCHEMA, "reason": pl.Utf8}


@dataclass
class Matching:
    """The outcome of matching: links kept and left out, the xref, and the model used."""

    records: pl.DataFrame
    links: pl.DataFrame
    rejected: pl.DataFrame
    xref: pl.DataFrame
    model: MatchModel | None
    model_reason: str | None  # why a model was trained now; None when a saved one was reused
    threshold: float = 0.0
    blocked_values: dict[str, int] = field(default_factory=dict)


class _Clock:
    """Seconds per step, for the log: where a run's time goes."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.started, 1)
        self.started = now


def _rows(links: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """Links with the row numbers of their two records (`_l`, `_r`)."""
    keys = records.select("source", "record_id").with_row_index("_row")
    return links.join(
        keys.rename({"_row": "_l", "source": "source_l", "record_id": "record_id_l"}),
        on=["source_l", "record_id_l"],
    ).join(
        keys.rename({"_row": "_r", "source": "source_r", "record_id": "record_id_r"}),
        on=["source_r", "record_id_r"],
    )


def _splink_links(scored: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    keys = records.select("source", "record_id").with_row_index("_row")
    return (
        scored.join(
            keys.rename({"_row": "unique_id_l", "source": "source_l", "record_id": "record_id_l"}),
            on="unique_id_l",
        )
        .join(
            keys.rename({"_row": "unique_id_r", "source": "source_r", "record_id": "record_id_r"}),
            on="unique_id_r",
        )
        .select(
            "source_l",
            "record_id_l",
            "source_r",
            "record_id_r",
            pl.lit(SPLINK_RULE).alias("rule"),
            "match_probability",
            "explanation",
            pl.col("unique_id_l").alias("_l"),
            pl.col("unique_id_r").alias("_r"),
            pl.col("match_weight").alias("_strength"),
        )
    )


def choose_model(
    matchable: pl.DataFrame,
    rule_links: pl.DataFrame,
    options: MatchOptions,
    saved: SavedModel | None,
    *,
    retrain: bool,
    engine_factory: EngineFactory,
    reuse: bool = False,
) -> tuple[MatchModel | None, str | None]:
    """The saved model when it still fits the data and settings (or `reuse` says so), else a newly
    fitted one.

    Returns:
        The model (None when nothing can be compared) and why it was fitted (None when reused).
    """
    if reuse and saved is not None:
        log.info("splink: scoring with the given match model %s", saved.model_id)
        return saved.model, None
    profile = profile_attributes(matchable)
    reason = retrain_reason(
        saved, profile.as_dict(), options.fingerprint(), retrain_share=options.retrain_share, forced=retrain
    )
    if reason is None and saved is not None:
        log.info("splink: reusing match model %s (%s)", saved.model_id, saved.model.how)
        return saved.model, None
    log.info("splink: fitting a match model: %s", reason)
    model = fit_model(
        matchable,
        profile=profile,
        rule_links=rule_links,
        configured_comparisons=list(options.comparisons),
        configured_blocking=list(options.blocking_rules),
        engine_factory=engine_factory,
    )
    return model, reason


def match_records(
    con: duckdb.DuckDBPyConnection,
    records: pl.DataFrame,
    options: MatchOptions,
    *,
    previous: pl.DataFrame | None = None,
    saved: SavedModel | None = None,
    retrain: bool = False,
    reuse: bool = False,
    engine_factory: EngineFactory = duckdb_engine,
) -> Matching:
    """Link person records and cluster them into profiles.

    Args:
        con: connection with the staging tables (identify calls are read from `staging.events`).
        records: `identity.person_records`, sorted by (source, record_id).
        options: thresholds, guardrails, blocked values, Splink overrides.
        previous: the previous `identity.record_xref`, whose profile ids are kept where they fit.
        saved: the newest saved match model, reused unless `retrain_reason` says otherwise.
        retrain: fit a new model whatever the saved one.
        reuse: score with the saved model whatever the data (a model given by the caller).
        engine_factory: where Splink runs.

    Returns:
        Links, links left out (with the reason), the xref and the model.
    """
    clock = _Clock()
    records, blocked = blank_blocked_values(
        records, options.blocked, default_phone_region=options.default_phone_region
    )
    if blocked:
        log.info("blocked values removed: %s", blocked)
    rule_links = deterministic_links(con, records, guard=options.contact_guard, guards=options.guards)
    clock.lap("rules")
    matchable = matchable_records(without_guarded_values(records, options.contact_guard))
    model, reason = choose_model(
        matchable, rule_links, options, saved, retrain=retrain, engine_factory=engine_factory, reuse=reuse
    )
    clock.lap("model")
    threshold = options.match_threshold or default_threshold(rule_links.height)
    candidates = [
        _rows(rule_links, records).with_columns(
            pl.col("rule").replace_strict(RULE_STRENGTH, default=100.0).alias("_strength")
        )
    ]
    if model is not None:
        scored = score_pairs(
            matchable,
            model,
            match_threshold=threshold,
            name_only_threshold=default_name_only_threshold(rule_links.height),
            engine_factory=engine_factory,
        )
        candidates.append(_splink_links(scored, records))
    clock.lap("scoring")
    columns = [*LINK_SCHEMA, "_l", "_r", "_strength"]
    links = pl.concat(
        [
            c.select(columns).cast({**LINK_SCHEMA, "_l": pl.UInt32, "_r": pl.UInt32, "_strength": pl.Float64})
            for c in candidates
        ]
    )
    links = links.with_columns(pair_conflicts(links.select("_l", "_r"), records, options.guards))
    refused = links.filter(pl.col("conflict").is_not_null())
    links = links.filter(pl.col("conflict").is_null()).drop("conflict")
    clusters, split = guarded_clusters(
        records,
        links,
        # Given names are checked link by link only: across a cluster, a middle name and a
        # misspelt nickname of one person can look unrelated. Dates of birth, ids and suffixes
        # that conflict anywhere in a cluster are two people, however they were chained.
        lambda pairs: pair_conflicts(pairs, records, replace(options.guards, given_names=False)),
        max_cluster_size=options.guards.max_cluster_size,
    )
    clock.lap("guardrails and clusters")
    left_out = links.join(split, on=["_l", "_r"], how="inner")
    links = links.join(split, on=["_l", "_r"], how="anti")
    rejected = pl.concat(
        [
            refused.select(*LINK_SCHEMA, pl.col("conflict").alias("reason")),
            left_out.select(*LINK_SCHEMA, "reason"),
        ]
    ).cast(REJECTED_SCHEMA)
    if rejected.height:
        log.info("links left out by the guardrails: %s", dict(rejected.group_by("reason").len().iter_rows()))
    xref = assign_profile_ids(clusters, previous)
    log.info("matching: %s", clock.laps)
    return Matching(
        records,
        links.select(*LINK_SCHEMA).sort("source_l", "record_id_l", "source_r", "record_id_r"),
        rejected.sort("source_l", "record_id_l", "source_r", "record_id_r"),
        xref,
        model,
        reason,
        threshold,
        blocked,
    )
