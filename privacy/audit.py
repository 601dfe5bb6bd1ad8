"""The audit log: every read of personal data and every LLM call, appended where any process can write.

Two tables, `audit.access_log` and `audit.llm_calls`. The HTTP API and the MCP server read while
a pipeline run writes the warehouse, and DuckDB lets only one process write a database file, so
audit rows do not go into `warehouse.duckdb`. Each process appends JSON lines to its own files:

    $KINDRED_HOME/audit/<table>/<YYYY-MM-DD>/<host>-<pid>-<random>.jsonl

A process never shares a file with another, so appends from the command line, the API and MCP cannot
interleave; each row is one `write` of one line to a file opened for appending, so a row is never
half-written unless the machine itself stops mid-write (readers skip such a line). An erasure
replaces files holding rows about the person under an exclusive `flock` of the old file
(privacy.erasure_audit); each append takes that lock and reopens the path if its file was replaced,
so a row lands in the file the erasure reads or in the new one, never in neither. The warehouse has
views `audit.access_log` and `audit.llm_calls` over the files (`create_views`, refreshed by every
pipeline run); `read_audit` reads them without the warehouse. Old days can be removed by deleting
their folders.

No row holds personal data in clear: lookup values (an email a caller searched by) are stored as
a keyed hash (HMAC-SHA256 under `KINDRED_MASKING_KEY`), prompts and responses only masked.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import socket
import threading
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from privacy.callers import Caller
from privacy.tokens import KeyedTokens
from warehouse.home import kindred_home
from warehouse.raw_store import sql_literal

log = logging.getLogger(__name__)

AUDIT_FOLDER = "audit"
ACCESS_LOG = "access_log"
LLM_CALLS = "llm_calls"
_CALLER_COLUMNS = {"caller": "VARCHAR", "role": "VARCHAR", "channel": "VARCHAR"}
AUDIT_COLUMNS: dict[str, dict[str, str]] = {
    ACCESS_LOG: {
        "logged_at": "TIMESTAMP",
        "request_id": "VARCHAR",
        **_CALLER_COLUMNS,
        "action": "VARCHAR",
        "resource": "VARCHAR",
        "crm_object": "VARCHAR",
        "crm_record_id": "VARCHAR",
        "profile_id": "VARCHAR",
        "segment": "VARCHAR",
        "lookup_kind": "VARCHAR",
        "lookup_hash": "VARCHAR",
        "fields": "VARCHAR[]",
        "masked": "BOOLEAN",
        "outcome": "VARCHAR",
        "host": "VARCHAR",
        "pid": "BIGINT",
        "erased": "BOOLEAN",  # true on a row an erasure blanked (privacy.erasure_audit), else absent
    },
    LLM_CALLS: {
        "logged_at": "TIMESTAMP",
        "request_id": "VARCHAR",
        **_CALLER_COLUMNS,
        "template": "VARCHAR",
        "template_version": "VARCHAR",
        "model": "VARCHAR",
        "endpoint_host": "VARCHAR",
        "crm_object": "VARCHAR",
        "crm_record_id": "VARCHAR",
        "profile_id": "VARCHAR",
        "prompt": "VARCHAR",
        "response": "VARCHAR",
        "placeholders": "VARCHAR",
        "prompt_tokens": "BIGINT",
        "completion_tokens": "BIGINT",
        "total_tokens": "BIGINT",
        "latency_ms": "DOUBLE",
        "outcome": "VARCHAR",
        "error": "VARCHAR",
        "answer_unmasked": "BOOLEAN",
        "host": "VARCHAR",
        "pid": "BIGINT",
        "erased": "BOOLEAN",
    },
}
OUTCOMES = ("ok", "denied", "not_found", "invalid", "error")
# An empty file per table keeps the views' glob from matching nothing (DuckDB refuses that).
_SEED = "_empty.jsonl"


@dataclass(frozen=True)
class Lookup:
    """A value a caller searched by (an email, a phone, a CRM id): audited as a keyed hash only.

    Attributes:
        kind: what the value is (`email`, `phone`, `crm_id`, ...).
        value: the value itself; never written anywhere.
    """

    kind: str
    value: str

    def __repr__(self) -> str:  # never show the value
        return f"Lookup(kind={self.kind!r}, value=<hidden>)"


def new_request_id() -> str:
    """An id tying the audit rows of one request together."""
    return uuid.uuid4().hex


class AuditLog:
    """Appends audit rows to this process's files under `<home>/audit/`.

    Args:
        home: the Kindred home; `KINDRED_HOME` (see `warehouse.home`) by default.

    Example:
        >>> audit = AuditLog(tmp_home)  # doctest: +SKIP
        >>> audit.record_access(caller, resource="grounding", crm_object="Lead", crm_record_id="00Q1",
        ...                     fields=["profile", "scores"], masked=True)  # doctest: +SKIP
    """

    def __init__(self, home: Path | None = None) -> None:
        self.folder = (home or kindred_home()) / AUDIT_FOLDER
        self._host = socket.gethostname()
        self._stem = f"{self._host}-{os.getpid()}-{secrets.token_hex(4)}"
        self._lock = threading.Lock()
        self._files: dict[str, tuple[str, int, Path]] = {}  # table -> (day, descriptor, path)

    def record_access(
        self,
        caller: Caller,
        *,
        resource: str,
        action: str = "read",
        crm_object: str | None = None,
        crm_record_id: str | None = None,
        profile_id: str | None = None,
        segment: str | None = None,
        lookup: Lookup | None = None,
        fields: list[str] | tuple[str, ...] = (),
        masked: bool = True,
        outcome: str = "ok",
        request_id: str | None = None,
    ) -> dict:
        """Append one row to `audit.access_log`.

        Args:
            caller: who read.
            resource: what kind of thing was read (`grounding`, `profile`, `scores`, `offers`,
                `segment_members`, ...).
            action: `read`, or what else was done (`lookup`, `generate`).
            crm_object: the CRM object read, if any.
            crm_record_id: the CRM record read, if any.
            profile_id: the profile read, if known.
            segment: the segment read, if any.
            lookup: the value the caller searched by; stored as a keyed hash only (this needs
                `KINDRED_MASKING_KEY`).
            fields: which fields or sections were returned.
            masked: whether what was returned was masked.
            outcome: `ok`, `denied`, `not_found`, `invalid` or `error`.
            request_id: ties rows of one request together; a new id by default.

        Returns:
            The row as written.

        Raises:
            MaskingKeyMissing: a lookup value is given and `KINDRED_MASKING_KEY` is not set.
        """
        row = {
            **_head(caller, request_id),
            "action": action,
            "resource": resource,
            "crm_object": crm_object,
            "crm_record_id": crm_record_id,
            "profile_id": profile_id,
            "segment": segment,
            "lookup_kind": lookup.kind if lookup else None,
            "lookup_hash": KeyedTokens().digest(lookup.kind, lookup.value) if lookup else None,
            "fields": list(fields),
            "masked": bool(masked),
            "outcome": _checked_outcome(outcome),
        }
        return self._append(ACCESS_LOG, row)

    def record_llm_call(
        self,
        caller: Caller,
        *,
        template: str,
        template_version: str | None,
        model: str,
        endpoint_host: str,
        prompt: list[dict[str, str]],
        response: str | None,
        placeholders: dict[str, int],
        crm_object: str | None = None,
        crm_record_id: str | None = None,
        profile_id: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        latency_ms: float | None = None,
        outcome: str = "ok",
        error: str | None = None,
        answer_unmasked: bool = False,
        request_id: str | None = None,
    ) -> dict:
        """Append one row to `audit.llm_calls`. Everything passed in must already be masked.

        Args:
            caller: who asked for the generation.
            template: the prompt template's name.
            template_version: its version in MLflow's prompt registry.
            model: the model asked.
            endpoint_host: the LLM endpoint's host and port (no path, no credentials).
            prompt: the masked messages sent (`[{"role": ..., "content": ...}]`).
            response: the masked answer received (None when the call failed).
            placeholders: how many placeholders of each kind the prompt held (no values).
            crm_object: the CRM record's object.
            crm_record_id: the CRM record's id.
            profile_id: the person's profile.
            prompt_tokens: tokens the endpoint counted for the prompt.
            completion_tokens: tokens it counted for the answer.
            latency_ms: the call's duration.
            outcome: `ok` or `error`.
            error: what went wrong, masked.
            answer_unmasked: whether the caller received the answer unmasked.
            request_id: ties rows of one request together.

        Returns:
            The row as written.
        """
        tokens = [t for t in (prompt_tokens, completion_tokens) if t is not None]
        row = {
            **_head(caller, request_id),
            "template": template,
            "template_version": template_version,
            "model": model,
            "endpoint_host": endpoint_host,
            "crm_object": crm_object,
            "crm_record_id": crm_record_id,
            "profile_id": profile_id,
            "prompt": json.dumps(prompt, ensure_ascii=False),
            "response": response,
            "placeholders": json.dumps(placeholders, sort_keys=True),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": sum(tokens) if tokens else None,
            "latency_ms": None if latency_ms is None else round(latency_ms, 1),
            "outcome": _checked_outcome(outcome),
            "error": error,
            "answer_unmasked": bool(answer_unmasked),
        }
        return self._append(LLM_CALLS, row)

    def _append(self, table: str, row: dict) -> dict:
        row = {**row, "host": self._host, "pid": os.getpid()}
        line = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            descriptor = self._locked(table, row["logged_at"][:10])
            try:
                written = os.write(descriptor, line)  # one whole line, to a file only this process appends to
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
            if written != len(line):
                raise OSError(
                    f"audit log {self.folder / table}: short write ({written} of {len(line)} bytes)"
                )
        return row

    def _locked(self, table: str, day: str) -> int:
        """This process's file for a table and day, locked, and still the file at its path."""
        while True:
            descriptor, path = self._descriptor(table, day)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            with suppress(FileNotFoundError):
                if os.path.samestat(os.fstat(descriptor), os.stat(path)):
                    return descriptor
            os.close(self._files.pop(table)[1])  # and with it the lock; the path is opened anew

    def _descriptor(self, table: str, day: str) -> tuple[int, Path]:
        current = self._files.get(table)
        if current is not None and current[0] == day:
            return current[1], current[2]
        if current is not None:
            os.close(current[1])
        folder = self.folder / table / day
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        _seed(self.folder / table)
        path = folder / f"{self._stem}.jsonl"
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._files[table] = (day, descriptor, path)
        return descriptor, path

    def close(self) -> None:
        """Close this process's audit files (they are reopened on the next row)."""
        with self._lock:
            for _, descriptor, _ in self._files.values():
                os.close(descriptor)
            self._files.clear()


