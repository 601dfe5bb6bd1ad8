"""The MCP server with the SDK's own client: in process, over streamable HTTP on uvicorn, and over stdio."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from privacy.audit import ACCESS_LOG, read_audit
from serving.auth import Authenticator
from serving.keys import KeyStore
from serving.mcp_server import CallerResolver, build_mcp_server
from serving.rate_limit import RateLimiter
from serving.service import KindredService
from tests.serving.conftest import MASKING_KEY, bearer, make_app, running_server

TOOLS = {
    "find_customer",
    "get_customer_context",
    "get_scores",
    "get_next_best_offers",
    "list_segments",
    "generate",
}
CLEAR = ("Doe", "jane.doe@example.com", "5550101", "4111", "123-45-6789")


def structured(result) -> dict:
    assert not result.is_error, result.content
    return result.structured_content


async def exercise(client: Client) -> dict[str, dict]:
    """List the tools and call each read tool once as the client's caller; returns the results by tool."""
    listed = await client.list_tools()
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) >= TOOLS
    for tool in tools.values():
        assert len(tool.description) > 60, tool.name
    assert "unmask" in tools["get_customer_context"].input_schema["properties"]
    return {
        "find_customer": structured(
            await client.call_tool("find_customer", {"email": "JANE.DOE@example.com"})
        ),
        "get_customer_context": structured(
            await client.call_tool("get_customer_context", {"crm_object": "Lead", "crm_record_id": "L1"})
        ),
        "get_scores": structured(
            await client.call_tool("get_scores", {"crm_object": "Lead", "crm_record_id": "L1"})
        ),
        "get_next_best_offers": structured(
            await client.call_tool(
                "get_next_best_offers", {"crm_object": "Lead", "crm_record_id": "L1", "limit": 2}
            )
        ),
    }


def check_results(results: dict[str, dict]) -> None:
    assert results["find_customer"]["profiles"][0]["profile_id"] == "P1"
    assert results["get_customer_context"]["profile"]["last_name"] == "D."
    assert results["get_scores"]["lead_score_1_99"] == 83
    assert [o["offer"] for o in results["get_next_best_offers"]["offers"]] == ["Outdoor", "Books"]
    text = json.dumps(results)
    for clear in CLEAR:
        assert clear not in text


def mcp_rows(served, since: int, caller: str) -> list[dict]:
    rows = read_audit(ACCESS_LOG, served.home).to_dicts()[since:]
    return [r for r in rows if r["channel"] == "mcp" and r["caller"] == caller]


def test_in_process_every_tool_masked_for_a_reader_and_audited(served):
    service = KindredService(served.home, served.config)
    authenticator = Authenticator(KeyStore(served.home), RateLimiter(served.config.serving))
    server = build_mcp_server(service, CallerResolver(authenticator, stdio_key=served.reader_key))
    since = len(read_audit(ACCESS_LOG, served.home))

    async def run() -> tuple[dict, object, object]:
        async with Client(server) as client:
            results = await exercise(client)
            denied = await client.call_tool(
                "get_customer_context", {"crm_object": "Lead", "crm_record_id": "L1", "unmask": True}
            )
            missing = await client.call_tool("get_scores", {"crm_object": "Lead", "crm_record_id": "NOPE"})
            return results, denied, missing

    results, denied, missing = asyncio.run(run())
    service.close()
    check_results(results)
    assert denied.is_error and "pii_reader" in denied.content[0].text
    assert missing.is_error and "no CRM record Lead NOPE" in missing.content[0].text
    rows = mcp_rows(served, since, "copilot")
    assert {r["resource"] for r in rows} >= {"profile", "grounding", "scores", "offers"}
    assert {r["role"] for r in rows} == {"reader"}
    lookup = next(r for r in rows if r["action"] == "lookup")
    assert lookup["lookup_hash"] and "jane" not in json.dumps(lookup, default=str).lower()


def test_over_streamable_http_with_the_bearer_key(served):
    since = len(read_audit(ACCESS_LOG, served.home))

    async def run(url: str, key: str | None):
        headers = bearer(key) if key else {}
        async with (
            httpx2.AsyncClient(headers=headers) as http,
            Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
        ):
            results = await exercise(client)
            clear = await client.call_tool(
                "get_customer_context", {"crm_object": "Lead", "crm_record_id": "L1", "unmask": True}
            )
            return results, clear

    with running_server(make_app(served)) as url:
        results, clear = asyncio.run(run(url, served.pii_key))
        with pytest.raises(Exception):  # noqa: B017 (the SDK wraps the 401 in its own error types)
            asyncio.run(run(url, None))
        refused = httpx2.post(
            f"{url}/mcp", json={}, headers={"Accept": "application/json, text/event-stream"}
        )
    check_results(results)
    assert structured(clear)["profile"]["last_name"] == "Doe"
    assert refused.status_code == 401
    rows = mcp_rows(served, since, "ops")
    assert any(r["resource"] == "grounding" and r["masked"] is False for r in rows)
    assert {r["role"] for r in rows} == {"pii_reader"}


def test_kindred_mcp_over_stdio_acts_with_the_key_in_the_environment(served, tmp_path):
    env = {
        **os.environ,
        "KINDRED_HOME": str(served.home),
        "KINDRED_API_KEY": served.reader_key,
        "KINDRED_MASKING_KEY": MASKING_KEY,
    }
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "pipelines.cli", "mcp", "--config", str(served.home / "kindred.yaml")],
        env=env,
    )
    since = len(read_audit(ACCESS_LOG, served.home))

    async def run() -> dict:
        async with Client(params, read_timeout_seconds=60) as client:
            return await exercise(client)

    check_results(asyncio.run(run()))
    assert {r["resource"] for r in mcp_rows(served, since, "copilot")} >= {"grounding", "scores", "offers"}


def test_kindred_mcp_refuses_to_start_without_a_valid_key(served):
    import subprocess

    env = {**os.environ, "KINDRED_HOME": str(served.home), "KINDRED_API_KEY": served.revoked_key}
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "mcp", "--config", str(served.home / "kindred.yaml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert "KINDRED_API_KEY: the API key is not valid" in done.stderr
