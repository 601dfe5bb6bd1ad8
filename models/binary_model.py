"""Train, evaluate, register and score a yes/no model about people (lead conversion, churn).

The steps, for a run at `as_of` with horizon h:
1. population and label at each matured cut-off (monthly training cut-offs, the holdout at as_of - h);
2. point-in-time features for all of them through the model's feature service;
3. fit on the training cut-offs, measure on the holdout next to a plain baseline;
4. refit on every matured cut-off, log and register that pipeline in MLflow;
5. move the `champion` alias only if the new version beats the champion on the same holdout;
6. score the population at as_of with the champion (`models:/<name>@champion`).
Thin data never crashes a run: the run is skipped with the reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import numpy as np
import polars as pl
from sklearn.pipeline import Pipeline

from feature_store.point_in_time import feature_type, training_set
from feature_store.vocabulary import FeatureService
from models import registry
from models.consent_filter import may_profile
from models.estimator import fit_pipeline, model_input, pipeline_features
from models.evaluation import binary_metrics
from models.explanations import top_factors
from models.model_run import ModelRun
from models.score_tables import score_1_99, write_predictions
from models.training_run import begin_run, plan_cutoffs, register_and_gate
from warehouse.config import ConsentConfig

log = logging.getLogger(__name__)

MIN_CLASS_ROWS = 5
MAX_TRAINING_ROWS = 300_000
MAX_HOLDOUT_ROWS = 200_000
PRIMARY_METRIC = "roc_auc"


@dataclass(frozen=True)
class BinaryModelSpec:
    """What differs between the yes/no models.

    Attributes:
        name: model name (MLflow experiment, registered model, `scores.predictions.model`).
        service: the feature service.
        positive: what a positive label means, for messages ("converted", "churned").
        population: (con, cut-offs, horizon_days) -> `profile_id, as_of, label` for the people in
            the population at each cut-off; with horizon 0 it gives the population to score.
        history_start: the earliest fact the population depends on (None when there is none).
        thin_data: a reason to skip before anything else, or None.
        baseline: the baseline's name.
        baseline_scores: (training frame, holdout frame) -> a score per holdout row.
        baseline_is_probability: whether those scores are probabilities (Brier is reported).
    """

    name: str
    service: FeatureService
    positive: str
    population: Callable[[duckdb.DuckDBPyConnection, list[datetime], int], pl.DataFrame]
    history_start: Callable[[duckdb.DuckDBPyConnection], datetime | None]
    thin_data: Callable[[duckdb.DuckDBPyConnection], str | None]
    baseline: str
    baseline_scores: Callable[[pl.DataFrame, pl.DataFrame], np.ndarray]
    baseline_is_probability: bool


def _categorical(service: FeatureService) -> list[str]:
    return [name for name in service.features if feature_type(name) == "categorical"]


def _sample(frame: pl.DataFrame, limit: int) -> pl.DataFrame:
    if frame.height <= limit:
        return frame
    return frame.sample(n=limit, seed=7).sort("as_of", "profile_id")


def _class_counts(frame: pl.DataFrame) -> tuple[int, int]:
    positives = int(frame["label"].sum()) if frame.height else 0
    return positives, frame.height - positives


def score_population(
    con: duckdb.DuckDBPyConnection,
    spec: BinaryModelSpec,
    as_of: datetime,
    consent: ConsentConfig | None = None,
) -> tuple[int, str, int]:
    """Score everyone in the model's population at as_of with the champion; write `scores.predictions`.

    People who may not be profiled (consent) are left out: they get no prediction.

    Args:
        con: warehouse connection.
        spec: the model.
        as_of: features use facts strictly before it.
        consent: the `consent:` settings (None: the defaults).

    Returns:
        (profiles scored, the champion version that scored them, profiles left out for consent).

    Raises:
        MissingFeatureError: when the champion needs a feature the feature service no longer computes.
    """
    model, version = registry.load_champion(spec.name)
    features, categorical = pipeline_features(model)
    population, withheld = may_profile(con, spec.population(con, [as_of], 0).drop("label"), consent)
    frame = training_set(con, population, spec.service)
    x = model_input(frame, features, categorical)
    scores = model.predict_proba(x)[:, 1] if frame.height else np.array([], dtype=float)
    predictions = (
        frame.select("profile_id")
        .with_columns(
            model=pl.lit(spec.name),
            model_version=pl.lit(version),
            as_of=pl.lit(as_of).cast(pl.Datetime("us")),
            score=pl.Series(scores, dtype=pl.Float64),
            top_factors=pl.Series(top_factors(model, x) if frame.height else [], dtype=pl.String),
            scored_at=pl.lit(datetime.now()).cast(pl.Datetime("us")),
        )
        .with_columns(score_1_99=score_1_99(pl.col("score")))
    )
    return write_predictions(con, spec.name, predictions), version, withheld


def train_and_score_binary(
    con: duckdb.DuckDBPyConnection,
    spec: BinaryModelSpec,
    *,
    as_of: date | datetime | None,
    horizon_days: int,
    lgbm_params: dict | None = None,
    consent: ConsentConfig | None = None,
) -> ModelRun:
    """Run the whole train-evaluate-register-score cycle for one yes/no model.

    Args:
        con: warehouse connection holding `staging.*` and `identity.record_xref`.
        spec: the model.
        as_of: the run sees facts strictly before it; None means midnight after the latest fact.
        horizon_days: the label window's length; scores predict [as_of, as_of + horizon).
        lgbm_params: LightGBM parameters overriding `models.estimator.LGBM_PARAMS`.
        consent: the `consent:` settings; people who may not be profiled are neither learnt
            from nor scored (None: the defaults).

    Returns:
        What happened, including `skipped` with a reason when the data does not allow training.
    """
    run = begin_run(con, spec.name, as_of, horizon_days)
    if run.skipped:
        return run
    run.skipped = spec.thin_data(con)
    if run.skipped:
        return run
    cutoffs, holdout_at = plan_cutoffs(run, spec.history_start(con), "the data")
    if run.skipped:
        return run

    # An objection to profiling covers learning from the person too, not only scoring them.
    spine, _ = may_profile(con, spec.population(con, [*cutoffs, holdout_at], horizon_days), consent)
    train_spine = _sample(spine.filter(pl.col("as_of") != holdout_at), MAX_TRAINING_ROWS)
    holdout_spine = _sample(spine.filter(pl.col("as_of") == holdout_at), MAX_HOLDOUT_ROWS)
    positives, negatives = _class_counts(train_spine)
    if min(positives, negatives) < MIN_CLASS_ROWS:
        run.skipped = (
            f"too few labels to learn from: {positives} {spec.positive} and {negatives} not in the "
            f"training cut-offs; need at least {MIN_CLASS_ROWS} of each"
        )
        return run
    hold_positives, hold_negatives = _class_counts(holdout_spine)
    if min(hold_positives, hold_negatives) < 1:
        run.skipped = (
            f"the holdout cut-off {holdout_at.date()} has {hold_positives} {spec.positive} and "
            f"{hold_negatives} not; it needs both to evaluate the model"
        )
        return run

    started = time.perf_counter()
    frame = training_set(con, pl.concat([train_spine, holdout_spine]), spec.service)
    log.info(
        "%s: features of %d examples at %d cut-offs in %.1f s",
        spec.name,
        frame.height,
        len(cutoffs) + 1,
        time.perf_counter() - started,
    )
    train = frame.filter(pl.col("as_of") != holdout_at)
    holdout = frame.filter(pl.col("as_of") == holdout_at)
    features = list(spec.service.features)
    categorical = _categorical(spec.service)
    run.n_train, run.n_holdout = train.height, holdout.height

    started = time.perf_counter()
    evaluated = fit_pipeline(
        model_input(train, features, categorical),
        train["label"].to_numpy(),
        categorical,
        calibrate=True,
        groups=train["profile_id"].to_numpy(),
        params=lgbm_params,
    )
    x_holdout = model_input(holdout, features, categorical)
    y_holdout = holdout["label"].to_numpy()
    run.metrics = binary_metrics(y_holdout, evaluated.predict_proba(x_holdout)[:, 1])
    run.baseline = spec.baseline
    run.baseline_metrics = binary_metrics(
        y_holdout, spec.baseline_scores(train, holdout), probability=spec.baseline_is_probability
    )

    final = fit_pipeline(
        model_input(frame, features, categorical),
        frame["label"].to_numpy(),
        categorical,
        calibrate=True,
        groups=frame["profile_id"].to_numpy(),
        params=lgbm_params,
    )
    log.info("%s: evaluated and refitted in %.1f s", spec.name, time.perf_counter() - started)

    def evaluate(model: Pipeline) -> float:
        names, categories = pipeline_features(model)
        scores = model.predict_proba(model_input(holdout, names, categories))[:, 1]
        return binary_metrics(y_holdout, scores)[PRIMARY_METRIC]

    register_and_gate(
        con,
        run,
        final,
        primary=PRIMARY_METRIC,
        evaluate=evaluate,
        input_example=x_holdout.head(5),
        holdout=f"cutoff={holdout_at.isoformat()} horizon_days={horizon_days}",
        params={
            **(lgbm_params or {}),
            "training_cutoffs": ",".join(c.date().isoformat() for c in cutoffs),
            "holdout_cutoff": holdout_at.date().isoformat(),
            "feature_service": spec.service.name,
            "features": ",".join(features),
            "calibration": "sigmoid (CalibratedClassifierCV, folds grouped by profile)",
        },
        tags={"feature_service": spec.service.name},
    )
    run.n_scored, run.scored_with, run.withheld_for_consent = score_population(con, spec, run.as_of, consent)
    return run
