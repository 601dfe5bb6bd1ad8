"""The segment assets materialised by Dagster against a warehouse file in tmp_path."""

from pathlib import Path

import dagster as dg
import pytest

from pipelines.defs.segments.assets import membership_asset, profile_fields, segment_asset
from pipelines.defs.segments.checks import one_row_per_member
from pipelines.resources import KindredResource
from tests.activation.segments.conftest import build_warehouse, write_config
from warehouse.config import load_config
from warehouse.connection import connect, open_warehouse

REPO = Path(__file__).resolve().parents[3]
SEGMENTS = """
segments:
  - name: at_risk
    description: Likely to churn
    purpose: marketing
    channel: email
    where: {field: churn_risk, op: ">=", value: 0.5}
  - name: lapsed
    purpose: marketing
    where: {field: last_seen, op: "<", value: {days_ago: 60}}
"""


def materialise(config_path: Path) -> dg.ExecuteInProcessResult:
    config = load_config(config_path)
    names = [s.name for s in config.segments]
    result = dg.materialize(
        [
            profile_fields,
            *(segment_asset(s) for s in config.segments),
            membership_asset(names),
            one_row_per_member,
        ],
        resources={"kindred": KindredResource(config_path=str(config_path), as_of="2026-06-01")},
    )
    assert result.success
    return result


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {
        e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


@pytest.fixture
def project(tmp_path, kindred_home):
    kindred_home.mkdir(parents=True, exist_ok=True)
    with connect(kindred_home / "warehouse.duckdb") as con:
        build_warehouse(con)
    return write_config(tmp_path / "project", SEGMENTS)


def test_one_asset_per_segment_with_sizes_and_changes(project):
    first_run = materialise(project)
    first = metadata(first_run)
    assert first["segments/profile_fields"]["dagster/row_count"] == 5
    assert first["segments/at_risk"]["dagster/row_count"] == 3
    assert first["segments/at_risk"]["entered"] == 3 and first["segments/at_risk"]["exited"] == 0
    assert first["segments/lapsed"]["dagster/row_count"] == 1
    assert first["segments/lapsed"]["as_of"] == "2026-06-01"
    assert "?" in first["segments/at_risk"]["sql"] and "0.5" not in first["segments/at_risk"]["sql"]
    assert first["segments/membership"]["dagster/row_count"] == 4
    second = materialise(project)
    again = metadata(second)["segments/at_risk"]
    assert (again["entered"], again["exited"], again["size_change"], again["size_trend"]) == (
        0,
        0,
        0,
        "3 -> 3",
    )
    checks = [
        e.asset_check_evaluation_data
        for e in second.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert [c.passed for c in checks] == [True]
    with open_warehouse() as con:
        assert con.sql("SELECT count(*) FROM segments.membership_history").fetchall() == [(4,)]
        # The entries belong to the run that saw them; the quiet second run added none.
        runs = con.sql("SELECT DISTINCT run_id FROM segments.membership_history").fetchall()
        assert runs == [(first_run.run_id,)]


def test_a_removed_segment_is_retired_by_the_membership_asset(project, tmp_path):
    materialise(project)
    fewer = write_config(tmp_path / "fewer", SEGMENTS.split("  - name: lapsed")[0])
    result = metadata(materialise(fewer))
    assert result["segments/membership"]["retired_segments"] == {"lapsed": 1}
    assert result["segments/membership"]["dagster/row_count"] == 3
    with open_warehouse() as con:
        assert con.sql("SELECT DISTINCT segment FROM segments.membership").fetchall() == [("at_risk",)]
        assert con.sql(
            "SELECT profile_id, change FROM segments.membership_history WHERE segment = 'lapsed' ORDER BY changed_at"
        ).fetchall() == [("p2", "entered"), ("p2", "exited")]


def test_a_bad_definition_fails_its_asset_with_the_segment_and_field(project, tmp_path):
    bad = write_config(tmp_path / "bad", SEGMENTS.replace("field: churn_risk", "field: churn"))
    config = load_config(bad)
    result = dg.materialize(
        [profile_fields, segment_asset(config.segments[0])],
        resources={"kindred": KindredResource(config_path=str(bad))},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "segment 'at_risk', field 'churn': unknown field" in failure.step_failure_data.error.cause.message


def test_the_demo_config_defines_its_segments(monkeypatch):
    # The whole code location (with this folder's group) loads in tests/pipelines/test_definitions.py.
    monkeypatch.setenv("KINDRED_CONFIG", str(REPO / "kindred.yaml"))
    from pipelines.defs.segments.assets import defs

    assets = {a.key.to_user_string(): a for a in defs().assets}
    assert set(assets) == {
        "segments/profile_fields",
        "segments/at_risk_spenders",
        "segments/hot_leads",
        "segments/lapsed_web_visitors",
        "segments/membership",
    }
    assert {k.to_user_string() for k in assets["segments/profile_fields"].dependency_keys} == {
        "profiles/unified_profile",
        "features/profile_features",
        "scores/lead_score",
        "scores/churn_risk",
        "scores/next_best_offer",
    }
    assert {k.to_user_string() for k in assets["segments/hot_leads"].dependency_keys} == {
        "segments/profile_fields"
    }
    assert {k.to_user_string() for k in assets["segments/membership"].dependency_keys} == {
        "segments/at_risk_spenders",
        "segments/hot_leads",
        "segments/lapsed_web_visitors",
    }
