"""API keys: created by `kindred keys`, stored hashed, checked on every HTTP and MCP request.

A key is `kdr_` followed by 43 characters of `secrets.token_urlsafe(32)`: 256 random bits. Only
its SHA-256 digest is stored, in `$KINDRED_HOME/api_keys.json` (mode 0600), beside the warehouse
rather than in it, so the server can read keys while a pipeline run holds the warehouse open.

Why a fast hash: slow hashes (scrypt, Argon2) protect passwords, which people choose from a small
space an attacker can enumerate. A 256-bit random key cannot be enumerated, so SHA-256 of it is as
hard to reverse as the key is to guess; a slow hash would add tens of milliseconds to every
request (or force keeping keys in clear in memory to cache the check) and protect nothing more.
Lookup is by digest, so a request costs one SHA-256 and one dictionary read.

Writers (`kindred keys create`/`revoke`) take an exclusive lock on `api_keys.lock` and replace the
file atomically (temporary file + rename); readers see the old file or the new one. The server
notices a changed file by its inode and modification time and reloads it, so a revoked key stops
working on the next request without a restart.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

KEYS_FILE = "api_keys.json"
_LOCK_FILE = "api_keys.lock"
KEY_PREFIX = "kdr_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
# The roles of privacy.callers.Role: masked data only, or personal data too when asked.
ROLES = ("reader", "pii_reader")


class KeyStoreError(ValueError):
    """A key cannot be created or revoked; the message names the key and what to do."""


@dataclass(frozen=True)
class ApiKey:
    """One API key as stored: never the key itself.

    Attributes:
        name: who the key belongs to, as the audit log names them.
        role: `reader` (masked data only) or `pii_reader` (may ask for unmasked data).
        digest: SHA-256 of the key, hex.
        hint: the key's first characters, to tell keys apart in `kindred keys list`.
        created_at: when it was created (UTC, ISO 8601).
        revoked_at: when it was revoked, or None while it is active.
    """

    name: str
    role: str
    digest: str
    hint: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        """Whether the key still opens the API."""
        return self.revoked_at is None


def digest_of(key: str) -> str:
    """SHA-256 of a key, hex (see the module docstring for why a fast hash is right here)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    """The API keys of one Kindred home.

    Args:
        home: the Kindred home; the keys live in `<home>/api_keys.json`.

    Example:
        >>> store = KeyStore(tmp_home)  # doctest: +SKIP
        >>> key, secret = store.create("crm-copilot", "reader")  # doctest: +SKIP
        >>> store.verify(secret).name  # doctest: +SKIP
        'crm-copilot'
    """

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / KEYS_FILE
        self._lock_path = Path(home) / _LOCK_FILE
        self._read_lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._by_digest: dict[str, ApiKey] = {}

    def create(self, name: str, role: str = "reader") -> tuple[ApiKey, str]:
        """Create a key; the key itself is returned once and never stored.

        Args:
            name: a new name: letters, digits, `_`, `.` and `-`, up to 63 characters.
            role: `reader` or `pii_reader`.

        Returns:
            The stored record and the key to hand to the caller.

        Raises:
            KeyStoreError: a bad name or role, or the name is taken (revoked names stay taken, so
                the audit log's names stay unambiguous).
        """
        if not NAME_PATTERN.match(name or ""):
            raise KeyStoreError(
                f"key name {name!r}: use letters, digits, '_', '.' and '-' (up to 63, starting with a letter or digit)"
            )
        if role not in ROLES:
            raise KeyStoreError(f"key {name!r}: unknown role {role!r} (known: {', '.join(ROLES)})")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKey(
            name=name,
            role=role,
            digest=digest_of(secret),
            hint=secret[: len(KEY_PREFIX) + 4],
            created_at=_now(),
        )
        with self._locked() as keys:
            if any(k.name == name for k in keys):
                raise KeyStoreError(
                    f"key {name!r} already exists (revoked keys keep their name): choose another name"
                )
            keys.append(record)
        return record, secret

    def revoke(self, name: str) -> ApiKey:
        """Revoke a key by name; requests with it get 401 from the next request on.

        Args:
            name: the key's name.

        Returns:
            The revoked record.

        Raises:
            KeyStoreError: no key has that name, or it is revoked already.
        """
        with self._locked() as keys:
            for n, key in enumerate(keys):
                if key.name != name:
                    continue
                if not key.active:
                    raise KeyStoreError(f"key {name!r} was already revoked at {key.revoked_at}")
                keys[n] = ApiKey(**{**asdict(key), "revoked_at": _now()})
                return keys[n]
        raise KeyStoreError(f"no key named {name!r}: `kindred keys list` shows the keys")

    def list(self) -> list[ApiKey]:
        """Every key, active and revoked, in order of creation."""
        return _read(self.path)

    def verify(self, key: str | None) -> ApiKey | None:
        """The active key record a presented key belongs to, or None.

        Args:
            key: what the caller presented (anything: it is only hashed).

        Returns:
            The record, or None for a missing, unknown or revoked key.
        """
        if not key:
            return None
        found = self._current().get(digest_of(key))
        return found if found is not None and found.active else None

    def _current(self) -> dict[str, ApiKey]:
        try:
            stat = self.path.stat()
            seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            seen = None
        with self._read_lock:
            if seen != self._seen:
                self._by_digest = {k.digest: k for k in _read(self.path)}
                self._seen = seen
            return self._by_digest

    @contextmanager
    def _locked(self) -> Iterator[list[ApiKey]]:
        """The keys under an exclusive lock; written back atomically when the block ends cleanly."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            keys = _read(self.path)
            yield keys
            _write(self.path, keys)
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            os.close(descriptor)


def _read(path: Path) -> list[ApiKey]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise KeyStoreError(
            f"{path}: not a valid key file ({error}); restore it or remove it and create keys anew"
        ) from None
    try:
        return [ApiKey(**entry) for entry in document["keys"]]
    except (KeyError, TypeError) as error:
        raise KeyStoreError(
            f"{path}: unexpected content ({error}); restore it or remove it and create keys anew"
        ) from None


def _write(path: Path, keys: list[ApiKey]) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    text = json.dumps({"keys": [asdict(k) for k in keys]}, indent=2) + "\n"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
