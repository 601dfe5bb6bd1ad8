"""A CRM record's scores, reasons and next best offers for a caller, audited: what the API and MCP serve.

Companion of `activation.context` (grounding and profiles) for the scoring tables: every function
takes the `Caller` and records the read in `audit.access_log`. Scores, reasons and offers hold no
personal values (reasons are worded from features, offers are catalogue values), so they are the
same for every role; the read is audited all the same, as the contract asks of every score read.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from activation.record_scores import KEY_COLUMNS, RECORD_SCORES, VALUE_COLUMNS
from privacy.audit import AuditLog, audit_log, new_request_id
from privacy.callers import Caller
from warehouse.connection import table_exists

OFFERS = "scores.offers"
OFFER_CATALOG = "scores.offer_catalog"
# The columns of crm.record_scores a caller gets, in this order (others stay internal).
SCORE_COLUMNS = (*KEY_COLUMNS, *VALUE_COLUMNS, "updated_at")


def record_scores_context(
    con: duckdb.DuckDBPyConnection,
    caller: Caller,
    crm_object: str,
    crm_record_id: str,
    *,
    source: str | None = None,
    audit: AuditLog | None = None,
    request_id: str | None = None,
) -> dict:
    """One CRM record's row of `crm.record_scores`: scores (probability and 1-99), reasons, best offer.

    Args:
        con: warehouse connection (read-only is enough).
        caller: who asks.
        crm_object: the CRM object (`Lead`, `Contact`, ...).
        crm_record_id: the CRM record's id.
        source: the people source, when two hold the same object and id.
        audit: where to audit; this process's log under KINDRED_HOME when None.
        request_id: ties the audit row to the caller's request.

    Returns:
        The record's scores; None for a model that has no current score for it.

    Raises:
        LookupError: no such record (or no scores built yet).
        ValueError: the object and id match records of several sources and `source` is not given.
    """
    audit = audit or audit_log()
    where = {
        "crm_object": crm_object,
        "crm_record_id": crm_record_id,
        "request_id": request_id or new_request_id(),
    }
    try:
        row = _one_record(con, crm_object, crm_record_id, source)
    except (LookupError, ValueError) as error:
        outcome = "not_found" if isinstance(error, LookupError) else "invalid"
        audit.record_access(caller, resource="scores", outcome=outcome, **where)
        raise
    audit.record_access(
        caller, resource="scores", profile_id=row.get("profile_id"), fields=list(row), masked=True, **where
    )
    return row


def offers_context(
    con: duckdb.DuckDBPyConnection,
    caller: Caller,
    crm_object: str,
    crm_record_id: str,
    *,
    limit: int = 5,
    source: str | None = None,
    audit: AuditLog | None = None,
    request_id: str | None = None,
) -> dict:
    """The next best offers of a CRM record's person, best first, from the newest scoring run.

    People who may not be reached with marketing on any offer channel have no offers (the
    next-best-offer model leaves them out, see docs/consent.md), so none are returned for them.

    Args:
        con: warehouse connection (read-only is enough).
        caller: who asks.
        crm_object: the CRM object.
        crm_record_id: the CRM record's id.
        limit: how many offers at most (1 to 100).
        source: the people source, when two hold the same object and id.
        audit: where to audit.
        request_id: ties the audit row to the caller's request.

    Returns:
        `{"crm_object", "crm_record_id", "profile_id", "as_of", "offers": [{"rank", "offer", "name", "score",
        "model_version"}]}` (`name`: the catalog's name of the offer, None without a catalog).

    Raises:
        LookupError: no such record. ValueError: several sources, or `limit` out of range.
    """
    audit = audit or audit_log()
    where = {
        "crm_object": crm_object,
        "crm_record_id": crm_record_id,
        "request_id": request_id or new_request_id(),
    }
    try:
        if not 1 <= limit <= 100:
            raise ValueError(f"limit must be between 1 and 100, got {limit}")
        row = _one_record(con, crm_object, crm_record_id, source)
    except (LookupError, ValueError) as error:
        outcome = "not_found" if isinstance(error, LookupError) else "invalid"
        audit.record_access(caller, resource="offers", outcome=outcome, **where)
        raise
    profile_id = row.get("profile_id")
    offers, as_of = _offers(con, profile_id, limit) if profile_id else ([], None)
    audit.record_access(
        caller, resource="offers", profile_id=profile_id, fields=["offers"], masked=True, **where
    )
    return {
        "crm_object": row["crm_object"],
        "crm_record_id": row["crm_record_id"],
        "profile_id": profile_id,
        "as_of": _plain(as_of),
        "offers": offers,
    }


def _one_record(
    con: duckdb.DuckDBPyConnection, crm_object: str, crm_record_id: str, source: str | None
) -> dict:
    if not table_exists(con, RECORD_SCORES):
        raise LookupError(f"no scores for {crm_object} {crm_record_id}: crm.record_scores has not been built")
    present = {c for (c,) in con.sql("SELECT column_name FROM (DESCRIBE crm.record_scores)").fetchall()}
    columns = [c for c in SCORE_COLUMNS if c in present]
    sql = "SELECT " + ", ".join(f'"{c}"' for c in columns) + " FROM crm.record_scores "
    sql += "WHERE crm_object = ? AND crm_record_id = ?"
    params: list = [crm_object, crm_record_id]
    if source is not None and "source" in present:
        sql += " AND source = ?"
        params.append(source)
    relation = con.sql(sql, params=params)
    rows = relation.fetchall()
    if not rows:
        raise LookupError(f"no CRM record {crm_object} {crm_record_id}")
    if len(rows) > 1:
        sources = sorted({str(r[columns.index("source")]) for r in rows}) if "source" in columns else []
        raise ValueError(
            f"{crm_object} {crm_record_id} is a record of several sources ({', '.join(sources)}): name one with source"
        )
    return {name: _plain(value) for name, value in zip(columns, rows[0], strict=True)}


def _offers(con: duckdb.DuckDBPyConnection, profile_id: str, limit: int) -> tuple[list[dict], object]:
    if not table_exists(con, OFFERS):
        return [], None
    # Names come from the offer catalog when there is one (offers without a catalog have none).
    names = (
        f"(SELECT offer_id, any_value(name) AS name FROM {OFFER_CATALOG} GROUP BY offer_id)"
        if table_exists(con, OFFER_CATALOG)
        else "(SELECT NULL::VARCHAR AS offer_id, NULL::VARCHAR AS name WHERE false)"
    )
    rows = con.sql(
        f"SELECT o.rank, o.offer_id, c.name, o.score, o.model_version, o.as_of FROM scores.offers o "
        f"LEFT JOIN {names} c ON c.offer_id = o.offer_id "
        "WHERE o.profile_id = ? AND o.as_of = (SELECT max(as_of) FROM scores.offers WHERE profile_id = ?) "
        "ORDER BY o.rank LIMIT ?",
        params=[profile_id, profile_id, limit],
    ).fetchall()
    offers = [{"rank": r, "offer": o, "name": n, "score": s, "model_version": v} for r, o, n, s, v, _ in rows]
    return offers, rows[0][5] if rows else None


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
