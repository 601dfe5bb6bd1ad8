"""The one estimator every Kindred model uses: preprocessing and LightGBM in a scikit-learn Pipeline.

Categorical features are ordinal-encoded (categories unseen in training become missing) and handed
to LightGBM as categorical; numeric features pass through, missing values stay missing (LightGBM
learns where they go). Probabilities are calibrated with Platt scaling
(`CalibratedClassifierCV(method="sigmoid", ensemble=False)`, folds grouped by profile): one
LightGBM fitted on all rows plus one sigmoid fitted on cross-validated predictions. Sigmoid rather
than isotonic because it keeps LightGBM's ranking (AUC and reasons stay the model's own), needs few
positives, and does not tie scores into steps; calibrating on the holdout instead would leave the
refitted scoring model uncalibrated.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd
import polars as pl
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


class MissingFeatureError(KeyError):
    """A frame to score lacks a feature the model was trained on."""

    def __str__(self) -> str:
        return str(self.args[0])


def model_input(frame: pl.DataFrame, features: Sequence[str], categorical: Collection[str]) -> pd.DataFrame:
    """Exactly a model's features, in its order and types, as the pandas frame the pipeline takes.

    Args:
        frame: features (and anything else) per row.
        features: the model's feature names.
        categorical: which of them are categorical (strings); the rest become floats.

    Returns:
        A pandas frame with only `features`.

    Raises:
        MissingFeatureError: naming every feature the frame lacks; nothing is filled in.
    """
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise MissingFeatureError(
            f"the frame lacks feature(s) {missing} that the model needs; compute them through its "
            "feature service rather than filling them in"
        )
    return frame.select(
        pl.col(name).cast(pl.String) if name in categorical else pl.col(name).cast(pl.Float64)
        for name in features
    ).to_pandas()


def pipeline_features(pipeline: Pipeline) -> tuple[list[str], list[str]]:
    """The features a fitted pipeline takes and which of them are categorical.

    Args:
        pipeline: a pipeline built by `build_pipeline` and fitted.

    Returns:
        (all feature names in input order, categorical feature names).
    """
    prepare = pipeline.named_steps["prepare"]
    categorical = [c for name, _, columns in prepare.transformers_ if name == "categorical" for c in columns]
    return list(pipeline.feature_names_in_), categorical


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
    categorical = [c for c in features if c in categorical]
    numeric = [c for c in features if c not in categorical]
    prepare = ColumnTransformer(
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
) -> Pipeline:
    """Fit the pipeline once on a training frame.

    Args:
        x: features (from `model_input`).
        y: 0/1 labels.
        categorical: categorical feature names.
        calibrate: add Platt scaling (folds keep each group's rows together).
        groups: a group per row (the profile), so one person's cut-offs stay in one fold.
        params: LightGBM parameters overriding `LGBM_PARAMS`.

    Returns:
        The fitted pipeline.
    """
    y = np.asarray(y, dtype=int)
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
