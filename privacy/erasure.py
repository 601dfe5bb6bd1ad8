"""`kindred forget`: remove a person from every layer, leave no old copy on disk, keep them out.

An erasure runs in four steps, each safe to interrupt:

1. Find (`privacy.erasure_find`, `privacy.erasure_scope`): the person's profiles, records and
   identifiers, and the rows each table, raw source and export file would lose. Nothing is
   written; a caller shows this and asks for confirmation.
2. Prepare: the raw store's affected file versions are written again without the rows, as new
   generations nobody references yet; the Parquet and CSV files elsewhere under `KINDRED_HOME`
   (the per-run exports under `exports/`) are rewritten, each atomically; the audit log's rows
   about the person are blanked (`privacy.erasure_audit`).
3. Commit, in one DuckDB transaction: the manifest records the new generations and the erased
   row counts, `raw.<source>` views point at them, every table loses the person's rows, each
   change feed gets a `delete` row per CRM record (keys only) after its older rows of that record
   are removed, the identifiers go on the suppression list, and the receipt is stored with status
   `removed`. Killed before this commit, the warehouse is as before (the new raw folders are
   unreferenced and deleted later); re-running the same command does the whole erasure.
4. Leave no trace: the serving tables are published anew from the clean warehouse, which deletes
   the older published files (`serving.publish.republish`); audit rows appended meanwhile (the API
   still served the old publication) are blanked; the raw parts that held the rows are deleted,
   and the warehouse is rewritten into a fresh file (`privacy.erasure_files.compact_warehouse`);
   then the receipt is `finished`. Killed during this step, the next `kindred forget` (any) or
   the end of the next run publishes anew and finishes it first.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from privacy.erasure_audit import AuditMatch, audit_clock, audit_match, erase_from_audit
from privacy.erasure_files import compact_warehouse, remove_stale, rewrite_export
from privacy.erasure_find import ErasureRequestError, Person, find_person
from privacy.erasure_receipts import (
    FINISHED,
    REMOVED,
    Receipt,
    insert_receipt,
    mark_finished,
    read_receipts,
    update_removed,
)
from privacy.erasure_rules import ROWS, warehouse_tables
from privacy.erasure_scope import Scope, feed_records, find_scope
from privacy.erasure_tables import append_deletes, delete_rows
from privacy.suppression import (
    SUPPRESSION,
    Identifiers,
    add_to_suppression,
    checked_salt,
    crm_key,
    email_key,
    identifier_hash,
    phone_keys,
    suppression_salt,
)
from privacy.suppression_check import CLEANUP
from serving.publish import republish
from warehouse.config import KindredConfig
from warehouse.connection import open_warehouse, table_exists, transaction
from warehouse.home import kindred_home
from warehouse.manifest import record_rewrite
from warehouse.raw_store import remove_unreferenced, replace_view, rewrite_version

log = logging.getLogger(__name__)

__all__ = ["ErasurePlan", "ErasureRequestError", "ForgetOutcome", "finish_pending", "forget", "plan_erasure"]


@dataclass
class ErasurePlan:
    """What an erasure would remove (step 1), for the caller to show before confirming."""

    person: Person
    scope: Scope
    request: Identifiers  # the identifier of the request alone, to tell an earlier erasure

    def summary(self) -> dict:
        """The plan with every personal value masked: safe to print, never stored.

        Returns:
            `profiles` (ids), `names`, `emails`, `phones` (masked), `records` (per source),
            `rows` (per table, raw source and export file, only those with rows), `shared`
            (how many of the person's emails and phones other profiles carry too).
        """
        person, scope = self.person, self.scope
        records: dict[str, int] = {}
        for source, _ in person.records:
            records[source] = records.get(source, 0) + 1
        rows = {label: n for label, n in scope.tables.items() if n}
        rows |= {f"raw.{source}": n for source, n in scope.raw.items() if n}
        rows |= {_relative(path): n for path, n in scope.exports.items() if n}
        rows |= {"serving": scope.served} if scope.served else {}
        return {
            "profiles": sorted(person.profiles),
            "names": sorted({mask_name(n) for n in person.names}),
            "emails": sorted({mask_email(e) for e in person.emails}),
            "phones": sorted({mask_phone(p) for p in person.phones}),
            "records": dict(sorted(records.items())),
            "rows": dict(sorted(rows.items())),
            "shared": len(person.shared),
            "crm_deletes": sum(scope.feed_deletes.values()),
        }


@dataclass
class ForgetOutcome:
    """What `forget` did."""

    receipt: Receipt | None = None
    plan: ErasurePlan | None = None
    # Receipts of earlier, interrupted erasures finished first.
    resumed: list[str] = field(default_factory=list)
    # Receipts whose suppression rows already hold the requested identifier.
    already_erased: list[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def nothing_found(self) -> bool:
        """Whether the identifier matched nothing anywhere."""
        return self.receipt is None and not self.cancelled


def mask_name(name: str) -> str:
    """`David Foster` -> `D**** F*****`."""
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())


def mask_email(email: str) -> str:
    """`foster_david@icloud.com` -> `f***@icloud.com`."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str) -> str:
    """`+16308446663` -> `+*********63`."""
    return phone[:1] + "*" * max(len(phone) - 3, 0) + phone[-2:]


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(kindred_home()))
    except ValueError:
        return str(path)


