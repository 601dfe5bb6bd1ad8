"""Finding every record of one person before an erasure: from an email, a phone, a profile or a CRM record.

An email or phone is normalised the way identity resolution normalises it, then looked up in
`profiles.contact_points` and `identity.person_records`; a CRM record in `crm.record_scores` and
`staging.people`; a profile id in `identity.record_xref`. Every profile found brings all its
source records (`identity.record_xref`). From the staging rows of those records come every email,
phone and name the person was ever seen with: the identifiers that the erasure searches the rest
of the warehouse for (rows of other profiles, quarantine, raw) and that go on the suppression
list. Without identity tables (staging only), the records are those whose rows carry the email
or phone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import duckdb

from identity_resolution.email_phone_keys import normalise_email, normalise_phone
from identity_resolution.records import person_rows_sql
from privacy.suppression import Identifiers, crm_key, email_key, phone_key, phone_keys, record_key
from warehouse.connection import table_exists

log = logging.getLogger(__name__)

IDENTIFIED_BY = ("email", "phone", "profile", "crm")
RECORD_XREF = "identity.record_xref"


class ErasureRequestError(ValueError):
    """The identifier given to `kindred forget` cannot be read; the message says why."""


@dataclass
class Person:
    """Everything known about the person to erase. Held in memory only, never stored."""

    identified_by: str
    profiles: set[str] = field(default_factory=set)
    records: set[tuple[str, str]] = field(default_factory=set)  # (source, record_id)
    namespaced: set[tuple[str, str]] = field(default_factory=set)  # (id_namespace, record_id)
    crm_records: set[tuple[str, str, str]] = field(default_factory=set)  # (source, crm_object, id)
    requested: str | None = None  # the normalised email or phone of the request
    emails: set[str] = field(default_factory=set)  # normalised
    phones: set[str] = field(default_factory=set)  # E.164
    # As the sources wrote them: text -> its normalised form (None when it does not parse).
    written_emails: dict[str, str | None] = field(default_factory=dict)
    written_phones: dict[str, str | None] = field(default_factory=dict)
    # Emails and phones that records of other profiles carry too (a household address, a
    # switchboard): they identify someone else as well, so they neither find rows outside the
    # person's records nor go on the suppression list, unless the request named them.
    shared: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    identifiers: Identifiers = field(default_factory=Identifiers)

    @property
    def found(self) -> bool:
        """Whether any profile or record was found (raw and quarantine rows are searched later)."""
        return bool(self.profiles or self.records)

    def own(self, normalised: str | None) -> bool:
        """Whether an email or phone identifies this person alone (or the request named it)."""
        return normalised is not None and (normalised == self.requested or normalised not in self.shared)

    def own_emails(self) -> set[str]:
        """Normalised emails that are this person's alone, and every way the sources wrote them."""
        return {e for e in self.emails if self.own(e)} | {
            w for w, n in self.written_emails.items() if self.own(n)
        }

    def own_phones(self) -> set[str]:
        """E.164 phones that are this person's alone, and every way the sources wrote them."""
        return {p for p in self.phones if self.own(p)} | {
            w for w, n in self.written_phones.items() if self.own(n)
        }


def find_person(
    con: duckdb.DuckDBPyConnection, identified_by: str, value: str, *, phone_region: str = "US"
) -> Person:
    """Every profile and record of the person an identifier names, and all their identifiers.

    Args:
        con: warehouse connection.
        identified_by: `email`, `phone`, `profile` or `crm`.
        value: the email, phone, profile id, or `OBJECT:ID` of a CRM record.
        phone_region: region of phone numbers written without a country code (kindred.yaml
            `identity.default_phone_region`).

    Returns:
        The person; `found` is false when nothing matched (the caller says so and stops).

    Raises:
        ErasureRequestError: the value is not an email, a phone number or `OBJECT:ID`.
    """
    if identified_by not in IDENTIFIED_BY:
        raise ErasureRequestError(f"cannot identify a person by {identified_by!r}")
    person = Person(identified_by)
    text = value.strip()
    if identified_by == "email":
        email = normalise_email(text) or email_key(text)
        if email is None:
            raise ErasureRequestError(f"--email {value!r} is not an email address")
        person.emails.add(email)
        person.requested = email
        person.written_emails[text] = email
        _seed_by_contact(con, person, "email", email)
    elif identified_by == "phone":
        phone = normalise_phone(text, phone_region)
        if phone is None:
            raise ErasureRequestError(
                f"--phone {value!r} is not a phone number (numbers without a country code are read as "
                f"{phone_region}: set identity.default_phone_region in kindred.yaml, or write +<country code>)"
            )
        person.phones.add(phone)
        person.requested = phone
        person.written_phones[text] = phone
        _seed_by_contact(con, person, "phone", phone)
    elif identified_by == "profile":
        for table in (RECORD_XREF, "profiles.unified_profile"):
            person.profiles |= _profiles_from(con, table, "profile_id = ?", [text])
    else:
        crm_object, sep, crm_record_id = text.partition(":")
        if not sep or not crm_object.strip() or not crm_record_id.strip():
            raise ErasureRequestError(f"--crm {value!r}: expected OBJECT:ID, e.g. Contact:0035g00000AbCdE")
        _seed_by_crm(con, person, crm_object.strip(), crm_record_id.strip())
    _expand(con, person, phone_region)
    log.info(
        "erasure request by %s: %d profiles, %d records",
        identified_by,
        len(person.profiles),
        len(person.records),
    )
    return person


