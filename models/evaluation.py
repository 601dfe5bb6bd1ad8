"""Holdout figures: ROC-AUC, PR-AUC, log loss and Brier for classifiers, hit rate and recall at k for
offers, each with a bootstrap interval (`models.bootstrap`); lift, gain and calibration by decile."""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from models.bootstrap import Figure, figure


def binary_metrics(y_true: np.ndarray, score: np.ndarray, *, probability: bool = True) -> dict[str, float]:
    """How well scores separate positives from negatives.

    Args:
        y_true: 0/1 labels; both classes must be present.
        score: higher means more likely positive.
        probability: whether `score` is a probability (then Brier is reported too).

    Returns:
        `roc_auc`, `pr_auc` (average precision) and, for probabilities, `log_loss` and `brier`.
    """
    y_true = np.asarray(y_true, dtype=int)
    score = np.asarray(score, dtype=float)
    metrics = {
        "roc_auc": float(roc_auc_score(y_true, score)),
        "pr_auc": float(average_precision_score(y_true, score)),
    }
    if probability:
        metrics["log_loss"] = float(log_loss(y_true, np.clip(score, 1e-15, 1 - 1e-15), labels=[0, 1]))
        metrics["brier"] = float(brier_score_loss(y_true, score))
    return metrics


def binary_figures(y_true: np.ndarray, score: np.ndarray, *, probability: bool = True) -> dict[str, Figure]:
    """`binary_metrics` with a 95% bootstrap interval each (resampling positives and negatives apart).

    Args:
        y_true: 0/1 labels; both classes must be present.
        score: higher means more likely positive.
        probability: whether `score` is a probability (then log loss and Brier are reported too).

    Returns:
        Metric name -> Figure(value, lower, upper).
    """
    names = ["roc_auc", "pr_auc"] + (["log_loss", "brier"] if probability else [])
    return {name: figure(name, y_true, score) for name in names}


def deciles(y_true: np.ndarray, score: np.ndarray) -> pl.DataFrame:
    """Lift and gain by decile of the score, best decile first, and calibration per decile.

    Args:
        y_true: 0/1 labels.
        score: the model's scores.

    Returns:
        One row per decile (1 = highest scores): `rows`, `positives`, `rate` (share positive),
        `lift` (rate over the overall rate), `gain` (cumulative share of all positives found
        down to this decile), `mean_score` (the average score: calibration when it is a
        probability).
    """
    y_true = np.asarray(y_true, dtype=float)
    score = np.asarray(score, dtype=float)
    order = np.argsort(-score, kind="stable")
    decile = np.empty(len(order), dtype=int)
    decile[order] = np.arange(len(order)) * 10 // max(len(order), 1) + 1
    frame = (
        pl.DataFrame({"decile": decile, "y": y_true, "score": score})
        .group_by("decile")
        .agg(rows=pl.len(), positives=pl.col("y").sum(), mean_score=pl.col("score").mean())
        .sort("decile")
    )
    overall = y_true.mean() if len(y_true) else float("nan")
    total = y_true.sum()
    return (
        frame.with_columns(
            rate=pl.col("positives") / pl.col("rows"),
        )
        .with_columns(
            lift=pl.col("rate") / overall if overall else pl.lit(None, pl.Float64),
            gain=pl.col("positives").cum_sum() / total if total else pl.lit(None, pl.Float64),
        )
        .select("decile", "rows", "positives", "rate", "lift", "gain", "mean_score")
    )


def keep_top_k(scored: pl.DataFrame, k: int, *, by: list[str] | None = None) -> pl.DataFrame:
    """The k best offers per profile.

    Args:
        scored: `profile_id, offer_id` and the columns in `by` (default `score`).
        k: offers per profile.
        by: columns to sort by, descending; `offer_id` breaks ties.

    Returns:
        `profile_id, offer_id, rank` (1 best), plus the sort columns.
    """
    by = by or ["score"]
    # One sort puts each profile's offers together, best first; a rank is then the distance from
    # the profile's first row (no grouping by profile: a third faster at millions of pairs).
    ordered = scored.sort(["profile_id", *by, "offer_id"], descending=[False, *[True] * len(by), False])
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    first_of_profile = (
        pl.when(pl.col("profile_id").ne_missing(pl.col("profile_id").shift())).then(row).forward_fill()
    )
    return ordered.with_columns(rank=row - first_of_profile + 1).filter(pl.col("rank") <= k)


