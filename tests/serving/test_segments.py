"""Segments through the API and MCP: the list, paged members with consent applied, masking by role, audit."""

from __future__ import annotations

import asyncio

from mcp import Client

from privacy.audit import ACCESS_LOG, read_audit
from serving.auth import Authenticator
from serving.keys import KeyStore
from serving.mcp_server import CallerResolver, build_mcp_server
from serving.rate_limit import RateLimiter
from serving.service import KindredService
from tests.serving.conftest import bearer


def test_the_segment_list_with_purpose_channel_and_size(client, served):
    response = client.get("/v1/segments", headers=bearer(served.reader_key))
    assert response.status_code == 200
    (segment,) = response.json()["segments"]
    assert (segment["name"], segment["purpose"], segment["channel"], segment["size"]) == (
        "everyone",
        "marketing",
        "email",
        3,
    )


def test_members_leave_out_who_opted_out_and_are_masked_for_a_reader(client, served):
    response = client.get("/v1/segments/everyone/members", headers=bearer(served.reader_key))
    assert response.status_code == 200
    body = response.json()
    assert (body["members_total"], body["permitted_total"], body["masked"]) == (3, 2, True)
    assert [m["profile_id"] for m in body["members"]] == ["P1", "P3"]
    jane = body["members"][0]
    assert (jane["first_name"], jane["last_name"], jane["email"]) == ("Jane", "D.", "j***@example.com")
    assert jane["churn_risk"] == 0.2
    (row,) = [
        r
        for r in read_audit(ACCESS_LOG, served.home).to_dicts()
        if r["request_id"] == response.headers["X-Request-Id"]
    ]
    assert (row["resource"], row["segment"], row["masked"]) == ("segment_members", "everyone", True)


def test_members_are_paged_by_profile_id(client, served):
    first = client.get(
        "/v1/segments/everyone/members", params={"limit": 1}, headers=bearer(served.reader_key)
    ).json()
    assert [m["profile_id"] for m in first["members"]] == ["P1"] and first["next_after"] == "P1"
    second = client.get(
        "/v1/segments/everyone/members", params={"limit": 1, "after": "P1"}, headers=bearer(served.reader_key)
    ).json()
    assert [m["profile_id"] for m in second["members"]] == ["P3"] and second["next_after"] is None


def test_members_in_clear_only_for_a_pii_reader_who_asks(client, served):
    clear = client.get(
        "/v1/segments/everyone/members", params={"unmask": True}, headers=bearer(served.pii_key)
    )
    assert clear.json()["members"][0]["email"] == "jane.doe@example.com" and clear.json()["masked"] is False
    denied = client.get(
        "/v1/segments/everyone/members", params={"unmask": True}, headers=bearer(served.reader_key)
    )
    assert denied.status_code == 403


def test_unknown_segments_and_pages_too_large_are_refused(client, served):
    missing = client.get("/v1/segments/nobody/members", headers=bearer(served.reader_key))
    assert (
        missing.status_code == 404
        and "no segment named 'nobody' (segments: everyone)" in missing.json()["message"]
    )
    large = client.get(
        "/v1/segments/everyone/members", params={"limit": 5000}, headers=bearer(served.reader_key)
    )
    assert large.status_code == 422 and "serving.max_page_size" in large.json()["message"]


def test_the_list_segments_tool(served):
    service = KindredService(served.home, served.config)
    authenticator = Authenticator(KeyStore(served.home), RateLimiter(served.config.serving))
    server = build_mcp_server(service, CallerResolver(authenticator, stdio_key=served.reader_key))

    async def run():
        async with Client(server) as mcp_client:
            return await mcp_client.call_tool("list_segments", {})

    result = asyncio.run(run())
    service.close()
    assert not result.is_error
    assert result.structured_content["segments"][0]["name"] == "everyone"
