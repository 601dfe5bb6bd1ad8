"""Landing files -> `raw.<source>`: one asset per source in kindred.yaml."""

import dagster as dg

from pipelines.resources import KindredResource, default_config_path
from warehouse.config import SourceConfig, load_config
from warehouse.connection import replace_table
from warehouse.ingest import read_source


def raw_asset(source: SourceConfig) -> dg.AssetsDefinition:
    """The asset that loads one source's files into `raw.<source>`."""

    @dg.asset(
        key=["raw", source.name],
        description=f"Every row of the {source.kind} source '{source.name}' ({source.path}) as text, "
        "with file and row lineage. One row per file row.",
        kinds={"duckdb"},
        pool="duckdb",
        tags={"kind": source.kind},
    )
    def load_raw(context: dg.AssetExecutionContext, kindred: KindredResource) -> dg.MaterializeResult:
        config = kindred.load()
        frame = read_source(config, config.sources[[s.name for s in config.sources].index(source.name)])
        with kindred.connect() as con:
            rows = replace_table(con, f"raw.{source.name}", frame)
        files = frame["_file"].n_unique() if rows else 0
        context.log.info("raw.%s: %d rows from %d files", source.name, rows, files)
        return dg.MaterializeResult(metadata={"dagster/row_count": rows, "files": files})

    return load_raw


@dg.definitions
def defs() -> dg.Definitions:
    """One raw asset per source of the run's kindred.yaml (`$KINDRED_CONFIG`, else ./kindred.yaml)."""
    return dg.Definitions(assets=[raw_asset(s) for s in load_config(default_config_path()).sources])
