"""`kindred predict`: column typing, the guards and their reasons, cross-validation, registration with a
card, scoring in words, and a clear error for every kind of bad input."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from models import registry, version_artifacts
from models.prediction_builder import PLAN_ARTIFACT, score, train
from models.table_file import read_table
from models.table_plan import TableError
from pipelines.cli import app


def _customers(n: int = 800, seed: int = 2) -> pl.DataFrame:
    """A customer table with planted signal and every kind of column the guards must catch."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.5, 0.3, 0.2])
    paperless = rng.choice(["Yes", "No"], n)
    risk = -1.0 + 1.6 * (contract == "Month-to-month") - 0.04 * tenure + 0.5 * (paperless == "Yes")
    churned = rng.random(n) < 1 / (1 + np.exp(-risk))
    signup = [date(2020, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 1500, n)]
    return pl.DataFrame(
        {
            "customer": [f"C{i:05d}" for i in range(n)],
            "AccountNumber": [str(100000 + i) for i in range(n)],
            "tenure": tenure.astype(str),
            "monthly_charges": np.round(rng.uniform(20, 110, n), 2).astype(str),
            "Contract": contract,
            "PaperlessBilling": paperless,
            "signup_date": [d.isoformat() for d in signup],
            "notes": [f"called on {i} about the router, {rng.integers(1e9)}" for i in range(n)],
            "region": ["north"] * n,
            "churn_flag_copy": np.where(churned, "Y", "N"),
            "cancelled_on": [
                (date(2024, 6, 1) - timedelta(days=i % 90)).isoformat() if c else ""
                for i, c in enumerate(churned)
            ],
            "survey_score": rng.integers(1, 6, n).astype(str),
            "Churn": np.where(churned, "Yes", "No"),
        }
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mlflow_template):
    """One model trained on the customer table through the command line, in its own KINDRED_HOME."""
    from tests.models.conftest import prepare_home

    folder = tmp_path_factory.mktemp("builder")
    home = prepare_home(folder / "home", mlflow_template)
    table = folder / "customers.csv"
    _customers().write_csv(table)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KINDRED_HOME", str(home))
        result = CliRunner().invoke(
            app,
            [
                "predict",
                "train",
                str(table),
                "--target",
                "Churn",
                "--id",
                "customer",
                "--name",
                "churn_demo",
                "--drop",
                "survey_score",
            ],
        )
    return folder, home, table, result


@pytest.fixture
def home(trained, monkeypatch):
    monkeypatch.setenv("KINDRED_HOME", str(trained[1]))
    return trained[1]


def test_train_types_columns_and_says_what_it_left_out_and_why(trained, home):
    _, _, _, result = trained
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    for column, reason in (
        ("AccountNumber", "identifier"),
        ("notes", "free text"),
        ("region", "constant"),
        ("churn_flag_copy", "nearly equals the target"),
        ("cancelled_on", "looks recorded after the outcome"),
        ("survey_score", "left out with --drop"),
    ):
        assert f"left out {column}: {reason}" in output, (column, output)
    version = registry.champion("churn_demo")
    from models.table_plan import TablePlan

    plan = TablePlan.from_json(version_artifacts.artifact_text(version, PLAN_ARTIFACT))
    kinds = {c.name: c.kind for c in plan.columns}
    assert kinds == {
        "tenure": "numeric",
        "monthly_charges": "numeric",
        "Contract": "categorical",
        "PaperlessBilling": "boolean",
        "signup_date": "date",
    }
    assert {"signup_date_year", "signup_date_month", "signup_date_weekday", "signup_date_age_days"} <= set(
        plan.features
    )
    assert plan.positive == "Yes" and plan.reference_date is not None


def test_train_cross_validates_next_to_lightgbm_defaults_and_registers_a_card(trained, home):
    _, _, _, result = trained
    output = " ".join(result.output.split())
    assert "LightGBM defaults" in output and "mean of folds" in output
    assert "churn_demo version 1: champion" in output
    card = version_artifacts.model_card(registry.champion("churn_demo"))
    for part in ("LightGBM defaults", "## Columns left out", "`cancelled_on`", "## Top features", "5-fold"):
        assert part in card


