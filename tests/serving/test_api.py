"""The HTTP API on a small published warehouse: keys and roles, every endpoint, errors, audit, metrics."""

from __future__ import annotations

import asyncio
import gc
import json
import logging

import pytest

from privacy.audit import ACCESS_LOG, read_audit
from privacy.tokens import KeyedTokens
from serving.service import KindredService
from tests.serving.conftest import bearer, make_client


def audit_rows(served, request_id: str) -> list[dict]:
    return [r for r in read_audit(ACCESS_LOG, served.home).to_dicts() if r["request_id"] == request_id]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer kdr_not-a-key"}, {"Authorization": "Basic b3BzOg=="}],
    ids=["no key", "bad key", "other scheme"],
)
def test_every_v1_route_refuses_without_a_valid_key(client, headers):
    for method, path in [
        ("GET", "/v1/crm/Lead/L1"),
        ("GET", "/v1/crm/Lead/L1/grounding"),
        ("GET", "/v1/profiles/P1"),
        ("POST", "/v1/profiles/lookup"),
        ("GET", "/v1/segments"),
        ("GET", "/v1/segments/everyone/members"),
        ("POST", "/v1/generate"),
    ]:
        response = client.request(
            method, path, headers=headers, json={"kind": "email", "value": "x@example.com"}
        )
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "API key" in response.json()["message"]


def test_a_revoked_key_is_refused(client, served):
    response = client.get("/v1/crm/Lead/L1", headers=bearer(served.revoked_key))
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]


def test_scores_reasons_and_best_offer_of_a_record(client, served):
    response = client.get("/v1/crm/Lead/L1", headers=bearer(served.reader_key))
    assert response.status_code == 200
    body = response.json()
    assert (body["crm_object"], body["crm_record_id"], body["profile_id"]) == ("Lead", "L1", "P1")
    assert body["lead_score_1_99"] == 83 and body["churn_risk_1_99"] == 20
    assert body["best_offer"] == "Outdoor"
    assert body["lead_score_reasons"].startswith("Opened 7 emails in 90 days (+)")
    (row,) = audit_rows(served, response.headers["X-Request-Id"])
    assert (row["caller"], row["role"], row["channel"], row["resource"], row["outcome"]) == (
        "copilot",
        "reader",
        "api",
        "scores",
        "ok",
    )


def test_offers_best_first(client, served):
    response = client.get("/v1/crm/Lead/L1/offers", params={"limit": 3}, headers=bearer(served.reader_key))
    assert response.status_code == 200
    assert [o["offer"] for o in response.json()["offers"]] == ["Outdoor", "Books", "Garden"]


def test_a_reader_gets_masked_grounding_and_cannot_unmask(client, served):
    response = client.get("/v1/crm/Lead/L1/grounding", headers=bearer(served.reader_key))
    assert response.status_code == 200
    text = json.dumps(response.json())
    assert response.json()["profile"]["last_name"] == "D."
    for clear in ("Doe", "jane.doe@example.com", "5550101", "4111 1111 1111 1111", "123-45-6789"):
        assert clear not in text
    denied = client.get(
        "/v1/crm/Lead/L1/grounding", params={"unmask": "true"}, headers=bearer(served.reader_key)
    )
    assert denied.status_code == 403
    assert "pii_reader" in denied.json()["message"]
    rows = [r for r in read_audit(ACCESS_LOG, served.home).to_dicts() if r["outcome"] == "denied"]
    assert rows and rows[-1]["caller"] == "copilot" and rows[-1]["masked"] is False


def test_a_pii_reader_gets_clear_grounding_only_when_asking(client, served):
    masked = client.get("/v1/crm/Lead/L1/grounding", headers=bearer(served.pii_key))
    assert masked.json()["profile"]["last_name"] == "D."
    clear = client.get("/v1/crm/Lead/L1/grounding", params={"unmask": "true"}, headers=bearer(served.pii_key))
    assert clear.status_code == 200
    assert clear.json()["profile"]["last_name"] == "Doe"
    (row,) = audit_rows(served, clear.headers["X-Request-Id"])
    assert (row["caller"], row["role"], row["masked"]) == ("ops", "pii_reader", False)


def test_profile_masked_by_field_kind_and_clear_for_a_pii_reader(client, served):
    response = client.get("/v1/profiles/P1", headers=bearer(served.reader_key))
    masked = response.json()
    assert masked["first_name"] == "Jane" and masked["last_name"] == "D."
    assert masked["email"] == "j***@example.com"
    (row,) = audit_rows(served, response.headers["X-Request-Id"])
    assert (row["resource"], row["profile_id"], row["masked"]) == ("profile", "P1", True)
    clear = client.get("/v1/profiles/P1", params={"unmask": True}, headers=bearer(served.pii_key))
    assert clear.json()["email"] == "jane.doe@example.com"
    (row,) = audit_rows(served, clear.headers["X-Request-Id"])
    assert (row["caller"], row["masked"]) == ("ops", False)


