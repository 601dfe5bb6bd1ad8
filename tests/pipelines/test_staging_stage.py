"""The ingest and staging stages materialised by Dagster against a warehouse in tmp_path."""

import dagster as dg

from pipelines.defs.ingest.assets import raw_asset
from pipelines.defs.staging.assets import staging_asset
from pipelines.defs.staging.checks import accounting_check, expectations_check
from pipelines.resources import KindredResource
from tests.warehouse.conftest import write_landing
from warehouse.canonical import KINDS
from warehouse.config import load_config
from warehouse.connection import open_warehouse


def test_ingest_and_staging_materialise_with_checks(tmp_path, kindred_home):
    config_path = write_landing(tmp_path / "landing")
    config = load_config(config_path)
    assets = [raw_asset(s) for s in config.sources] + [staging_asset(config.sources)]
    checks = [make(kind) for kind in KINDS for make in (expectations_check, accounting_check)]
    result = dg.materialize(
        [*assets, *checks], resources={"kindred": KindredResource(config_path=str(config_path))}
    )
    assert result.success
    evaluations = {
        (
            e.asset_check_evaluation_data.asset_key.to_user_string(),
            e.asset_check_evaluation_data.check_name,
        ): e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert len(evaluations) == 8
    assert all(evaluations.values()), evaluations
    staged = {
        e.asset_key.to_user_string(): e.materialization.metadata["dagster/row_count"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[0] == "staging"
    }
    assert staged == {"staging/people": 1, "staging/events": 2, "staging/orders": 2, "staging/cases": 1}
    assert (kindred_home / "warehouse.duckdb").is_file()
    with open_warehouse() as con:
        assert con.sql("SELECT count(*) FROM quarantine.web").fetchall()[0][0] == 4


def test_a_failing_expectation_blocks_downstream(tmp_path, kindred_home):
    config_path = write_landing(tmp_path / "landing")
    # An order dated far in the future passes typing but breaks the suite.
    with open(config_path.parent / "orders.csv", "a") as handle:
        handle.write("c9,i9,2999-01-01,5,p9,toys\n")
    config = load_config(config_path)
    staged = staging_asset(config.sources)

    @dg.asset(deps=[dg.AssetKey(["staging", "orders"])])
    def downstream() -> None:
        return None

    result = dg.materialize(
        [*[raw_asset(s) for s in config.sources], staged, downstream, expectations_check("orders")],
        resources={"kindred": KindredResource(config_path=str(config_path))},
        raise_on_error=False,
    )
    assert not result.success
    assert not any(e.asset_key.path == ["downstream"] for e in result.get_asset_materialization_events())
