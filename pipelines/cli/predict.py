"""`kindred predict train|score`: the prediction builder, a yes/no model on any labelled table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli.app import app, console, fail, write_atomically

predict = typer.Typer(help="Predict a yes/no column of any CSV or Parquet table (the prediction builder).")
app.add_typer(predict, name="predict")


@predict.command("train")
def train(
    file: Annotated[Path, typer.Argument(help="A CSV or Parquet table with the column to predict.")],
    target: Annotated[str, typer.Option(help="The yes/no column to predict.")],
    id: Annotated[
        str, typer.Option("--id", help="The column that identifies rows (kept, never learned from).")
    ],
    name: Annotated[str, typer.Option(help="The model's name in the registry, e.g. telco_churn.")],
    drop: Annotated[
        list[str] | None,
        typer.Option("--drop", help="A column to leave out, e.g. one only known after the outcome."),
    ] = None,
) -> None:
    """Learn TARGET from the other columns, cross-validate against LightGBM defaults and a one-column
    baseline, and register the model (with its model card) in MLflow under NAME."""
    from models.prediction_builder import train as train_model
    from models.table_plan import TableError

    try:
        with console.status(f"reading {file} and cross-validating..."):
            result = train_model(file, target=target, id_column=id, name=name, drop=tuple(drop or ()))
    except TableError as error:
        fail(str(error))
    run, plan = result.run, result.plan
    console.print(
        f"{file}: {result.rows:,} rows with a target, {result.positives:,} {target} = {plan.positive!r}; "
        f"{len(plan.columns)} columns used, {len(plan.dropped)} left out"
    )
    if plan.dropped:
        for dropped in plan.dropped:
            console.print(f"  left out [bold]{dropped.column}[/]: {dropped.reason}")
    table = Table(
        title="5-fold cross-validation (out-of-fold, 95% bootstrap intervals)", title_justify="left"
    )
    for column in ("figure", "Kindred", "LightGBM defaults", "baseline: one column"):
        table.add_column(column)
    for metric in run.figures:
        cells = [run.figures[metric], run.classic_figures.get(metric), run.baseline_figures.get(metric)]
        table.add_row(metric, *(c.describe() if c else "" for c in cells))
    table.add_row(
        "roc_auc, mean of folds",
        f"{result.cv['kindred_roc_auc']:.3f}",
        f"{result.cv['lgbm_default_roc_auc']:.3f}",
        f"{result.cv['baseline_roc_auc']:.3f} ({result.baseline_column})",
    )
    console.print(table)
    verdict = "champion" if run.promoted else "not promoted"
    console.print(f"{name} version {run.version}: {verdict}: {run.decision.reason}")
    if run.scored_with is None:
        fail(f"{name} has no champion, so `kindred predict score` cannot use it yet")
    console.print(
        f"`kindred predict score FILE --name {name} --out scores.csv` scores with version {run.scored_with}"
    )


@predict.command("score")
def score(
    file: Annotated[
        Path, typer.Argument(help="A CSV or Parquet table with the columns the model was trained on.")
    ],
    name: Annotated[str, typer.Option(help="The prediction-builder model to score with (its champion).")],
    out: Annotated[
        Path, typer.Option(help="Output file (.csv or .parquet): id, score, score_1_99, top_factors.")
    ],
) -> None:
    """Score every row of FILE with model NAME's champion."""
    from models.prediction_builder import score as score_table
    from models.table_plan import TableError

    if out.suffix.lower() not in (".csv", ".parquet"):
        fail(f"--out {out}: use a .csv or .parquet file name")
    try:
        with console.status(f"scoring {file} with {name}..."):
            scored = score_table(file, name=name)
    except TableError as error:
        fail(str(error))
    write_atomically(scored, out)
    console.print(f"{scored.height:,} rows scored with {name}, written to {out}")
