"""The PostgreSQL database a CRM sync writes to: its URL, how it is shown, and connecting to it.

The URL never holds a password. libpq finds it itself, in `PGPASSWORD`, `~/.pgpass` or the file
`PGPASSFILE` names, so Kindred never reads it, and no message can contain it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict

from activation.crm_sync.errors import CrmSyncError, redact
from warehouse.crm_sync_config import postgres_url

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10
APPLICATION_NAME = "kindred crm sync"


@dataclass(frozen=True)
class SyncTarget:
    """A PostgreSQL database to mirror into.

    Args:
        url: `postgresql://user@host:port/dbname` (query parameters such as `sslmode` allowed),
            without a password.
    """

    url: str

    @classmethod
    def parse(cls, url: str) -> SyncTarget:
        """Check a target URL.

        Raises:
            CrmSyncError: not a postgresql:// URL, or it holds a password (the message never
                repeats the URL).
        """
        try:
            return cls(postgres_url(url.strip()))
        except ValueError as error:
            raise CrmSyncError(str(error)) from None

    @property
    def parts(self) -> dict[str, str]:
        return {k: str(v) for k, v in conninfo_to_dict(self.url).items()}

    def display(self) -> str:
        """The target as shown in logs and the sync log: `postgresql://user@host:port/dbname`."""
        parts = self.parts
        user = f"{quote(parts['user'], safe='')}@" if parts.get("user") else ""
        host = parts.get("host", "")
        host = quote(host, safe="") if host.startswith("/") else host
        port = f":{parts['port']}" if parts.get("port") else ""
        dbname = quote(parts.get("dbname", ""), safe="")
        options = [
            f"{k}={quote(v, safe='')}"
            for k, v in parts.items()
            if k not in ("user", "host", "port", "dbname")
        ]
        return f"postgresql://{user}{host}{port}/{dbname}" + (f"?{'&'.join(options)}" if options else "")

    def connect(self) -> psycopg.Connection:
        """An autocommit connection with UTC as its time zone.

        Raises:
            CrmSyncError: the server cannot be reached or refuses the login; the message names the
                target (without password) and what failed.
        """
        try:
            connection = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                application_name=APPLICATION_NAME,
            )
        except psycopg.Error as error:
            raise CrmSyncError(redact(f"cannot connect to {self.display()}: {one_line(error)}")) from None
        # The warehouse's timestamps are naive UTC; sent as such, they must be read as UTC.
        connection.execute("SET TIME ZONE 'UTC'")
        try:
            # LZ4 compresses the large JSON documents several times faster than the default pglz.
            connection.execute("SET default_toast_compression = 'lz4'")
        except psycopg.Error:
            log.debug("the server has no LZ4 compression; large values are compressed with pglz")
        return connection


def one_line(error: BaseException) -> str:
    """An error's message on one line (libpq's span several)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return "; ".join(lines) if lines else type(error).__name__
