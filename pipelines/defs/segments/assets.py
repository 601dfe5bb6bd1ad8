"""Profiles, features and scores -> `segments.membership`: one asset per segment in kindred.yaml.

`segments/profile_fields` gathers every field into one row per profile; each `segments/<name>`
asset then evaluates its segment against it and records entries and exits in one transaction;
`segments/membership` runs after them all and retires segments taken out of kindred.yaml (their
members exit).
"""

import dagster as dg

from activation.segments.membership import refresh_segment, retire_removed_segments, size_trend
from activation.segments.profile_fields import build_profile_fields
from pipelines.resources import KindredResource, default_config_path
from warehouse.config import ConfigError, KindredConfig, load_config
from warehouse.connection import row_count
from warehouse.segment_config import SegmentConfig

UPSTREAM = [
    ["profiles", "unified_profile"],
    ["features", "profile_features"],
    ["scores", "lead_score"],
    ["scores", "churn_risk"],
    ["scores", "next_best_offer"],
]
PROFILE_FIELDS = ["segments", "profile_fields"]


@dg.asset(
    key=PROFILE_FIELDS,
    description="Every field a segment can use, gathered for each profile: the golden record, the newest "
    "features, each model's latest score and the best offer. One row per profile.",
    deps=UPSTREAM,
    kinds={"duckdb"},
    pool="duckdb",
)
def profile_fields(kindred: KindredResource) -> dg.MaterializeResult:
    with kindred.connect() as con:
        rows = build_profile_fields(con)
        fields = len(con.sql("DESCRIBE segments.profile_fields").fetchall())
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "fields": fields})


def segment_named(config: KindredConfig, name: str) -> SegmentConfig:
    """The segment called `name` in the run's kindred.yaml (it may have changed since the definitions loaded)."""
    for segment in config.segments:
        if segment.name == name:
            return segment
    raise ConfigError(f"segment '{name}' is no longer in kindred.yaml; reload the definitions")


def segment_asset(segment: SegmentConfig) -> dg.AssetsDefinition:
    """The asset that brings one segment's rows of `segments.membership` up to date."""

    @dg.asset(
        key=["segments", segment.name],
        description=(segment.description or f"The members of segment '{segment.name}'.")
        + f" Purpose {segment.purpose}. Rows of segments.membership with segment = '{segment.name}': "
        "one per member; entries and exits in segments.membership_history.",
        deps=[PROFILE_FIELDS],
        kinds={"duckdb"},
        pool="duckdb",
        tags={"purpose": segment.purpose},
    )
    def members(context: dg.AssetExecutionContext, kindred: KindredResource) -> dg.MaterializeResult:
        current = segment_named(kindred.load(), segment.name)
        with kindred.connect() as con:
            refresh = refresh_segment(con, current, as_of=kindred.as_of_date(con), run_id=context.run.run_id)
            trend = size_trend(con, segment.name)
        context.log.info(
            "segment %s: %d members, %d entered, %d exited",
            segment.name,
            refresh.size,
            refresh.entered,
            refresh.exited,
        )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": refresh.size,
                "entered": refresh.entered,
                "exited": refresh.exited,
                "previous_size": refresh.previous_size,
                "size_change": refresh.size - refresh.previous_size,
                "size_trend": " -> ".join(f"{n:,}" for n in trend),
                "as_of": refresh.as_of.date().isoformat(),
                "definition_hash": refresh.definition_hash,
                # Placeholders only: the values (which may name people) stay out of run metadata.
                "sql": dg.MetadataValue.md(f"```sql\n{refresh.sql}\n```"),
            }
        )

    return members


def membership_asset(names: list[str]) -> dg.AssetsDefinition:
    """The asset that retires segments no longer declared, after every declared one is refreshed."""

    @dg.asset(
        key=["segments", "membership"],
        description="Current members of every segment in kindred.yaml: one row per (segment, profile_id), "
        "with when they entered. Segments taken out of kindred.yaml are emptied here (their members exit).",
        deps=[["segments", name] for name in names] or [PROFILE_FIELDS],
        kinds={"duckdb"},
        pool="duckdb",
    )
    def membership(context: dg.AssetExecutionContext, kindred: KindredResource) -> dg.MaterializeResult:
        declared = [s.name for s in kindred.load().segments]
        with kindred.connect() as con:
            retired = retire_removed_segments(con, declared, run_id=context.run.run_id)
            rows = row_count(con, "segments.membership")
        for name, exited in retired.items():
            context.log.info("segment %s is no longer declared: %d members exited", name, exited)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "segments": len(declared),
                "retired_segments": dg.MetadataValue.json(retired),
            }
        )

    return membership


@dg.definitions
def defs() -> dg.Definitions:
    """One asset per segment of the run's kindred.yaml (`$KINDRED_CONFIG`, else ./kindred.yaml)."""
    segments = load_config(default_config_path()).segments
    return dg.Definitions(
        assets=[
            profile_fields,
            *(segment_asset(s) for s in segments),
            membership_asset([s.name for s in segments]),
        ]
    )
