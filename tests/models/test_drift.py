"""Drift: PSI by hand, the previous run kept beside the new one, and the warning checks in Dagster."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import numpy as np
import polars as pl
import pytest

from feature_store.materialise import materialise_profile_features
from models.drift import MAJOR, psi, score_drift
from models.score_tables import write_predictions
from pipelines.defs.features.assets import profile_features
from pipelines.defs.features.checks import feature_drift_since_last_run
from pipelines.resources import KindredResource
from tests.feature_store.staging_frames import write_staging
from warehouse.connection import connect, open_warehouse


def test_psi_by_hand():
    before = pl.Series(["a"] * 50 + ["b"] * 50)
    after = pl.Series(["a"] * 80 + ["b"] * 20)
    expected = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert psi(before, after) == pytest.approx(expected)
    assert psi(before, before) == 0.0
    # A category never seen before counts against a floor share, not a division by zero.
    assert psi(before, pl.Series(["c"] * 100)) > 1


def test_psi_of_numbers_uses_the_previous_deciles_and_counts_missing_values():
    rng = np.random.default_rng(0)
    reference = pl.Series(rng.normal(size=5000))
    assert psi(reference, pl.Series(rng.normal(size=5000))) < 0.02
    assert psi(reference, pl.Series(rng.normal(loc=1.0, size=5000))) > MAJOR
    with_gaps = pl.Series(
        np.where(rng.random(5000) < 0.3, None, rng.normal(size=5000)).tolist(), dtype=pl.Float64
    )
    assert psi(reference, with_gaps) > 0.5


def _predictions(model: str, scores: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "profile_id": [f"p{i}" for i in range(len(scores))],
            "model": model,
            "model_version": "1",
            "as_of": datetime(2024, 1, 1),
            "score": scores,
            "score_1_99": 50,
            "top_factors": "[]",
            "scored_at": datetime(2024, 1, 1),
        }
    )


def test_scores_keep_the_previous_run_and_show_their_drift():
    con = connect(":memory:")
    rng = np.random.default_rng(1)
    write_predictions(con, "churn_risk", _predictions("churn_risk", rng.uniform(0, 0.5, 400).tolist()))
    first, _ = score_drift(con, "churn_risk", [])
    assert not first.compared  # nothing before the first scores
    write_predictions(con, "lead_score", _predictions("lead_score", [0.1] * 10))
    write_predictions(con, "churn_risk", _predictions("churn_risk", rng.uniform(0.5, 1.0, 400).tolist()))
    scores, _ = score_drift(con, "churn_risk", [])
    assert scores.compared and scores.top()["score"] > MAJOR
    kept = con.sql(
        "SELECT model, count(*) FROM scores.predictions_previous GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert kept == [("churn_risk", 400)]  # only the model that was replaced moved


def test_the_feature_drift_check_warns_with_the_most_drifted_features(kindred_home, tmp_path):
    config = tmp_path / "kindred.yaml"
    config.write_text("sources:\n  - {name: shop_orders, kind: orders, path: orders.csv}\n")
    quiet = [
        {"record_id": f"c{i}", "ordered_at": datetime(2024, 1, 2 + i % 20), "amount": 10.0}
        for i in range(200)
    ]
    busy = quiet + [
        {"record_id": f"c{i}", "ordered_at": datetime(2024, 3, 2 + i % 20), "amount": 90.0 + i}
        for i in range(200)
    ]
    results = []
    for rows, as_of in ((quiet, "2024-02-01"), (busy, "2024-04-01")):
        with open_warehouse() as con:
            write_staging(con, orders=rows)
        results.append(
            dg.materialize(
                [profile_features, feature_drift_since_last_run],
                resources={"kindred": KindredResource(config_path=str(config), as_of=as_of)},
            )
        )
    evaluations = [
        [
            e.asset_check_evaluation_data
            for e in r.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
        ][0]
        for r in results
    ]
    assert evaluations[0].passed and "first run" in evaluations[0].description
    second = evaluations[1]
    assert not second.passed and second.severity == dg.AssetCheckSeverity.WARN
    top = second.metadata["top_drifting_features"].value
    assert len(top) == 5 and min(top.values()) > MAJOR
    assert list(top)[0] in second.description
    assert second.metadata["features_major_shift"].value >= 5
    assert all(r.success for r in results)  # a warning never fails the run


def test_materialising_twice_keeps_the_previous_features():
    con = connect(":memory:")
    write_staging(con, orders=[{"record_id": "c1", "ordered_at": datetime(2024, 1, 5), "amount": 5.0}])
    materialise_profile_features(con, datetime(2024, 2, 1))
    materialise_profile_features(con, datetime(2024, 3, 1))
    as_ofs = con.sql(
        "SELECT (SELECT max(as_of) FROM features.profile_features_previous), (SELECT max(as_of) FROM features.profile_features)"
    ).fetchall()[0]
    assert as_ofs == (datetime(2024, 2, 1), datetime(2024, 3, 1))
