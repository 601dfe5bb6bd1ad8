"""The trained match model is saved per run, reused while it fits, retrained when asked or when
the data or settings moved; MLflow keeps it too; `kindred identity retrain` refits it."""

import json

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from benchmarks.identity_data import _with_duplicates
from identity_resolution.comparisons import configured_spec
from identity_resolution.model_store import latest_model, log_to_mlflow
from identity_resolution.options import MatchOptions
from identity_resolution.resolve import resolve_identities
from pipelines.cli import app
from tests.identity_resolution.conftest import ts, write_staging
from warehouse.connection import connect, read_table


def staged_people(n: int, seed: int) -> list[dict]:
    frame = _with_duplicates(n, 0.2, np.random.default_rng(seed))
    return [
        dict(
            source="crm",
            record_id=f"{seed}-{i}",
            first_name=row["first_name"],
            last_name=row["last_name"],
            date_of_birth=row["date_of_birth"],
            email=row["email"],
            created_at=ts("2024-01-01"),
        )
        for i, row in enumerate(frame.iter_rows(named=True))
    ]


@pytest.fixture(scope="module")
def people() -> list[dict]:
    return staged_people(1200, seed=4)


def test_model_is_saved_reused_and_retrained_for_a_reason(tmp_path, people):
    con = connect(tmp_path / "warehouse.duckdb")
    write_staging(con, "people", people)
    first = resolve_identities(con)
    assert first.model_trained and first.model_reason == "no saved model"
    saved = latest_model(con)
    assert saved.model_id == first.model_id and saved.summary["data"]["records"] == 1200
    assert {"first_name", "last_name", "date_of_birth", "email"} <= set(saved.model.comparisons)
    xref = read_table(con, "identity.record_xref").drop("resolved_at")

    again = resolve_identities(con)  # same data: the saved model scores it, same result
    assert not again.model_trained and again.model_reason is None and again.model_id == first.model_id
    assert read_table(con, "identity.record_xref").drop("resolved_at").equals(xref)

    configured = MatchOptions(comparisons=(configured_spec("email", "damerau_levenshtein", [1], False),))
    changed = resolve_identities(con, configured)
    assert changed.model_reason == "identity.splink settings changed"

    write_staging(con, "people", people + staged_people(600, seed=5))
    grown = resolve_identities(con, configured)
    assert grown.model_trained and grown.model_reason.startswith("data changed by 50%")
    assert con.sql("SELECT count(*) FROM identity.match_models").fetchall()[0][0] == 3
    con.close()


def test_saved_model_goes_to_mlflow_with_its_training_summary(tmp_path, people, kindred_home):
    con = connect(tmp_path / "warehouse.duckdb")
    write_staging(con, "people", people[:1100])
    resolve_identities(con)
    saved = latest_model(con)
    con.close()
    run_id = log_to_mlflow(saved)

    import mlflow

    from models.registry import tracking_uri

    client = mlflow.MlflowClient(tracking_uri=tracking_uri())
    run = client.get_run(run_id)
    assert run.data.params["model_id"] == saved.model_id and run.data.metrics["records"] == 1100.0
    folder = client.download_artifacts(run_id, "", str(tmp_path / "artifacts"))
    settings = json.loads((tmp_path / "artifacts" / "splink_settings.json").read_text())
    assert settings == saved.model.settings and folder
    summary = json.loads((tmp_path / "artifacts" / "training_summary.json").read_text())
    assert summary["data"]["columns"]["email_norm"]["share"] > 0.5


