"""Incremental ingestion: a sensor on the landing folders, and one that re-stages what new files touched.

1. `landing_files` looks at every source's glob (size and modification time only, nothing is
   read) and requests a run of `ingest_landing` for the sources with new or changed files. A
   file still being written (modified in the last few seconds) waits for the next tick.
2. Each raw asset records the days its new rows (and the rows they replaced) fall on.
   `restage_touched_days` reads that and requests `stage_days` runs for those days of events
   and orders (one run per range of consecutive days), and a `stage_people_and_cases` run for
   people and cases sources.

Both sensors start stopped: turn them on in the UI (Automation), with `make ui` running the
daemon. DuckDB has one writer, so runs queue one at a time (dagster.yaml).
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import dagster as dg

from pipelines.defs.staging.daily import DAILY_KEYS, daily_partitions
from pipelines.resources import default_config_path
from warehouse.config import KindredConfig, load_config
from warehouse.source_checks import landing_files as files_of_source
from warehouse.staging import PARTITIONED_KINDS

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

INGEST_JOB = "ingest_landing"
DAILY_JOB = "stage_days"
PEOPLE_AND_CASES_JOB = "stage_people_and_cases"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
# A file modified more recently than this may still be being written.
SETTLE_SECONDS = 10
# More separate ranges than this become one run over the whole span.
MAX_RANGES = 10


def raw_key(source_name: str) -> dg.AssetKey:
    """The asset key of `raw.<source>`."""
    return dg.AssetKey(["raw", source_name])


def jobs(config: KindredConfig) -> list[UnresolvedAssetJobDefinition]:
    """The ingest job (raw assets), the daily job (raw of events and orders + their daily assets),
    and the job re-staging people and cases."""
    partitioned = [s.name for s in config.sources if s.kind in PARTITIONED_KINDS]
    return [
        dg.define_asset_job(
            INGEST_JOB,
            selection=dg.AssetSelection.assets(*[raw_key(s.name) for s in config.sources]),
            description="Load new and changed landing files into raw (the landing_files sensor runs it).",
        ),
        dg.define_asset_job(
            DAILY_JOB,
            selection=dg.AssetSelection.assets(*[raw_key(n) for n in partitioned], *DAILY_KEYS.values()),
            partitions_def=daily_partitions(config),
            description="Load new files of events and orders, then re-stage a range of days (backfills).",
        ),
        dg.define_asset_job(
            PEOPLE_AND_CASES_JOB,
            selection=dg.AssetSelection.assets(
                dg.AssetKey(["staging", "people"]), dg.AssetKey(["staging", "cases"])
            ),
            description="Rebuild staging.people and staging.cases (they have no daily partitions).",
        ),
    ]


def landing_fingerprints(config: KindredConfig, settle_seconds: float = SETTLE_SECONDS) -> tuple[dict, set]:
    """Each settled landing file's `size:mtime`, and the sources with files still being written."""
    now = time.time()
    fingerprints, unsettled = {}, set()
    for source in config.sources:
        for file in files_of_source(config, source):
            stat = file.stat()
            if now - stat.st_mtime < settle_seconds:
                unsettled.add(source.name)
                continue
            fingerprints[str(file)] = [source.name, f"{stat.st_size}:{stat.st_mtime_ns}"]
    return fingerprints, unsettled


