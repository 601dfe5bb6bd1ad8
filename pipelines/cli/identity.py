"""`kindred resolve` (identity resolution of arbitrary person-record files) and `kindred identity`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.app import app, atomic_file, console, fail, write_atomically


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
    backend: Annotated[
        str, typer.Option(help="Where Splink runs: duckdb (in process) or spark (local[2]; the spark extra).")
    ] = "duckdb",
    model_out: Annotated[
        Path | None,
        typer.Option(
            help="Also write the Splink settings JSON of the match model used (loads in Splink's Linker)."
        ),
    ] = None,
) -> None:
    """Identity resolution of arbitrary person-record files: one profile_id per input record."""
    import json

    import polars as pl

    from identity_resolution.backends import BACKENDS, engine_factory
    from identity_resolution.options import MatchOptions
    from identity_resolution.resolve import resolve_frames

    if backend not in BACKENDS:
        fail(f"--backend {backend!r}: use one of {', '.join(BACKENDS)}")
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
        with (
            console.status(f"resolving {sum(f.height for f in frames.values()):,} records..."),
            engine_factory(backend) as engines,
        ):
            options = MatchOptions(default_phone_region=phone_region.upper(), day_first=day_first)
            resolved, model = resolve_frames(frames, id, mapping, options, engine_factory=engines)
    except (ValueError, RuntimeError) as error:
        fail(str(error))
    if model_out is not None and model is None:
        fail(f"--model-out {model_out}: no match model was needed (nothing to compare); nothing written")
    write_atomically(resolved, out)
    if model_out is not None:
        with atomic_file(model_out) as temporary:
            temporary.write_text(json.dumps(model.settings, indent=2, sort_keys=True), encoding="utf-8")
    console.print(
        f"{resolved.height:,} records -> {resolved['profile_id'].n_unique():,} profiles, written to {out}"
    )


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


identity_app = typer.Typer(help="The identity graph: the match model and overrides.", no_args_is_help=True)
app.add_typer(identity_app, name="identity")


@identity_app.command()
def retrain(
    config: Annotated[Path, typer.Option(help="The kindred.yaml whose identity settings to use.")] = Path(
        "kindred.yaml"
    ),
) -> None:
    """Refit the match model on all staged data and save it; the next run scores with it."""
    from identity_resolution.backends import engine_factory
    from identity_resolution.model_store import latest_model, log_to_mlflow
    from identity_resolution.options import MatchOptions
    from identity_resolution.resolve import resolve_identities
    from warehouse.config import ConfigError, load_config
    from warehouse.connection import open_warehouse, table_exists
    from warehouse.home import warehouse_path

    try:
        loaded = load_config(config)
    except ConfigError as error:
        fail(str(error))
    if not warehouse_path().is_file():
        fail(f"{warehouse_path()}: no warehouse yet; run `kindred run --config {config}` first")
    with open_warehouse() as con:
        if not any(table_exists(con, f"staging.{kind}") for kind in ("people", "events", "orders", "cases")):
            fail(f"{warehouse_path()}: nothing staged yet; run `kindred run --config {config}` first")
        identity = loaded.identity
        try:
            with (
                console.status("refitting the match model and resolving identities..."),
                engine_factory(identity.backend, identity.spark) as engines,
            ):
                summary = resolve_identities(
                    con,
                    MatchOptions.from_config(identity),
                    retrain=True,
                    engine_factory=engines,
                    survivorship=identity.survivorship,
                )
        except RuntimeError as error:  # identity.backend: spark without pyspark installed
            fail(str(error))
        saved = latest_model(con)
    if saved is not None and summary.model_trained:
        log_to_mlflow(saved)
    console.print(
        f"match model {summary.model_id}: {summary.model}\n"
        f"identity: {summary.records:,} records -> {summary.profiles:,} profiles; links by rule: "
        + ", ".join(f"{rule} {n:,}" for rule, n in summary.links_by_rule.items())
    )
