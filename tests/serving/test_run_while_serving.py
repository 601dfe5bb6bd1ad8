"""A pipeline run and the server at once: the run writes the warehouse and publishes while requests
are answered, and the server moves to the new publication without a failed request."""

from __future__ import annotations

import shutil
import threading

import dagster as dg
import httpx

from pipelines.defs.activation.assets import record_scores
from pipelines.defs.serving.assets import publication
from pipelines.resources import KindredResource
from serving.publish import current_publication
from tests.serving.conftest import ServedHome, bearer, make_app, running_server, write_config


def test_a_run_materialises_and_publishes_while_requests_are_answered(served, tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(served.home, home, ignore=shutil.ignore_patterns("audit", "mlflow*", "serving"))
    monkeypatch.setenv("KINDRED_HOME", str(home))
    resources = {"kindred": KindredResource(config_path=str(home / "kindred.yaml"))}
    assert dg.materialize([publication], resources=resources).success
    first = current_publication(home)
    # The asker sends as fast as it can: the rate limit must not be what answers it.
    config = write_config(tmp_path, "serving: {rate_limit: {per_second: 100000, burst: 100000}}\n")
    copy = ServedHome(home, config, served.reader_key, served.pii_key, served.revoked_key)
    statuses, stop = [], threading.Event()
    with running_server(make_app(copy)) as url:

        def ask() -> None:
            with httpx.Client(base_url=url, headers=bearer(served.reader_key), timeout=30) as client:
                while not stop.is_set():
                    statuses.append(client.get("/v1/crm/Lead/L1").status_code)

        asker = threading.Thread(target=ask)
        asker.start()
        try:
            result = dg.materialize([record_scores, publication], resources=resources)
        finally:
            stop.set()
            asker.join()
        assert result.success
        health = httpx.get(f"{url}/health").json()
    second = current_publication(home)
    assert second != first and not first.exists()
    assert health["status"] == "ok"
    assert statuses and set(statuses) == {200}
