"""The prediction builder's leak guards: a column that predicts the target too well on its own.

A column is left out when, on its own, it ranks the labelled rows with ROC-AUC `NEAR_TARGET_AUC` or
more (it nearly equals the target), or when whether it is filled in tells the target apart with
ROC-AUC `FILLED_IN_AUC` or more (it looks recorded after the outcome, as a cancellation date
does). Each score is out of fold: half the rows are scored by target rates learned on the other.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

# A column this predictive of the target on its own is the target in disguise.
NEAR_TARGET_AUC = 0.98
FILLED_IN_AUC = 0.9


def univariate_auc(y: np.ndarray, score: np.ndarray) -> float:
    """How well one score ranks the labels either way round: max(AUC, 1 - AUC), 0.5 without spread."""
    if len(np.unique(y)) < 2 or len(np.unique(score)) < 2:
        return 0.5
    auc = roc_auc_score(y, score)
    return max(auc, 1 - auc)


def single_column_scores(train: pl.Series, y: np.ndarray, test: pl.Series) -> np.ndarray:
    """A score for `test` rows from one feature alone: its smoothed target rate by value (categories)
    or by decile of the training values (numbers), learned on the training rows.

    Args:
        train: the feature on training rows.
        y: the training labels.
        test: the feature on the rows to score.

    Returns:
        One score per test row (the training rate where the value was never seen).
    """
    prior = float(np.mean(y))
    if train.dtype == pl.String:
        keys_train, keys_test = train.fill_null("(missing)"), test.fill_null("(missing)")
    else:
        edges = (
            np.unique(np.nanquantile(train.drop_nulls().to_numpy(), np.linspace(0.1, 0.9, 9)))
            if train.drop_nulls().len()
            else np.array([])
        )
        keys_train = pl.Series(
            np.where(train.is_null(), -1, np.searchsorted(edges, train.fill_null(0).to_numpy()))
        )
        keys_test = pl.Series(
            np.where(test.is_null(), -1, np.searchsorted(edges, test.fill_null(0).to_numpy()))
        )
    rates = (
        pl.DataFrame({"key": keys_train, "y": y})
        .group_by("key")
        .agg(rate=(pl.col("y").sum() + 10 * prior) / (pl.len() + 10))
    )
    scored = pl.DataFrame({"key": keys_test}).join(rates, on="key", how="left", maintain_order="left")
    return scored["rate"].fill_null(prior).to_numpy()


def leak_reason(
    values: pl.Series, features: pl.DataFrame, y: np.ndarray, positive: str, negative: str
) -> str | None:
    """Why a column must be left out as a leak, or None when it may stay.

    Args:
        values: the column on the labelled rows, as read.
        features: the features the column becomes (`models.table_plan.features_of`), same rows.
        y: the labels (1 for `positive`).
        positive: the target's value worth finding, for messages.
        negative: the target's other value.

    Returns:
        The reason, in words, or None.
    """
    filled = values.is_not_null().to_numpy()
    if 0.01 < filled.mean() < 0.99:
        auc = univariate_auc(y, filled.astype(float))
        if auc >= FILLED_IN_AUC:
            return (
                f"looks recorded after the outcome: filled in for {filled[y == 1].mean():.0%} of {positive!r} rows "
                f"and {filled[y == 0].mean():.0%} of {negative!r} rows"
            )
    rng = np.random.default_rng(0)
    half = rng.random(len(y)) < 0.5
    best = 0.0
    for name in features.columns:
        series = features[name]
        # Out of fold: each half scored by rates learned on the other.
        score = np.empty(len(y))
        for side in (half, ~half):
            score[side] = single_column_scores(
                series.filter(pl.Series(~side)), y[~side], series.filter(pl.Series(side))
            )
        best = max(best, univariate_auc(y, score))
    if best >= NEAR_TARGET_AUC:
        return f"nearly equals the target: on its own it ranks the rows with ROC-AUC {best:.3f}"
    return None
