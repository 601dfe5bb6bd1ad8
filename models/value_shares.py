"""How common each row's value is: a feature per column giving the share of training rows that hold it.

Frequency encoding. A tree splits a column's values in order, so "this value is common" is not
something it can learn from the values themselves when the common values are scattered (days on
which many calls were made, a price most customers pay). For every column with 3 to 1,000
distinct values the share of training rows holding the row's value is added as `<column>_share`;
values never seen in training get 0, missing values stay missing. Shares always come from the
rows a model is fitted on (the training fold in cross-validation, every row for the version that
scores) and are saved in the table plan, so scoring uses the training table's shares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
from sklearn.model_selection import StratifiedKFold

from models.estimator import SEED, held_out_loss
from models.model_input import model_input

MIN_VALUES = 3
MAX_VALUES = 1000
SUFFIX = "_share"
# One fold in this many is held out to decide whether the shares help.
HELD_OUT_FOLDS = 5


def share_feature(column: str) -> str:
    """The name of a column's share feature."""
    return f"{column}{SUFFIX}"


def share_columns(x: pl.DataFrame) -> list[str]:
    """The columns worth a share feature: 3 to 1,000 distinct filled-in values.

    Args:
        x: model features (from `models.table_plan.features_of`).

    Returns:
        Their names, in `x`'s order.
    """
    return [
        c
        for c in x.columns
        if share_feature(c) not in x.columns and MIN_VALUES <= x[c].drop_nulls().n_unique() <= MAX_VALUES
    ]


def fit_shares(x: pl.DataFrame, columns: Sequence[str]) -> dict[str, dict[str, float]]:
    """Each column's values (as text) and the share of `x`'s rows holding them.

    Args:
        x: the rows a model is fitted on.
        columns: from `share_columns`.

    Returns:
        column -> value text -> share of rows (missing values left out).
    """
    shares = {}
    for column in columns:
        counted = x.select(pl.col(column).cast(pl.String)).drop_nulls().group_by(column).len()
        shares[column] = dict(
            zip(counted[column].to_list(), (counted["len"] / x.height).to_list(), strict=True)
        )
    return shares


def with_shares(x: pl.DataFrame, shares: Mapping[str, Mapping[str, float]]) -> pl.DataFrame:
    """`x` with a share feature per column of `shares` appended.

    Args:
        x: model features.
        shares: from `fit_shares`.

    Returns:
        `x` and the `<column>_share` columns: 0 for values unseen in training, missing for missing.
    """
    return x.with_columns(
        pl.when(pl.col(column).is_null())
        .then(None)
        .otherwise(
            pl.col(column)
            .cast(pl.String)
            .replace_strict(list(table), list(table.values()), default=0.0, return_dtype=pl.Float64)
        )
        .alias(share_feature(column))
        for column, table in shares.items()
    )


def choose_shares(x: pl.DataFrame, y: np.ndarray, categorical: list[str]) -> tuple[dict, str]:
    """Whether the model learns from how common each value is, decided on the given rows only.

    A fifth of the rows (stratified) is held out; LightGBM is early-stopped on it once with the
    features alone and once with their value shares (counted on the other four fifths); the
    shares are kept when they lower the held-out log loss.

    Args:
        x: features of the rows the model will be fitted on (from `features_of`).
        y: their 0/1 labels.
        categorical: the categorical features.

    Returns:
        (the value shares counted on all of `x`'s rows, or {} when not kept; the reason in words).
    """
    columns = share_columns(x)
    if not columns:
        return {}, "no column has 3 to 1,000 distinct values"
    fit, held = next(
        StratifiedKFold(HELD_OUT_FOLDS, shuffle=True, random_state=SEED).split(np.zeros(len(y)), y)
    )
    if min(y[held].sum(), len(held) - y[held].sum()) < 1:
        return {}, "too few rows of one class to compare"
    features = list(x.columns)
    shared = with_shares(x, fit_shares(x[fit], columns))
    losses = {}
    for label, names in (("plain", features), ("shares", features + [share_feature(c) for c in columns])):
        data = model_input(shared, names, categorical)
        losses[label] = held_out_loss(data.iloc[fit], y[fit], data.iloc[held], y[held], categorical)[1]
    verdict = f"held-out log loss {losses['shares']:.4f} with value shares, {losses['plain']:.4f} without"
    if losses["shares"] < losses["plain"]:
        return fit_shares(x, columns), verdict
    return {}, verdict
