"""Landing files -> `raw.<source>`: one asset per source in kindred.yaml, loading new and changed files."""

import dagster as dg

from pipelines.resources import KindredResource, default_config_path
from warehouse.config import ConfigError, KindredConfig, SourceConfig, load_config
from warehouse.ingest import ingest_source
from warehouse.staging import PARTITIONED_KINDS, days_touched


def source_named(config: KindredConfig, name: str) -> SourceConfig:
    """The source called `name` in the run's kindred.yaml (it may have changed since the definitions loaded)."""
    for source in config.sources:
        if source.name == name:
            return source
    raise ConfigError(f"source '{name}' is no longer in kindred.yaml; reload the definitions")


def raw_asset(source: SourceConfig) -> dg.AssetsDefinition:
    """The asset that loads one source's new and changed files into `raw.<source>`."""

    @dg.asset(
        key=["raw", source.name],
        description=f"Every row of the {source.kind} source '{source.name}' ({source.path}) as text, with file "
        "and row lineage; files are loaded once (raw._manifest), a changed file as a new version. "
        "One row per file row.",
        kinds={"duckdb"},
        pool="duckdb",
        tags={"kind": source.kind},
    )
    def load_raw(context: dg.AssetExecutionContext, kindred: KindredResource) -> dg.MaterializeResult:
        config = kindred.load()
        current = source_named(config, source.name)
        with kindred.connect() as con:
            load = ingest_source(con, config, current)
            days = (
                days_touched(con, current.kind, current, load.loaded, load.replaced)
                if current.kind in PARTITIONED_KINDS and load.loaded
                else []
            )
        context.log.info(load.summary())
        if load.problem_rows:
            context.log.warning(
                "%d rows could not be read; staging quarantines them in quarantine.%s",
                load.problem_rows,
                source.name,
            )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": load.rows,
                "rows_added": load.added,
                "rows_replaced": load.removed,
                "unreadable_rows": load.problem_rows,
                "files_loaded": dg.MetadataValue.json(load.loaded),
                "files_unchanged": load.unchanged,
                "duplicate_files": dg.MetadataValue.json(load.duplicates),
                "empty_files": dg.MetadataValue.json(load.empty),
                # Read by the touched-days sensor, which re-stages these daily partitions.
                "days_touched": dg.MetadataValue.json([d.isoformat() for d in days]),
            }
        )

    return load_raw


@dg.definitions
def defs() -> dg.Definitions:
    """One raw asset per source of the run's kindred.yaml (`$KINDRED_CONFIG`, else ./kindred.yaml)."""
    return dg.Definitions(assets=[raw_asset(s) for s in load_config(default_config_path()).sources])
