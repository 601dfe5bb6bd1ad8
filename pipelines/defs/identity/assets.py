"""Staging -> who is who: `identity.*` links and cross-reference, `profiles.*` golden records."""

import dagster as dg

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
        "record_xref",
    ): "Which profile each source record belongs to. One row per (source, record_id).",
    (
        "profiles",
        "unified_profile",
    ): "The golden record of each person (survivorship: most recent non-empty value). One row per profile.",
    (
        "profiles",
        "contact_points",
    ): "Every normalised email and phone of a person. One row per (profile, kind, value, source record).",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(list(key), description=text, deps=_STAGING, kinds={"duckdb", "splink"})
        for key, text in IDENTITY_TABLES.items()
    ],
    pool="duckdb",
)
def identity_tables(context: dg.AssetExecutionContext, kindred: KindredResource):
    """Normalise, link deterministically, link the rest with Splink, cluster, keep ids stable."""
    settings = kindred.load().identity
    with kindred.connect() as con:
        summary = resolve_identities(
            con,
            default_phone_region=settings.default_phone_region,
            match_threshold=settings.match_threshold,
            day_first=settings.date_of_birth_day_first,
        )
        counts = {
            key: con.sql(f"SELECT count(*) FROM {key[0]}.{key[1]}").fetchall()[0][0]
            for key in IDENTITY_TABLES
        }
    context.log.info("identity: %s", summary)
    for key in IDENTITY_TABLES:
        metadata = {"dagster/row_count": counts[key]}
        if key == ("profiles", "unified_profile"):
            metadata |= {"records": summary.records, "merge_rate": float(summary.merge_rate)}
        if key == ("identity", "links"):
            metadata |= {"links_by_rule": dict(summary.links_by_rule)}
        yield dg.MaterializeResult(asset_key=list(key), metadata=metadata)
