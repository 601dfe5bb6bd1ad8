"""The promotion gate against a real MLflow registry: baseline first, champion next, margins by holdout size."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models import registry, version_artifacts
from models.estimator import fit_pipeline
from models.model_input import MissingFeatureError, model_input
from models.promotion import Holdout, compare, gate


def _scores(y: np.ndarray, strength: float, seed: int) -> np.ndarray:
    """Scores that separate the labels with a given strength (0 = chance)."""
    rng = np.random.default_rng(seed)
    return 1 / (1 + np.exp(-(strength * (2 * y - 1) + rng.normal(size=len(y)))))


def _holdout(y, candidate, baseline, description="h1") -> Holdout:
    return Holdout(
        description=description,
        metric="roc_auc",
        statistic="roc_auc",
        units=np.array([f"p{i}" for i in range(len(y))]),
        labels=y,
        candidate=candidate,
        baseline=baseline,
        baseline_name="plain rule",
    )


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    rng = np.random.default_rng(4)
    return (rng.random(2000) < 0.3).astype(int)


def _never(model):
    raise AssertionError("the champion's own holdout scores should have been used")


def _log(name: str, holdout: Holdout, tags: dict | None = None) -> str:
    """Register a small real pipeline with the holdout scores it was judged on."""
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({"x": rng.normal(size=200)})
    x = model_input(frame, ["x"], [])
    pipeline = fit_pipeline(
        x, (frame["x"].to_numpy() > 0).astype(int), [], calibrate=False, params={"n_estimators": 5}
    )
    return registry.log_version(
        name,
        pipeline,
        input_example=x.head(3),
        params={},
        metrics={},
        tags={"holdout": holdout.description, **(tags or {})},
        artifacts=registry.VersionArtifacts(
            card="# card",
            plots={},
            holdout=pl.DataFrame(
                {
                    "unit": holdout.units,
                    "label": holdout.labels,
                    "score": holdout.candidate,
                    "baseline": holdout.baseline,
                }
            ),
            summary="test version",
        ),
    )


def test_a_first_version_worse_than_its_baseline_is_not_promoted(labels):
    weak = _holdout(labels, _scores(labels, 0.2, 1), _scores(labels, 1.0, 2))
    decision = gate("fresh", weak, evaluate=_never)
    assert not decision.promote
    assert "does not beat its baseline" in decision.reason and "no champion yet" in decision.reason
    strong = _holdout(labels, _scores(labels, 1.5, 1), _scores(labels, 0.5, 2))
    decision = gate("fresh", strong, evaluate=_never)
    assert decision.promote and decision.reason.startswith("first version; beats its baseline")
    assert decision.comparison("baseline").beaten


def test_the_margin_grows_as_the_holdout_shrinks(labels):
    """The same gap counts on 2,000 rows and not on 40: "0.93 vs 0.48 on 13 positives" is judged as such."""
    big = _holdout(labels, _scores(labels, 1.0, 1), _scores(labels, 0.8, 2))
    small_y = labels[:40]
    small = _holdout(small_y, big.candidate[:40], big.baseline[:40])
    on_big = compare("baseline", big, big.baseline)
    on_small = compare("baseline", small, small.baseline)
    assert on_small.margin > 3 * on_big.margin
    assert on_big.beaten and on_big.difference > 0
    assert on_small.positives == int(small_y.sum()) and on_small.rows == 40
    # A large gap still wins on a small holdout.
    clear = _holdout(small_y, _scores(small_y, 3.0, 5), _scores(small_y, 0.0, 6))
    assert compare("baseline", clear, clear.baseline).beaten


def test_same_holdout_pairs_the_champions_own_scores(labels):
    first = _holdout(labels, _scores(labels, 1.0, 1), _scores(labels, 0.3, 2))
    version = _log("m", first)
    registry.promote("m", version)
    stored = version_artifacts.holdout_predictions(registry.champion("m"))
    assert stored.height == len(labels)
    assert not set(stored["unit"].to_list()) & set(first.units.tolist())  # ids never reach MLflow
    same_again = gate("m", first, evaluate=_never)
    assert not same_again.promote  # a retrained twin ties the champion: the champion stays
    assert same_again.comparison("champion").difference == pytest.approx(0.0)
    better = _holdout(labels, _scores(labels, 2.0, 3), first.baseline)
    decision = gate("m", better, evaluate=_never)
    assert decision.promote and decision.champion == version
    assert decision.comparison("champion").beaten


def test_another_holdout_scores_the_champion_on_it(labels):
    first = _holdout(labels, _scores(labels, 1.0, 1), _scores(labels, 0.3, 2))
    registry.promote("m2", _log("m2", first))
    later = _holdout(labels, _scores(labels, 1.0, 7), first.baseline, description="h2")
    seen = []

    def evaluate(model):
        seen.append(list(model.feature_names_in_))
        return _scores(labels, 2.5, 8)

    decision = gate("m2", later, evaluate=evaluate)
    assert seen == [["x"]]
    assert not decision.promote and "does not beat the champion" in decision.reason


def test_an_incomparable_champion_leaves_only_the_baseline(labels):
    first = _holdout(labels, _scores(labels, 1.0, 1), _scores(labels, 0.3, 2))
    registry.promote("m3", _log("m3", first, tags={"offer_field": "product_id"}))
    candidate = _holdout(labels, _scores(labels, 0.9, 9), first.baseline, description="h3")
    decision = gate("m3", candidate, evaluate=_never, must_match={"offer_field": "product_category"})
    assert decision.promote and "offer_field" in decision.reason

    def missing(model):
        raise MissingFeatureError("the frame lacks feature(s) ['x']")

    assert gate("m3", candidate, evaluate=missing).promote
    weak = _holdout(labels, first.baseline, first.baseline, description="h3")
    assert not gate("m3", weak, evaluate=missing).promote  # still has to beat its baseline