def plan_erasure(
    con: duckdb.DuckDBPyConnection, config: KindredConfig, identified_by: str, value: str
) -> ErasurePlan:
    """Find the person and count what erasing them removes; writes nothing.

    Args:
        con: warehouse connection.
        config: the loaded kindred.yaml.
        identified_by: `email`, `phone`, `profile` or `crm`.
        value: the email, phone, profile id or `OBJECT:ID`.

    Returns:
        The plan (see `ErasurePlan.summary`).

    Raises:
        ErasureRequestError: the value cannot be read as that kind of identifier.
    """
    region = config.identity.default_phone_region
    person = find_person(con, identified_by, value, phone_region=region)
    scope = find_scope(con, person, config, kindred_home())
    request = Identifiers()
    if identified_by == "email":
        request.add("email", email_key(person.requested))
    elif identified_by == "phone":
        request.keys["phone"] |= phone_keys(person.requested or "")
    elif identified_by == "crm":
        crm_object, _, crm_record_id = value.strip().partition(":")
        request.add("crm", crm_key(crm_object.strip(), crm_record_id.strip()))
    return ErasurePlan(person, scope, request)


def check_reason(reason: str | None, person: Person) -> None:
    """Refuse a `--reason` that names the person: receipts keep no personal data.

    Raises:
        ErasureRequestError: the reason contains one of the person's names, emails, phones or ids.
    """
    if not reason:
        return
    text = reason.lower()
    names = set(person.names) | {word for name in person.names for word in name.split()[1:] if len(word) >= 3}
    values = {
        "a name": names,
        "an email": person.emails | set(person.written_emails),
        "a phone number": person.phones | set(person.written_phones),
        "an id": person.profiles | {r for _, r in person.records if len(r) >= 6},
    }
    for what, found in values.items():
        if any(v and v.lower() in text for v in found):
            raise ErasureRequestError(
                f"--reason contains {what} of the person; receipts keep no personal data: describe the "
                "request without it (e.g. a ticket number)"
            )


def forget(
    database: Path,
    config: KindredConfig,
    identified_by: str,
    value: str,
    *,
    reason: str | None = None,
    confirm: Callable[[ErasurePlan], bool] | None = None,
) -> ForgetOutcome:
    """Erase a person from the warehouse, the raw store, the exports, the serving publication and
    the audit log, and keep them out.

    Earlier erasures that were interrupted are finished first. See the module docstring for the
    steps and what an interruption leaves.

    Args:
        database: the warehouse file.
        config: the loaded kindred.yaml.
        identified_by: `email`, `phone`, `profile` or `crm`.
        value: the email, phone, profile id or `OBJECT:ID`.
        reason: why (a ticket number; stored in the receipt; must not name the person).
        confirm: shown the plan; the erasure stops unless it returns true. None: no question.

    Returns:
        The outcome: the receipt, or why there is none (nothing found, already erased, cancelled).

    Raises:
        ErasureRequestError: the identifier cannot be read, or the reason names the person.
        SuppressionSaltError: the suppression salt is missing or wrong.
    """
    outcome = ForgetOutcome(resumed=finish_pending(database, config))
    with open_warehouse(database) as con:
        plan = outcome.plan = plan_erasure(con, config, identified_by, value)
        if plan.scope.empty and not plan.person.found:
            outcome.already_erased = _suppressed_by(con, plan.request)
            return outcome
        check_reason(reason, plan.person)
        if confirm is not None and not confirm(plan):
            outcome.cancelled = True
            return outcome
        audit = audit_match(plan.person, plan.scope.pattern)
        audit_from = audit_clock()
        receipt = outcome.receipt = _remove(con, plan, reason, audit)
        republish(con, kindred_home(), config)
        # Audit rows appended since the first pass, while the API still served the old publication.
        late = erase_from_audit(kindred_home(), audit, since_ns=audit_from)
        if late:
            receipt.removed |= {table: receipt.removed.get(table, 0) + n for table, n in late.items()}
            update_removed(con, receipt)
        remove_unreferenced(con)
        con.execute("CHECKPOINT")
    _leave_no_trace(database, receipt)
    return outcome