def test_identity_retrain_command_refits_on_the_warehouse(tmp_path, people, kindred_home):
    config = tmp_path / "kindred.yaml"
    config.write_text(
        "sources:\n  - {name: crm, kind: people, path: crm.csv}\nidentity:\n  splink: {threshold: 0.95}\n"
    )
    kindred_home.mkdir(parents=True, exist_ok=True)
    con = connect(kindred_home / "warehouse.duckdb")
    write_staging(con, "people", people[:1050])
    con.close()
    result = CliRunner().invoke(app, ["identity", "retrain", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "match model m_" in result.output and "1,050 records" in result.output
    con = connect(kindred_home / "warehouse.duckdb")
    assert con.sql("SELECT reason FROM identity.match_models").fetchall() == [("retrain requested",)]
    con.close()


def test_identity_retrain_without_a_warehouse_says_what_to_do(tmp_path):
    config = tmp_path / "kindred.yaml"
    config.write_text("sources:\n  - {name: crm, kind: people, path: crm.csv}\n")
    result = CliRunner().invoke(app, ["identity", "retrain", "--config", str(config)])
    assert result.exit_code == 1
    assert "no warehouse yet" in result.output


def test_bad_identity_settings_name_the_setting(tmp_path):
    from warehouse.config import ConfigError, load_config

    base = "sources:\n  - {name: crm, kind: people, path: crm.csv}\nidentity:\n"
    cases = {
        "  splink: {comparisons: [{attribute: surname}]}\n": "identity.splink.comparisons[0].attribute: unknown attribute 'surname'",
        "  splink: {comparisons: [{attribute: company, method: jaro_winkler}]}\n": "needs thresholds",
        "  splink: {comparisons: [{attribute: company, method: levenshtein, thresholds: [0.5]}]}\n": "whole-number distances",
        "  splink: {blocking_rules: [[last_name, town]]}\n": "identity.splink.blocking_rules: unknown attribute 'town'",
        "  splink: {threshold: 1.5}\n": "identity.splink.threshold",
        "  match_threshold: 0.8\n  splink: {threshold: 0.9}\n": "disagree; set one of them",
        "  guards: {max_cluster_size: 1}\n": "identity.guards.max_cluster_size",
        "  guards: {given_name: false}\n": "identity.guards.given_name",
    }
    for text, message in cases.items():
        path = tmp_path / "kindred.yaml"
        path.write_text(base + text)
        with pytest.raises(ConfigError, match=None) as error:
            load_config(path)
        assert message in str(error.value), (text, str(error.value))


def test_settings_from_kindred_yaml_reach_the_matching(tmp_path):
    from warehouse.config import load_config

    path = tmp_path / "kindred.yaml"
    path.write_text(
        "sources:\n  - {name: crm, kind: people, path: crm.csv}\nidentity:\n"
        "  guards: {date_of_birth_max_edits: 1, max_cluster_size: 20}\n"
        "  blocked_values: {email: [info@shop.example]}\n"
        "  splink:\n    threshold: 0.97\n    comparisons: [{attribute: company, method: jaro_winkler, thresholds: [0.9]}]\n"
        "    blocking_rules: [[last_name, city]]\n"
    )
    options = MatchOptions.from_config(load_config(path).identity)
    assert options.match_threshold == 0.97
    assert (options.guards.date_of_birth_max_edits, options.guards.max_cluster_size) == (1, 20)
    assert options.blocked.email == ("info@shop.example",)
    assert [s.name for s in options.comparisons] == ["company"]
    assert [lv.label for lv in options.comparisons[0].levels] == ["exact", "jaro-winkler >= 0.9"]
    assert options.blocking_rules == (("last_name_norm", "city_norm"),)


def test_configured_comparisons_and_blocking_rules_are_used(tmp_path):
    from identity_resolution.attributes import profile_attributes
    from identity_resolution.comparisons import comparison_specs
    from identity_resolution.normalise import normalise_people
    from identity_resolution.probabilistic import fit_model, matchable_records

    frame = pl.DataFrame(
        {
            "first_name": ["Ann", "Ann", "Bo"] * 400,
            "last_name": ["Lee", "Lee", "Ng"] * 400,
            "company": ["Acme", "ACME Inc", "Initech"] * 400,
        }
    ).with_columns(pl.lit("s").alias("source"), pl.int_range(pl.len()).cast(pl.Utf8).alias("record_id"))
    matchable = matchable_records(normalise_people(frame))
    spec = configured_spec("company", "jaro_winkler", [0.8], True)
    names = [s.name for s in comparison_specs(profile_attributes(matchable), [spec])]
    assert names.count("company") == 1 and names[-1] == "company"
    model = fit_model(
        matchable,
        configured_comparisons=[spec],
        configured_blocking=[("company_norm",)],
        min_records_to_train=10**9,
    )
    company = next(c for c in model.settings["comparisons"] if c["output_column_name"] == "company")
    assert [lv.get("label_for_charts") for lv in company["comparison_levels"]][1:3] == [
        "exact",
        "jaro-winkler >= 0.8",
    ]
    assert "company_norm" in model.blocking_rules[0]
