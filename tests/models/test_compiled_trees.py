"""Compiled trees (lleaves) give LightGBM's own probabilities, and categorical models keep LightGBM."""

from __future__ import annotations

import logging
import os

import numpy as np
import polars as pl
import pytest

from models.compiled_trees import positive_probability, prune_compiled
from models.estimator import fit_pipeline
from models.model_input import MissingFeatureError, model_input


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    """Counts, exact zeros, missing values and a category, as the offer ranker's pairs carry them."""
    rng = np.random.default_rng(5)
    n = 4000
    purchases = rng.poisson(1.0, n).astype(float)
    share = np.where(rng.random(n) < 0.3, 0.0, rng.random(n))
    days = np.where(rng.random(n) < 0.4, np.nan, rng.exponential(60, n))
    offer = rng.choice(["loyalty", "service", "bikes"], n)
    label = ((purchases > 1) ^ (rng.random(n) < 0.2) | (np.nan_to_num(days, nan=999) < 20)).astype(int)
    return pl.DataFrame(
        {"purchases": purchases, "share": share, "days": days, "offer": offer, "label": label}
    )


def _fit(frame: pl.DataFrame, features: list[str], categorical: list[str]):
    x = model_input(frame, features, categorical)
    params = {"n_estimators": 60, "num_leaves": 15, "min_child_samples": 5}
    return fit_pipeline(x, frame["label"].to_numpy(), categorical, calibrate=False, params=params), x


def test_compiled_equals_lightgbm(frame, tmp_path):
    pipeline, x = _fit(frame, ["purchases", "share", "days"], [])
    expected = pipeline.predict_proba(x)[:, 1]
    compiled = positive_probability(pipeline, frame, compile_trees=True, cache=tmp_path)
    np.testing.assert_allclose(compiled, expected, rtol=0, atol=1e-12)
    # Ranking within rows is what the offer ranker keeps: the order must not change either.
    assert (np.argsort(-compiled[:200], kind="stable") == np.argsort(-expected[:200], kind="stable")).all()


def test_unseen_rows_and_empty_frames(frame, tmp_path):
    pipeline, _ = _fit(frame, ["purchases", "share", "days"], [])
    unseen = pl.DataFrame(
        {"purchases": [0.0, 50.0, None], "share": [None, 1.5, 0.0], "days": [None, -3.0, 1e6]}
    )
    x = model_input(unseen, ["purchases", "share", "days"], [])
    np.testing.assert_allclose(
        positive_probability(pipeline, unseen, compile_trees=True, cache=tmp_path),
        pipeline.predict_proba(x)[:, 1],
        atol=1e-12,
    )
    assert positive_probability(pipeline, unseen.head(0), compile_trees=True, cache=tmp_path).shape == (0,)


def test_categorical_models_keep_lightgbm(frame):
    pipeline, x = _fit(frame, ["offer", "purchases", "days"], ["offer"])
    scores = positive_probability(pipeline, frame, compile_trees=True)
    assert np.array_equal(scores, pipeline.predict_proba(x)[:, 1])


def test_calibrated_pipelines_are_refused(frame):
    x = model_input(frame, ["purchases"], [])
    calibrated = fit_pipeline(x, frame["label"].to_numpy(), [], calibrate=True, params={"n_estimators": 5})
    with pytest.raises(TypeError, match="uncalibrated"):
        positive_probability(calibrated, frame)


def test_a_compiled_model_is_kept_and_loaded_on_the_next_run(frame, tmp_path, caplog):
    pipeline, x = _fit(frame, ["purchases", "share", "days"], [])
    trees = tmp_path / "trees"
    with caplog.at_level(logging.INFO, logger="models.compiled_trees"):
        first = positive_probability(pipeline, frame, compile_trees=True, cache=trees)
        assert "compiled 60 trees" in caplog.text
        caplog.clear()
        again = positive_probability(pipeline, frame, compile_trees=True, cache=trees)
        assert "loaded the compiled 60 trees" in caplog.text
    assert len(list(trees.iterdir())) == 1  # one file, nothing half-written left beside it
    np.testing.assert_array_equal(again, first)
    # Another model gets code of its own, not the first model's.
    other, _ = _fit(frame.with_columns(label=1 - pl.col("label")), ["purchases", "share", "days"], [])
    np.testing.assert_allclose(
        positive_probability(other, frame, compile_trees=True, cache=trees),
        other.predict_proba(x)[:, 1],
        rtol=0,
        atol=1e-12,
    )
    assert len(list(trees.iterdir())) == 2


def test_a_missing_feature_is_named(frame):
    pipeline, _ = _fit(frame, ["purchases", "share", "days"], [])
    with pytest.raises(MissingFeatureError, match="days"):
        positive_probability(pipeline, frame.drop("days"), compile_trees=True)


def test_only_the_most_recently_used_compiled_models_are_kept(tmp_path):
    folder = tmp_path / "trees"
    folder.mkdir()
    for age, name in enumerate(["newest", "middle", "oldest"]):
        path = folder / f"{name}.o"
        path.write_bytes(b"code")
        os.utime(path, (1_000_000 - age * 1000, 1_000_000 - age * 1000))
    (folder / "notes.txt").write_text("not compiled code")
    deleted = prune_compiled(folder, keep=2)
    assert [p.name for p in deleted] == ["oldest.o"]
    assert sorted(p.name for p in folder.iterdir()) == ["middle.o", "newest.o", "notes.txt"]
