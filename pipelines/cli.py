"""The `kindred` command line: run the pipeline, make demo data, resolve identities in files."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Kindred: customer data platform with predictive scoring.",
)
# Wide enough for the summary tables when output is not a terminal (CI logs, files).
console = Console(width=None if os.isatty(1) else 140)
err = Console(stderr=True)

DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"


def fail(message: str) -> None:
    """Print a clear error and exit non-zero."""
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=1)


@app.command()
def run(
    config: Annotated[Path, typer.Option(help="The kindred.yaml to run.")] = Path("kindred.yaml"),
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="See only data before this date (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Materialise every asset: ingest, stage, resolve identities, build features, train, score, activate."""
    from warehouse.config import ConfigError, load_config

    try:
        loaded = load_config(config)
        if as_of:
            date.fromisoformat(as_of)
    except ConfigError as error:
        fail(str(error))
    except ValueError:
        fail(f"--as-of must be a date like 2026-06-30, not {as_of!r}")
    _check_sources_before_writing(loaded)
    home = _env_for_run(config, as_of)
    console.print(f"[bold]Kindred[/] run of {config} into {home}" + (f" as of {as_of}" if as_of else ""))

    started = time.monotonic()
    with console.status("running the pipeline (Dagster, in-process)..."):
        outcome = _materialise_all()
    _print_steps(outcome)
    from warehouse.connection import open_warehouse
    from warehouse.run_summary import summarise_run

    with open_warehouse() as con:
        summary = summarise_run(con, loaded)
    _print_summary(summary, outcome["skipped"])
    console.print(
        f"finished in {time.monotonic() - started:.0f} s. Dagster UI: [bold]make ui[/]; "
        f"MLflow UI: [bold]make mlflow-ui[/]; tables: {home / 'warehouse.duckdb'}"
    )
    if not outcome["success"]:
        fail("the run failed: see the steps above, and the Dagster UI for the logs")


def _check_sources_before_writing(loaded) -> None:
    """Fail on a missing file, a wrong format or a missing column before anything is written."""
    from warehouse.config import ConfigError
    from warehouse.connection import open_warehouse
    from warehouse.home import warehouse_path
    from warehouse.ingest import check_sources

    # A fresh home is checked in memory, so a bad config leaves no warehouse file behind.
    target = warehouse_path() if warehouse_path().is_file() else ":memory:"
    with open_warehouse(target) as con:
        try:
            check_sources(con, loaded)
        except ConfigError as error:
            fail(str(error))


def _env_for_run(config: Path, as_of: str | None) -> Path:
    """Point the Dagster definitions and instance at this run's config, as-of and home."""
    from warehouse.home import kindred_home

    home = kindred_home()
    os.environ["KINDRED_CONFIG"] = str(config.resolve())
    os.environ["KINDRED_AS_OF"] = as_of or ""
    os.environ["DAGSTER_HOME"] = str(_dagster_home(home))
    return home


def _dagster_home(home: Path) -> Path:
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    if DAGSTER_YAML.is_file():
        shutil.copyfile(DAGSTER_YAML, dagster_home / "dagster.yaml")
    return dagster_home


def _materialise_all() -> dict:
    """One Dagster run of every asset and check, recorded in KINDRED_HOME's Dagster instance."""
    import dagster as dg

    from pipelines.definitions import defs
    from pipelines.defs.staging.daily import DAILY_KEYS

    definitions = defs()
    # The daily-partitioned staging assets serve incremental loads and backfills, not a full run.
    everything = dg.AssetSelection.all(include_sources=False) - dg.AssetSelection.assets(*DAILY_KEYS.values())
    job = dg.Definitions.merge(
        definitions, dg.Definitions(jobs=[dg.define_asset_job("kindred_run", selection=everything)])
    ).resolve_job_def("kindred_run")
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        stats = instance.get_run_step_stats(result.run_id)
    skipped = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if "skipped" in materialization.metadata:
            skipped[materialization.asset_key.to_user_string()] = materialization.metadata["skipped"].value
    failed_checks = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
    ]
    return {
        "success": result.success,
        "stats": stats,
        "skipped": skipped,
        "failed_checks": failed_checks,
        "run_id": result.run_id,
    }


