"""Identity and the sources' opt-outs -> `profiles.consent`: what each person allows, per channel and purpose."""

import dagster as dg

from pipelines.resources import KindredResource
from privacy.consent_build import build_consent, consent_summary

_INPUTS = [
    ["staging", "people"],
    ["staging", "events"],
    ["identity", "record_xref"],
    ["profiles", "contact_points"],
]


@dg.asset(
    key=["profiles", "consent"],
    description="Each person's current consent per channel and purpose (latest statement wins), with the "
    "source record that said so. One row per (profile, channel, purpose) with a statement.",
    deps=_INPUTS,
    kinds={"duckdb"},
    pool="duckdb",
)
def consent(context: dg.AssetExecutionContext, kindred: KindredResource) -> dg.MaterializeResult:
    """Read the fields, events and consent file of kindred.yaml's `consent:`; keep the latest statement."""
    config = kindred.load()
    with kindred.connect() as con:
        build = build_consent(con, config)
    if build.ignored_values:
        context.log.warning("consent values neither true nor false were ignored: %s", build.ignored_values)
    return dg.MaterializeResult(metadata=consent_summary(build))
