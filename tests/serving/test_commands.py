"""`kindred publish` and `kindred serve`'s argument checks."""

from __future__ import annotations

from typer.testing import CliRunner

from pipelines.cli import app
from serving.publish import current_publication
from serving.store import ServingStore
from tests.activation.conftest import make_warehouse
from tests.serving.conftest import write_config


def test_publish_copies_the_warehouse_and_says_where(kindred_home):
    config = write_config(kindred_home.parent)
    missing = CliRunner().invoke(app, ["publish", "--config", str(config.base_dir / "kindred.yaml")])
    assert missing.exit_code == 1 and "no warehouse at" in missing.output
    make_warehouse(path=kindred_home / "warehouse.duckdb").close()
    done = CliRunner().invoke(app, ["publish", "--config", str(config.base_dir / "kindred.yaml")])
    assert done.exit_code == 0, done.output
    assert "published" in done.output and current_publication(kindred_home).name in done.output
    with ServingStore(kindred_home).connection() as con:
        assert con.sql("SELECT count(*) FROM profiles.unified_profile").fetchall() == [(3,)]


def test_serve_refuses_a_host_that_is_not_an_address(kindred_home):
    result = CliRunner().invoke(app, ["serve", "--host", "my host"])
    assert result.exit_code == 1 and "--host 'my host'" in result.output
