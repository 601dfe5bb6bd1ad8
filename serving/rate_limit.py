"""Per-key rate limits: a token bucket per API key, in the memory of one server process.

Each key's bucket holds up to `burst` tokens and refills at `per_second`; a request takes one
token or is refused with the seconds until one is back (the 429's `Retry-After`). Buckets live in
this process only: with several server processes each enforces the limit on its own, so a key can
reach N times the limit across N processes. `kindred serve` runs one process.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from warehouse.serving_config import RateLimitConfig, ServingConfig


class RateLimiter:
    """Token buckets keyed by API key name.

    Args:
        config: the `serving:` section (default limit and per-key limits).
        clock: seconds from a monotonic clock; injectable for tests.

    Example:
        >>> limiter = RateLimiter(ServingConfig(rate_limit={"per_second": 1, "burst": 1}))
        >>> limiter.take("crm-copilot") is None, limiter.take("crm-copilot") is not None
        (True, True)
    """

    def __init__(self, config: ServingConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        # name -> (tokens left, when they were counted)
        self._buckets: dict[str, tuple[float, float]] = {}

    def limit_of(self, name: str) -> RateLimitConfig:
        """The limit that applies to a key: its own, else the default."""
        return self._config.key_rate_limits.get(name, self._config.rate_limit)

    def take(self, name: str) -> float | None:
        """Take one token from a key's bucket.

        Args:
            name: the API key's name.

        Returns:
            None when the request may go ahead; otherwise the seconds until a token is back.
        """
        limit = self.limit_of(name)
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.get(name, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - then) * limit.per_second)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                return None
            self._buckets[name] = (tokens, now)
            return (1.0 - tokens) / limit.per_second


def retry_after_header(seconds: float) -> str:
    """`Retry-After` takes whole seconds: round up, so a client that waits that long gets through."""
    return str(max(1, math.ceil(seconds)))