def buyer_outcomes(recommended: pl.DataFrame, bought: pl.DataFrame) -> pl.DataFrame:
    """Per buyer in the label window: how many offers they bought and where the recommendations put them.

    Args:
        recommended: `profile_id, offer_id, rank` (1 best).
        bought: distinct `profile_id, offer_id` bought in the label window.

    Returns:
        `profile_id, bought, hits, first` (the best rank of a bought offer; null when none was
        recommended), one row per buyer, sorted by profile_id.
    """
    bought = bought.unique(["profile_id", "offer_id"])
    hits = recommended.join(bought, on=["profile_id", "offer_id"], how="semi")
    return (
        bought.group_by("profile_id")
        .len("bought")
        .join(
            hits.group_by("profile_id").agg(hits=pl.len(), first=pl.col("rank").min()),
            on="profile_id",
            how="left",
        )
        .with_columns(pl.col("hits").fill_null(0))
        .sort("profile_id")
    )


def ranking_values(outcomes: pl.DataFrame, k: int) -> dict[str, np.ndarray]:
    """Each buyer's share of every ranking figure; a figure is the mean of its values over buyers.

    Args:
        outcomes: from `buyer_outcomes`.
        k: the k the recommendations were cut at.

    Returns:
        `hr_at_<n>` (1 when a bought offer is in the top n) for n in 1, 3 and k (up to k),
        `recall_at_<k>` and `mrr_at_<k>` (1 / rank of the best-ranked bought offer, 0 when none).
    """
    first = outcomes["first"].cast(pl.Float64)
    values = {
        f"hr_at_{n}": (first <= n).fill_null(False).cast(pl.Float64).to_numpy()
        for n in sorted({1, 3, k})
        if n <= k
    }
    values[f"recall_at_{k}"] = (outcomes["hits"] / outcomes["bought"]).cast(pl.Float64).to_numpy()
    values[f"mrr_at_{k}"] = (1.0 / first).fill_null(0.0).to_numpy()
    return values


def ranking_figures(outcomes: pl.DataFrame, k: int) -> dict[str, Figure]:
    """`ranking_values` as figures with 95% bootstrap intervals over buyers.

    Args:
        outcomes: from `buyer_outcomes`.
        k: the k the recommendations were cut at.

    Returns:
        Metric name -> Figure.
    """
    ones = np.ones(outcomes.height)
    return {
        name: figure("mean", ones, values, stratified=False)
        for name, values in ranking_values(outcomes, k).items()
    }


def ranking_metrics(recommended: pl.DataFrame, bought: pl.DataFrame, k: int) -> dict[str, float]:
    """Hit rates, recall and reciprocal rank of recommendations against what people bought next.

    Args:
        recommended: `profile_id, offer_id, rank` (1 best), at most k rows per person.
        bought: distinct `profile_id, offer_id` bought in the label window.
        k: the k the recommendations were cut at (names the metrics).

    Returns:
        Over the people who bought anything in the window (`buyers`, the denominator):
        `hr_at_<n>` for n in 1, 3 and k (up to k): share with at least one bought offer in their
        top n; `recall_at_<k>`: mean share of each buyer's bought offers that were recommended;
        `mrr_at_<k>`: mean of 1 / rank of the best-ranked bought offer (0 when none). Unlike the
        hit rate, reciprocal rank still tells models apart when k covers every offer there is.
    """
    per_buyer = buyer_outcomes(recommended, bought)
    if per_buyer.height == 0:
        return {"buyers": 0.0}
    metrics = {name: float(values.mean()) for name, values in ranking_values(per_buyer, k).items()}
    metrics["buyers"] = float(per_buyer.height)
    return metrics
