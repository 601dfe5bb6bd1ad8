"""Staging -> who is who: `identity.*` links and cross-reference, `profiles.*` golden records."""

import dagster as dg

from identity_resolution.backends import engine_factory
from identity_resolution.model_store import latest_model, log_to_mlflow
from identity_resolution.options import MatchOptions
from identity_resolution.resolve import resolve_identities
from pipelines.resources import KindredResource

_STAGING = [["staging", kind] for kind in ("people", "events", "orders", "cases")]

IDENTITY_TABLES = {
    (
        "identity",
        "person_records",
    ): "Each source record's person attributes, latest non-empty value. One row per (source, record_id).",
    (
        "identity",
        "links",
    ): "Every pair of records judged the same person, with the rule and why. One row per link.",
    (
        "identity",
        "rejected_links",
    ): "Candidate links the guardrails left out (conflicts, cluster limits), with the reason. One row per link.",
    (
        "identity",
        "record_xref",
    ): "Which profile each source record belongs to. One row per (source, record_id).",
    (
        "profiles",
        "unified_profile",
    ): "The golden record of each person (survivorship rules of identity.survivorship). One row per profile.",
    (
        "profiles",
        "contact_points",
    ): "Every normalised email and phone of a person. One row per (profile, kind, value, source record).",
    (
        "profiles",
        "attribute_provenance",
    ): "Where each golden-record value came from: source record, time, deciding rule. One row per (profile, attribute).",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(list(key), description=text, deps=_STAGING, kinds={"duckdb", "splink"})
        for key, text in IDENTITY_TABLES.items()
    ],
    pool="duckdb",
)
def identity_tables(context: dg.AssetExecutionContext, kindred: KindredResource):
    """Normalise, link deterministically, link the rest with Splink, guard, cluster, keep ids stable."""
    identity = kindred.load().identity
    options = MatchOptions.from_config(identity)
    with kindred.connect() as con, engine_factory(identity.backend, identity.spark) as engines:
        summary = resolve_identities(con, options, engine_factory=engines, survivorship=identity.survivorship)
        saved = latest_model(con) if summary.model_trained else None
        counts = {
            key: con.sql(f"SELECT count(*) FROM {key[0]}.{key[1]}").fetchall()[0][0]
            for key in IDENTITY_TABLES
        }
    if saved is not None:
        log_to_mlflow(saved)
    context.log.info("identity: %s", summary)
    for key in IDENTITY_TABLES:
        metadata = {"dagster/row_count": counts[key]}
        if key == ("profiles", "unified_profile"):
            metadata |= {"records": summary.records, "merge_rate": float(summary.merge_rate)}
        if key == ("identity", "links"):
            metadata |= {
                "links_by_rule": dict(summary.links_by_rule),
                "match_model": summary.model_id or "none",
                "model": summary.model,
                "model_trained_because": summary.model_reason or "reused the saved model",
            }
        if key == ("identity", "rejected_links"):
            metadata |= {"left_out_by_reason": dict(summary.links_left_out)}
        yield dg.MaterializeResult(asset_key=list(key), metadata=metadata)
