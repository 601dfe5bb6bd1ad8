"""Holdout figures: ROC-AUC, PR-AUC and Brier for classifiers, hit rate and recall at k for offers."""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def binary_metrics(y_true: np.ndarray, score: np.ndarray, *, probability: bool = True) -> dict[str, float]:
    """How well scores separate positives from negatives.

    Args:
        y_true: 0/1 labels; both classes must be present.
        score: higher means more likely positive.
        probability: whether `score` is a probability (then Brier is reported too).

    Returns:
        `roc_auc`, `pr_auc` (average precision) and, for probabilities, `brier`.
    """
    y_true = np.asarray(y_true, dtype=int)
    score = np.asarray(score, dtype=float)
    metrics = {
        "roc_auc": float(roc_auc_score(y_true, score)),
        "pr_auc": float(average_precision_score(y_true, score)),
    }
    if probability:
        metrics["brier"] = float(brier_score_loss(y_true, score))
    return metrics


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
    return (
        scored.sort([*by, "offer_id"], descending=[True] * len(by) + [False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over("profile_id"))
        .filter(pl.col("rank") <= k)
        .sort("profile_id", "rank")
    )


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
    bought = bought.unique(["profile_id", "offer_id"])
    hits = recommended.join(bought, on=["profile_id", "offer_id"], how="semi")
    per_buyer = (
        bought.group_by("profile_id")
        .len("bought")
        .join(
            hits.group_by("profile_id").agg(hits=pl.len(), first=pl.col("rank").min()),
            on="profile_id",
            how="left",
        )
        .with_columns(pl.col("hits").fill_null(0))
    )
    if per_buyer.height == 0:
        return {"buyers": 0.0}
    metrics = {
        f"hr_at_{n}": float((per_buyer["first"] <= n).fill_null(False).mean())
        for n in sorted({1, 3, k})
        if n <= k
    }
    metrics[f"recall_at_{k}"] = float((per_buyer["hits"] / per_buyer["bought"]).mean())
    metrics[f"mrr_at_{k}"] = float((1.0 / per_buyer["first"]).fill_null(0.0).mean())
    metrics["buyers"] = float(per_buyer.height)
    return metrics
