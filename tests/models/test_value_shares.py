"""Value shares: how common each row's value is, counted on training rows, kept only when they help."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models import registry, version_artifacts
from models.prediction_builder import PLAN_ARTIFACT, score, train
from models.table_file import read_table
from models.table_plan import TablePlan, features_of, plan_table
from models.value_shares import choose_shares, fit_shares, share_columns, with_shares


def _calls(n: int = 3000, seed: int = 5) -> pl.DataFrame:
    """Calls on 150 days, some days far busier than others; a call on a busy day rarely succeeds.

    The busy days are scattered over the calendar, so the day number alone says little unless a
    model isolates each day; how many calls share the day says it directly.
    """
    rng = np.random.default_rng(seed)
    busyness = rng.pareto(1.2, 150) + 0.05
    day = rng.choice(150, n, p=busyness / busyness.sum())
    share = np.bincount(day, minlength=150)[day] / n
    agent = rng.choice(["ann", "bob", "cy"], n)
    risk = -0.3 - 60.0 * share + 0.3 * (agent == "ann")
    success = rng.random(n) < 1 / (1 + np.exp(-risk))
    return pl.DataFrame(
        {
            "call": [f"K{i:05d}" for i in range(n)],
            "day": day.astype(str),
            "agent": agent,
            "success": np.where(success, "yes", "no"),
        }
    )


def test_shares_are_counted_on_training_rows_and_unseen_values_get_zero():
    train_rows = pl.DataFrame(
        {"n": [1.0, 1.0, 2.0, 3.0, None], "c": ["a", "b", "c", "a", "a"], "flag": [0.0, 1.0] * 2 + [0.0]}
    )
    assert share_columns(train_rows) == ["n", "c"]  # a yes/no column says nothing more as a share
    shares = fit_shares(train_rows, ["n", "c"])
    assert shares["n"] == {"1.0": 0.4, "2.0": 0.2, "3.0": 0.2}
    assert shares["c"]["a"] == pytest.approx(0.6)
    scored = with_shares(pl.DataFrame({"n": [1.0, 9.0, None], "c": ["b", "zz", None]}), shares)
    assert scored["n_share"].to_list() == [0.4, 0.0, None]
    assert scored["c_share"].to_list() == [0.2, 0.0, None]


def test_a_column_already_named_like_a_share_is_not_overwritten():
    frame = pl.DataFrame({"n": [1.0, 2.0, 3.0], "n_share": [0.5, 0.1, 0.2]})
    assert share_columns(frame) == ["n_share"]


def test_shares_are_kept_when_how_common_a_value_is_predicts(tmp_path):
    path = tmp_path / "calls.csv"
    _calls().write_csv(path)
    table = read_table(path)
    plan = plan_table(table, target="success", id_column="call")
    y = (table["success"] == plan.positive).cast(pl.Int8).to_numpy()
    shares, verdict = choose_shares(features_of(table, plan), y, plan.categorical)
    assert set(shares) == {"day", "agent"}, verdict
    assert "with value shares" in verdict


def test_shares_are_not_offered_without_a_column_of_few_values():
    rng = np.random.default_rng(1)
    x = pl.DataFrame({"amount": rng.normal(size=1500)})  # every value distinct
    y = (rng.random(1500) < 0.3).astype(int)
    assert choose_shares(x, y, []) == ({}, "no column has 3 to 1,000 distinct values")


def test_a_model_with_shares_scores_with_the_training_tables_shares(tmp_path, mlflow_template, monkeypatch):
    from tests.models.conftest import prepare_home

    monkeypatch.setenv("KINDRED_HOME", str(prepare_home(tmp_path / "home", mlflow_template)))
    path = tmp_path / "calls.csv"
    calls = _calls()
    calls.write_csv(path)
    outcome = train(path, target="success", id_column="call", name="calls")
    assert "day" in outcome.value_shares and outcome.share_folds >= 4
    plan = TablePlan.from_json(version_artifacts.artifact_text(registry.champion("calls"), PLAN_ARTIFACT))
    assert "day_share" in plan.features
    assert (
        plan.describe("day_share") == "share of training rows with the same value of column `day` (numeric)"
    )
    busiest = calls["day"].value_counts(sort=True)["day"][0]
    few = tmp_path / "few.csv"
    calls.head(3).with_columns(day=pl.lit(busiest)).write_csv(few)
    # Three rows to score: their day's share is the training table's, not the scored file's.
    x = features_of(read_table(few), plan)
    assert x["day_share"].to_list() == [pytest.approx(plan.value_shares["day"][f"{float(busiest)}"])] * 3
    scored = score(few, name="calls")
    assert scored.height == 3 and scored["score"].is_between(0, 1).all()
