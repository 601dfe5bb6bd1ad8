"""Why a person got their score: LightGBM's per-feature contributions (`pred_contrib=True`).

Contributions are SHAP values in the model's log-odds space, computed on the encoded features;
encoding is one column per feature, so each maps straight back to the feature's name. The value
shown is the feature's input value (the category text, not its code).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
from sklearn.pipeline import Pipeline

from models.estimator import lightgbm_of
from models.tree_contributions import tree_contributions

TOP_FACTORS = 5


def _contribution_matrix(
    pipeline: Pipeline, x: pd.DataFrame, encoded: np.ndarray | None = None
) -> np.ndarray:
    """LightGBM's contributions, one column per input feature in `x`'s order (the bias left out)."""
    prepare = pipeline.named_steps["prepare"]
    encoded = prepare.transform(x) if encoded is None else encoded
    raw = tree_contributions(lightgbm_of(pipeline).booster_, encoded)
    position = {name: i for i, name in enumerate(prepare.get_feature_names_out())}
    return raw[:, [position[name] for name in x.columns]]


def contributions(pipeline: Pipeline, x: pd.DataFrame) -> pd.DataFrame:
    """Each feature's contribution to each row's raw score.

    Args:
        pipeline: a fitted pipeline from `models.estimator.fit_pipeline`.
        x: the rows, as given to the pipeline.

    Returns:
        A frame with one column per input feature (log-odds contributions), rows aligned with `x`.
    """
    return pd.DataFrame(_contribution_matrix(pipeline, x), columns=list(x.columns), index=x.index)


def _number_text(values: np.ndarray) -> pl.Series:
    """Numbers as JSON text rounded to 4 decimals; missing and infinite ones are `null`."""
    finite = np.where(np.isfinite(values), values, np.nan)
    return pl.Series(finite).round(4).fill_nan(None).cast(pl.String).fill_null("null")


def _category_text(values: pd.Series) -> pl.Series:
    """Category values as JSON strings (escaped once per distinct value); missing ones are `null`."""
    column = pl.from_pandas(values.reset_index(drop=True), nan_to_null=True).cast(pl.String)
    distinct = column.drop_nulls().unique().to_list()
    return column.replace_strict(
        distinct, [json.dumps(value) for value in distinct], default=None, return_dtype=pl.String
    ).fill_null("null")


def _strongest(values: np.ndarray, n: int) -> np.ndarray:
    """Per row, the columns of the n largest |values|, largest first (ties: leftmost column first)."""
    strength = np.abs(values)
    if n < values.shape[1]:
        chosen = np.argpartition(-strength, n - 1, axis=1)[:, :n]
    else:
        chosen = np.broadcast_to(np.arange(values.shape[1]), values.shape)
    picked = np.take_along_axis(strength, chosen, axis=1)
    order = np.lexsort((chosen, -picked), axis=1)
    return np.take_along_axis(chosen, order, axis=1)


def top_factors(
    pipeline: Pipeline, x: pd.DataFrame, n: int = TOP_FACTORS, *, encoded: np.ndarray | None = None
) -> pl.Series:
    """The strongest reasons behind each row's score, as JSON.

    Built column-wise (numpy picks the factors, polars writes the text) rather than row by row:
    a million people's reasons cost seconds, not minutes.

    Args:
        pipeline: a fitted pipeline from `models.estimator.fit_pipeline`.
        x: the rows, as given to the pipeline (numbers as floats, categories as text).
        n: how many factors per row.
        encoded: `x` already through the pipeline's `prepare` step, when the caller has it.

    Returns:
        A string Series, one JSON list per row of `{feature, value, contribution}`, largest
        |contribution| first; features that did not move the score are left out. Values are the
        inputs as given (the category's text, numbers rounded to 4 decimals).
    """
    if len(x) == 0:
        return pl.Series("top_factors", [], dtype=pl.String)
    values = _contribution_matrix(pipeline, x, encoded)
    columns = _strongest(values, min(n, values.shape[1]))
    picked = np.take_along_axis(values, columns, axis=1)
    textual = [i for i, name in enumerate(x.columns) if not pd.api.types.is_numeric_dtype(x[name])]
    numbers = np.full(x.shape, np.nan)
    for i, name in enumerate(x.columns):
        if i not in textual:
            numbers[:, i] = x[name].to_numpy(dtype=float, na_value=np.nan)
    categories = {i: _category_text(x[x.columns[i]]) for i in textual}
    names = pl.Series([json.dumps(name) for name in x.columns])
    rows = np.arange(len(x))
    items = []
    for rank in range(columns.shape[1]):
        column = pl.Series(columns[:, rank])
        value = pl.lit(_number_text(numbers[rows, columns[:, rank]]))
        for i, text in categories.items():
            value = pl.when(column == i).then(pl.lit(text)).otherwise(value)
        contribution = picked[:, rank]
        items.append(
            pl.when(pl.lit(pl.Series(contribution)) != 0.0).then(
                pl.concat_str(
                    pl.lit('{"feature": '),
                    pl.lit(names.gather(column)),
                    pl.lit(', "value": '),
                    value,
                    pl.lit(', "contribution": '),
                    pl.lit(_number_text(contribution)),
                    pl.lit("}"),
                )
            )
        )
    joined = pl.concat_str(items, separator=", ", ignore_nulls=True)
    return pl.select(pl.concat_str(pl.lit("["), joined, pl.lit("]")).alias("top_factors")).to_series()


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
