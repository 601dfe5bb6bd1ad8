"""The `profiles/consent` asset materialised by Dagster against a warehouse file in KINDRED_HOME."""

import dagster as dg

from pipelines.defs.privacy.assets import consent
from pipelines.defs.privacy.checks import consent_rows_are_sound
from pipelines.resources import KindredResource
from tests.privacy.conftest import write_company, write_identity
from warehouse.config import load_config
from warehouse.connection import open_warehouse
from warehouse.ingest import ingest_sources
from warehouse.staging import build_staging


def test_the_asset_builds_the_table_with_its_figures_and_passes_its_check(tmp_path, kindred_home):
    config_path = write_company(tmp_path / "landing")
    with open_warehouse() as con:
        config = load_config(config_path)
        ingest_sources(con, config)
        build_staging(con, config)
        write_identity(con)
    resource = KindredResource(config_path=str(config_path))
    result = dg.materialize([consent, consent_rows_are_sound], resources={"kindred": resource})
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["dagster/row_count"].value == 10
    assert metadata["opted_out"].value["any/profiling"] == 2
    assert metadata["ignored_values"].value == {"crm_leads.HasOptedOutOfEmail": 1}
    assert metadata["file_rows_quarantined"].value == 4
    (check,) = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["without_profile"].value == 0
    with open_warehouse() as con:
        assert con.sql("SELECT count(*) FROM profiles.consent").fetchall()[0][0] == 10


def test_the_check_fails_on_a_row_without_a_known_status_or_profile(tmp_path, kindred_home):
    with open_warehouse() as con:
        write_identity(con)
        con.execute(
            "CREATE TABLE profiles.consent AS SELECT * FROM (VALUES "
            "('pA', 'email', 'marketing', 'opted_out', 'crm', 'L1', TIMESTAMP '2025-01-01'), "
            "('ghost', 'email', 'marketing', 'opted_out', 'crm', 'L9', TIMESTAMP '2025-01-01'), "
            "('pB', 'email', 'marketing', 'Opted Out', 'crm', 'L2', TIMESTAMP '2025-01-01')) "
            "AS t(profile_id, channel, purpose, status, source, record_id, recorded_at)"
        )
    result = consent_rows_are_sound(kindred=KindredResource(config_path=str(tmp_path / "unused.yaml")))
    assert not result.passed
    assert result.metadata["unknown_status"].value == 1
    assert result.metadata["without_profile"].value == 1
