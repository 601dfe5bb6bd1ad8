"""The suppression list: identifiers of erased people, kept only as salted hashes, and the check
that quarantines rows carrying them when they arrive again.

`privacy.suppression` holds one row per identifier of every erased person: its kind (`email`,
`phone`, `record`: a source record id within its id namespace, `crm`: a CRM object and id) and
`sha256(salt:kind:key)`. The key is the identifier in a form the staging SQL can compute from a
row as it arrives (`email_key`, `phone_key`, `record_key`, `crm_key` are its Python twins): an
email trimmed and lower-cased, a phone number's digits. A phone is suppressed under each way of
writing it that keeps its digits recognisable (E.164, national with and without the trunk
prefix, with the 00 / 011 international prefixes), so `(630) 844-6663`, `+1 630 844 6663` and
`001 630 844 6663` are all caught.

The salt comes from the environment (`KINDRED_SUPPRESSION_SALT`), else from
`KINDRED_HOME/suppression.salt`, generated on the first erasure with 0600 permissions. A hash
without its salt cannot be tested against a guessed email or phone; with a lost salt the list can
no longer be matched at all, so staging refuses to run rather than let erased people back in.
`privacy.suppression_salt` keeps a check value (a hash of the salt) that tells a wrong salt from
the right one.

Staging checks every arriving row against the list (privacy.suppression_check).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.connection import table_exists
from warehouse.home import kindred_home

log = logging.getLogger(__name__)

SALT_ENV = "KINDRED_SUPPRESSION_SALT"
SALT_FILE = "suppression.salt"
SUPPRESSION = "privacy.suppression"
SALT_CHECK = "privacy.suppression_salt"
IDENTIFIER_KINDS = ("email", "phone", "record", "crm")
_SUPPRESSION_COLUMNS = "identifier_hash VARCHAR, kind VARCHAR, receipt_id VARCHAR, added_at TIMESTAMP"
_SALT_CHECK_COLUMNS = "salt_check VARCHAR, created_at TIMESTAMP"
_MIN_PHONE_DIGITS = 7
EXTENSION = r"(ext|x|#).*$"


class SuppressionSaltError(RuntimeError):
    """The salt is missing or is not the one the suppression list was written with."""


# --- identifier keys: Python twins of the SQL in privacy.suppression_check ----------------------


def email_key(text: str | None) -> str | None:
    """An email as staging compares it: trimmed, lower-case, without `mailto:`; None if no `@`."""
    if text is None:
        return None
    key = re.sub(r"^mailto:\s*", "", text.lower().strip(" "))
    return key if "@" in key else None


def phone_key(text: str | None) -> str | None:
    """A phone number as staging compares it: its digits, extension cut; None if under 7 digits."""
    if text is None:
        return None
    digits = re.sub(r"[^0-9]", "", re.sub(EXTENSION, "", text.lower()))
    return digits if len(digits) >= _MIN_PHONE_DIGITS else None


def phone_keys(e164: str) -> set[str]:
    """The keys of every usual way of writing one E.164 number.

    Args:
        e164: a number such as `+16308446663` (from `identity_resolution.email_phone_keys.normalise_phone`).

    Returns:
        Digit keys: international, national with and without the trunk prefix, and behind the
        00 and 011 international call prefixes.
    """
    import phonenumbers

    keys = {phone_key(e164)}
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return {k for k in keys if k}
    international = phone_key(e164) or ""
    keys |= {
        phone_key(phonenumbers.national_significant_number(number)),
        phone_key(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)),
        phone_key("00" + international),
        phone_key("011" + international),
    }
    return {k for k in keys if k}


def record_key(namespace: str, record_id: str) -> str:
    """A source record within its id namespace (the namespace makes equal ids of two systems differ)."""
    return f"{namespace}:{record_id}"


def crm_key(crm_object: str, crm_record_id: str) -> str:
    """A CRM record: its object and id."""
    return f"{crm_object}:{crm_record_id}"


def identifier_hash(salt: str, kind: str, key: str) -> str:
    """The salted SHA-256 of one identifier key (hex), as staging's SQL computes it."""
    return hashlib.sha256(f"{salt}:{kind}:{key}".encode()).hexdigest()


@dataclass
class Identifiers:
    """The identifier keys of one person, by kind (`email`, `phone`, `record`, `crm`)."""

    keys: dict[str, set[str]] = field(default_factory=lambda: {kind: set() for kind in IDENTIFIER_KINDS})

    def add(self, kind: str, key: str | None) -> None:
        """Add a key (None is ignored)."""
        if key:
            self.keys[kind].add(key)

    def hashes(self, salt: str) -> list[tuple[str, str]]:
        """(kind, salted hash) of every key, sorted."""
        return sorted(
            {(kind, identifier_hash(salt, kind, key)) for kind, keys in self.keys.items() for key in keys}
        )

    def __len__(self) -> int:
        return sum(len(keys) for keys in self.keys.values())