def finish_pending(database: Path, config: KindredConfig | None = None) -> list[str]:
    """Remove old copies of erased rows still on disk: after an interrupted erasure, or after
    staging set aside rows of an erased person that arrived again (privacy.suppression_check).

    Costs one query when there is nothing to do. Call it with no connection of this process
    open on the warehouse.

    Args:
        database: the warehouse file.
        config: the loaded kindred.yaml, for publishing the serving tables anew after an
            interrupted erasure; None: the tables of the current publication again.

    Returns:
        The receipt ids finished now (empty also when only arrived rows were cleaned up).
    """
    if not database.is_file():
        return []
    remove_stale(kindred_home(), database)
    with open_warehouse(database) as con:
        pending = read_receipts(con, REMOVED)
        arrivals = (
            table_exists(con, CLEANUP) and con.execute(f"SELECT count(*) FROM {CLEANUP}").fetchall()[0][0]
        )
        if pending:
            republish(con, kindred_home(), config)
        if pending or arrivals:
            remove_unreferenced(con)
            con.execute("CHECKPOINT")
    for receipt in pending:
        log.warning("finishing the interrupted erasure %s", receipt.receipt_id)
    if pending or arrivals:
        _leave_no_trace(database, *pending)
    return [r.receipt_id for r in pending]


def _leave_no_trace(database: Path, *receipts: Receipt) -> None:
    compact_warehouse(database)
    finished_at = datetime.now(UTC).replace(tzinfo=None)
    with open_warehouse(database) as con:
        for receipt in receipts:
            mark_finished(con, receipt.receipt_id, finished_at)
            receipt.status, receipt.finished_at = FINISHED, finished_at
        if table_exists(con, CLEANUP):
            con.execute(f"DELETE FROM {CLEANUP}")
        con.execute("CHECKPOINT")


def _suppressed_by(con: duckdb.DuckDBPyConnection, request: Identifiers) -> list[str]:
    """The receipts whose suppression rows hold the request's identifier (it was erased before)."""
    salt = suppression_salt()
    if salt is None or not table_exists(con, SUPPRESSION) or not len(request):
        return []
    hashes = [identifier_hash(salt, kind, key) for kind, keys in request.keys.items() for key in keys]
    rows = con.execute(
        f"SELECT DISTINCT receipt_id FROM {SUPPRESSION} WHERE list_contains(?, identifier_hash) ORDER BY 1",
        [hashes],
    ).fetchall()
    return [r[0] for r in rows]


def _remove(
    con: duckdb.DuckDBPyConnection, plan: ErasurePlan, reason: str | None, audit: AuditMatch
) -> Receipt:
    """Steps 2 and 3: prepare the raw store, the exports and the audit log, then commit every delete at once."""
    person, scope = plan.person, plan.scope
    now = datetime.now(UTC).replace(tzinfo=None)
    receipt = Receipt(
        receipt_id=f"er-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}",
        requested_at=now,
        identified_by=person.identified_by,
        reason=reason,
        profiles=len(person.profiles),
        records=len(person.records),
    )
    params = {"pattern": scope.pattern} if scope.pattern else {}
    erased = {
        (source, entry.file): rewrite_version(con, source, entry, ROWS) for source, entry in scope.versions
    }
    for path, n in scope.exports.items():
        if n:
            receipt.removed[_relative(path)] = rewrite_export(con, path, params)
    receipt.removed |= erase_from_audit(kindred_home(), audit)
    if scope.served:
        receipt.removed["serving"] = scope.served  # published anew right after the commit
    tables = warehouse_tables(con)
    with transaction(con):
        salt = checked_salt(con, create=True)
        feeds = {table.label: (table, feed_records(con, table)) for table in tables if table.is_change_feed}
        for source, entry in scope.versions:
            record_rewrite(con, source, entry.file, entry.generation + 1, erased[(source, entry.file)])
        for source in sorted({source for source, _ in scope.versions}):
            replace_view(con, source)
            receipt.removed[f"raw.{source}"] = sum(n for (s, _), n in erased.items() if s == source)
        for table in tables:
            removed = delete_rows(con, table, params)
            if removed:
                receipt.removed[table.label] = removed
        receipt.crm_deletes = sum(append_deletes(con, table, keys, now) for table, keys in feeds.values())
        receipt.identifier_hashes = add_to_suppression(con, person.identifiers, receipt.receipt_id, salt)
        insert_receipt(con, receipt)
    log.info(
        "erasure %s: %d rows removed from %d places",
        receipt.receipt_id,
        receipt.rows_removed,
        len(receipt.removed),
    )
    return receipt
