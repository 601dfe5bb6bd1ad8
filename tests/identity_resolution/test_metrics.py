"""Pairwise precision and recall against counts worked out by hand."""

import polars as pl
import pytest

from identity_resolution.metrics import cluster_metrics, pairwise_metrics


def test_hand_computed_example():
    # Truth: {1,2,3} and {4,5}: 3 + 1 = 4 true pairs.
    # Predicted: {1,2}, {3,4,5}: 1 + 3 = 4 predicted pairs; correct: (1,2) and (4,5) -> 2.
    frame = pl.DataFrame({"predicted": ["a", "a", "b", "b", "b"], "truth": ["x", "x", "x", "y", "y"]})
    m = pairwise_metrics(frame, "predicted", "truth")
    assert (m.true_positive_pairs, m.predicted_pairs, m.true_pairs) == (2, 4, 4)
    assert m.precision == pytest.approx(0.5)
    assert m.recall == pytest.approx(0.5)
    assert m.f1 == pytest.approx(0.5)


def test_perfect_and_empty_clusterings():
    frame = pl.DataFrame({"predicted": [1, 1, 2], "truth": ["x", "x", "y"]})
    assert pairwise_metrics(frame, "predicted", "truth").f1 == pytest.approx(1.0)
    singletons = pl.DataFrame({"predicted": [1, 2, 3], "truth": ["x", "x", "y"]})
    m = pairwise_metrics(singletons, "predicted", "truth")
    assert (m.precision, m.recall, m.f1) == (1.0, 0.0, 0.0)


def test_null_ids_are_singletons_and_big_clusters_are_counted_not_enumerated():
    frame = pl.DataFrame({"predicted": [None, None, "a"], "truth": ["x", "x", None]})
    m = pairwise_metrics(frame, "predicted", "truth")
    assert (m.predicted_pairs, m.true_pairs, m.true_positive_pairs) == (0, 1, 0)
    n = 200_000  # 2e10 pairs if they were materialised
    big = pl.DataFrame({"predicted": ["p"] * n, "truth": ["t"] * n})
    assert pairwise_metrics(big, "predicted", "truth").true_pairs == n * (n - 1) // 2


def test_bcubed_hand_computed_example():
    # Truth {1,2,3}, {4,5}; predicted {1,2}, {3,4,5}.
    # Precision per record: 1, 1, 1/3, 2/3, 2/3 -> 11/15; recall: 2/3, 2/3, 1/3, 1, 1 -> 11/15.
    frame = pl.DataFrame({"predicted": ["a", "a", "b", "b", "b"], "truth": ["x", "x", "x", "y", "y"]})
    m = cluster_metrics(frame, "predicted", "truth")
    assert m.bcubed_precision == pytest.approx(11 / 15)
    assert m.bcubed_recall == pytest.approx(11 / 15)
    assert (m.exact_clusters, m.predicted_clusters, m.true_clusters) == (0, 2, 2)
    perfect = cluster_metrics(pl.DataFrame({"p": [1, 1, 2], "t": ["x", "x", "y"]}), "p", "t")
    assert (perfect.bcubed_f1, perfect.exact_clusters) == (pytest.approx(1.0), 2)