def test_score_gives_probabilities_and_reasons_in_words(trained, home, tmp_path):
    folder, _, table, _ = trained
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(
        app, ["predict", "score", str(table), "--name", "churn_demo", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    scored = pl.read_parquet(out)
    assert scored.columns == ["customer", "score", "score_1_99", "top_factors"]
    assert scored.height == 800 and scored["customer"].n_unique() == 800
    assert scored["score"].is_between(0, 1).all() and scored["score_1_99"].is_between(1, 99).all()
    reasons = scored["top_factors"].to_list()
    assert all(r and "{" not in r for r in reasons)
    assert any("Contract: Month-to-month (+)" in r for r in reasons)
    # Month-to-month customers score higher, as planted.
    customers = _customers().select("customer", "Contract")
    by_contract = scored.join(customers, on="customer").group_by("Contract").agg(pl.col("score").mean())
    rates = dict(by_contract.iter_rows())
    assert rates["Month-to-month"] > rates["Two year"] + 0.2


@pytest.mark.parametrize(
    ("change", "arguments", "message"),
    [
        (lambda f: f, ["--target", "Churned"], "no column 'Churned' (the --target)"),
        (lambda f: f.with_columns(Churn=pl.lit("No")), [], "has one value ('No') in every row"),
        (
            lambda f: f.with_columns(Churn=pl.Series(["Yes", "No", "Maybe"] * 266)),
            [],
            "has 3 values",
        ),
        (lambda f: f.with_columns(customer=pl.lit("same")), [], "repeats values, e.g. 'same'"),
        (lambda f: f, ["--name", "Churn Model"], "--name 'Churn Model'"),
        (lambda f: f, ["--drop", "nope"], "--drop names column(s) ['nope']"),
    ],
)
def test_bad_training_input_fails_clearly(tmp_path, change, arguments, message):
    table = tmp_path / "t.csv"
    change(_customers(n=798)).write_csv(table)
    options = {"--target": "Churn", "--id": "customer", "--name": "bad_input"}
    extra = []
    for i in range(0, len(arguments), 2):
        if arguments[i] in options:
            options[arguments[i]] = arguments[i + 1]
        else:
            extra += arguments[i : i + 2]
    result = CliRunner().invoke(
        app, ["predict", "train", str(table), *[x for kv in options.items() for x in kv], *extra]
    )
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert registry.champion("bad_input") is None


def test_scoring_errors_name_the_model_or_the_missing_columns(trained, home, tmp_path):
    _, _, table, _ = trained
    out = tmp_path / "s.csv"
    unknown = CliRunner().invoke(app, ["predict", "score", str(table), "--name", "nobody", "--out", str(out)])
    assert unknown.exit_code == 1 and "no model named 'nobody'" in unknown.output
    lacking = tmp_path / "lacking.csv"
    _customers().drop("tenure", "Contract").write_csv(lacking)
    result = CliRunner().invoke(
        app, ["predict", "score", str(lacking), "--name", "churn_demo", "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "lacks column(s) ['tenure', 'Contract']" in " ".join(result.output.split())
    assert not out.exists()


def test_read_table_reads_semicolons_and_parquet(tmp_path):
    frame = pl.DataFrame({"a": ["1", "NA", "3"], "b": ["x", "y", ""]})
    frame.write_csv(tmp_path / "t.csv", separator=";")
    frame.write_parquet(tmp_path / "t.parquet")
    for name in ("t.csv", "t.parquet"):
        read = read_table(tmp_path / name)
        assert read.columns == ["a", "b"]
        assert read["a"].to_list() == ["1", None, "3"] and read["b"].to_list() == ["x", "y", None]
    (tmp_path / "t.xlsx").write_text("not a table")
    with pytest.raises(TableError, match="unsupported file type '.xlsx'"):
        read_table(tmp_path / "t.xlsx")
    with pytest.raises(TableError, match="no such file"):
        read_table(tmp_path / "missing.csv")


def test_a_model_is_scored_only_through_its_champion(trained, home, tmp_path):
    # Direct library use: the same answers as the command line.
    _, _, table, _ = trained
    scored = score(table, name="churn_demo")
    assert scored.height == 800
    with pytest.raises(TableError, match="pipeline's models"):
        train(table, target="Churn", id_column="customer", name="churn_risk")
