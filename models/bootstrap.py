"""How sure a holdout figure is: bootstrap intervals, and paired differences between two models.

A holdout of 13 positives says much less than one of 2,000. Resampling the holdout's rows with
replacement (positives and negatives separately, so every resample keeps the holdout's counts)
and recomputing a figure on each resample gives its spread: the 2.5th and 97.5th percentiles are
the 95% interval. Comparing two models on the same rows with the same resamples gives the spread
of their difference, which is much narrower than either interval because both models err on the
same hard rows; that spread is what the promotion margin is made of (`models.promotion`).

Resamples are integer row weights (how often each row was drawn), so a figure on every resample
costs one sort of the scores and a few passes of cumulative sums: well under a second for 1,000
resamples of 10,000 rows. Large holdouts get fewer resamples (never fewer than 100).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

RESAMPLES = 1000
SEED = 20240601
INTERVAL = 0.95
# Higher is better for these; lower is better for log_loss and brier.
HIGHER_IS_BETTER = {"roc_auc": True, "pr_auc": True, "log_loss": False, "brier": False, "mean": True}
_EPS = 1e-15
_CHUNK_CELLS = 4_000_000
# Resamples x rows worked through per figure: 1,000 resamples up to 10,000 rows, fewer above.
_CELL_BUDGET = 10_000_000
MIN_RESAMPLES = 100


@dataclass(frozen=True)
class Figure:
    """A holdout figure with its bootstrap interval.

    Attributes:
        value: the figure on the holdout itself.
        lower: the interval's lower end.
        upper: the interval's upper end.
    """

    value: float
    lower: float
    upper: float

    def describe(self) -> str:
        """`0.927 [0.881, 0.962]`."""
        return f"{self.value:.3f} [{self.lower:.3f}, {self.upper:.3f}]"


def resamples_for(rows: int, wanted: int = RESAMPLES) -> int:
    """How many resamples a holdout of `rows` rows gets: `wanted`, fewer for very large holdouts.

    Args:
        rows: holdout rows.
        wanted: the resamples asked for.

    Returns:
        min(wanted, max(100, 10,000,000 / rows)); the spread of a figure on 100,000 rows is
        estimated well from 100 resamples.
    """
    return int(min(wanted, max(MIN_RESAMPLES, _CELL_BUDGET // max(rows, 1))))


class _Sorted:
    """Labelled, scored rows sorted by descending score, with their tie groups."""

    def __init__(self, y: np.ndarray, score: np.ndarray) -> None:
        self.order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
        self.score = np.asarray(score, dtype=float)[self.order]
        self.positive = (np.asarray(y)[self.order] == 1).astype(np.float32)
        distinct = np.r_[True, self.score[1:] != self.score[:-1]]
        # Without ties every row is its own threshold and group sums are not needed.
        self.starts = None if distinct.all() else np.flatnonzero(distinct)


def metric_values(metric: str, y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A figure for each row of weights over the same labelled, scored rows.

    Args:
        metric: `roc_auc`, `pr_auc` (average precision), `log_loss`, `brier`, or `mean` (the
            weighted mean of `score`, for per-unit figures such as a buyer's reciprocal rank).
        y: 0/1 labels, one per row.
        score: the model's score per row (a probability for log_loss and brier).
        weights: (resamples, rows) non-negative weights in the rows' own order; a row of ones is
            the holdout itself.

    Returns:
        One figure per row of `weights` (NaN where a resample lacks a class the figure needs).
    """
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float32))
    if metric in ("roc_auc", "pr_auc"):
        ranked = _Sorted(y, score)
        return _ranked(metric, ranked, weights[:, ranked.order])
    return _pointwise(metric, y, score, weights)


