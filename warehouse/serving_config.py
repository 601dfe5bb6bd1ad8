"""The `serving:` section of kindred.yaml: rate limits and paging of the HTTP API and the MCP server.

Part of the typed config of `warehouse.config` (`KindredConfig.serving`); see docs/api.md.
"""

from __future__ import annotations

from pydantic import Field

from warehouse.strict_settings import StrictSettings


class RateLimitConfig(StrictSettings):
    """A token bucket per API key: `per_second` requests on average, bursts of up to `burst`."""

    per_second: float = Field(default=20.0, gt=0, le=100_000)
    burst: int = Field(default=40, ge=1, le=100_000)


class ServingConfig(StrictSettings):
    """How `kindred serve` and `kindred mcp` answer: rate limits per key and the largest page."""

    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    # Keys whose name is listed here get their own limit instead (a CRM sync reading many records).
    key_rate_limits: dict[str, RateLimitConfig] = Field(default_factory=dict)
    # The most segment members one page may hold; `limit` above it is refused with 422.
    max_page_size: int = Field(default=1000, ge=1, le=100_000)
