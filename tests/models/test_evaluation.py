"""Holdout figures by hand: hit rate, recall and reciprocal rank at k, and the binary metrics."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models.evaluation import binary_metrics, keep_top_k, ranking_metrics


def test_ranking_metrics_by_hand():
    scored = pl.DataFrame(
        {
            "profile_id": ["a", "a", "a", "b", "b", "b", "c"],
            "offer_id": ["x", "y", "z", "x", "y", "z", "x"],
            "score": [0.9, 0.5, 0.1, 0.2, 0.8, 0.7, 0.4],
        }
    )
    top = keep_top_k(scored, 2)
    assert top.filter(pl.col("profile_id") == "b")["offer_id"].to_list() == ["y", "z"]
    bought = pl.DataFrame({"profile_id": ["a", "a", "b", "d"], "offer_id": ["y", "z", "x", "x"]})
    metrics = ranking_metrics(top, bought, 2)
    # Buyers a, b, d: a bought y (rank 2) and z (not shown); b bought x (not shown); d got nothing.
    assert metrics["buyers"] == 3
    assert metrics["hr_at_1"] == pytest.approx(0.0)
    assert metrics["hr_at_2"] == pytest.approx(1 / 3)
    assert metrics["recall_at_2"] == pytest.approx((1 / 2) / 3)
    assert metrics["mrr_at_2"] == pytest.approx((1 / 2) / 3)


def test_ties_break_by_offer_id_and_nobody_buying_gives_no_figures():
    scored = pl.DataFrame({"profile_id": ["a", "a"], "offer_id": ["y", "x"], "score": [0.5, 0.5]})
    assert keep_top_k(scored, 1)["offer_id"].to_list() == ["x"]
    assert ranking_metrics(keep_top_k(scored, 1), scored.head(0).select("profile_id", "offer_id"), 1) == {
        "buyers": 0.0
    }


def test_binary_metrics():
    y = np.array([0, 0, 1, 1])
    metrics = binary_metrics(y, np.array([0.1, 0.4, 0.35, 0.8]))
    assert metrics["roc_auc"] == pytest.approx(0.75)
    assert metrics["brier"] == pytest.approx(np.mean((np.array([0.1, 0.4, 0.35, 0.8]) - y) ** 2))
    assert "brier" not in binary_metrics(y, np.array([3.0, 1.0, 2.0, 9.0]), probability=False)
