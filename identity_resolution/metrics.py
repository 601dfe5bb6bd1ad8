"""Accuracy of a clustering against a truth id: pairwise and cluster (B-cubed) metrics.

Pairwise: a pair of records is predicted to match when the clustering puts them together and
truly matches when they share the truth id. Pairs are counted from group sizes (n records make
n(n-1)/2 pairs), so a cluster of 100,000 records costs one row, not five billion pairs. Pairwise
figures weigh large clusters quadratically; B-cubed weighs every record once: a record's
precision is the share of its predicted cluster that is truly its person, its recall the share
of its person that its predicted cluster holds, averaged over records.
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


@dataclass(frozen=True)
class ClusterMetrics:
    """B-cubed precision, recall and F1, and how many predicted clusters equal a true one."""

    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    exact_clusters: int
    predicted_clusters: int
    true_clusters: int

    def as_dict(self) -> dict[str, float | int]:
        """The figures as a plain dict.

        Returns:
            B-cubed precision, recall and F1 and the cluster counts.
        """
        return asdict(self)


def cluster_metrics(frame: pl.DataFrame, predicted: str, truth: str) -> ClusterMetrics:
    """B-cubed precision, recall and F1 of one clustering, and its exactly right clusters.

    Args:
        frame: one row per record with a predicted cluster id and a truth id (nulls count as
            clusters of their own).
        predicted: column of predicted cluster ids.
        truth: column of true entity ids.

    Returns:
        The metrics (1.0 each on an empty frame).

    Example:
        >>> f = pl.DataFrame({"p": ["a", "a", "b"], "t": [1, 1, 1]})
        >>> round(cluster_metrics(f, "p", "t").bcubed_recall, 3)
        0.556
    """
    if frame.height == 0:
        return ClusterMetrics(1.0, 1.0, 1.0, 0, 0, 0)
    row = pl.int_range(pl.len()).cast(pl.Utf8)
    data = frame.select(
        pl.coalesce(pl.col(predicted).cast(pl.Utf8), pl.lit("\x00null") + row).alias("_p"),
        pl.coalesce(pl.col(truth).cast(pl.Utf8), pl.lit("\x00null") + row).alias("_t"),
    )
    per_record = data.with_columns(
        pl.len().over("_p", "_t").alias("both"),
        pl.len().over("_p").alias("p"),
        pl.len().over("_t").alias("t"),
    )
    precision = float((per_record["both"] / per_record["p"]).mean())
    recall = float((per_record["both"] / per_record["t"]).mean())
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    exact = int(
        per_record.filter((pl.col("both") == pl.col("p")) & (pl.col("both") == pl.col("t")))["_p"].n_unique()
    )
    return ClusterMetrics(precision, recall, f1, exact, data["_p"].n_unique(), data["_t"].n_unique())
