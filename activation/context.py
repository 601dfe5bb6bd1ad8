"""Customer context for a caller, through the trust layer: what the command line, the API and MCP serve.

Every function takes the `Caller` (name, role, channel) and audits what it read in
`audit.access_log`; a `reader` gets masked data, a `pii_reader` may ask for it in clear. The
HTTP API and the MCP server are thin faces over these functions and `activation.generation`:

- `customer_context`: one CRM record's grounding document (the stored, masked one; or built now
  in clear for a `pii_reader` who asks);
- `find_profiles`: the profiles an email, a phone or a CRM record id belongs to; the value
  searched by is audited as a keyed hash only;
- `profile_context`: one profile's golden record, masked by field kind unless the caller may
  see it in clear and asks.
"""

from __future__ import annotations

import duckdb

from activation.grounding import display_masker, grounding_for, record_grounding
from activation.grounding_fields import mask_document
from activation.known_pii import known_pii_for
from identity_resolution.email_phone_keys import normalise_email, normalise_phone
from privacy.audit import AuditLog, Lookup, audit_log, new_request_id
from privacy.callers import Caller, PiiAccessDenied
from privacy.classification import Classification
from warehouse.config import KindredConfig
from warehouse.connection import quote_table, table_exists

LOOKUP_KINDS = ("email", "phone", "crm_id")
_PROFILE = "profiles.unified_profile"


def customer_context(
    con: duckdb.DuckDBPyConnection,
    caller: Caller,
    crm_object: str,
    crm_record_id: str,
    *,
    source: str | None = None,
    unmasked: bool = False,
    config: KindredConfig | None = None,
    audit: AuditLog | None = None,
    request_id: str | None = None,
) -> dict:
    """One CRM record's grounding document as the caller may see it, audited.

    Args:
        con: warehouse connection (read-only is enough).
        caller: who asks.
        crm_object: the CRM object (`Lead`, `Contact`, ...).
        crm_record_id: the CRM record's id.
        source: the people source, when two hold the same object and id.
        unmasked: ask for the document in clear (built now; needs the `pii_reader` role).
        config: the loaded kindred.yaml; None for the defaults.
        audit: where to audit; this process's log under KINDRED_HOME when None.
        request_id: ties the audit row to the caller's request.

    Returns:
        The document: the stored display-masked one, or with `unmasked` the clear one.

    Raises:
        PiiAccessDenied: `unmasked` asked by a `reader`.
        LookupError: no such record (or no grounding built yet). ValueError: several sources.
    """
    audit = audit or audit_log()
    where = {
        "crm_object": crm_object,
        "crm_record_id": crm_record_id,
        "request_id": request_id or new_request_id(),
    }
    try:
        if unmasked:
            caller.require_pii(f"the unmasked grounding of {crm_object} {crm_record_id}")
            record = record_grounding(con, crm_object, crm_record_id, source=source, config=config)
            document = mask_document(record.document, None)
        else:
            document = grounding_for(con, crm_object, crm_record_id, source=source)
    except PiiAccessDenied:
        audit.record_access(caller, resource="grounding", masked=False, outcome="denied", **where)
        raise
    except (LookupError, ValueError) as error:
        outcome = "not_found" if isinstance(error, LookupError) else "invalid"
        audit.record_access(caller, resource="grounding", masked=not unmasked, outcome=outcome, **where)
        raise
    profile_id = (document.get("provenance") or {}).get("profile", {}).get("profile_id")
    audit.record_access(
        caller,
        resource="grounding",
        profile_id=profile_id,
        fields=list(document),
        masked=not unmasked,
        **where,
    )
    return document


