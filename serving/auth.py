"""Who is calling: the bearer key of an HTTP request (or the stdio server's key) turned into a `Caller`.

One place decides for both faces: the API's routes and the MCP endpoint call `Authenticator.caller`,
so keys, roles and rate limits are the same whichever way a request comes in. The key itself is
never logged or stored; the audit log names the key's name.
"""

from __future__ import annotations

import logging

from privacy.callers import Caller, Channel
from serving.keys import KeyStore
from serving.rate_limit import RateLimiter

log = logging.getLogger(__name__)

# Where an HTTP request's authenticated caller waits for the MCP tools (the ASGI scope's state).
CALLER_STATE = "kindred_caller"


class Unauthorized(PermissionError):
    """No key, a malformed header, or a key that is unknown or revoked (HTTP 401)."""


class RateLimited(RuntimeError):
    """The key used up its requests for now (HTTP 429); `retry_after` says for how long, in seconds."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"rate limit of key {name!r} reached: retry after {retry_after:.1f} s")
        self.retry_after = retry_after


def bearer_token(authorization: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header (None when absent or of another scheme)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class Authenticator:
    """Checks keys and takes rate-limit tokens.

    Args:
        keys: the key store of the Kindred home.
        limiter: the per-key token buckets of this process.
    """

    def __init__(self, keys: KeyStore, limiter: RateLimiter) -> None:
        self.keys = keys
        self.limiter = limiter

    def caller(self, key: str | None, channel: Channel) -> Caller:
        """The caller a key stands for, after taking one token of its rate limit.

        Args:
            key: the presented key (from the bearer header, or `KINDRED_API_KEY` for stdio).
            channel: `Channel.API` or `Channel.MCP`.

        Returns:
            The caller: the key's name and role, on `channel`.

        Raises:
            Unauthorized: no key, or an unknown or revoked one.
            RateLimited: the key's bucket is empty.
        """
        if not key:
            raise Unauthorized(
                "an API key is required: send `Authorization: Bearer <key>` (create one with `kindred keys create NAME`)"
            )
        record = self.keys.verify(key)
        if record is None:
            raise Unauthorized(
                "the API key is not valid (unknown or revoked): `kindred keys list` shows the active keys"
            )
        wait = self.limiter.take(record.name)
        if wait is not None:
            raise RateLimited(record.name, wait)
        return Caller(record.name, record.role, channel)
