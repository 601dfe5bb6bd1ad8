"""What the HTTP API and the MCP server do, once: each read on the current publication, through the trust layer.

`KindredService` is the one set of operations both faces call. Every method takes the `Caller`
(an API key's name and role, and the face it came through) and a request id, opens the current
publication for the length of the call (`serving.store`), and calls the library function the
command line calls too (`activation.context`, `activation.scores_context`,
`activation.generation`), which masks for the caller's role and writes the audit rows. The faces
only translate: HTTP status codes and JSON here, MCP tool results there.

Errors keep the library's types: `LookupError` (no such record), `ValueError` (bad input),
`PiiAccessDenied`, `NothingPublished`, `MaskingKeyMissing`, `PromptError`, `GenerationError`;
`describe_error` gives each its HTTP status and one-line message.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb

from activation.context import customer_context, find_profiles, profile_context
from activation.generation import GenerationError, LlmEndpointError, LlmKeyMissing, generate
from activation.prompts import PromptError, PromptLibrary
from activation.scores_context import offers_context, record_scores_context
from activation.segments.members import segment_members, segment_summaries
from privacy.audit import AuditLog, Lookup, audit_log
from privacy.callers import Caller, PiiAccessDenied
from privacy.masking import default_detector
from privacy.tokens import MaskingKeyMissing
from serving.store import NothingPublished, ServingStore
from warehouse.config import KindredConfig
from warehouse.connection import table_exists

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErrorDescription:
    """How a failure is answered: an HTTP status and a one-line message without personal data."""

    status: int
    message: str


def describe_error(error: Exception) -> ErrorDescription | None:
    """The status and message for an error the libraries raise on purpose; None for anything else.

    Args:
        error: what a service method raised.

    Returns:
        404 unknown record, profile or template; 422 bad input; 403 a `reader` asking for
        personal data; 503 nothing published yet or no masking key; 502 the LLM endpoint failed.
    """
    message = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
    if isinstance(error, NothingPublished):
        return ErrorDescription(503, message)
    if isinstance(error, MaskingKeyMissing):
        return ErrorDescription(503, message)
    if isinstance(error, PiiAccessDenied):
        return ErrorDescription(403, message)
    if isinstance(error, PromptError):
        return ErrorDescription(404 if message.startswith("no prompt template") else 422, message)
    if isinstance(error, LlmKeyMissing | LlmEndpointError):
        return ErrorDescription(502, message)
    if isinstance(error, GenerationError):
        return ErrorDescription(503, message)
    if isinstance(error, LookupError):
        return ErrorDescription(404, message)
    if isinstance(error, ValueError):
        return ErrorDescription(422, message)
    return None


class KindredService:
    """The operations of the API and MCP over one Kindred home's current publication.

    Args:
        home: the Kindred home (published files, audit log, MLflow's prompt registry).
        config: the loaded kindred.yaml.
        store: the publication reader; one over `home` by default.
        audit: the audit log; this process's log under `home` by default.
    """

    def __init__(
        self,
        home: Path,
        config: KindredConfig,
        *,
        store: ServingStore | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.home = Path(home)
        self.config = config
        self.store = store or ServingStore(self.home)
        self.audit = audit or audit_log(self.home)
        self.prompts = PromptLibrary.from_config(config)

    def warm_up(self) -> None:
        """Build the PII detector now (seconds), so the first request does not wait for it.

        Then freeze what start-up left for the garbage collector: the PII detector, phone metadata
        and libraries leave a quarter of a million objects that live as long as the process, and
        every full collection would walk them again (a pause of 100 ms or more in the middle of
        some request, over HTTP or MCP alike). Frozen, collections only look at what requests
        allocate.
        """
        default_detector(self.config).warm_up()
        gc.collect()
        gc.freeze()

    def close(self) -> None:
        """Close the open publication."""
        self.store.close()

    def record_scores(
        self, caller: Caller, crm_object: str, crm_record_id: str, *, source: str | None, request_id: str
    ) -> dict:
        """A CRM record's scores, reasons and best offer (`activation.scores_context`)."""
        with self.store.connection() as con:
            return record_scores_context(
                con, caller, crm_object, crm_record_id, source=source, audit=self.audit, request_id=request_id
            )

    def offers(
        self,
        caller: Caller,
        crm_object: str,
        crm_record_id: str,
        *,
        limit: int,
        source: str | None,
        request_id: str,
    ) -> dict:
        """A CRM record's next best offers, best first (`activation.scores_context`)."""
        with self.store.connection() as con:
            return offers_context(
                con,
                caller,
                crm_object,
                crm_record_id,
                limit=limit,
                source=source,
                audit=self.audit,
                request_id=request_id,
            )

    def grounding(
        self,
        caller: Caller,
        crm_object: str,
        crm_record_id: str,
        *,
        source: str | None,
        unmask: bool,
        request_id: str,
    ) -> dict:
        """A CRM record's grounding document: masked, or in clear for a `pii_reader` who asks."""
        with self.store.connection() as con:
            return customer_context(
                con,
                caller,
                crm_object,
                crm_record_id,
                source=source,
                unmasked=unmask,
                config=self.config,
                audit=self.audit,
                request_id=request_id,
            )

    def profile(self, caller: Caller, profile_id: str, *, unmask: bool, request_id: str) -> dict:
        """A profile's golden record, masked by field kind unless a `pii_reader` asks."""
        with self.store.connection() as con:
            return profile_context(
                con,
                caller,
                profile_id,
                unmasked=unmask,
                config=self.config,
                audit=self.audit,
                request_id=request_id,
            )

    def lookup(self, caller: Caller, kind: str, value: str, *, request_id: str) -> list[dict]:
        """The profiles an email, a phone or a CRM record id belongs to, with each one's CRM records.

        The value is audited as a keyed hash only and never logged.
        """
        with self.store.connection() as con:
            found = find_profiles(
                con, caller, Lookup(kind, value), config=self.config, audit=self.audit, request_id=request_id
            )
            return [{"profile_id": p, "crm_records": _crm_records(con, p)} for p in found]

    def segments(self) -> list[dict]:
        """The declared segments with their size at the last run (nothing personal: not audited)."""
        with self.store.connection() as con:
            return segment_summaries(con, self.config)

    def segment_members(
        self,
        caller: Caller,
        name: str,
        *,
        limit: int,
        after: str | None,
        unmask: bool,
        request_id: str,
    ) -> dict:
        """A page of a segment's members that consent permits for its purpose and channel."""
        if limit > self.config.serving.max_page_size:
            raise ValueError(
                f"limit must be at most {self.config.serving.max_page_size} (serving.max_page_size)"
            )
        with self.store.connection() as con:
            return segment_members(
                con,
                caller,
                name,
                config=self.config,
                limit=limit,
                after=after,
                unmasked=unmask,
                audit=self.audit,
                request_id=request_id,
            )

    def generate(
        self, caller: Caller, template: str, crm_object: str, crm_record_id: str, *, source: str | None
    ) -> dict:
        """A grounded generation (`activation.generation.generate`): unmasked for a `pii_reader`."""
        with self.store.connection() as con:
            result = generate(
                con,
                template,
                crm_object,
                crm_record_id,
                caller=caller,
                config=self.config,
                source=source,
                library=self.prompts,
                audit=self.audit,
            )
        return {
            "template": result.template,
            "template_version": result.template_version,
            "model": result.model,
            "answer": result.answer,
            "unmasked": result.unmasked,
            "request_id": result.request_id,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "latency_ms": None if result.latency_ms is None else round(result.latency_ms, 1),
        }

    def templates(self) -> list[dict]:
        """The prompt templates a caller can generate with: name, description and merge fields."""
        return [
            {"name": t.name, "description": t.config.description, "fields": list(t.fields)}
            for t in self.prompts
        ]


def _crm_records(con, profile_id: str) -> list[dict]:
    """The CRM records of a profile, as `crm.record_scores` lists them (ids only: nothing personal)."""
    try:  # the query tells a missing table faster than a catalog look-up first
        rows = con.sql(
            "SELECT crm_object, crm_record_id FROM crm.record_scores WHERE profile_id = ? ORDER BY 1, 2",
            params=[profile_id],
        ).fetchall()
    except duckdb.CatalogException:
        if table_exists(con, "crm.record_scores"):
            raise
        return []
    return [{"crm_object": o, "crm_record_id": r} for o, r in rows]
