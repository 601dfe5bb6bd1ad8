"""The one estimator every Kindred model uses: preprocessing and LightGBM in a scikit-learn Pipeline.

Categorical features are ordinal-encoded (categories unseen in training become missing) and handed
to LightGBM as categorical; numeric features pass through, missing values stay missing (LightGBM
learns where they go). Probabilities are calibrated with Platt scaling
(`CalibratedClassifierCV(method="sigmoid", ensemble=False)`, folds grouped by profile): one
LightGBM fitted on all rows plus one sigmoid fitted on cross-validated predictions. Sigmoid rather
than isotonic because it keeps LightGBM's ranking (AUC and reasons stay the model's own), needs few
positives, and does not tie scores into steps; calibrating on the holdout instead would leave the
refitted scoring model uncalibrated.

How many trees: with `early_stopping`, a fifth of the people (or rows) is held out, boosting runs
until 50 more trees no longer lower their log loss (at most 1,000 trees), and the pipeline is then
fitted on every row with that many trees. Small data gets few trees and stays close to its
strongest features; large data gets as many as it supports. Lead score and churn risk score and
explain every profile on every run, and TreeSHAP reasons cost leaves x depth^2 per tree and person:
they also try learning rates 0.1 and 0.3 (`SCORING_CANDIDATES`) and keep the fewest trees whose
held-out log loss is within 1 % of the best (`SCORING_LOSS_TOLERANCE`), when the held-out fifth
holds at least 500 of each class (`MIN_CHOICE_CLASS_ROWS`).
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Sequence

import lightgbm
import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

SEED = 20240601
LGBM_PARAMS: dict[str, object] = {
    "n_estimators": 300,
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 30,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "cat_smooth": 10.0,
    "random_state": SEED,
    "n_jobs": 2,
    "verbose": -1,
}
CALIBRATION_FOLDS = 3
MAX_TREES = 1000
EARLY_STOPPING_ROUNDS = 50
# One group (person) in VALIDATION_BUCKETS is held out to choose the number of trees.
VALIDATION_BUCKETS = 5
# For the models that score and explain every profile on every run: learning rates early stopping
# tries, and a choice with fewer trees is kept when its held-out log loss is within 1 % of the best.
SCORING_CANDIDATES = ({"learning_rate": 0.03}, {"learning_rate": 0.1}, {"learning_rate": 0.3})
SCORING_LOSS_TOLERANCE = 0.01
# A held-out fifth with fewer rows of either class than this cannot tell candidates apart (a
# 500-person shop's churn model lost 0.04 ROC-AUC to a noisy choice): the given settings are kept.
MIN_CHOICE_CLASS_ROWS = 500


def _prepare(features: Sequence[str], categorical: Collection[str]) -> ColumnTransformer:
    categorical = [c for c in features if c in categorical]
    numeric = [c for c in features if c not in categorical]
    return ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
                ),
                categorical,
            ),
            ("numeric", "passthrough", numeric),
        ],
        verbose_feature_names_out=False,
    )


def _validation_rows(n: int, groups: np.ndarray | None) -> np.ndarray:
    """A stable fifth of the groups (or rows): the same person always falls on the same side."""
    keys = np.arange(n).astype(str) if groups is None else np.asarray(groups).astype(str)
    return np.array([zlib.crc32(key.encode()) % VALIDATION_BUCKETS == 0 for key in keys], dtype=bool)


def _early_stopped(
    fit: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    n_categorical: int,
    params: dict,
) -> tuple[int, float]:
    """Boost until the validation log loss stops falling: (trees, that log loss)."""
    classifier = LGBMClassifier(**{**LGBM_PARAMS, **params, "n_estimators": MAX_TREES})
    classifier.fit(
        *fit,
        eval_X=(validation[0],),
        eval_y=(validation[1],),
        eval_metric="binary_logloss",
        callbacks=[lightgbm.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
        categorical_feature=list(range(n_categorical)),
    )
    trees = max(1, int(classifier.best_iteration_ or MAX_TREES))
    return trees, float(classifier.best_score_["valid_0"]["binary_logloss"])


def choose_trees(
    x: pd.DataFrame,
    y: np.ndarray,
    categorical: Collection[str],
    *,
    groups: np.ndarray | None = None,
    params: dict | None = None,
    loss_tolerance: float = 0.0,
    candidates: Sequence[dict] = (),
) -> dict[str, object] | None:
    """The settings and number of boosting rounds the data supports, chosen on a held-out fifth of
    the people: early stopping at each candidate.

    Every tree costs again each time the model scores and explains a person, so among the
    candidates whose held-out log loss is within `loss_tolerance` (relative) of the best one, the
    one needing the fewest trees wins; with 0 the lowest loss wins.

    Args:
        x: features (from `model_input`).
        y: 0/1 labels.
        categorical: categorical feature names.
        groups: a group per row (the person); a group is wholly held out or wholly kept.
        params: LightGBM parameters over `LGBM_PARAMS` (their `n_estimators` is ignored); when
            they set `learning_rate`, it is kept and the candidates are not tried, as when the
            held-out fifth has fewer than `MIN_CHOICE_CLASS_ROWS` of either class.
        loss_tolerance: how much worse (relative) a choice with fewer trees may be.
        candidates: LightGBM settings to try over `params` (none: `params` alone).

    Returns:
        The chosen candidate's settings with `learning_rate` and `n_estimators`, or None when
        either side of the split lacks a class.
    """
    y = np.asarray(y, dtype=int)
    held_out = _validation_rows(len(y), groups)
    y_fit, y_val = y[~held_out], y[held_out]
    if min(y_fit.sum(), len(y_fit) - y_fit.sum(), y_val.sum(), len(y_val) - y_val.sum()) < 1:
        return None
    features = list(x.columns)
    prepare = _prepare(features, categorical).fit(x[~held_out])
    n_categorical = sum(1 for c in features if c in categorical)
    fit = (prepare.transform(x[~held_out]), y_fit)
    validation = (prepare.transform(x[held_out]), y_val)
    params = dict(params or {})
    if (
        not candidates
        or "learning_rate" in params
        or min(y_val.sum(), len(y_val) - y_val.sum()) < MIN_CHOICE_CLASS_ROWS
    ):
        candidates = [{}]
    tried = []
    for candidate in candidates:
        settings = {**params, **candidate}
        settings.setdefault("learning_rate", LGBM_PARAMS["learning_rate"])
        trees, loss = _early_stopped(fit, validation, n_categorical, settings)
        tried.append((trees, loss, {**candidate, "learning_rate": settings["learning_rate"]}))
    best = min(loss for _, loss, _ in tried)
    trees, _, chosen = min(
        (choice for choice in tried if choice[1] <= best * (1 + loss_tolerance)), key=lambda c: (c[0], c[1])
    )
    return {**chosen, "n_estimators": trees}


def held_out_loss(
    fit_x: pd.DataFrame,
    fit_y: np.ndarray,
    held_x: pd.DataFrame,
    held_y: np.ndarray,
    categorical: Collection[str],
    *,
    params: dict | None = None,
) -> tuple[int, float]:
    """Early stopping on given held-out rows, for comparing two sets of features on the same rows.

    Args:
        fit_x: features of the rows to fit (from `model_input`).
        fit_y: their 0/1 labels.
        held_x: features of the held-out rows, the same columns.
        held_y: their 0/1 labels (both classes present).
        categorical: categorical feature names.
        params: LightGBM parameters over `LGBM_PARAMS`.

    Returns:
        (trees, the held-out log loss at that many trees).
    """
    features = list(fit_x.columns)
    prepare = _prepare(features, categorical).fit(fit_x)
    n_categorical = sum(1 for c in features if c in categorical)
    return _early_stopped(
        (prepare.transform(fit_x), np.asarray(fit_y, dtype=int)),
        (prepare.transform(held_x), np.asarray(held_y, dtype=int)),
        n_categorical,
        dict(params or {}),
    )


def build_pipeline(
    features: Sequence[str],
    categorical: Collection[str],
    *,
    calibrate: bool,
    calibration_splits: list | None = None,
    params: dict | None = None,
) -> Pipeline:
    """An unfitted pipeline: encoding, then LightGBM (calibrated or not).

    Args:
        features: input columns.
        categorical: the categorical ones.
        calibrate: wrap LightGBM in Platt scaling.
        calibration_splits: (train, test) index pairs for the calibration folds.
        params: LightGBM parameters overriding `LGBM_PARAMS`.

    Returns:
        The pipeline, with steps `prepare` and `classify`.
    """
    prepare = _prepare(features, categorical)
    classifier = LGBMClassifier(**{**LGBM_PARAMS, **(params or {})})
    if calibrate:
        classifier = CalibratedClassifierCV(
            classifier, method="sigmoid", cv=calibration_splits or CALIBRATION_FOLDS, ensemble=False
        )
    return Pipeline([("prepare", prepare), ("classify", classifier)])


def _calibration_splits(x: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None) -> list:
    """Folds for the calibration curve, keeping each group (person) in one fold when the groups allow.

    Every training fold must hold both classes, so there are never more folds than groups holding
    a positive (or a negative); with a single such group, rows are folded without groups.
    """
    if groups is not None:
        groups = np.asarray(groups)
        n_splits = min(CALIBRATION_FOLDS, len(np.unique(groups[y == 1])), len(np.unique(groups[y == 0])))
        if n_splits >= 2:
            folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=SEED)
            return list(folds.split(x, y, groups))
    n_splits = max(2, int(min(CALIBRATION_FOLDS, y.sum(), len(y) - y.sum())))
    return list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=SEED).split(x, y))


def fit_pipeline(
    x: pd.DataFrame,
    y: np.ndarray,
    categorical: Collection[str],
    *,
    calibrate: bool,
    groups: np.ndarray | None = None,
    params: dict | None = None,
    early_stopping: bool = False,
    loss_tolerance: float = 0.0,
    candidates: Sequence[dict] = (),
) -> Pipeline:
    """Fit the pipeline once on a training frame.

    Args:
        x: features (from `model_input`).
        y: 0/1 labels.
        categorical: categorical feature names.
        calibrate: add Platt scaling (folds keep each group's rows together).
        groups: a group per row (the profile), so one person's cut-offs stay in one fold.
        params: LightGBM parameters overriding `LGBM_PARAMS`.
        early_stopping: choose the learning rate and number of trees with `choose_trees` first.
        loss_tolerance: with `early_stopping`, how much worse (relative) the held-out log loss of
            a choice with fewer trees may be (see `choose_trees`).
        candidates: with `early_stopping`, LightGBM settings to choose from (see `choose_trees`).

    Returns:
        The fitted pipeline.
    """
    y = np.asarray(y, dtype=int)
    if early_stopping:
        chosen = choose_trees(
            x,
            y,
            categorical,
            groups=groups,
            params=params,
            loss_tolerance=loss_tolerance,
            candidates=candidates,
        )
        if chosen is not None:
            params = {**(params or {}), **chosen}
    splits = None
    if calibrate:
        splits = _calibration_splits(x, y, groups)
    pipeline = build_pipeline(
        list(x.columns), categorical, calibrate=calibrate, calibration_splits=splits, params=params
    )
    n_categorical = sum(1 for c in x.columns if c in categorical)
    pipeline.fit(x, y, classify__categorical_feature=list(range(n_categorical)))
    return pipeline


def lightgbm_of(pipeline: Pipeline) -> LGBMClassifier:
    """The fitted LightGBM inside a pipeline, calibrated or not.

    Args:
        pipeline: a fitted pipeline from `fit_pipeline`.

    Returns:
        The LGBMClassifier that makes the raw predictions.
    """
    classify = pipeline.named_steps["classify"]
    if isinstance(classify, CalibratedClassifierCV):
        return classify.calibrated_classifiers_[0].estimator
    return classify


def lightgbm_settings(pipeline: Pipeline, params: dict | None = None) -> dict[str, object]:
    """The LightGBM settings a fitted pipeline uses, including early stopping's choices.

    Args:
        pipeline: a fitted pipeline from `fit_pipeline`.
        params: the parameters it was fitted with over `LGBM_PARAMS` (their names are reported too).

    Returns:
        The settings by name, for the model card and MLflow.
    """
    fitted = lightgbm_of(pipeline).get_params()
    names = [*LGBM_PARAMS, *(params or {})]
    return {name: fitted[name] for name in names if name in fitted}