def test_unknown_records_and_profiles_are_404(client, served):
    for path in (
        "/v1/crm/Lead/NOPE",
        "/v1/crm/Lead/NOPE/grounding",
        "/v1/crm/Lead/NOPE/offers",
        "/v1/profiles/P404",
    ):
        response = client.get(path, headers=bearer(served.reader_key))
        assert response.status_code == 404, path
        assert response.json()["status"] == 404 and response.json()["message"]


def test_bad_input_is_422_naming_the_field(client, served):
    response = client.get("/v1/crm/Lead/L1/offers", params={"limit": 0}, headers=bearer(served.reader_key))
    assert response.status_code == 422
    assert response.json()["fields"][0]["location"] == "query.limit"
    response = client.get("/v1/crm/Le%20ad/L1", headers=bearer(served.reader_key))
    assert response.status_code == 422 and "path.crm_object" in response.json()["message"]


def test_lookup_by_email_phone_and_crm_id_never_logs_or_stores_the_value(client, served, caplog):
    caplog.set_level(logging.DEBUG)
    email = "Jane.Doe@Example.com"
    found = client.post(
        "/v1/profiles/lookup", json={"kind": "email", "value": email}, headers=bearer(served.reader_key)
    )
    assert found.status_code == 200
    assert found.json()["profiles"] == [
        {"profile_id": "P1", "crm_records": [{"crm_object": "Lead", "crm_record_id": "L1"}]}
    ]
    by_phone = client.post(
        "/v1/profiles/lookup",
        json={"kind": "phone", "value": "+44 20 7946 0958"},
        headers=bearer(served.reader_key),
    )
    assert [p["profile_id"] for p in by_phone.json()["profiles"]] == ["P2"]
    by_id = client.post(
        "/v1/profiles/lookup", json={"kind": "crm_id", "value": "L2"}, headers=bearer(served.reader_key)
    )
    assert [p["profile_id"] for p in by_id.json()["profiles"]] == ["P3"]
    bad = client.post(
        "/v1/profiles/lookup",
        json={"kind": "email", "value": "not an email"},
        headers=bearer(served.reader_key),
    )
    assert bad.status_code == 422 and "not an email" not in bad.text
    (row,) = audit_rows(served, found.headers["X-Request-Id"])
    assert row["lookup_kind"] == "email"
    assert row["lookup_hash"] == KeyedTokens().digest("email", email)
    stored = "".join(p.read_text() for p in (served.home / "audit").rglob("*.jsonl"))
    logged = caplog.text
    for value in (email, email.lower(), "7946 0958", "not an email"):
        assert value not in stored and value not in logged


def test_health_and_metrics_need_no_key_and_count_routes_by_template(client, served):
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    client.get("/v1/crm/Lead/L1", headers=bearer(served.reader_key))
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert (
        'kindred_http_requests_total{method="GET",route="/v1/crm/{crm_object}/{crm_record_id}",status="200"}'
        in text
    )
    assert "kindred_http_request_duration_seconds_bucket" in text
    assert "L1" not in text


def test_openapi_lists_every_path(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/crm/{crm_object}/{crm_record_id}",
        "/v1/crm/{crm_object}/{crm_record_id}/grounding",
        "/v1/profiles/{profile_id}",
        "/v1/profiles/lookup",
        "/v1/generate",
        "/v1/segments",
        "/v1/segments/{name}/members",
        "/health",
        "/metrics",
    ):
        assert path in paths


def test_the_warm_up_freezes_what_it_left_for_the_garbage_collector(served):
    # `kindred mcp` (stdio) warms up outside the app's lifespan: its collections must not walk
    # the PII detector's objects either.
    gc.unfreeze()
    service = KindredService(served.home, served.config)
    try:
        service.warm_up()
    finally:
        service.close()
    assert gc.get_freeze_count() > 10_000


def test_startup_freezes_what_the_warm_up_left_for_the_garbage_collector(served):
    # Without it every full collection walks the PII detector's objects again: pauses of 100 ms
    # and more in the middle of requests, the grounding endpoint's p99 under load.
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    with make_client(served) as client:
        assert client.get("/health").status_code == 200
        assert gc.get_freeze_count() > 10_000


def test_a_masked_grounding_is_read_on_the_event_loop_and_an_unmasked_one_in_the_thread_pool(
    client, served, monkeypatch
):
    # The masked read is an indexed point read, answered on the event loop without two thread
    # hops; the unmasked one scans free text for PII and must not hold the loop up.
    on_loop: dict[bool, bool] = {}
    original = KindredService.grounding

    def spying(self, *args, **kwargs):
        try:
            asyncio.get_running_loop()
            on_loop[kwargs["unmask"]] = True
        except RuntimeError:
            on_loop[kwargs["unmask"]] = False
        return original(self, *args, **kwargs)

    monkeypatch.setattr(KindredService, "grounding", spying)
    masked = client.get("/v1/crm/Lead/L1/grounding", headers=bearer(served.reader_key))
    clear = client.get("/v1/crm/Lead/L1/grounding?unmask=true", headers=bearer(served.pii_key))
    assert masked.status_code == clear.status_code == 200
    assert masked.json() != clear.json()
    assert on_loop == {False: True, True: False}
