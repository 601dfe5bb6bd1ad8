"""Backfills of the daily partitions from code: what `kindred backfill --from --to` runs.

One Dagster run of the `stage_days` job over the whole range (the daily assets have a
single-run backfill policy), recorded in the Dagster instance so the UI shows the days as
materialised: it first loads new and changed files of the events and orders sources, then
re-stages the days.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date

import dagster as dg

from pipelines.defs.ingest.automation import DAILY_JOB, RANGE_END, RANGE_START, raw_key
from pipelines.defs.staging.daily import DAILY_KEYS, daily_partitions
from pipelines.resources import default_config_path
from warehouse.config import ConfigError, load_config
from warehouse.staging import PARTITIONED_KINDS


@dataclass
class BackfillOutcome:
    """What a backfill run did."""

    success: bool
    run_id: str
    start: date
    end: date
    staged: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    failed_checks: list[str] = field(default_factory=list)
    error: str | None = None


def backfill_days(
    start: date,
    end: date,
    kinds: tuple[str, ...] = PARTITIONED_KINDS,
    instance: dg.DagsterInstance | None = None,
) -> BackfillOutcome:
    """Re-stage the days `start` to `end` (both included) of events and orders, in one Dagster run.

    Args:
        start: the first day.
        end: the last day (included).
        kinds: events and/or orders.
        instance: the Dagster instance to record the run in (default: `$DAGSTER_HOME`'s, else a
            temporary one).

    Returns:
        The outcome: success, run id, rows staged per kind in the range, rows quarantined per
        source, failed checks.

    Raises:
        ConfigError: the range is empty, or outside the partitions (`ingestion.partition_start`
            to today).
    """
    from pipelines.definitions import defs

    config = load_config(default_config_path())
    unknown = sorted(set(kinds) - set(PARTITIONED_KINDS))
    if unknown or not kinds:
        raise ConfigError(f"backfills cover events and orders, not {', '.join(unknown) or 'nothing'}")
    if end < start:
        raise ConfigError(f"--to {end} is before --from {start}")
    keys = daily_partitions(config).get_partition_keys()
    if start.isoformat() < keys[0] or end.isoformat() > keys[-1]:
        raise ConfigError(
            f"days must be between {keys[0]} (ingestion.partition_start in kindred.yaml) and {keys[-1]}; "
            f"got {start} to {end}"
        )
    selection = [raw_key(s.name) for s in config.sources if s.kind in kinds] + [DAILY_KEYS[k] for k in kinds]
    job = defs().resolve_job_def(DAILY_JOB)
    tags = {RANGE_START: start.isoformat(), RANGE_END: end.isoformat(), "kindred/trigger": "backfill"}
    owned = instance is None
    instance = instance or (
        dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    )
    try:
        result = job.execute_in_process(
            instance=instance, tags=tags, asset_selection=selection, raise_on_error=False
        )
    finally:
        if owned:
            instance.dispose()
    outcome = BackfillOutcome(success=result.success, run_id=result.run_id, start=start, end=end)
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        kind = next((k for k, key in DAILY_KEYS.items() if key == materialization.asset_key), None)
        if kind and "dagster/row_count" in materialization.metadata:
            outcome.staged[kind] = materialization.metadata["dagster/row_count"].value
            outcome.quarantined.update(materialization.metadata["quarantined_by_source"].value)
    outcome.failed_checks = [
        f"{e.asset_check_evaluation_data.asset_key.to_user_string()} {e.asset_check_evaluation_data.check_name}"
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
    ]
    failures = [e for e in result.all_events if e.is_step_failure]
    if failures:
        outcome.error = failures[0].step_failure_data.error.message.strip()
    return outcome