# --- the salt ------------------------------------------------------------------------------------


def suppression_salt(*, create: bool = False) -> str | None:
    """The salt: `$KINDRED_SUPPRESSION_SALT`, else `KINDRED_HOME/suppression.salt`.

    Args:
        create: generate the file (32 random bytes, hex, mode 0600) when neither exists.

    Returns:
        The salt, or None when there is none and `create` is false.
    """
    from_env = os.environ.get(SALT_ENV, "").strip()
    if from_env:
        return from_env
    path = kindred_home() / SALT_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    if not create:
        return None
    _write_private(path, secrets.token_hex(32))
    log.info("generated the suppression salt in %s", path)
    return path.read_text(encoding="utf-8").strip()


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only, atomically; a concurrent first writer wins."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        if not path.exists():
            os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)


def _salt_check(salt: str) -> str:
    return hashlib.sha256(f"kindred-suppression-salt-check:{salt}".encode()).hexdigest()


def ensure_suppression(con: duckdb.DuckDBPyConnection) -> None:
    """Create `privacy.suppression` and `privacy.suppression_salt` if missing."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {SUPPRESSION} ({_SUPPRESSION_COLUMNS})")
    con.execute(f"CREATE TABLE IF NOT EXISTS {SALT_CHECK} ({_SALT_CHECK_COLUMNS})")


def checked_salt(con: duckdb.DuckDBPyConnection, *, create: bool = False) -> str:
    """The salt, checked against the one the suppression list was written with.

    Args:
        con: warehouse connection.
        create: generate a salt when there is none, and record its check value (an erasure).

    Returns:
        The salt.

    Raises:
        SuppressionSaltError: no salt while the list has entries, or a different salt.
    """
    salt = suppression_salt(create=create)
    recorded = []
    if table_exists(con, SALT_CHECK):
        recorded = [r[0] for r in con.execute(f"SELECT salt_check FROM {SALT_CHECK}").fetchall()]
    where = f"${SALT_ENV} or {kindred_home() / SALT_FILE}"
    if salt is None:
        raise SuppressionSaltError(
            f"privacy.suppression has entries but the salt is missing ({where}): restore the salt "
            "from your backup; without it erased people cannot be recognised and would come back"
        )
    if recorded and _salt_check(salt) not in recorded:
        raise SuppressionSaltError(
            f"the suppression salt ({where}) is not the one privacy.suppression was written with: "
            "restore the original salt; erased people cannot be recognised with another one"
        )
    if not recorded and create:
        ensure_suppression(con)
        con.execute(
            f"INSERT INTO {SALT_CHECK} VALUES (?, ?)",
            [_salt_check(salt), datetime.now(UTC).replace(tzinfo=None)],
        )
    return salt


def has_entries(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether anyone was erased (the staging check costs nothing otherwise)."""
    if not table_exists(con, SUPPRESSION):
        return False
    return bool(con.execute(f"SELECT EXISTS (SELECT 1 FROM {SUPPRESSION})").fetchall()[0][0])


def add_to_suppression(
    con: duckdb.DuckDBPyConnection, identifiers: Identifiers, receipt_id: str, salt: str
) -> list[str]:
    """Add a person's identifiers to the list (call inside the erasure's transaction).

    Args:
        con: warehouse connection.
        identifiers: the person's identifier keys.
        receipt_id: the erasure they belong to.
        salt: from `checked_salt`.

    Returns:
        The salted hashes, sorted, including those already on the list.
    """
    ensure_suppression(con)
    hashes = identifiers.hashes(salt)
    now = datetime.now(UTC).replace(tzinfo=None)
    con.executemany(
        f"INSERT INTO {SUPPRESSION} SELECT $1, $2, $3, $4 "
        f"WHERE NOT EXISTS (SELECT 1 FROM {SUPPRESSION} WHERE identifier_hash = $1)",
        [[digest, kind, receipt_id, now] for kind, digest in hashes],
    )
    return sorted(digest for _, digest in hashes)


def suppressed_kinds(con: duckdb.DuckDBPyConnection, identifiers: Identifiers, salt: str) -> list[str]:
    """The kinds of the given identifiers that are already on the list (an earlier erasure)."""
    if not table_exists(con, SUPPRESSION):
        return []
    hashes = identifiers.hashes(salt)
    if not hashes:
        return []
    found = con.execute(
        f"SELECT DISTINCT kind FROM {SUPPRESSION} WHERE list_contains(?, identifier_hash) ORDER BY kind",
        [[digest for _, digest in hashes]],
    ).fetchall()
    return [r[0] for r in found]
