"""The server's view of the published files: the newest one open read-only, swapped without dropping requests.

Every request asks `ServingStore.connection()` for a connection. It gets a cursor (DuckDB's own
connection to the same open database, used by one request at a time, kept for the next) on the publication
that is current when the request starts, and keeps it until the request ends, so every query of
one request reads one publication. When `serving/CURRENT` names a newer file, the next request
opens it; the older one is closed, and its file deleted, when its last request has ended.
Checking the pointer costs one `stat` per request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from serving.publish import POINTER, current_publication, serving_folder

log = logging.getLogger(__name__)

_OPEN_ATTEMPTS = 5


class NothingPublished(LookupError):
    """No run has published the serving tables yet; the message says what to run."""


@dataclass
class Snapshot:
    """One open published file and how many requests are reading it."""

    path: Path
    con: duckdb.DuckDBPyConnection
    published_at: datetime | None
    users: int = 0
    retired: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Cursors of finished requests, reused: opening one and setting its time zone costs about as
    # much as the read a request makes.
    idle: list[duckdb.DuckDBPyConnection] = field(default_factory=list)

    def take_cursor(self) -> duckdb.DuckDBPyConnection:
        """An idle cursor, or a new one set to UTC."""
        with self.lock:
            if self.idle:
                return self.idle.pop()
        cursor = self.con.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        return cursor

    def give_back(self, cursor: duckdb.DuckDBPyConnection) -> None:
        """Keep a cursor for the next request (closed instead once the snapshot is retired)."""
        with self.lock:
            if not self.retired:
                self.idle.append(cursor)
                return
        cursor.close()


class ServingStore:
    """The current publication of one Kindred home, for a server process.

    Args:
        home: the Kindred home (`$KINDRED_HOME`).
        threads: DuckDB threads per open publication (requests are point lookups: few are needed).

    Example:
        >>> store = ServingStore(home)  # doctest: +SKIP
        >>> with store.connection() as con:  # doctest: +SKIP
        ...     con.sql("SELECT count(*) FROM crm.grounding").fetchall()
    """

    def __init__(self, home: Path, *, threads: int = 2) -> None:
        self.home = Path(home)
        self._pointer = serving_folder(self.home) / POINTER
        self._threads = threads
        self._lock = threading.Lock()
        self._current: Snapshot | None = None
        self._seen: tuple[int, int] | None = None

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection on the current publication, for the length of one request.

        Yields:
            A DuckDB cursor; closed when the block ends.

        Raises:
            NothingPublished: no run has published yet.
        """
        snapshot = self._acquire()
        cursor = None
        try:
            cursor = snapshot.take_cursor()
            yield cursor
        except BaseException:
            # A cursor whose request failed goes away rather than back to the pool.
            if cursor is not None:
                cursor.close()
                cursor = None
            raise
        finally:
            if cursor is not None:
                snapshot.give_back(cursor)
            self._release(snapshot)

    def published_at(self) -> datetime | None:
        """When the publication now served was made (None before the first request opens one)."""
        current = self._current
        return current.published_at if current else None

    def close(self) -> None:
        """Close the current publication (requests still running keep theirs until they end)."""
        with self._lock:
            current, self._current, self._seen = self._current, None, None
        if current is not None:
            self._retire(current)

    def _acquire(self) -> Snapshot:
        with self._lock:
            self._refresh()
            snapshot = self._current
            if snapshot is None:
                raise NothingPublished(
                    f"nothing is published in {serving_folder(self.home)} yet: run `kindred run` or `kindred publish`"
                )
            with snapshot.lock:
                snapshot.users += 1
            return snapshot

    def _release(self, snapshot: Snapshot) -> None:
        with snapshot.lock:
            snapshot.users -= 1
            done = snapshot.retired and snapshot.users == 0
        if done:
            self._close(snapshot)

    def _refresh(self) -> None:
        """Open the file the pointer names if it changed since the last look (caller holds the lock)."""
        try:
            stat = self._pointer.stat()
            seen = (stat.st_ino, stat.st_mtime_ns)
        except FileNotFoundError:
            seen = None
        if seen == self._seen and self._current is not None:
            return
        for _ in range(_OPEN_ATTEMPTS):
            path = current_publication(self.home)
            if path is None:
                self._seen = seen
                return
            if self._current is not None and self._current.path == path:
                self._seen = seen
                return
            try:
                con = duckdb.connect(str(path), read_only=True, config={"threads": self._threads})
            except duckdb.IOException:
                # Replaced and deleted between reading the pointer and opening it: read it again.
                continue
            previous, self._current = self._current, Snapshot(path, con, _published_at(con))
            self._seen = seen
            log.info("serving %s", path.name)
            if previous is not None:
                self._retire(previous)
            return
        raise NothingPublished(
            f"{self._pointer}: the file it names keeps disappearing; is a publish looping?"
        )

    def _retire(self, snapshot: Snapshot) -> None:
        with snapshot.lock:
            snapshot.retired = True
            idle = snapshot.users == 0
        if idle:
            self._close(snapshot)

    def _close(self, snapshot: Snapshot) -> None:
        with snapshot.lock:
            idle, snapshot.idle = snapshot.idle, []
        for cursor in idle:
            cursor.close()
        snapshot.con.close()
        current = current_publication(self.home)
        if current != snapshot.path:
            # Publishing deletes older files too; this covers a file left behind by a server
            # that was reading it then.
            with suppress(FileNotFoundError):
                snapshot.path.unlink()
        log.info("closed %s", snapshot.path.name)


def _published_at(con: duckdb.DuckDBPyConnection) -> datetime | None:
    try:
        rows = con.execute("SELECT max(published_at) FROM serving.publication").fetchall()
    except duckdb.CatalogException:
        return None
    return rows[0][0]
