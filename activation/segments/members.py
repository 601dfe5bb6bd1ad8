"""Segments for a caller: the declared segments, and a page of a segment's members, consent applied, audited.

What the HTTP API and MCP serve of segments. Members are those of the last run
(`segments.membership`), the same people `kindred segments export` writes: consent for the
segment's purpose and channel leaves out those who may not be contacted that way, with the export's
columns. Pages are keyed by profile id (`after`), so a page stays right while members change.
Columns are masked by their field kind (`privacy.pii_fields`) unless a `pii_reader` asks for them
in clear; every page read is recorded in `audit.access_log` (resource `segment_members`).
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from activation.segments.export import export_segment
from activation.segments.membership import latest_evaluations
from privacy.audit import AuditLog, audit_log, new_request_id
from privacy.callers import Caller
from privacy.classification import Classification
from privacy.masking import DisplayStyle, Masker, default_detector
from warehouse.config import KindredConfig
from warehouse.segment_config import SegmentConfig


def segment_summaries(con: duckdb.DuckDBPyConnection, config: KindredConfig) -> list[dict]:
    """Every segment kindred.yaml declares, with its size and evaluation time at the last run.

    Args:
        con: warehouse connection (read-only is enough).
        config: the loaded kindred.yaml.

    Returns:
        One dict per segment (`name`, `description`, `purpose`, `channel`, `size`, `evaluated_at`);
        `size` is None for a segment no run has evaluated yet.
    """
    evaluations = latest_evaluations(con)
    out = []
    for segment in config.segments:
        evaluation = evaluations.get(segment.name)
        built = evaluation is not None and not evaluation["removed"]
        out.append(
            {
                "name": segment.name,
                "description": segment.description,
                "purpose": segment.purpose,
                "channel": segment.channel,
                "size": evaluation["size"] if built else None,
                "evaluated_at": _plain(evaluation["evaluated_at"]) if built else None,
            }
        )
    return out


def segment_members(
    con: duckdb.DuckDBPyConnection,
    caller: Caller,
    name: str,
    *,
    config: KindredConfig,
    limit: int = 100,
    after: str | None = None,
    unmasked: bool = False,
    audit: AuditLog | None = None,
    request_id: str | None = None,
) -> dict:
    """One page of a segment's members that consent permits, with the segment's columns.

    Args:
        con: warehouse connection (read-only is enough).
        caller: who asks.
        name: the segment's name.
        config: the loaded kindred.yaml (the segment, consent regimes, field kinds).
        limit: members per page (1 or more).
        after: the last profile id of the previous page; None for the first page.
        unmasked: columns in clear (needs the `pii_reader` role).
        audit: where to audit; this process's log under KINDRED_HOME when None.
        request_id: ties the audit row to the caller's request.

    Returns:
        `{"segment", "members": [...], "next_after", "members_total", "permitted_total", "masked"}`.

    Raises:
        LookupError: kindred.yaml declares no such segment, or no run has built it yet.
        PiiAccessDenied: `unmasked` asked by a `reader`.
        ValueError: `limit` below 1.
    """
    audit = audit or audit_log()
    where = {"segment": name, "request_id": request_id or new_request_id()}
    segment = next((s for s in config.segments if s.name == name), None)
    if segment is None:
        known = ", ".join(s.name for s in config.segments) or "none are declared in kindred.yaml"
        audit.record_access(caller, resource="segment_members", outcome="not_found", **where)
        raise LookupError(f"no segment named '{name}' (segments: {known})")
    if unmasked and not caller.may_see_pii:
        audit.record_access(caller, resource="segment_members", masked=False, outcome="denied", **where)
        caller.require_pii(f"the unmasked members of segment '{name}'")
    if limit < 1:
        raise ValueError(f"limit must be 1 or more, got {limit}")
    export = _export(con, segment, config)
    columns = _columns(segment)
    rows = con.execute(
        f"SELECT * FROM ({export.sql}) AS page WHERE ? IS NULL OR page.profile_id > ? ORDER BY page.profile_id LIMIT ?",
        [*export.params, after, after, limit + 1],
    ).fetchall()
    more = len(rows) > limit
    members = [dict(zip(columns, (_plain(v) for v in row), strict=True)) for row in rows[:limit]]
    if not unmasked:
        masker = Masker(
            DisplayStyle(region=config.identity.default_phone_region),
            detector=default_detector(config),
            region=config.identity.default_phone_region,
        )
        classification = Classification.from_config(config.privacy)
        members = [masker.record(m, classification) for m in members]
    audit.record_access(caller, resource="segment_members", fields=columns, masked=not unmasked, **where)
    return {
        "segment": name,
        "members": members,
        "next_after": members[-1]["profile_id"] if more else None,
        "members_total": export.members,
        "permitted_total": export.exported,
        "masked": not unmasked,
    }


def _export(con: duckdb.DuckDBPyConnection, segment: SegmentConfig, config: KindredConfig):
    """The segment's export query with `profile_id` first, whatever its declared columns."""
    from activation.segments.compiler import SegmentError

    paged = segment.model_copy(update={"columns": _columns(segment)})
    try:
        return export_segment(
            con,
            paged,
            fmt="parquet",
            opt_in_required=config.consent.opt_in_needed(segment.purpose, segment.channel),
        )
    except SegmentError as error:
        raise LookupError(str(error)) from None


def _columns(segment: SegmentConfig) -> list[str]:
    return ["profile_id", *(c for c in segment.columns if c != "profile_id")]


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
