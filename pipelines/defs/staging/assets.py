"""`raw.*` -> typed canonical `staging.{people,events,orders,cases}` and `quarantine.<source>`."""

import dagster as dg

from pipelines.resources import KindredResource, default_config_path
from warehouse.canonical import KINDS
from warehouse.config import load_config
from warehouse.staging import build_staging

_SOURCES = load_config(default_config_path()).sources

STAGING_DESCRIPTIONS = {
    "people": "People records (CRM leads and contacts, customer lists), typed. One row per source record.",
    "events": "Segment-spec web, app and email events, typed and deduplicated. One row per messageId.",
    "orders": "Order lines from every shop and store, typed. One row per order line.",
    "cases": "Support cases, typed. One row per case.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["staging", kind],
            description=STAGING_DESCRIPTIONS[kind],
            deps=[["raw", s.name] for s in _SOURCES if s.kind == kind],
            kinds={"duckdb"},
        )
        for kind in KINDS
    ],
    pool="duckdb",
)
def staging_tables(context: dg.AssetExecutionContext, kindred: KindredResource):
    """Type, validate and union every source by kind; bad rows go to quarantine.<source>."""
    config = kindred.load()
    with kindred.connect() as con:
        result = build_staging(con, config)
    for kind in KINDS:
        quarantined = {s.name: result.quarantined[s.name] for s in config.sources_of(kind)}
        yield dg.MaterializeResult(
            asset_key=["staging", kind],
            metadata={
                "dagster/row_count": result.staged[kind],
                "quarantined_rows": sum(quarantined.values()),
                "quarantined_by_source": quarantined,
            },
        )
    if any(result.quarantined.values()):
        context.log.warning("quarantined rows: %s (see quarantine.<source>)", result.quarantined)