def _column(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> set:
    return {r[0] for r in con.execute(sql, params).fetchall() if r[0] is not None}


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> set[tuple]:
    return {tuple(r) for r in con.execute(sql, params).fetchall() if None not in r}


def _profiles_from(con: duckdb.DuckDBPyConnection, table: str, where: str, params: list) -> set[str]:
    """The distinct `profile_id`s of a table's rows meeting a condition (none if it does not exist)."""
    if not table_exists(con, table):
        return set()
    return _column(con, f"SELECT DISTINCT profile_id FROM {table} WHERE {where}", params)


def _records_from(
    con: duckdb.DuckDBPyConnection, table: str, where: str, params: list
) -> set[tuple[str, str]]:
    """The distinct `(source, record_id)`s of a table's rows meeting a condition."""
    if not table_exists(con, table):
        return set()
    return _rows(con, f"SELECT DISTINCT source, record_id FROM {table} WHERE {where}", params)


def _seed_by_contact(con: duckdb.DuckDBPyConnection, person: Person, kind: str, value: str) -> None:
    """Profiles whose contact points hold the value, and records whose attributes carry it."""
    person.profiles |= _profiles_from(con, "profiles.contact_points", "kind = ? AND value = ?", [kind, value])
    person.records |= _records_from(con, "identity.person_records", f"{kind}_norm = ?", [value])
    if kind == "email":
        # An email platform keys people by their address.
        person.records |= _records_from(con, RECORD_XREF, "lower(record_id) = ?", [value])
    if not table_exists(con, RECORD_XREF):
        # Staging only: the records whose rows carry the identifier are the person's.
        normalise = normalise_email if kind == "email" else normalise_phone
        candidates = con.execute(
            f"SELECT DISTINCT source, record_id, {kind} FROM ({person_rows_sql(con)}) WHERE {kind} IS NOT NULL"
        ).fetchall()
        person.records |= {(s, r) for s, r, v in candidates if normalise(v) == value}


def _seed_by_crm(con: duckdb.DuckDBPyConnection, person: Person, crm_object: str, crm_record_id: str) -> None:
    key = [crm_object, crm_record_id]
    person.profiles |= _profiles_from(con, "crm.record_scores", "crm_object = ? AND crm_record_id = ?", key)
    person.records |= _records_from(con, "staging.people", "crm_object = ? AND record_id = ?", key)


def _expand(con: duckdb.DuckDBPyConnection, person: Person, phone_region: str) -> None:
    """All records of the profiles found, and every identifier those records carry."""
    if table_exists(con, RECORD_XREF):
        if person.records:
            person.profiles |= _column(
                con,
                f"SELECT DISTINCT x.profile_id FROM {RECORD_XREF} x JOIN {_records(con, person)} r "
                "ON x.source = r.source AND x.record_id = r.record_id",
                [],
            )
        if person.profiles:
            person.records |= _rows(
                con,
                f"SELECT source, record_id FROM {RECORD_XREF} WHERE list_contains(?, profile_id)",
                [sorted(person.profiles)],
            )
    if not person.records:
        return
    rows = con.execute(
        f"SELECT DISTINCT source, record_id, id_namespace, email, phone, first_name, last_name, full_name "
        f"FROM ({person_rows_sql(con)}) p JOIN {_records(con, person)} r USING (source, record_id)"
    ).fetchall()
    for _source, record_id, namespace, email, phone, first, last, full in rows:
        if namespace:
            person.namespaced.add((namespace, record_id))
        if email:
            person.written_emails[email] = normalise_email(email)
        if phone:
            person.written_phones[phone] = normalise_phone(phone, phone_region)
        # Sources that key people by their address (an email platform) name them by it.
        if "@" in record_id:
            person.written_emails[record_id] = normalise_email(record_id)
        full = full or " ".join(n for n in (first, last) if n)
        if full:
            person.names.add(full)
    if table_exists(con, "staging.events"):
        # Anonymous ids an identified visitor used: their events before login are theirs too,
        # unless the id is a record of someone else (a shared browser).
        others = (
            f"SELECT source, record_id FROM {RECORD_XREF} WHERE NOT list_contains(?, profile_id)"
            if table_exists(con, RECORD_XREF)
            else "SELECT NULL AS source, NULL AS record_id WHERE ? IS NULL"
        )
        person.namespaced |= _rows(
            con,
            "SELECT DISTINCT e.id_namespace, e.anonymous_id FROM staging.events e "
            f"JOIN {_records(con, person)} r USING (source, record_id) "
            f"WHERE e.anonymous_id IS NOT NULL AND (e.source, e.anonymous_id) NOT IN ({others})",
            [sorted(person.profiles)],
        )
    if table_exists(con, "staging.people"):
        person.crm_records |= _rows(
            con,
            "SELECT DISTINCT source, crm_object, record_id FROM staging.people p "
            f"JOIN {_records(con, person)} r USING (source, record_id) WHERE crm_object IS NOT NULL",
            [],
        )
    if table_exists(con, "crm.record_scores") and person.profiles:
        person.crm_records |= _rows(
            con,
            "SELECT DISTINCT source, crm_object, crm_record_id FROM crm.record_scores WHERE list_contains(?, profile_id)",
            [sorted(person.profiles)],
        )
    if table_exists(con, "profiles.contact_points") and person.profiles:
        for kind, value in con.execute(
            "SELECT DISTINCT kind, value FROM profiles.contact_points WHERE list_contains(?, profile_id)",
            [sorted(person.profiles)],
        ).fetchall():
            (person.emails if kind == "email" else person.phones).add(value)
    person.emails |= {n for n in person.written_emails.values() if n}
    person.phones |= {n for n in person.written_phones.values() if n}
    person.shared = _shared(con, person)
    _collect_identifiers(person)


def _shared(con: duckdb.DuckDBPyConnection, person: Person) -> set[str]:
    """The person's emails and phones that records or profiles outside the erasure carry too."""
    values = sorted(person.emails | person.phones)
    shared: set[str] = set()
    if table_exists(con, "identity.person_records"):
        shared |= {
            value
            for row in con.execute(
                "SELECT email_norm, phone_norm FROM identity.person_records p "
                f"ANTI JOIN {_records(con, person)} r USING (source, record_id) "
                "WHERE list_contains(?, email_norm) OR list_contains(?, phone_norm)",
                [values, values],
            ).fetchall()
            for value in row
            if value in values
        }
    if table_exists(con, "profiles.contact_points"):
        shared |= _column(
            con,
            "SELECT DISTINCT value FROM profiles.contact_points "
            "WHERE list_contains(?, value) AND NOT list_contains(?, profile_id)",
            [values, sorted(person.profiles)],
        )
    return shared


PERSON_RECORDS_TABLE = "_kindred_person_records"


def _records(con: duckdb.DuckDBPyConnection, person: Person) -> str:
    """The person's records as a temporary table `(source, record_id)`, refreshed; returns its name."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PERSON_RECORDS_TABLE} (source VARCHAR, record_id VARCHAR)")
    if person.records:
        con.executemany(f"INSERT INTO {PERSON_RECORDS_TABLE} VALUES (?, ?)", sorted(person.records))
    return PERSON_RECORDS_TABLE


def _collect_identifiers(person: Person) -> None:
    """The suppression keys: every email, phone, source record and CRM record of the person."""
    ids = person.identifiers
    for email in person.own_emails():
        ids.add("email", email_key(email))
    for phone in person.phones:
        if person.own(phone):
            ids.keys["phone"] |= phone_keys(phone)
    for written, normalised in person.written_phones.items():
        if person.own(normalised):
            ids.add("phone", phone_key(written))
    for namespace, record_id in person.namespaced:
        ids.add("record", record_key(namespace, record_id))
    for _source, crm_object, crm_record_id in person.crm_records:
        ids.add("crm", crm_key(crm_object, crm_record_id))
