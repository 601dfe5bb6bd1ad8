"""The publication the HTTP API and the MCP server read: a copy of the serving tables, swapped in atomically."""

import dagster as dg

from pipelines.resources import KindredResource
from serving.publish import publish, serving_tables
from warehouse.home import kindred_home

# Everything the serving tables come from has run once these have (they are the last writers).
_SERVED = [["crm", "grounding"], ["crm", "record_scores"], ["profiles", "consent"]]


@dg.asset(
    key=["serving", "publication"],
    description="A read-only copy of the tables the API and MCP serve (grounding, scores, profiles, consent, "
    "segments) in KINDRED_HOME/serving/, switched in atomically for running servers; older copies are deleted. "
    "One file per run.",
    deps=_SERVED,
    kinds={"duckdb"},
    pool="duckdb",
)
def publication(context: dg.AssetExecutionContext, kindred: KindredResource) -> dg.MaterializeResult:
    with kindred.connect() as con:
        published = publish(
            con, kindred_home(), tables=serving_tables(con, kindred.load()), run_id=context.run.run_id
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(published.rows.values()),
            "file": dg.MetadataValue.path(str(published.path)),
            "tables": dg.MetadataValue.json(published.rows),
            "older_files_removed": len(published.removed),
        }
    )
