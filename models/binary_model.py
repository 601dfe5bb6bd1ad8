"""Train, evaluate, register and score a yes/no model about people (lead conversion, churn).

The steps, for a run at `as_of` with horizon h:
1. population and label at each matured cut-off (monthly training cut-offs, the holdout at as_of - h);
2. point-in-time features for all of them through the model's feature service;
3. fit on the training cut-offs, measure on the holdout next to a plain baseline (bootstrap
   intervals, positive counts);
4. refit on every matured cut-off, log and register that pipeline in MLflow with its model card;
5. move the `champion` alias only if the new version beats its baseline and the champion on the
   same holdout by the margin (`models.promotion`);
6. score the population at as_of with the champion (`models:/<name>@champion`); with no champion
   (no version has beaten its baseline yet) nothing is scored.
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

from feature_store.materialise import features_for_scoring
from feature_store.point_in_time import feature_description, feature_type, training_set
from feature_store.vocabulary import FeatureService
from models import registry
from models.consent_filter import may_profile
from models.estimator import SCORING_CANDIDATES, SCORING_LOSS_TOLERANCE, fit_pipeline, lightgbm_settings
from models.evaluation import binary_figures
from models.explanations import feature_importance, top_factors
from models.model_card import CardFacts
from models.model_input import model_input, pipeline_features
from models.model_run import ModelRun
from models.promotion import Holdout
from models.score_tables import score_1_99, write_predictions
from models.timing import step
from models.training_run import begin_run, plan_cutoffs, register_and_gate, training_window
from warehouse.consent_config import ConsentConfig

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
        question: what the score answers, for the model card.
        population: (con, cut-offs, horizon_days) -> `profile_id, as_of, label` for the people in
            the population at each cut-off; with horizon 0 it gives the population to score.
        history_start: the earliest fact the population depends on (None when there is none).
        thin_data: a reason to skip before anything else, or None.
        baseline: the baseline's name.
        baseline_scores: (training frame, holdout frame) -> a score per holdout row.
        baseline_is_probability: whether those scores are probabilities (Brier is reported).
        add_features: (con, frame with `profile_id, as_of` and the service's features,
            horizon_days) -> the frame with model-specific features added, computed from facts
            before each row's as_of only (e.g. a BG/NBD fit per cut-off); None for none.
        extra_features: names and descriptions of the features `add_features` adds that the
            model learns from.
        lgbm_params: LightGBM settings of this model, over `models.estimator.LGBM_PARAMS`.
        tree_candidates: learning rates to choose among for the fewest trees (`choose_trees`);
            empty for the default rate alone.
        classic: a classic model shown beside the model and its baseline on the same holdout
            (BG/NBD for churn), not part of the promotion gate; None for none.
        classic_scores: (training frame, holdout frame) -> the classic model's probability per
            holdout row.
    """

    name: str
    service: FeatureService
    positive: str
    question: str
    population: Callable[[duckdb.DuckDBPyConnection, list[datetime], int], pl.DataFrame]
    history_start: Callable[[duckdb.DuckDBPyConnection], datetime | None]
    thin_data: Callable[[duckdb.DuckDBPyConnection], str | None]
    baseline: str
    baseline_scores: Callable[[pl.DataFrame, pl.DataFrame], np.ndarray]
    baseline_is_probability: bool
    add_features: Callable[[duckdb.DuckDBPyConnection, pl.DataFrame, int], pl.DataFrame] | None = None
    extra_features: tuple[tuple[str, str], ...] = ()
    lgbm_params: dict | None = None
    tree_candidates: tuple[dict, ...] = SCORING_CANDIDATES
    classic: str | None = None
    classic_scores: Callable[[pl.DataFrame, pl.DataFrame], np.ndarray] | None = None

    @property
    def features(self) -> list[str]:
        """Every feature the model learns from: the service's, then the extra ones."""
        return [*self.service.features, *(name for name, _ in self.extra_features)]

    def describe(self, feature: str) -> str:
        """A feature's description for the model card."""
        extra = dict(self.extra_features)
        return extra[feature] if feature in extra else feature_description(feature)

    def frame(self, con: duckdb.DuckDBPyConnection, spine: pl.DataFrame, horizon_days: int) -> pl.DataFrame:
        """The spine with the model's features, point-in-time correct."""
        frame = training_set(con, spine, self.service)
        return self.add_features(con, frame, horizon_days) if self.add_features else frame


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
    *,
    horizon_days: int,
    seconds: dict[str, float] | None = None,
) -> tuple[int, str, int]:
    """Score everyone in the model's population at as_of with the champion; write `scores.predictions`.

    People who may not be profiled (consent) are left out: they get no prediction.

    Args:
        con: warehouse connection.
        spec: the model.
        as_of: features use facts strictly before it.
        consent: the `consent:` settings (None: the defaults).
        horizon_days: the label window the scores predict.
        seconds: when given, filled with the seconds spent on `features`, `scoring`, `reasons`
            and `writes`.

    Returns:
        (profiles scored, the champion version that scored them, profiles left out for consent).

    Raises:
        MissingFeatureError: when the champion needs a feature the feature service no longer computes.
        LookupError: when the model has no champion.
    """
    model, version = registry.load_champion(spec.name)
    features, categorical = pipeline_features(model)
    with step(seconds, "features"):
        population, withheld = may_profile(con, spec.population(con, [as_of], 0).drop("label"), consent)
        # The run's profile features, when built at this as_of from the same inputs, are read
        # rather than computed again (`feature_store.materialise`): the same values.
        frame = features_for_scoring(con, population, spec.service)
        if spec.add_features:
            frame = spec.add_features(con, frame, horizon_days)
        x = model_input(frame, features, categorical)
    with step(seconds, "scoring"):
        # Encoded once: the scores and the reasons read the same encoded rows.
        encoded = model.named_steps["prepare"].transform(x) if frame.height else None
        scores = (
            model.named_steps["classify"].predict_proba(encoded)[:, 1]
            if frame.height
            else np.array([], dtype=float)
        )
    with step(seconds, "reasons"):
        reasons = top_factors(model, x, encoded=encoded) if frame.height else []
    with step(seconds, "writes"):
        predictions = (
            frame.select("profile_id")
            .with_columns(
                model=pl.lit(spec.name),
                model_version=pl.lit(version),
                as_of=pl.lit(as_of).cast(pl.Datetime("us")),
                score=pl.Series(scores, dtype=pl.Float64),
                top_factors=pl.Series(reasons, dtype=pl.String),
                scored_at=pl.lit(datetime.now()).cast(pl.Datetime("us")),
            )
            .with_columns(score_1_99=score_1_99(pl.col("score")))
        )
        written = write_predictions(con, spec.name, predictions)
    return written, version, withheld


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
    frame = spec.frame(con, pl.concat([train_spine, holdout_spine]), horizon_days)
    log.info(
        "%s: features of %d examples at %d cut-offs in %.1f s",
        spec.name,
        frame.height,
        len(cutoffs) + 1,
        time.perf_counter() - started,
    )
    train = frame.filter(pl.col("as_of") != holdout_at)
    holdout = frame.filter(pl.col("as_of") == holdout_at)
    features = spec.features
    categorical = _categorical(spec.service)
    run.n_train, run.n_holdout = train.height, holdout.height
    run.n_train_positive, run.n_holdout_positive = positives, hold_positives
    params = {**(spec.lgbm_params or {}), **(lgbm_params or {})}

    started = time.perf_counter()
    evaluated = fit_pipeline(
        model_input(train, features, categorical),
        train["label"].to_numpy(),
        categorical,
        calibrate=True,
        groups=train["profile_id"].to_numpy(),
        params=params,
        early_stopping=True,
        loss_tolerance=SCORING_LOSS_TOLERANCE,
        candidates=spec.tree_candidates,
    )
    x_holdout = model_input(holdout, features, categorical)
    y_holdout = holdout["label"].to_numpy()
    p_holdout = evaluated.predict_proba(x_holdout)[:, 1]
    baseline_holdout = np.asarray(spec.baseline_scores(train, holdout), dtype=float)
    run.figures = binary_figures(y_holdout, p_holdout)
    run.baseline = spec.baseline
    run.baseline_figures = binary_figures(
        y_holdout, baseline_holdout, probability=spec.baseline_is_probability
    )
    classic_holdout = None
    if spec.classic and spec.classic_scores:
        classic_holdout = np.asarray(spec.classic_scores(train, holdout), dtype=float)
        run.classic = spec.classic
        run.classic_figures = binary_figures(y_holdout, classic_holdout)

    final = fit_pipeline(
        model_input(frame, features, categorical),
        frame["label"].to_numpy(),
        categorical,
        calibrate=True,
        groups=frame["profile_id"].to_numpy(),
        params=params,
        early_stopping=True,
        loss_tolerance=SCORING_LOSS_TOLERANCE,
        candidates=spec.tree_candidates,
    )
    log.info("%s: evaluated and refitted in %.1f s", spec.name, time.perf_counter() - started)

    def evaluate(model: Pipeline) -> np.ndarray:
        names, categories = pipeline_features(model)
        return model.predict_proba(model_input(holdout, names, categories))[:, 1]

    holdout_description = f"cutoff={holdout_at.isoformat()} horizon_days={horizon_days}"
    register_and_gate(
        con,
        run,
        final,
        holdout=Holdout(
            description=holdout_description,
            metric=PRIMARY_METRIC,
            statistic=PRIMARY_METRIC,
            units=holdout["profile_id"].to_numpy(),
            labels=y_holdout,
            candidate=p_holdout,
            baseline=baseline_holdout,
            baseline_name=spec.baseline,
        ),
        evaluate=evaluate,
        card=CardFacts(
            model=spec.name,
            question=f"{spec.question} Scores are calibrated probabilities for the {horizon_days} days after "
            f"the scoring date; this version was trained as of {run.as_of.date()}.",
            training=training_window(cutoffs, holdout_at, horizon_days),
            holdout=f"the population at cut-off {holdout_at.date()}, labels from the {horizon_days} days after it",
            n_train=run.n_train,
            n_train_positive=run.n_train_positive,
            n_holdout=run.n_holdout,
            n_holdout_positive=run.n_holdout_positive,
            figures=run.figures,
            baseline=spec.baseline,
            baseline_figures=run.baseline_figures,
            labels=y_holdout,
            scores=p_holdout,
            baseline_scores=baseline_holdout,
            probability=True,
            classic=spec.classic,
            classic_figures=run.classic_figures,
            classic_scores=classic_holdout,
            features=[(name, share, spec.describe(name)) for name, share in feature_importance(final)],
            settings={
                "feature service": f"{spec.service.name} ({len(features)} features)",
                "LightGBM": lightgbm_settings(final, params),
                "calibration": "sigmoid (Platt), folds grouped by person",
            },
        ),
        input_example=x_holdout.head(5),
        params={
            **params,
            **lightgbm_settings(final),
            "training_cutoffs": ",".join(c.date().isoformat() for c in cutoffs),
            "holdout_cutoff": holdout_at.date().isoformat(),
            "feature_service": spec.service.name,
            "features": ",".join(features),
            "calibration": "sigmoid (CalibratedClassifierCV, folds grouped by profile)",
        },
        tags={"feature_service": spec.service.name},
    )
    if registry.champion(spec.name) is None:
        log.warning("%s: no version has beaten its baseline yet; nothing scored", spec.name)
        return run
    run.n_scored, run.scored_with, run.withheld_for_consent = score_population(
        con, spec, run.as_of, consent, horizon_days=horizon_days
    )
    return run
