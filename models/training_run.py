"""The steps every model's run shares: as_of and cut-offs (or why not), then register, gate and record."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

import duckdb
import polars as pl
from sklearn.pipeline import Pipeline

from models import registry
from models.estimator import LGBM_PARAMS
from models.model_run import ModelRun
from models.promotion import challenge
from models.score_tables import append_model_metrics, ensure_score_tables
from models.timeline import holdout_cutoff, resolve_as_of, training_cutoffs

log = logging.getLogger(__name__)


def begin_run(
    con: duckdb.DuckDBPyConnection, model: str, as_of: date | datetime | None, horizon_days: int
) -> ModelRun:
    """Start a run: check the horizon, make sure the score tables exist, settle as_of.

    Args:
        con: warehouse connection.
        model: the model's name.
        as_of: the caller's as_of, or None for midnight after the latest fact.
        horizon_days: the label window's length.

    Returns:
        A run, already `skipped` when staging holds nothing to date it by.
    """
    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be a positive number of days, got {horizon_days}")
    ensure_score_tables(con)
    resolved = resolve_as_of(con, as_of)
    run = ModelRun(model, resolved, horizon_days)
    if resolved is None:
        run.skipped = "staging holds no timestamped data yet"
    return run


def plan_cutoffs(run: ModelRun, history_start: datetime | None, what: str) -> tuple[list[datetime], datetime]:
    """The training cut-offs and the holdout cut-off of a run; marks the run skipped when there are none.

    Args:
        run: a run with its as_of settled.
        history_start: the earliest fact the model's population depends on.
        what: what that fact is, for the message ("the data", "orders").

    Returns:
        (training cut-offs, newest first; the holdout cut-off). Empty training cut-offs mean skip.
    """
    cutoffs = training_cutoffs(run.as_of, run.horizon_days, history_start=history_start)
    if not cutoffs:
        first = (run.as_of - timedelta(days=2 * run.horizon_days)).date()
        start = history_start.date() if history_start else "nowhere"
        run.skipped = (
            f"not enough history: with a {run.horizon_days}-day horizon the first training cut-off is "
            f"{first}, but {what} starts {start}"
        )
    return cutoffs, holdout_cutoff(run.as_of, run.horizon_days)


def register_and_gate(
    con: duckdb.DuckDBPyConnection,
    run: ModelRun,
    pipeline: Pipeline,
    *,
    primary: str,
    holdout: str,
    evaluate: Callable[[Pipeline], float],
    input_example,
    params: dict[str, object],
    tags: dict[str, str],
) -> None:
    """Log and register the refitted pipeline, move `champion` if it wins, record the holdout figures.

    Args:
        con: warehouse connection (for `scores.model_metrics`).
        run: the run, with its metrics and baseline metrics; gets `version` and `promoted`.
        pipeline: the pipeline that will score if promoted.
        primary: the metric the gate compares (higher is better).
        holdout: a description of the holdout; equal descriptions mean the same holdout.
        evaluate: the champion's figure on this holdout, for `promotion.challenge`.
        input_example: a few input rows (pandas) for MLflow.
        params: run-specific parameters, logged next to the LightGBM settings.
        tags: extra version tags; settings that must match for two versions to be compared.
    """
    promote, why = challenge(
        run.model,
        metric_name=primary,
        metric=run.metrics[primary],
        holdout=holdout,
        evaluate=evaluate,
        must_match=tags,
    )
    run.version = registry.log_version(
        run.model,
        pipeline,
        input_example=input_example,
        params={
            **LGBM_PARAMS,
            **params,
            "horizon_days": run.horizon_days,
            "n_train": run.n_train,
            "n_holdout": run.n_holdout,
        },
        metrics={**run.metrics, **{f"baseline_{k}": v for k, v in run.baseline_metrics.items()}},
        tags={
            **tags,
            "as_of": run.as_of.isoformat(),
            "holdout": holdout,
            f"holdout_{primary}": repr(run.metrics[primary]),
        },
    )
    if promote:
        registry.promote(run.model, run.version)
    run.promoted = promote
    log.info("%s version %s: %s", run.model, run.version, why)
    append_model_metrics(
        con,
        pl.DataFrame(
            {
                "model": run.model,
                "model_version": run.version,
                "as_of": run.as_of,
                "metric": list(run.metrics),
                "value": list(run.metrics.values()),
                "baseline": run.baseline,
                "baseline_value": [run.baseline_metrics.get(m) for m in run.metrics],
                "n_train": run.n_train,
                "n_holdout": run.n_holdout,
            },
            schema_overrides={"baseline_value": pl.Float64, "as_of": pl.Datetime("us")},
        ),
    )
