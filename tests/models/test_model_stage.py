"""The model stage under Dagster against a warehouse in KINDRED_HOME: metadata, model cards, and the
blocking promotion check that keeps a model no better than its baseline away from the CRM tables."""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg
import pytest

from models import registry, version_artifacts
from pipelines.defs.models.assets import lead_score_scores
from pipelines.defs.models.checks import promotion_check
from pipelines.resources import KindredResource
from tests.feature_store.staging_frames import write_staging
from warehouse.connection import open_warehouse

START = datetime(2023, 1, 1)
END = datetime(2024, 7, 1)


def _config(folder) -> str:
    path = folder / "kindred.yaml"
    path.write_text(
        "sources:\n  - {name: crm_leads, kind: people, path: leads.csv}\n"
        "models:\n  lead_score: {horizon_days: 60}\n"
    )
    return str(path)


def _leads(n: int, *, only_the_source_matters: bool) -> list[dict]:
    """Leads created over 18 months. When only the source matters, every referral converts 20 days
    after creation and nobody else ever does: the source's conversion rate ranks them perfectly, so
    no model can beat that baseline."""
    rows = []
    for i in range(n):
        created = START + timedelta(days=(i * 480) // n)
        source = ["referral", "web", "event"][i % 3]
        converts = (
            source == "referral" if only_the_source_matters else (i % 7 in (0, 1) or source == "referral")
        )
        converted_at = created + timedelta(days=20) if converts else None
        if converted_at is not None and converted_at >= END:
            converted_at = None
        rows.append(
            {
                "record_id": f"l{i}",
                "crm_object": "Lead",
                "created_at": created,
                "lead_source": source,
                "job_title": None
                if only_the_source_matters
                else ["CEO", "Engineer", "Manager", "VP Sales"][i % 4],
                "converted": converted_at is not None,
                "converted_at": converted_at,
            }
        )
    return rows


@dg.asset(deps=[dg.AssetKey(["scores", "lead_score"])])
def crm_stand_in() -> None:
    """Stands for the CRM tables: anything downstream of the scores."""


def _materialise(tmp_path, leads: list[dict]) -> dg.ExecuteInProcessResult:
    with open_warehouse() as con:
        write_staging(con, people=leads)
    return dg.materialize(
        [lead_score_scores, promotion_check("lead_score"), crm_stand_in],
        resources={"kindred": KindredResource(config_path=_config(tmp_path), as_of="2024-07-01")},
        raise_on_error=False,
    )


def _check(result: dg.ExecuteInProcessResult):
    (evaluation,) = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    return evaluation


def test_a_model_that_beats_its_baseline_is_published_with_its_card(tmp_path, kindred_home):
    result = _materialise(tmp_path, _leads(600, only_the_source_matters=False))
    assert result.success
    assert _check(result).passed
    (scores,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.path == ["scores", "lead_score"]
    ]
    metadata = scores.materialization.metadata
    assert metadata["promoted_to_champion"].value is True
    assert metadata["n_holdout_positive"].value > 0
    low, _, high = metadata["holdout_roc_auc_interval"].value.partition(" to ")
    assert float(low) <= metadata["holdout_roc_auc"].value <= float(high)
    card = metadata["model_card"].value
    for section in (
        "## Holdout figures",
        "ROC-AUC",
        "log loss",
        "Brier",
        "## Lift, gain and calibration by decile",
        "## Top features",
        "## Training data",
    ):
        assert section in card
    assert any(e.asset_key.path == ["crm_stand_in"] for e in result.get_asset_materialization_events())
    # The same card and its plots live in MLflow beside the version.
    version = registry.champion("lead_score")
    assert version_artifacts.model_card(version) == card
    plots = kindred_home / "mlartifacts" / "lead_score"
    assert {p.name for p in plots.rglob("*.png")} == {"calibration.png", "gain.png", "lift.png"}


def test_a_model_no_better_than_its_baseline_is_not_promoted_and_scores_nobody(tmp_path, kindred_home):
    result = _materialise(tmp_path, _leads(600, only_the_source_matters=True))
    evaluation = _check(result)
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN  # nothing unvetted was written
    assert result.success  # what is downstream is built, without this model's scores
    assert any(e.asset_key.path == ["crm_stand_in"] for e in result.get_asset_materialization_events())
    assert "has beaten its baseline" in evaluation.description
    (scores,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.path == ["scores", "lead_score"]
    ]
    assert scores.materialization.metadata["promoted_to_champion"].value is False
    assert "does not beat its baseline" in scores.materialization.metadata["promotion"].value
    assert registry.champion("lead_score") is None
    with open_warehouse() as con:
        assert con.sql("SELECT count(*) FROM scores.predictions").fetchall()[0][0] == 0


def test_the_check_blocks_scores_of_a_version_that_did_not_pass_the_gate(tmp_path, kindred_home):
    first = _materialise(tmp_path, _leads(600, only_the_source_matters=True))
    assert registry.champion("lead_score") is None
    # Someone moves the alias to the version the gate turned down; the next run scores with it.
    registry.promote("lead_score", "1")
    result = dg.materialize(
        [lead_score_scores, promotion_check("lead_score"), crm_stand_in],
        resources={"kindred": KindredResource(config_path=_config(tmp_path), as_of="2024-07-01")},
        raise_on_error=False,
    )
    assert first.success and not result.success
    evaluation = _check(result)
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "did not pass the promotion gate" in evaluation.description
    assert not any(e.asset_key.path == ["crm_stand_in"] for e in result.get_asset_materialization_events())
    with open_warehouse() as con:
        versions = con.sql("SELECT DISTINCT model_version FROM scores.predictions").fetchall()
    assert versions == [("1",)]


@pytest.fixture(autouse=True)
def _no_config_from_the_environment(monkeypatch):
    monkeypatch.delenv("KINDRED_CONFIG", raising=False)