def landing_sensor(ingest_job: UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    """The sensor requesting raw loads for sources whose landing files are new or changed."""

    @dg.sensor(
        name="landing_files",
        job=ingest_job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Loads new and changed landing files of every source into raw (ingest_landing).",
    )
    def landing_files(context: dg.SensorEvaluationContext):
        current, unsettled = landing_fingerprints(load_config(default_config_path()))
        seen = json.loads(context.cursor) if context.cursor else {}
        changed = {path: value for path, value in current.items() if seen.get(path) != value}
        if unsettled:
            context.log.info("files still being written for %s; next tick", ", ".join(sorted(unsettled)))
        if not changed:
            return dg.SkipReason("no new or changed landing files")
        context.update_cursor(json.dumps({**seen, **current}))
        sources = sorted({source for source, _ in changed.values()})
        run_key = hashlib.sha256(json.dumps(sorted(changed.items())).encode()).hexdigest()[:16]
        return dg.RunRequest(
            run_key=run_key,
            asset_selection=[raw_key(s) for s in sources],
            tags={"kindred/trigger": "landing_files", "kindred/files": str(len(changed))},
        )

    return landing_files


def day_ranges(days: list[date], first: date, last: date) -> list[tuple[date, date]]:
    """Consecutive runs of days (inclusive ranges) within `[first, last]`; many ranges become one.

    Args:
        days: the days touched.
        first: the first day of the partitions.
        last: the last day of the partitions.

    Returns:
        Inclusive `(start, end)` ranges, oldest first.
    """
    kept = sorted({d for d in days if first <= d <= last})
    ranges: list[tuple[date, date]] = []
    for day in kept:
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    if len(ranges) > MAX_RANGES:
        return [(ranges[0][0], ranges[-1][1])]
    return ranges


def restage_sensor(
    config: KindredConfig, daily_job: UnresolvedAssetJobDefinition, whole_job: UnresolvedAssetJobDefinition
) -> dg.MultiAssetSensorDefinition:
    """The sensor turning raw loads into re-stage runs: days of events and orders, people and cases whole."""
    kind_of = {raw_key(s.name): s.kind for s in config.sources}
    first = config.ingestion.partition_start

    @dg.multi_asset_sensor(
        monitored_assets=list(kind_of),
        name="restage_touched_days",
        jobs=[daily_job, whole_job],
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="After raw loads: re-stages the days of events and orders they touched (stage_days) "
        "and rebuilds people and cases staging (stage_people_and_cases).",
    )
    def restage_touched_days(context: dg.MultiAssetSensorEvaluationContext):
        days: dict[str, set[date]] = {kind: set() for kind in PARTITIONED_KINDS}
        whole: set[str] = set()
        last_id = 0
        for key in kind_of:
            records = list(context.materialization_records_for_key(key, limit=1000))
            for record in records:
                last_id = max(last_id, record.storage_id)
                metadata = record.asset_materialization.metadata if record.asset_materialization else {}
                if kind_of[key] in PARTITIONED_KINDS:
                    touched = metadata.get("days_touched")
                    days[kind_of[key]] |= {date.fromisoformat(d) for d in (touched.value if touched else [])}
                else:
                    whole.add(kind_of[key])
            if records:
                context.advance_cursor({key: records[-1]})
        today = datetime.now(UTC).date()
        requests = []
        for kind, touched in days.items():
            for start, end in day_ranges(sorted(touched), first, today):
                requests.append(
                    dg.RunRequest(
                        run_key=f"{kind}:{start}:{end}:{last_id}",
                        job_name=DAILY_JOB,
                        asset_selection=[DAILY_KEYS[kind]],
                        tags={
                            RANGE_START: start.isoformat(),
                            RANGE_END: end.isoformat(),
                            "kindred/trigger": "raw",
                        },
                    )
                )
        if whole:
            requests.append(
                dg.RunRequest(
                    run_key=f"{','.join(sorted(whole))}:{last_id}",
                    job_name=PEOPLE_AND_CASES_JOB,
                    asset_selection=[dg.AssetKey(["staging", kind]) for kind in sorted(whole)],
                    tags={"kindred/trigger": "raw"},
                )
            )
        return requests or dg.SkipReason("no new raw loads")

    return restage_touched_days


@dg.definitions
def defs() -> dg.Definitions:
    """The incremental-ingestion jobs and sensors of the run's kindred.yaml."""
    config = load_config(default_config_path())
    ingest_job, daily_job, whole_job = jobs(config)
    return dg.Definitions(
        jobs=[ingest_job, daily_job, whole_job],
        sensors=[landing_sensor(ingest_job), restage_sensor(config, daily_job, whole_job)],
    )