_LOGS: dict[Path, AuditLog] = {}
_LOGS_LOCK = threading.Lock()


def audit_log(home: Path | None = None) -> AuditLog:
    """This process's audit log for a home (one per home, shared by every thread)."""
    folder = (home or kindred_home()).resolve()
    with _LOGS_LOCK:
        if folder not in _LOGS:
            _LOGS[folder] = AuditLog(folder)
        return _LOGS[folder]


def create_views(con: duckdb.DuckDBPyConnection, home: Path | None = None) -> None:
    """Create (or point anew) the warehouse views `audit.access_log` and `audit.llm_calls` over the files.

    The views read whatever files exist when they are queried, so rows appended after this call
    show up without calling it again.

    Args:
        con: a writable warehouse connection.
        home: the Kindred home the files are under; `KINDRED_HOME` by default.
    """
    folder = (home or kindred_home()) / AUDIT_FOLDER
    con.execute("CREATE SCHEMA IF NOT EXISTS audit")
    for table in AUDIT_COLUMNS:
        _seed(folder / table)
        con.execute(f"CREATE OR REPLACE VIEW audit.{table} AS {_select(folder / table, table)}")


def read_audit(table: str, home: Path | None = None) -> pl.DataFrame:
    """All rows of one audit table, oldest first, read straight from the files.

    Args:
        table: `access_log` or `llm_calls`.
        home: the Kindred home; `KINDRED_HOME` by default.

    Returns:
        The rows (no rows when nothing was audited yet).
    """
    if table not in AUDIT_COLUMNS:
        raise ValueError(f"unknown audit table {table!r} (known: {', '.join(AUDIT_COLUMNS)})")
    folder = (home or kindred_home()) / AUDIT_FOLDER / table
    _seed(folder)
    with duckdb.connect(":memory:") as con:
        con.execute("SET TimeZone = 'UTC'")
        return pl.from_arrow(con.sql(f"{_select(folder, table)} ORDER BY logged_at").to_arrow_table())


def _select(folder: Path, table: str) -> str:
    columns = ", ".join(f"'{name}': '{kind}'" for name, kind in AUDIT_COLUMNS[table].items())
    pattern = sql_literal(folder / "**" / "*.jsonl")
    # A line cut short by a machine crash reads as NULLs and is left out.
    return (
        f"SELECT * FROM read_json({pattern}, format = 'newline_delimited', columns = {{{columns}}}, "
        "ignore_errors = true) WHERE logged_at IS NOT NULL"
    )


def _seed(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    seed = folder / _SEED
    if not seed.exists():
        seed.touch(mode=0o600)


def _head(caller: Caller, request_id: str | None) -> dict[str, str]:
    """What every audit row starts with: when, which request, who."""
    return {
        "logged_at": _now(),
        "request_id": request_id or new_request_id(),
        "caller": caller.name,
        "role": caller.role.value,
        "channel": caller.channel.value,
    }


def _checked_outcome(outcome: str) -> str:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown audit outcome {outcome!r} (known: {', '.join(OUTCOMES)})")
    return outcome


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
