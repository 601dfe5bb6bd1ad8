"""The CRM tables leave the warehouse: a PostgreSQL mirror for CRM syncs, and per-run Parquet snapshots."""

import dagster as dg

from activation.crm_sync import CrmSyncError, sync_crm
from activation.snapshots import write_crm_snapshot
from pipelines.resources import KindredResource
from warehouse.home import kindred_home

_CRM_TABLES = [["crm", "record_scores"], ["crm", "grounding"]]


@dg.asset(
    key=["crm", "postgres_mirror"],
    description="The crm tables mirrored into the PostgreSQL database of crm_sync.target (kindred.yaml), "
    "sending only what changed; each sync is logged in crm.sync_log. One row per CRM record per table.",
    deps=_CRM_TABLES,
    kinds={"postgres"},
    pool="duckdb",
)
def postgres_mirror(context: dg.AssetExecutionContext, kindred: KindredResource) -> dg.MaterializeResult:
    settings = kindred.load().crm_sync
    if not settings.target:
        return dg.MaterializeResult(metadata={"skipped": "no crm_sync.target in kindred.yaml"})
    with kindred.connect() as con:
        try:
            result = sync_crm(
                con,
                settings.target,
                schema=settings.mirror_schema,
                owner=settings.owner,
                segments=settings.segments,
            )
        except CrmSyncError as error:
            # The message names the target without its password; the chained database error is dropped.
            raise dg.Failure(description=str(error)) from None
    for table in result.tables:
        context.log.info(
            f"{table.mirror_table} ({table.method}): {table.inserted} inserted, {table.updated} updated, "
            f"{table.deleted} deleted" + (f"; {table.note}" if table.note else "")
        )
    return dg.MaterializeResult(
        metadata={
            "target": result.target,
            "schema": result.schema,
            "inserted": result.inserted,
            "updated": result.updated,
            "deleted": result.deleted,
            "tables": dg.MetadataValue.json(
                {
                    t.mirror_table: {
                        "method": t.method,
                        "inserted": t.inserted,
                        "updated": t.updated,
                        "deleted": t.deleted,
                    }
                    for t in result.tables
                }
            ),
            "sync_id": result.sync_id,
        }
    )


@dg.asset(
    key=["exports", "crm_snapshot"],
    description="A Parquet snapshot of the crm tables per run, in KINDRED_HOME/exports/crm/<UTC stamp>/<table>.parquet; "
    "the newest crm_sync.snapshots.keep are kept. One file per table.",
    deps=_CRM_TABLES,
    kinds={"parquet"},
    pool="duckdb",
)
def crm_snapshot(kindred: KindredResource) -> dg.MaterializeResult:
    keep = kindred.load().crm_sync.snapshots.keep
    with kindred.connect() as con:
        snapshot = write_crm_snapshot(con, kindred_home() / "exports" / "crm", keep=keep)
    if snapshot is None:
        reason = "crm_sync.snapshots.keep is 0" if keep == 0 else "no crm table has been built yet"
        return dg.MaterializeResult(metadata={"skipped": reason})
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(snapshot.path)),
            "dagster/row_count": sum(snapshot.rows.values()),
            "rows": dg.MetadataValue.json(snapshot.rows),
            "removed": len(snapshot.removed),
        }
    )
