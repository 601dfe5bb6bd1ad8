"""POST /v1/generate and the MCP generate tool against a local OpenAI-compatible stand-in: nothing
personal reaches the LLM, a pii_reader gets the answer unmasked, a reader with placeholders, audited."""

from __future__ import annotations

import asyncio
import re

import pytest
from mcp import Client

from privacy.audit import LLM_CALLS, read_audit
from serving.auth import Authenticator
from serving.keys import KeyStore
from serving.mcp_server import CallerResolver, build_mcp_server
from serving.rate_limit import RateLimiter
from serving.service import KindredService
from tests.openai_stand_in import StandInLlm
from tests.serving.conftest import bearer, make_client, write_config

TEMPLATE = """
prompts:
  - name: follow_up
    description: A short follow-up email to a lead.
    template: |-
      Write to {{ profile.first_name }} {{ profile.last_name }} at {{ profile.emails | join(", ") }}.
      {% for case in recent_activity.cases %}Case: {{ case.subject }} / {{ case.description }}
      {% endfor %}Best offer {{ next_best_offers.offers[0].offer }}.
"""
# Jane Doe's values in the fixture, and what the hostile case text holds about her card and others.
PERSONAL = [
    "Jane",
    "Doe",
    "jane.doe@example.com",
    "4155550101",
    "4111 1111 1111 1111",
    "123-45-6789",
    "Priya",
]


def leaks(text: str) -> list[str]:
    digits = re.sub(r"\D", "", text)
    return [
        v
        for v in PERSONAL
        if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text, re.IGNORECASE)
        or (len(re.sub(r"\D", "", v)) >= 9 and re.sub(r"\D", "", v) in digits)
    ]


@pytest.fixture
def llm_home(served, tmp_path, monkeypatch):
    """The served home (its MLflow prompt registry is made once) and a config pointing at a stand-in LLM."""
    monkeypatch.setenv("KINDRED_HOME", str(served.home))
    with StandInLlm() as llm:
        config = write_config(
            tmp_path,
            f"llm: {{base_url: '{llm.base_url}', model: stand-in, timeout_seconds: 10, max_retries: 0}}\n"
            + TEMPLATE,
        )
        yield llm, config


def test_post_generate_masks_the_prompt_and_unmasks_the_answer_by_role(served, llm_home):
    llm, config = llm_home
    body = {"template": "follow_up", "crm_object": "Lead", "crm_record_id": "L1"}
    with make_client(served, config) as client:
        clear = client.post("/v1/generate", json=body, headers=bearer(served.pii_key))
        masked = client.post("/v1/generate", json=body, headers=bearer(served.reader_key))
        unknown = client.post(
            "/v1/generate", json={**body, "template": "nope"}, headers=bearer(served.reader_key)
        )
        missing = client.post(
            "/v1/generate", json={**body, "crm_record_id": "NOPE"}, headers=bearer(served.reader_key)
        )
    assert clear.status_code == 200 and masked.status_code == 200
    assert len(llm.requests) == 2
    assert leaks(llm.raw_requests()) == []
    assert "<PERSON_1>" in llm.raw_requests()
    assert "Jane" in clear.json()["answer"] and clear.json()["unmasked"] is True
    assert "<PERSON_1>" in masked.json()["answer"] and leaks(masked.json()["answer"]) == []
    assert unknown.status_code == 404 and "no prompt template named 'nope'" in unknown.json()["message"]
    assert missing.status_code == 404
    calls = {r["request_id"]: r for r in read_audit(LLM_CALLS, served.home).to_dicts()}
    call = calls[masked.json()["request_id"]]
    assert (call["caller"], call["channel"], call["answer_unmasked"]) == ("copilot", "api", False)
    assert leaks(call["prompt"] + (call["response"] or "")) == []


def test_an_llm_endpoint_that_fails_is_a_502_naming_the_host(served, tmp_path, monkeypatch):
    monkeypatch.setenv("KINDRED_HOME", str(served.home))
    with StandInLlm(status=500) as llm:
        config = write_config(
            tmp_path, f"llm: {{base_url: '{llm.base_url}', model: stand-in, max_retries: 0}}\n" + TEMPLATE
        )
        with make_client(served, config) as client:
            response = client.post(
                "/v1/generate",
                json={"template": "follow_up", "crm_object": "Lead", "crm_record_id": "L1"},
                headers=bearer(served.reader_key),
            )
    assert response.status_code == 502
    assert "answered HTTP 500" in response.json()["message"]


def test_the_mcp_generate_tool_lists_the_templates_and_keeps_pii_from_the_llm(served, llm_home):
    llm, config = llm_home
    service = KindredService(served.home, config)
    authenticator = Authenticator(KeyStore(served.home), RateLimiter(config.serving))
    server = build_mcp_server(service, CallerResolver(authenticator, stdio_key=served.reader_key))

    async def run():
        async with Client(server) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            result = await client.call_tool(
                "generate", {"template": "follow_up", "crm_object": "Lead", "crm_record_id": "L1"}
            )
            return tools, result

    tools, result = asyncio.run(run())
    service.close()
    assert "follow_up: A short follow-up email to a lead." in tools["generate"].description
    assert not result.is_error, result.content
    answer = result.structured_content["answer"]
    assert "<PERSON_1>" in answer and leaks(answer) == []
    assert leaks(llm.raw_requests()) == []
    (call,) = [
        r
        for r in read_audit(LLM_CALLS, served.home).to_dicts()
        if r["request_id"] == result.structured_content["request_id"]
    ]
    assert (call["caller"], call["channel"]) == ("copilot", "mcp")
