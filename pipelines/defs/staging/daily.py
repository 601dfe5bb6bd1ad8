"""Daily partitions of `staging.events` and `staging.orders`, by the time each event or order happened.

A partition (or a range of them, in one run) re-stages the rows of its days from raw, plus every
file version not staged yet and every row without a readable time, so the row ledger balances
after any run. Backfills come from the UI (Materialize, pick days) or from the CLI through
`pipelines.defs.staging.backfill.backfill_days`; the touched-days sensor requests them after new
files are ingested.

`kindred run` stages everything with the unpartitioned staging asset; these assets are for
incremental runs and backfills. Run without a partition (as part of an unpartitioned job), they
do nothing.
"""

from datetime import date

import dagster as dg

from pipelines.resources import KindredResource, default_config_path
from warehouse.canonical import EVENT_TIME
from warehouse.config import KindredConfig, load_config
from warehouse.expectations import validate_staging
from warehouse.quarantine import account_rows
from warehouse.staging import PARTITIONED_KINDS, stage_window

DAILY_KEYS = {kind: dg.AssetKey(["staging", f"{kind}_daily"]) for kind in PARTITIONED_KINDS}


def daily_partitions(config: KindredConfig) -> dg.DailyPartitionsDefinition:
    """Days from `ingestion.partition_start` to today (UTC), one partition per day."""
    return dg.DailyPartitionsDefinition(
        start_date=config.ingestion.partition_start.isoformat(), timezone="UTC", end_offset=1
    )


def window_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> tuple[date, date] | None:
    """The run's days as `(first, day after last)`, or None when the run has no partition."""
    if isinstance(context, dg.AssetExecutionContext) and (
        context.has_partition_key or context.has_partition_key_range
    ):
        window = context.partition_time_window
        return window.start.date(), window.end.date()
    tags = context.op_execution_context.run.tags
    start, end = (
        tags.get("dagster/asset_partition_range_start"),
        tags.get("dagster/asset_partition_range_end"),
    )
    key = tags.get("dagster/partition")
    if start and end:
        return date.fromisoformat(start), date.fromordinal(date.fromisoformat(end).toordinal() + 1)
    if key:
        day = date.fromisoformat(key)
        return day, date.fromordinal(day.toordinal() + 1)
    return None


def daily_asset(kind: str, config: KindredConfig) -> dg.AssetsDefinition:
    """The daily-partitioned view of `staging.<kind>`: materialising days re-stages them."""
    sources = config.sources_of(kind)

    @dg.asset(
        key=DAILY_KEYS[kind],
        description=f"The daily partitions of staging.{kind}, by {EVENT_TIME[kind]}: materialising a range of "
        f"days re-stages those days of staging.{kind} and quarantine from raw (one run per range). "
        f"One row per {'messageId' if kind == 'events' else 'order line'}.",
        partitions_def=daily_partitions(config),
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[["raw", s.name] for s in sources],
        kinds={"duckdb"},
        pool="duckdb",
    )
    def stage_days(context: dg.AssetExecutionContext, kindred: KindredResource) -> dg.MaterializeResult:
        window = window_of(context)
        if window is None:
            context.log.info("not a partitioned run: staging.%s is built whole by the staging asset", kind)
            return dg.MaterializeResult(metadata={"note": "not a partitioned run; nothing re-staged"})
        with kindred.connect() as con:
            result = stage_window(con, kindred.load(), window[0], window[1], [kind])
            per_day = con.execute(
                f"SELECT {EVENT_TIME[kind]}::DATE::VARCHAR, count(*) FROM staging.{kind} "
                f"WHERE {EVENT_TIME[kind]} >= ? AND {EVENT_TIME[kind]} < ? GROUP BY 1 ORDER BY 1",
                [window[0], window[1]],
            ).fetchall()
        context.log.info("staged %d %s in %s..%s", result.staged[kind], kind, *window)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.staged[kind],
                "window": f"{window[0]} to {window[1]} (exclusive)",
                "quarantined_rows": sum(result.quarantined.values()),
                "quarantined_by_source": result.quarantined,
                "rows_per_day": dg.MetadataValue.json(dict(per_day)),
            }
        )

    return stage_days


def daily_checks(kind: str) -> list[dg.AssetChecksDefinition]:
    """The window's expectations suite and the source ledger, on the daily asset of a kind."""

    @dg.asset_check(
        asset=DAILY_KEYS[kind],
        name="great_expectations",
        description=f"The staging.{kind} Great Expectations suite on the run's days.",
    )
    def expectations(context: dg.AssetCheckExecutionContext, kindred: KindredResource) -> dg.AssetCheckResult:
        window = window_of(context)
        if window is None:
            # The unpartitioned staging asset runs the suite on the whole table in that run.
            return dg.AssetCheckResult(passed=True, description="not a partitioned run; see staging/" + kind)
        with kindred.connect() as con:
            report = validate_staging(con, kind, window=window)
        return dg.AssetCheckResult(
            passed=report.success,
            description=report.summary(),
            metadata={
                "rows": report.rows,
                "expectations": report.evaluated,
                "failed": len(report.failures),
                "unexpected_rows": dg.MetadataValue.json(report.failures),
            },
        )

    @dg.asset_check(
        asset=DAILY_KEYS[kind],
        name="every_row_accounted_for",
        description="For each source: rows in its loaded files = rows in raw = rows staged + quarantined.",
    )
    def accounting(context: dg.AssetCheckExecutionContext, kindred: KindredResource) -> dg.AssetCheckResult:
        if window_of(context) is None:
            # In an unpartitioned run this may run before the staging asset rebuilt the table;
            # the staging asset's own ledger check covers that run.
            return dg.AssetCheckResult(passed=True, description="not a partitioned run; see staging/" + kind)
        with kindred.connect() as con:
            ledger = account_rows(con, kindred.load(), kind)
        return dg.AssetCheckResult(
            passed=all(row["balanced"] for row in ledger), metadata={"ledger": dg.MetadataValue.json(ledger)}
        )

    return [expectations, accounting]


@dg.definitions
def defs() -> dg.Definitions:
    """The daily assets of events and orders, with their checks."""
    config = load_config(default_config_path())
    return dg.Definitions(
        assets=[daily_asset(kind, config) for kind in PARTITIONED_KINDS],
        asset_checks=[check for kind in PARTITIONED_KINDS for check in daily_checks(kind)],
    )
