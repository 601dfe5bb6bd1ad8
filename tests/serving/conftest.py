"""A served Kindred home: the activation tests' small warehouse, built, published, with two API keys.

Built once per test process (grounding and publishing take a second or two, MLflow's prompt registry
longer); tests read the audit rows written after they start, by request id or by counting.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from activation.grounding import build_grounding
from activation.record_scores import build_record_scores
from activation.segments.membership import refresh_segment
from activation.segments.profile_fields import build_profile_fields
from privacy.tokens import MASKING_KEY_ENV
from serving.api import create_app
from serving.auth import Authenticator
from serving.keys import KeyStore
from serving.mcp_server import CallerResolver, build_mcp_server, mcp_http
from serving.publish import publish
from serving.rate_limit import RateLimiter
from serving.service import KindredService
from tests.activation.conftest import NOW, make_warehouse
from warehouse.config import KindredConfig, load_config

MASKING_KEY = "serving-tests-masking-key-0123456789abcdef"


@dataclass
class ServedHome:
    """A home with a publication and keys: `reader_key`, `pii_key`, and a revoked `revoked_key`."""

    home: Path
    config: KindredConfig
    reader_key: str
    pii_key: str
    revoked_key: str


# Everyone with a profile, for email marketing; John Smith (P2) opted out of email marketing.
SEGMENT = """
segments:
  - name: everyone
    description: Every profile, for email marketing.
    purpose: marketing
    channel: email
    where: {field: profile_id, op: is not null}
    columns: [first_name, last_name, email, churn_risk]
"""


def write_config(folder: Path, extra: str = "") -> KindredConfig:
    """A kindred.yaml with the fixture's one people source and segment, plus `extra` YAML."""
    path = folder / "kindred.yaml"
    path.write_text("sources:\n  - {name: crm, kind: people, path: people.csv}\n" + SEGMENT + extra)
    return load_config(path)


def build_home(home: Path, extra_config: str = "") -> ServedHome:
    """Build the small warehouse in `home` with a segment and consent, publish it and create the keys."""
    home.mkdir(parents=True, exist_ok=True)
    config = write_config(home, extra_config)
    with make_warehouse(path=home / "warehouse.duckdb") as con:
        build_record_scores(con, now=NOW)
        build_grounding(con, as_of=NOW, generated_at=NOW)
        con.execute(
            "CREATE TABLE profiles.consent AS SELECT 'P2' AS profile_id, 'email' AS channel, 'marketing' AS purpose, "
            "'opted_out' AS status, 'crm' AS source, 'C1' AS record_id, TIMESTAMP '2024-05-01' AS recorded_at"
        )
        build_profile_fields(con)
        for segment in config.segments:
            refresh_segment(con, segment, now=NOW)
        publish(con, home)
    keys = KeyStore(home)
    _, reader = keys.create("copilot", "reader")
    _, pii = keys.create("ops", "pii_reader")
    _, revoked = keys.create("retired", "reader")
    keys.revoke("retired")
    return ServedHome(home, config, reader, pii, revoked)


def make_app(served: ServedHome, config: KindredConfig | None = None) -> FastAPI:
    """The app `kindred serve` runs, over the home, with the MCP endpoint mounted."""
    config = config or served.config
    service = KindredService(served.home, config)
    authenticator = Authenticator(KeyStore(served.home), RateLimiter(config.serving))
    mcp = mcp_http(build_mcp_server(service, CallerResolver(authenticator)), "127.0.0.1")
    return create_app(service, authenticator, mcp_app=mcp)


def make_client(served: ServedHome, config: KindredConfig | None = None) -> TestClient:
    """A test client of `make_app`; use as a context manager (runs the lifespan)."""
    return TestClient(make_app(served, config), base_url="http://127.0.0.1:8000")


@contextmanager
def running_server(app: FastAPI) -> Iterator[str]:
    """Run an app in uvicorn on a free loopback port in a thread; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(autouse=True)
def masking_key(monkeypatch):
    """Lookups are audited as keyed hashes, which need the masking key."""
    monkeypatch.setenv(MASKING_KEY_ENV, MASKING_KEY)


@pytest.fixture(scope="session")
def served(tmp_path_factory) -> ServedHome:
    return build_home(tmp_path_factory.mktemp("served_home"))


@pytest.fixture(scope="module")
def client(served) -> Iterator[TestClient]:
    with make_client(served) as test_client:
        yield test_client


def bearer(key: str) -> dict[str, str]:
    """The header a key travels in."""
    return {"Authorization": f"Bearer {key}"}
