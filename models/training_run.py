"""The steps every model's run shares: as_of and cut-offs (or why not), then gate, register and record."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import polars as pl
from sklearn.pipeline import Pipeline

from models import registry
from models.estimator import LGBM_PARAMS
from models.model_card import CardFacts, headline, render
from models.model_run import ModelRun
from models.promotion import Holdout, gate
from models.score_tables import append_model_metrics, ensure_score_tables
from models.timeline import holdout_cutoff, resolve_as_of, training_cutoffs

log = logging.getLogger(__name__)
# MLflow keeps tag values up to 5,000 characters; the gate's reason is kept well below.
_REASON_LIMIT = 1000


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


def training_window(cutoffs: list[datetime], holdout_at: datetime, horizon_days: int) -> list[str]:
    """The card's lines about the cut-offs a model learned from.

    Args:
        cutoffs: training cut-offs (newest first).
        holdout_at: the holdout cut-off.
        horizon_days: the label window's length.

    Returns:
        Lines for `CardFacts.training`.
    """
    oldest, newest = min(cutoffs), max(cutoffs)
    return [
        f"{len(cutoffs)} training cut-offs, monthly from {oldest.date()} to {newest.date()}; each example "
        f"uses facts before its cut-off and its label from the {horizon_days} days after it",
        f"training labels end by {(newest + timedelta(days=horizon_days)).date()}; the holdout's start at "
        f"its cut-off {holdout_at.date()}",
        "the version that scores is refitted on the training and holdout cut-offs together",
    ]


def register_and_gate(
    con: duckdb.DuckDBPyConnection | None,
    run: ModelRun,
    pipeline: Pipeline,
    *,
    holdout: Holdout,
    evaluate: Callable[[Pipeline], np.ndarray],
    card: CardFacts,
    input_example,
    params: dict[str, object],
    tags: dict[str, str],
    extra: dict[str, str] | None = None,
) -> None:
    """Judge the candidate, log and register it with its card, move `champion` if it won, record figures.

    Args:
        con: warehouse connection (for `scores.model_metrics`); None for models without a
            warehouse (the prediction builder).
        run: the run, with its figures; gets `version`, `promoted`, `decision` and `card`.
        pipeline: the refitted pipeline that scores if promoted.
        holdout: the holdout rows with the candidate's (pre-refit) and the baseline's scores.
        evaluate: another pipeline's scores on the same holdout rows, for the champion.
        card: the card's facts.
        input_example: a few input rows (pandas) for MLflow.
        params: run-specific parameters, logged next to the LightGBM settings.
        tags: extra version tags; settings that must match for two versions to be compared.
        extra: more text artifacts to log with the version (file name -> text).
    """
    decision = gate(run.model, holdout, evaluate=evaluate, must_match=tags)
    markdown, plots = render(card, decision)
    summary = headline(card, decision)
    primary = holdout.metric
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
        metrics={
            **run.metrics,
            **{f"{k}_lower": f.lower for k, f in run.figures.items()},
            **{f"{k}_upper": f.upper for k, f in run.figures.items()},
            **{f"baseline_{k}": v for k, v in run.baseline_metrics.items()},
            **{f"classic_{k}": f.value for k, f in run.classic_figures.items()},
            "n_holdout_positive": run.n_holdout_positive,
            "n_train_positive": run.n_train_positive,
        },
        tags={
            **tags,
            "as_of": run.as_of.isoformat() if run.as_of else "",
            "holdout": holdout.description,
            f"holdout_{primary}": repr(run.figures[primary].value) if primary in run.figures else "",
            "promotion": "promoted" if decision.promote else "not promoted",
            "promotion_reason": decision.reason[:_REASON_LIMIT],
        },
        artifacts=registry.VersionArtifacts(
            card=markdown,
            plots=plots,
            holdout=pl.DataFrame(
                {
                    "unit": pl.Series(holdout.units.astype(str), dtype=pl.String),
                    "label": pl.Series(holdout.labels, dtype=pl.Int8),
                    "score": pl.Series(holdout.candidate, dtype=pl.Float64),
                    "baseline": pl.Series(holdout.baseline, dtype=pl.Float64),
                }
            ),
            summary=summary,
            texts=extra or {},
        ),
    )
    if decision.promote:
        registry.promote(run.model, run.version)
    run.promoted = decision.promote
    run.decision = decision
    run.card = markdown
    log.info("%s version %s: %s", run.model, run.version, decision.reason)
    if con is not None:
        append_model_metrics(con, metrics_rows(run))


def metrics_rows(run: ModelRun) -> pl.DataFrame:
    """One `scores.model_metrics` row per holdout figure of a registered run.

    Args:
        run: a run that registered a version.

    Returns:
        The rows, with intervals, counts and the gate's verdict.
    """
    names = list(run.figures)

    def baseline(attribute: str, figures: dict | None = None) -> list[float | None]:
        figures = run.baseline_figures if figures is None else figures
        return [getattr(figures[n], attribute) if n in figures else None for n in names]

    return pl.DataFrame(
        {
            "model": run.model,
            "model_version": run.version,
            "as_of": run.as_of,
            "metric": names,
            "value": [run.figures[n].value for n in names],
            "lower": [run.figures[n].lower for n in names],
            "upper": [run.figures[n].upper for n in names],
            "baseline": run.baseline,
            "baseline_value": baseline("value"),
            "baseline_lower": baseline("lower"),
            "baseline_upper": baseline("upper"),
            "classic": run.classic,
            "classic_value": baseline("value", run.classic_figures),
            "classic_lower": baseline("lower", run.classic_figures),
            "classic_upper": baseline("upper", run.classic_figures),
            "n_train": run.n_train,
            "n_train_positive": run.n_train_positive,
            "n_holdout": run.n_holdout,
            "n_holdout_positive": run.n_holdout_positive,
            "promoted": run.promoted,
            "decision": run.decision.reason if run.decision else None,
        },
        schema_overrides={
            "baseline_value": pl.Float64,
            "baseline_lower": pl.Float64,
            "baseline_upper": pl.Float64,
            "classic": pl.String,
            "classic_value": pl.Float64,
            "classic_lower": pl.Float64,
            "classic_upper": pl.Float64,
            "as_of": pl.Datetime("us"),
        },
    )