def _pointwise(metric: str, y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    if metric == "mean":
        values = score
    elif metric == "brier":
        values = (score - y) ** 2
    elif metric == "log_loss":
        p = np.clip(score, _EPS, 1 - _EPS)
        values = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    else:
        raise ValueError(f"unknown metric {metric!r}")
    with np.errstate(invalid="ignore", divide="ignore"):
        return weights @ values.astype(np.float32) / weights.sum(axis=1)


def _ranked(metric: str, ranked: _Sorted, weights: np.ndarray) -> np.ndarray:
    # Rows sharing a score form one threshold: ties count half for ROC-AUC and are one step of
    # the precision-recall curve, as scikit-learn counts them.
    pos = weights * ranked.positive
    neg = weights - pos
    if ranked.starts is not None:
        pos = np.add.reduceat(pos, ranked.starts, axis=1)
        neg = np.add.reduceat(neg, ranked.starts, axis=1)
    # Weights are whole numbers, so float32 sums stay exact up to 16 million rows.
    total_pos = pos.sum(axis=1, dtype=np.float64)
    cum_neg = np.cumsum(neg, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "roc_auc":
            total_neg = cum_neg[:, -1].astype(np.float64)
            # Negatives below a threshold are those after it in descending order.
            below = total_neg[:, None].astype(np.float32) - cum_neg + 0.5 * neg
            return (pos * below).sum(axis=1, dtype=np.float64) / (total_pos * total_neg)
        precision = np.cumsum(pos, axis=1)
        precision /= precision + cum_neg
        return (pos * precision).sum(axis=1, dtype=np.float64) / total_pos


def resample_weights(
    y: np.ndarray, resamples: int = RESAMPLES, *, stratified: bool = True, seed: int = SEED
) -> Iterator[np.ndarray]:
    """Bootstrap resamples of a holdout as row weights (draw counts), in chunks that fit in memory.

    Args:
        y: 0/1 labels of the holdout rows.
        resamples: how many resamples in all.
        stratified: draw positives and negatives separately, each as many times as the holdout
            has them, so every resample keeps the holdout's counts and base rate.
        seed: the random seed; the same seed gives the same resamples.

    Yields:
        float32 arrays of shape (chunk, rows); the chunks add up to `resamples` rows.
    """
    y = np.asarray(y)
    n = len(y)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == 1), np.flatnonzero(y != 1)] if stratified else [np.arange(n)]
    chunk = max(1, min(resamples, _CHUNK_CELLS // max(n, 1)))
    done = 0
    while done < resamples:
        size = min(chunk, resamples - done)
        weights = np.zeros((size, n), dtype=np.float32)
        for members in groups:
            k = len(members)
            if k == 0:
                continue
            drawn = rng.integers(0, k, size=(size, k)) + np.arange(size)[:, None] * k
            weights[:, members] = np.bincount(drawn.ravel(), minlength=size * k).reshape(size, k)
        done += size
        yield weights


def figure(
    metric: str,
    y: np.ndarray,
    score: np.ndarray,
    *,
    stratified: bool = True,
    resamples: int = RESAMPLES,
    interval: float = INTERVAL,
) -> Figure:
    """A figure on the holdout and its bootstrap percentile interval.

    Args:
        metric: see `metric_values`.
        y: 0/1 labels.
        score: scores (or per-unit values for `mean`).
        stratified: keep the positive and negative counts in every resample.
        resamples: bootstrap resamples wanted (`resamples_for` caps them for large holdouts).
        interval: the interval's coverage (0.95 gives the 2.5th and 97.5th percentiles).

    Returns:
        The figure with its interval.
    """
    y = np.asarray(y)
    values = _resampled(metric, y, [np.asarray(score, dtype=float)], stratified, resamples)
    value = float(metric_values(metric, y, score, np.ones((1, len(y))))[0])
    tail = (1 - interval) / 2 * 100
    lower, upper = np.nanpercentile(values[0], [tail, 100 - tail])
    return Figure(value, float(lower), float(upper))


def _resampled(
    metric: str, y: np.ndarray, scores: list[np.ndarray], stratified: bool, resamples: int
) -> list[np.ndarray]:
    """Each score's figure on the same resamples."""
    count = resamples_for(len(y), resamples)
    if metric in ("roc_auc", "pr_auc"):
        ranked = [_Sorted(y, s) for s in scores]
        out: list[list[np.ndarray]] = [[] for _ in scores]
        for weights in resample_weights(y, count, stratified=stratified):
            for i, r in enumerate(ranked):
                out[i].append(_ranked(metric, r, weights[:, r.order]))
        return [np.concatenate(parts) for parts in out]
    out = [[] for _ in scores]
    for weights in resample_weights(y, count, stratified=stratified):
        for i, s in enumerate(scores):
            out[i].append(_pointwise(metric, np.asarray(y, dtype=float), s, weights))
    return [np.concatenate(parts) for parts in out]


def paired_difference(
    metric: str,
    y: np.ndarray,
    score: np.ndarray,
    other: np.ndarray,
    *,
    stratified: bool = True,
    resamples: int = RESAMPLES,
) -> tuple[float, float]:
    """How much better `score` is than `other` on the same rows, and the spread of that difference.

    Args:
        metric: see `metric_values` (higher must be better: `roc_auc`, `pr_auc` or `mean`).
        y: 0/1 labels.
        score: the candidate's scores.
        other: the other model's scores on the same rows.
        stratified: keep the positive and negative counts in every resample.
        resamples: bootstrap resamples wanted (each used for both models).

    Returns:
        (difference on the holdout, standard deviation of the difference over the resamples).
    """
    if not HIGHER_IS_BETTER.get(metric, False):
        raise ValueError(f"{metric} is not a higher-is-better figure; compare roc_auc, pr_auc or mean")
    y = np.asarray(y)
    ones = np.ones((1, len(y)))
    difference = float(metric_values(metric, y, score, ones)[0] - metric_values(metric, y, other, ones)[0])
    mine, theirs = _resampled(
        metric, y, [np.asarray(score, dtype=float), np.asarray(other, dtype=float)], stratified, resamples
    )
    return difference, float(np.nanstd(mine - theirs))
