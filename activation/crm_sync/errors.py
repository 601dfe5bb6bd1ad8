"""The one error a CRM sync raises, and keeping the database password out of every message."""

from __future__ import annotations

import os

# Shorter values would blank out ordinary words of a message; libpq passwords that short are
# not worth protecting this way (and PostgreSQL's own messages never quote a password).
_MIN_REDACTED = 4


class CrmSyncError(RuntimeError):
    """A sync could not run or failed; nothing was written to the mirror. The message says why."""


def redact(text: str) -> str:
    """`text` with the password from the environment (`PGPASSWORD`) replaced by `***`.

    Kindred never reads the password itself (libpq does), and PostgreSQL's messages do not quote
    it; this is the last guard before a message is logged, shown or stored.
    """
    password = os.environ.get("PGPASSWORD") or ""
    if len(password) >= _MIN_REDACTED:
        text = text.replace(password, "***")
    return text