def _print_steps(outcome: dict) -> None:
    table = Table(title="steps", title_justify="left")
    for column in ("step", "status", "seconds"):
        table.add_column(column)
    for stat in outcome["stats"]:
        seconds = (stat.end_time or 0) - (stat.start_time or 0)
        status = stat.status.value if stat.status else "?"
        style = "green" if status == "SUCCESS" else "red"
        table.add_row(stat.step_key, f"[{style}]{status}[/]", f"{seconds:.1f}")
    console.print(table)
    for check in outcome["failed_checks"]:
        console.print(f"[yellow]check failed:[/] {check.asset_key.to_user_string()} {check.check_name}")


def _print_summary(summary, skipped: dict[str, str]) -> None:
    sources = Table(title="records per source", title_justify="left")
    for column in ("source", "kind", "rows", "staged", "quarantined"):
        sources.add_column(column, justify="right" if column not in ("source", "kind") else "left")
    for row in summary.sources:
        sources.add_row(
            row["source"], row["kind"], f"{row['rows']:,}", f"{row['staged']:,}", f"{row['quarantined']:,}"
        )
    console.print(sources)
    console.print(
        f"identity: {summary.records:,} source records -> {summary.profiles:,} profiles "
        f"(merge rate {summary.merge_rate:.1%}); links by rule: "
        + ", ".join(f"{rule} {n:,}" for rule, n in summary.links_by_rule.items())
    )
    if summary.models:
        models = Table(title="models on a time-based holdout (ours vs plain baseline)", title_justify="left")
        for column in ("model", "version", "metrics: ours / baseline", "baseline", "train", "holdout"):
            models.add_column(column)
        for name, rows in _by_model(summary.models).items():
            figures = "  ".join(
                f"{m['metric']} {m['value']:.3f}"
                + ("" if m["baseline_value"] is None else f" / {m['baseline_value']:.3f}")
                for m in rows
            )
            first = rows[0]
            models.add_row(
                name,
                str(first["model_version"]),
                figures,
                first["baseline"] or "",
                f"{first['n_train'] or 0:,}",
                f"{first['n_holdout'] or 0:,}",
            )
        console.print(models)
    for stage, reason in skipped.items():
        console.print(f"[yellow]skipped[/] {stage}: {reason}")
    console.print("crm tables: " + ", ".join(f"{name} {n:,} rows" for name, n in summary.crm_rows.items()))


