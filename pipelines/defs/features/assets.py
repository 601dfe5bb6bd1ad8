"""Profiles and activity -> per-profile features as of the run's date."""

import dagster as dg

from feature_store.materialise import materialise_profile_features
from pipelines.resources import KindredResource


@dg.asset(
    key=["features", "profile_features"],
    description="Recency, frequency, monetary value, engagement and support load of every profile, "
    "computed from data strictly before the run's as-of date. One row per profile.",
    deps=[["identity", "record_xref"], ["profiles", "unified_profile"]],
    kinds={"duckdb"},
    pool="duckdb",
)
def profile_features(context: dg.AssetExecutionContext, kindred: KindredResource) -> dg.MaterializeResult:
    with kindred.connect() as con:
        as_of = kindred.as_of_date(con)
        rows = materialise_profile_features(con, as_of)
    context.log.info("features as of %s: %d profiles", as_of, rows)
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "as_of": str(as_of)})