def find_profiles(
    con: duckdb.DuckDBPyConnection,
    caller: Caller,
    lookup: Lookup,
    *,
    config: KindredConfig | None = None,
    audit: AuditLog | None = None,
    request_id: str | None = None,
) -> list[str]:
    """The profiles an email, a phone or a CRM record id belongs to, audited with a keyed hash of the value.

    Emails and phones are normalised the way identity resolution normalises them (case, spaces,
    E.164 in the configured default region) and matched against `profiles.contact_points`; a
    `crm_id` is matched against the CRM records' ids in `identity.record_xref`.

    Args:
        con: warehouse connection.
        caller: who asks.
        lookup: the kind (`email`, `phone`, `crm_id`) and the value searched by.
        config: the loaded kindred.yaml (the phone region); None for the defaults.
        audit: where to audit.
        request_id: ties the audit row to the caller's request.

    Returns:
        The matching profile ids, sorted (empty when none).

    Raises:
        ValueError: an unknown lookup kind, or a value that cannot be an email or phone.
        MaskingKeyMissing: `KINDRED_MASKING_KEY` is not set (the lookup cannot be audited).
    """
    audit = audit or audit_log()
    request_id = request_id or new_request_id()
    region = config.identity.default_phone_region if config else "US"
    try:
        value = _normalised(lookup, region)
    except ValueError:
        audit.record_access(
            caller,
            resource="profile",
            action="lookup",
            lookup=lookup,
            outcome="invalid",
            request_id=request_id,
        )
        raise
    if lookup.kind == "crm_id":
        sql, table = (
            "SELECT DISTINCT profile_id FROM identity.record_xref WHERE record_id = ?",
            "identity.record_xref",
        )
    else:
        sql = "SELECT DISTINCT profile_id FROM profiles.contact_points WHERE lower(kind) = ? AND value = ?"
        table = "profiles.contact_points"
    params = [value] if lookup.kind == "crm_id" else [lookup.kind, value]
    found = (
        sorted(p for (p,) in con.sql(sql, params=params).fetchall() if p is not None)
        if table_exists(con, table)
        else []
    )
    audit.record_access(
        caller,
        resource="profile",
        action="lookup",
        lookup=lookup,
        profile_id=found[0] if len(found) == 1 else None,
        fields=["profile_id"],
        outcome="ok" if found else "not_found",
        request_id=request_id,
    )
    return found


def profile_context(
    con: duckdb.DuckDBPyConnection,
    caller: Caller,
    profile_id: str,
    *,
    unmasked: bool = False,
    config: KindredConfig | None = None,
    audit: AuditLog | None = None,
    request_id: str | None = None,
) -> dict:
    """One profile's golden record as the caller may see it, audited.

    Each field is masked by its kind (`privacy.classification`, kindred.yaml's `privacy:`):
    emails `j***@example.com`, phones `***-***-0101`, last names an initial, addresses and dates
    of birth hidden; fields of kind `none` are searched for the person's own values.

    Args:
        con: warehouse connection.
        caller: who asks.
        profile_id: the profile.
        unmasked: ask for the record in clear (needs the `pii_reader` role).
        config: the loaded kindred.yaml; None for the defaults.
        audit: where to audit.
        request_id: ties the audit row to the caller's request.

    Returns:
        The profile's columns (timestamps as ISO text), masked unless `unmasked`.

    Raises:
        PiiAccessDenied: `unmasked` asked by a `reader`.
        LookupError: no such profile.
    """
    audit = audit or audit_log()
    where = {"profile_id": profile_id, "request_id": request_id or new_request_id()}
    if unmasked and not caller.may_see_pii:
        audit.record_access(caller, resource="profile", masked=False, outcome="denied", **where)
        caller.require_pii(f"the unmasked profile {profile_id}")
    row = _profile_row(con, profile_id)
    if row is None:
        audit.record_access(caller, resource="profile", masked=not unmasked, outcome="not_found", **where)
        raise LookupError(f"no profile {profile_id!r}")
    if not unmasked:
        known = known_pii_for(con, profile_id, config)
        classification = Classification.from_config(config.privacy if config else None)
        row = display_masker(known, config=config).record(row, classification)
    audit.record_access(caller, resource="profile", fields=list(row), masked=not unmasked, **where)
    return row


def _profile_row(con: duckdb.DuckDBPyConnection, profile_id: str) -> dict | None:
    if not table_exists(con, _PROFILE):
        return None
    relation = con.sql(
        f"SELECT * FROM {quote_table(_PROFILE)} WHERE profile_id = ? LIMIT 1", params=[profile_id]
    )
    columns = relation.columns
    rows = relation.fetchall()
    if not rows:
        return None
    return {name: _plain(value) for name, value in zip(columns, rows[0], strict=True)}


def _plain(value: object) -> object:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _normalised(lookup: Lookup, region: str) -> str:
    if lookup.kind not in LOOKUP_KINDS:
        raise ValueError(f"unknown lookup kind {lookup.kind!r} (known: {', '.join(LOOKUP_KINDS)})")
    if lookup.kind == "email":
        value = normalise_email(lookup.value)
    elif lookup.kind == "phone":
        value = normalise_phone(lookup.value, region)
    else:
        value = lookup.value.strip() or None
    if value is None:
        raise ValueError(f"the {lookup.kind} to look up is not a valid {lookup.kind}")
    return value
