"""Pairwise accuracy of a clustering against a truth id.

A pair of records is predicted to match when the clustering puts them together and truly
matches when they share the truth id. Pairs are counted from group sizes (n records make
n(n-1)/2 pairs), so a cluster of 100,000 records costs one row, not five billion pairs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import polars as pl


@dataclass(frozen=True)
class PairwiseMetrics:
    """Pairwise precision, recall and F1, with the pair counts they come from."""

    precision: float
    recall: float
    f1: float
    true_positive_pairs: int
    predicted_pairs: int
    true_pairs: int

    def as_dict(self) -> dict[str, float | int]:
        """The figures as a plain dict.

        Returns:
            precision, recall, f1 and the three pair counts.
        """
        return asdict(self)


def _pairs(frame: pl.DataFrame, by: list[str]) -> int:
    sizes = frame.group_by(by).len()
    return int((sizes["len"].cast(pl.Int64) * (sizes["len"].cast(pl.Int64) - 1) // 2).sum() or 0)


def pairwise_metrics(frame: pl.DataFrame, predicted: str, truth: str) -> PairwiseMetrics:
    """Pairwise precision, recall and F1 of one clustering against the truth.

    Args:
        frame: one row per record with a predicted cluster id and a truth id. A null id counts
            as a cluster of its own (the record matches nothing).
        predicted: column of predicted cluster ids (e.g. `profile_id`).
        truth: column of true entity ids (e.g. `person_id`).

    Returns:
        The metrics. Precision is 1.0 when nothing was predicted to match, recall 1.0 when
        nothing truly matches (nothing was missed).

    Example:
        >>> f = pl.DataFrame({"p": ["a", "a", "b"], "t": [1, 1, 1]})
        >>> pairwise_metrics(f, "p", "t").recall
        0.3333333333333333
    """
    # Nulls would group together; give each its own id instead.
    row = pl.int_range(pl.len()).cast(pl.Utf8)
    data = frame.select(
        pl.coalesce(pl.col(predicted).cast(pl.Utf8), pl.lit("\x00null") + row).alias("_p"),
        pl.coalesce(pl.col(truth).cast(pl.Utf8), pl.lit("\x00null") + row).alias("_t"),
    )
    true_positive = _pairs(data, ["_p", "_t"])
    predicted_pairs = _pairs(data, ["_p"])
    true_pairs = _pairs(data, ["_t"])
    precision = true_positive / predicted_pairs if predicted_pairs else 1.0
    recall = true_positive / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairwiseMetrics(precision, recall, f1, true_positive, predicted_pairs, true_pairs)
