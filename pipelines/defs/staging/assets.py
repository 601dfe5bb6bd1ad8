"""`raw.*` -> typed canonical `staging.{people,events,orders,cases}` and `quarantine.<source>`."""

import dagster as dg

from pipelines.resources import KindredResource, default_config_path
from warehouse.canonical import KINDS
from warehouse.config import SourceConfig, load_config
from warehouse.quarantine import reason_counts
from warehouse.staging import build_staging

STAGING_DESCRIPTIONS = {
    "people": "People records (CRM leads and contacts, customer lists), typed. One row per source record.",
    "events": "Segment-spec web, app and email events, typed and deduplicated. One row per messageId.",
    "orders": "Order lines from every shop and store, typed. One row per order line.",
    "cases": "Support cases, typed. One row per case.",
}


def staging_asset(sources: list[SourceConfig]) -> dg.AssetsDefinition:
    """The multi-asset building the four staging tables, depending on the raw asset of each source.

    It can be subset: a run may rebuild only some kinds (the touched-days sensor rebuilds people
    and cases alone after their files change).
    """

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                ["staging", kind],
                description=STAGING_DESCRIPTIONS[kind],
                deps=[["raw", s.name] for s in sources if s.kind == kind],
                kinds={"duckdb"},
            )
            for kind in KINDS
        ],
        pool="duckdb",
        can_subset=True,
    )
    def staging_tables(context: dg.AssetExecutionContext, kindred: KindredResource):
        """Type, validate and union every source by kind; bad rows go to quarantine.<source>."""
        config = kindred.load()
        kinds = [kind for kind in KINDS if dg.AssetKey(["staging", kind]) in context.selected_asset_keys]
        with kindred.connect() as con:
            result = build_staging(con, config, kinds)
            reasons = {s.name: reason_counts(con, s.name) for s in config.sources if s.kind in kinds}
        for kind in kinds:
            quarantined = {s.name: result.quarantined[s.name] for s in config.sources_of(kind)}
            yield dg.MaterializeResult(
                asset_key=["staging", kind],
                metadata={
                    "dagster/row_count": result.staged[kind],
                    "quarantined_rows": sum(quarantined.values()),
                    "quarantined_by_source": quarantined,
                    "quarantine_reasons": dg.MetadataValue.json(
                        {s.name: reasons[s.name] for s in config.sources_of(kind) if reasons[s.name]}
                    ),
                },
            )
        if any(result.quarantined.values()):
            context.log.warning("quarantined rows: %s (see quarantine.<source>)", result.quarantined)

    return staging_tables


@dg.definitions
def defs() -> dg.Definitions:
    """The staging tables of the run's kindred.yaml."""
    return dg.Definitions(assets=[staging_asset(load_config(default_config_path()).sources)])
