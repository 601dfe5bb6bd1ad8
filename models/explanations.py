"""Why a person got their score: LightGBM's per-feature contributions (`pred_contrib=True`).

Contributions are SHAP values in the model's log-odds space, computed on the encoded features;
encoding is one column per feature, so each maps straight back to the feature's name. The value
shown is the feature's input value (the category text, not its code).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from models.estimator import lightgbm_of

TOP_FACTORS = 5


def _plain(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else round(float(value), 4)
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if value is pd.NA:
        return None
    return value


def contributions(pipeline: Pipeline, x: pd.DataFrame) -> pd.DataFrame:
    """Each feature's contribution to each row's raw score.

    Args:
        pipeline: a fitted pipeline from `models.estimator.fit_pipeline`.
        x: the rows, as given to the pipeline.

    Returns:
        A frame with one column per input feature (log-odds contributions), rows aligned with `x`.
    """
    prepare = pipeline.named_steps["prepare"]
    encoded = prepare.transform(x)
    raw = lightgbm_of(pipeline).predict_proba(encoded, pred_contrib=True)
    names = list(prepare.get_feature_names_out())
    # The last column is the expected value (bias), not a feature.
    return pd.DataFrame(raw[:, : len(names)], columns=names, index=x.index)[list(x.columns)]


def top_factors(pipeline: Pipeline, x: pd.DataFrame, n: int = TOP_FACTORS) -> list[str]:
    """The strongest reasons behind each row's score, as JSON.

    Args:
        pipeline: a fitted pipeline from `models.estimator.fit_pipeline`.
        x: the rows, as given to the pipeline.
        n: how many factors per row.

    Returns:
        One JSON list per row of `{feature, value, contribution}`, largest |contribution| first;
        features that did not move the score are left out.
    """
    contrib = contributions(pipeline, x)
    values = contrib.to_numpy()
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :n]
    names = list(contrib.columns)
    inputs = x.to_numpy(dtype=object)
    factors = []
    for row in range(len(x)):
        items = []
        for column in order[row]:
            contribution = float(values[row, column])
            if contribution == 0.0:
                continue
            items.append(
                {
                    "feature": names[column],
                    "value": _plain(inputs[row, column]),
                    "contribution": round(contribution, 4),
                }
            )
        factors.append(json.dumps(items))
    return factors


def feature_importance(pipeline: Pipeline) -> list[tuple[str, float]]:
    """Each input feature's share of the LightGBM model's total split gain, largest first.

    Args:
        pipeline: a fitted pipeline from `models.estimator.fit_pipeline`.

    Returns:
        (feature name, share of gain) for every input feature; shares add up to 1 (all 0 for a
        model that made no split).
    """
    prepare = pipeline.named_steps["prepare"]
    names = list(prepare.get_feature_names_out())
    gain = lightgbm_of(pipeline).booster_.feature_importance(importance_type="gain")
    total = float(gain.sum())
    shares = {name: (float(g) / total if total else 0.0) for name, g in zip(names, gain, strict=True)}
    ordered = [(name, shares[name]) for name in pipeline.feature_names_in_]
    return sorted(ordered, key=lambda item: -item[1])
