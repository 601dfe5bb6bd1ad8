"""`kindred run`, `kindred backfill` and `kindred demo-data`: the pipeline and its demo company."""

from __future__ import annotations

import os
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli.app import app, console, fail

DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


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
    """Fail on a missing file, a wrong format, a missing column or a consent setting the files cannot satisfy, before anything is written."""
    from privacy.consent_build import check_consent_settings
    from warehouse.config import ConfigError
    from warehouse.connection import open_warehouse
    from warehouse.home import warehouse_path
    from warehouse.source_checks import check_sources

    # A fresh home is checked in memory, so a bad config leaves no warehouse file behind.
    target = warehouse_path() if warehouse_path().is_file() else ":memory:"
    with open_warehouse(target) as con:
        try:
            check_consent_settings(con, loaded, check_sources(con, loaded))
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
        why = f": {check.description}" if getattr(check, "description", None) else ""
        console.print(f"[yellow]check failed:[/] {check.asset_key.to_user_string()} {check.check_name}{why}")


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
    if summary.match_model:
        console.print(f"identity: match model {summary.match_model}")
    if summary.links_left_out:
        console.print(
            "identity: links left out by the guardrails: "
            + ", ".join(f"{reason} {n:,}" for reason, n in summary.links_left_out.items())
        )
    if summary.models:
        _print_models(summary.models)
    for stage, reason in skipped.items():
        console.print(f"[yellow]skipped[/] {stage}: {reason}")
    console.print("crm tables: " + ", ".join(f"{name} {n:,} rows" for name, n in summary.crm_rows.items()))


# The figures shown per model in the run summary; the rest are in MLflow and the model card.
_HEADLINE = ("roc_auc", "pr_auc", "hr_at_1")


def _figure(value, lower, upper) -> str:
    if value is None:
        return ""
    if lower is None or upper is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{lower:.2f}, {upper:.2f}]"


def _print_models(metrics: list[dict]) -> None:
    """Each model's holdout figures with 95% intervals and positive counts, next to its baseline."""
    table = Table(
        title="models on a time-based holdout: ours vs plain baseline, 95% bootstrap intervals",
        title_justify="left",
    )
    classic = next((m.get("classic") for m in metrics if m.get("classic")), None)
    columns = ["model", "figure", "ours", "baseline"] + ([f"{classic} (classic)"] if classic else [])
    for column in [*columns, "holdout rows", "promoted"]:
        table.add_column(column)
    verdicts = {}
    for name, rows in _by_model(metrics).items():
        first = rows[0]
        positives = first.get("n_holdout_positive")
        noun = "buyers" if name == "next_best_offer" else "positive"
        holdout = f"{first['n_holdout'] or 0:,}" + (
            f", {positives:,} {noun}" if positives is not None else ""
        )
        promoted = first.get("promoted")
        for i, m in enumerate(rows):
            cells = [
                f"{name} v{first['model_version']}" if i == 0 else "",
                m["metric"],
                _figure(m["value"], m.get("lower"), m.get("upper")),
                _figure(m.get("baseline_value"), m.get("baseline_lower"), m.get("baseline_upper")),
            ]
            if classic:
                cells.append(_figure(m.get("classic_value"), m.get("classic_lower"), m.get("classic_upper")))
            cells += [
                holdout if i == 0 else "",
                ("" if promoted is None else "yes" if promoted else "no") if i == 0 else "",
            ]
            table.add_row(*cells)
        verdicts[name] = (first.get("baseline"), first.get("decision"))
    console.print(table)
    for name, (baseline, decision) in verdicts.items():
        console.print(f"  {name}: baseline = {baseline}" + (f"; {decision}" if decision else ""))


def _by_model(metrics: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for m in metrics:
        primary = m["metric"].startswith("mrr_at_")
        if m["metric"] in _HEADLINE or primary:
            grouped.setdefault(m["model"], []).append(m)
    # The figure the gate compares first: ROC-AUC for classifiers, reciprocal rank for offers.
    return {
        name: sorted(
            rows,
            key=lambda m: (
                m["metric"] not in ("roc_auc",) and not m["metric"].startswith("mrr_at_"),
                m["metric"],
            ),
        )
        for name, rows in grouped.items()
    }


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
