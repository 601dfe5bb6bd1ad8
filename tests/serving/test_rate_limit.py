"""Per-key token buckets, and the 429 with Retry-After they give through the API and MCP."""

from __future__ import annotations

from serving.rate_limit import RateLimiter, retry_after_header
from tests.serving.conftest import bearer, make_client, write_config
from warehouse.serving_config import ServingConfig


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_a_burst_then_refills_at_the_rate():
    clock = Clock()
    limiter = RateLimiter(ServingConfig(rate_limit={"per_second": 2, "burst": 3}), clock)
    assert [limiter.take("a") for _ in range(3)] == [None, None, None]
    wait = limiter.take("a")
    assert wait is not None and 0.49 < wait <= 0.5
    assert limiter.take("b") is None  # each key has its own bucket
    clock.now += 0.5
    assert limiter.take("a") is None and limiter.take("a") is not None


def test_a_key_can_have_its_own_limit():
    limiter = RateLimiter(
        ServingConfig(
            rate_limit={"per_second": 1, "burst": 1}, key_rate_limits={"sync": {"per_second": 1, "burst": 5}}
        ),
        Clock(),
    )
    assert sum(limiter.take("sync") is None for _ in range(6)) == 5
    assert sum(limiter.take("other") is None for _ in range(6)) == 1


def test_retry_after_rounds_up_to_whole_seconds():
    assert retry_after_header(0.01) == "1" and retry_after_header(1.2) == "2"


def test_the_api_and_mcp_answer_429_with_retry_after_once_a_key_is_used_up(served, tmp_path):
    config = write_config(tmp_path, "serving: {rate_limit: {per_second: 0.01, burst: 2}}\n")
    with make_client(served, config) as client:
        codes = [
            client.get("/v1/crm/Lead/L1", headers=bearer(served.reader_key)).status_code for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        limited = client.get("/v1/crm/Lead/L1/grounding", headers=bearer(served.reader_key))
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert "rate limit of key 'copilot'" in limited.json()["message"]
        assert client.get("/v1/crm/Lead/L1", headers=bearer(served.pii_key)).status_code == 200
        mcp = client.post(
            "/mcp",
            headers={**bearer(served.reader_key), "Accept": "application/json, text/event-stream"},
            json={},
        )
        assert mcp.status_code == 429 and "Retry-After" in mcp.headers
