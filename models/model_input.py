"""What a model takes: exactly its features, in its order and types, from a polars frame.

Every Kindred model is a scikit-learn pipeline (`models.estimator`) whose first step prepares its
columns; these functions hand it a frame's features as it was trained on them, and refuse a frame
that lacks one rather than fill it in.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd
import polars as pl
from sklearn.pipeline import Pipeline


class MissingFeatureError(KeyError):
    """A frame to score lacks a feature the model was trained on."""

    def __str__(self) -> str:
        return str(self.args[0])


def _check_features(frame: pl.DataFrame, features: Sequence[str]) -> None:
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise MissingFeatureError(
            f"the frame lacks feature(s) {missing} that the model needs; compute them through its "
            "feature service rather than filling them in"
        )


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
    _check_features(frame, features)
    return frame.select(
        pl.col(name).cast(pl.String) if name in categorical else pl.col(name).cast(pl.Float64)
        for name in features
    ).to_pandas()


def numeric_matrix(frame: pl.DataFrame, features: Sequence[str]) -> np.ndarray:
    """An all-numeric model's features as one row-major float64 array (missing values NaN).

    It is what `model_input` and then the pipeline's `prepare` step (which passes numbers through)
    give such a model, without going through pandas (seconds at millions of rows).

    Args:
        frame: features (and anything else) per row.
        features: the model's feature names, none of them categorical.

    Returns:
        An array (rows, features) in `features`' order.

    Raises:
        MissingFeatureError: naming every feature the frame lacks; nothing is filled in.
    """
    _check_features(frame, features)
    return frame.select(pl.col(name).cast(pl.Float64) for name in features).to_numpy(order="c")


def pipeline_features(pipeline: Pipeline) -> tuple[list[str], list[str]]:
    """The features a fitted pipeline takes and which of them are categorical.

    Args:
        pipeline: a pipeline built by `models.estimator.build_pipeline` and fitted.

    Returns:
        (all feature names in input order, categorical feature names).
    """
    prepare = pipeline.named_steps["prepare"]
    categorical = [c for name, _, columns in prepare.transformers_ if name == "categorical" for c in columns]
    return list(pipeline.feature_names_in_), categorical