def _by_model(metrics: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for m in metrics:
        if m["metric"] != "brier":  # calibration detail: in MLflow, not in the headline
            grouped.setdefault(m["model"], []).append(m)
    return grouped


@app.command()
def backfill(
    start: Annotated[str, typer.Option("--from", help="First day to re-stage (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last day to re-stage, included (YYYY-MM-DD).")],
    config: Annotated[Path, typer.Option(help="The kindred.yaml to use.")] = Path("kindred.yaml"),
) -> None:
    """Re-stage the daily partitions of events and orders from --from to --to, in one Dagster run."""
    from warehouse.config import ConfigError, load_config

    try:
        load_config(config)
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ConfigError as error:
        fail(str(error))
    except ValueError:
        fail(f"--from and --to must be dates like 2026-06-30, not {start!r} and {end!r}")
    _env_for_run(config, None)
    from pipelines.defs.staging.backfill import backfill_days

    with console.status(f"re-staging {first} to {last}..."):
        try:
            outcome = backfill_days(first, last)
        except ConfigError as error:
            fail(str(error))
    console.print(f"staged {outcome.staged}; quarantined {outcome.quarantined}; Dagster run {outcome.run_id}")
    for check in outcome.failed_checks:
        console.print(f"[yellow]check failed:[/] {check}")
    if not outcome.success:
        fail(outcome.error or "the backfill run failed: see the Dagster UI for the logs")


@app.command("demo-data")
def demo_data(
    people: Annotated[int, typer.Option(min=50, help="How many true people the company has.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 7,
    out: Annotated[Path, typer.Option(help="Folder to write the landing files into.")] = Path("data/demo"),
) -> None:
    """Generate the synthetic multi-source demo company, with its ground truth in out/ground_truth."""
    from demo.generate import generate_demo_data

    started = time.monotonic()
    with console.status(f"generating {people:,} people..."):
        summary = generate_demo_data(out, people=people, seed=seed)
    console.print(summary.describe())
    console.print(
        f"wrote {out} in {time.monotonic() - started:.1f} s (ground truth in {out / 'ground_truth'})"
    )


@app.command()
def resolve(
    files: Annotated[list[Path], typer.Argument(help="CSV or Parquet files of person records.")],
    id: Annotated[str, typer.Option("--id", help="The record id column, present in every file.")],
    out: Annotated[Path, typer.Option(help="Output file (.csv or .parquet): source, record_id, profile_id.")],
    map: Annotated[
        list[str] | None, typer.Option("--map", help="canonical=column, e.g. --map email=EmailAddress")
    ] = None,
    phone_region: Annotated[
        str, typer.Option(help="Region of phone numbers written without a country code, e.g. GB.")
    ] = "US",
    day_first: Annotated[
        bool, typer.Option("--day-first", help="Read dates of birth like 04/12/1985 as day/month/year.")
    ] = False,
) -> None:
    """Identity resolution of arbitrary person-record files: one profile_id per input record."""
    import polars as pl

    from identity_resolution.resolve import resolve_records

    if out.suffix.lower() not in (".csv", ".parquet"):
        fail(f"--out {out}: use a .csv or .parquet file name")
    mapping = {}
    for item in map or []:
        canonical, sep, column = item.partition("=")
        if not sep or not canonical or not column:
            fail(f"--map {item!r}: expected canonical=column, e.g. email=EmailAddress")
        mapping[canonical.strip()] = column.strip()
    frames = {}
    for file in files:
        if file.stem in frames:
            fail(f"{file}: two input files share the stem '{file.stem}', which names the source; rename one")
        frames[file.stem] = _read_records(file, pl)
    try:
        with console.status(f"resolving {sum(f.height for f in frames.values()):,} records..."):
            resolved = resolve_records(
                frames, id, mapping, default_phone_region=phone_region.upper(), day_first=day_first
            )
    except ValueError as error:
        fail(str(error))
    _write_atomically(resolved, out)
    console.print(
        f"{resolved.height:,} records -> {resolved['profile_id'].n_unique():,} profiles, written to {out}"
    )


@app.command()
def grounding(
    crm_object: Annotated[str, typer.Argument(help="The CRM object, e.g. Lead or Contact.")],
    crm_record_id: Annotated[str, typer.Argument(help="The record's id in the CRM.")],
    source: Annotated[str | None, typer.Option(help="The people source, when two hold the same id.")] = None,
) -> None:
    """Print the PII-masked grounding document of one CRM record, as the last run wrote it."""
    import json

    from activation.grounding import grounding_for
    from warehouse.home import warehouse_path

    if not warehouse_path().is_file():
        fail(f"no warehouse at {warehouse_path()}: run `kindred run` first (or set KINDRED_HOME)")
    import duckdb

    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        try:
            document = grounding_for(con, crm_object, crm_record_id, source=source)
        except (LookupError, ValueError) as error:
            fail(str(error).strip("'\""))
    console.print_json(json.dumps(document))


def _read_records(file: Path, pl):
    if not file.is_file():
        fail(f"{file}: no such file")
    try:
        if file.suffix.lower() == ".parquet":
            return pl.read_parquet(file).with_columns(pl.all().cast(pl.String))
        if file.suffix.lower() in (".csv", ".txt"):
            return pl.read_csv(file, infer_schema=False, encoding="utf8-lossy")
    except Exception as error:  # polars raises several error types for unreadable files
        fail(f"{file}: cannot be read: {error}")
    fail(f"{file}: unsupported file type '{file.suffix}'; use .csv or .parquet")


def _write_atomically(frame, out: Path) -> None:
    """Write to a temporary file beside `out`, then rename: a failure leaves no half file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, suffix=out.suffix, delete=False) as handle:
        temporary = Path(handle.name)
    try:
        frame.write_parquet(temporary) if out.suffix.lower() == ".parquet" else frame.write_csv(temporary)
        temporary.replace(out)
    finally:
        temporary.unlink(missing_ok=True)


def main() -> None:
    """Entry point with logging set up for the command line."""
    # LightGBM's OpenMP threads spin while idle unless told otherwise; on a busy 2-core machine
    # that makes fits up to 10x slower. Must be set before LightGBM is imported.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # Great Expectations draws a progress bar per suite; the run prints its own summary instead.
    os.environ.setdefault("TQDM_DISABLE", "1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Great Expectations logs every ephemeral context it creates at INFO.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    app()


if __name__ == "__main__":
    main()
