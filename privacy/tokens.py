"""Reversible tokens for masked values: per-request placeholders, and keyed tokens stable across calls.

- `Vault`: each distinct value becomes a typed placeholder, `<EMAIL_1>`, `<PERSON_2>`, numbered
  per kind in order of appearance; the mapping stays in the vault, in the memory of the process
  that serves the request, and dies with it. The same value (in any case or formatting: a phone's
  digits, an email's case) gets the same placeholder, so an LLM can tell two people apart and
  refer to each consistently.
- `KeyedTokens`: a value becomes `<EMAIL_3f9a0c12de>`, ten hex digits of HMAC-SHA256 under
  `KINDRED_MASKING_KEY`: the same value gets the same token in every call and every process,
  without any mapping being stored. Turning a token back needs the key and the candidate values
  (the person's known values, from the warehouse): each candidate's token is computed and
  compared.

Unmasking either way needs a caller whose role may see personal data (`privacy.callers`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable

from privacy.callers import Caller
from privacy.display import phone_digits

MASKING_KEY_ENV = "KINDRED_MASKING_KEY"
_MIN_KEY_CHARS = 16
# The placeholder label of every kind of finding, as an LLM sees it.
LABELS: dict[str, str] = {
    "email": "EMAIL",
    "phone": "PHONE",
    "name": "PERSON",
    "address": "ADDRESS",
    "date_of_birth": "DATE_OF_BIRTH",
    "national_id": "NATIONAL_ID",
    "identifier": "ID",
    "card": "CARD",
    "ssn": "SSN",
    "iban": "IBAN",
    "ip_address": "IP_ADDRESS",
    "url": "URL",
}
_LABEL_ALTERNATION = "|".join(sorted(set(LABELS.values()), key=len, reverse=True))
# LLMs sometimes drop or change the angle brackets: `[PERSON_1]`, `PERSON_1`, `<<PERSON_1>>`.
_PLACEHOLDER = re.compile(
    rf"[<\[{{]{{0,2}}\b((?:{_LABEL_ALTERNATION})_(?:\d+|[0-9a-f]{{10}}))\b[>\]}}]{{0,2}}"
)


class MaskingKeyMissing(RuntimeError):
    """`KINDRED_MASKING_KEY` is needed and not set (or too short); the message says how to set it."""


def label(kind: str) -> str:
    """The placeholder label of a kind: `email` -> `EMAIL`, `name` -> `PERSON`."""
    return LABELS.get(kind, kind.upper())


def normalise(kind: str, value: str, *, region: str = "US") -> str:
    """The form two spellings of one value share: an email's lower case, a phone's core digits.

    Args:
        kind: the kind of value.
        value: the value as written.
        region: the region for phone numbers without a country code.

    Returns:
        The normalised value, used to give one value one token.
    """
    if kind == "phone":
        return phone_digits(value, region).lstrip("0") or value
    if kind in ("card", "ssn", "national_id", "iban"):
        return re.sub(r"[\s.\-/]", "", value).upper()
    return " ".join(value.split()).casefold()


class Vault:
    """Typed placeholders for one request; the values never leave this object.

    Args:
        region: the region for phone numbers without a country code (to give `+1 415 555 0101`
            and `(415) 555-0101` one placeholder).

    Example:
        >>> vault = Vault()
        >>> vault.token("email", "Jane@Example.com"), vault.token("email", "jane@example.com")
        ('<EMAIL_1>', '<EMAIL_1>')
        >>> vault.unmask("Dear <EMAIL_1>", Caller("ops", "pii_reader", "cli"))
        'Dear Jane@Example.com'
    """

    def __init__(self, *, region: str = "US") -> None:
        self.region = region
        self._by_value: dict[tuple[str, str], str] = {}
        self._values: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def token(self, kind: str, value: str) -> str:
        """The placeholder of a value, created on first sight."""
        key = (kind, normalise(kind, value, region=self.region))
        existing = self._by_value.get(key)
        if existing is not None:
            return existing
        name = label(kind)
        self._counts[name] = self._counts.get(name, 0) + 1
        placeholder = f"<{name}_{self._counts[name]}>"
        self._by_value[key] = placeholder
        self._values[placeholder[1:-1]] = value
        return placeholder

    def unmask(self, text: str | None, caller: Caller) -> str | None:
        """Put the values back in place of this vault's placeholders.

        Placeholders this vault did not issue are left as they are. An LLM's small changes to a
        placeholder (`[PERSON_1]`, `PERSON_1`) are recognised.

        Args:
            text: masked text (an LLM's answer, a masked document's text).
            caller: who asks; must be allowed to see personal data.

        Returns:
            The text with values in place; None for None.

        Raises:
            PiiAccessDenied: the caller is a `reader`.
        """
        caller.require_pii("unmasking placeholders")
        if text is None:
            return None
        return _PLACEHOLDER.sub(lambda m: self._values.get(m.group(1), m.group(0)), text)

    def unmask_document(self, document: object, caller: Caller) -> object:
        """`unmask` every string inside a JSON-like document (dicts, lists, strings)."""
        caller.require_pii("unmasking a document")
        if isinstance(document, str):
            return self.unmask(document, caller)
        if isinstance(document, dict):
            return {k: self.unmask_document(v, caller) for k, v in document.items()}
        if isinstance(document, list):
            return [self.unmask_document(v, caller) for v in document]
        return document

    def counts(self, texts: Iterable[str] | None = None) -> dict[str, int]:
        """How many distinct placeholders of each label were issued, or appear in `texts` (no values).

        Args:
            texts: count only this vault's placeholders found in these texts (a prompt's messages).

        Returns:
            label -> count, e.g. `{"EMAIL": 1, "PERSON": 2}`.
        """
        if texts is None:
            return dict(sorted(self._counts.items()))
        seen = {
            m.group(1) for text in texts for m in _PLACEHOLDER.finditer(text) if m.group(1) in self._values
        }
        counts: dict[str, int] = {}
        for token in seen:
            name = token.rsplit("_", 1)[0]
            counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items()))

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:  # never show the values, in logs or tracebacks
        return f"Vault({self.counts()})"


def masking_key() -> bytes:
    """The key of keyed tokens and lookup hashes, from `KINDRED_MASKING_KEY`.

    Returns:
        The key's bytes.

    Raises:
        MaskingKeyMissing: the variable is unset or shorter than 16 characters.
    """
    value = os.environ.get(MASKING_KEY_ENV, "")
    if len(value.strip()) < _MIN_KEY_CHARS:
        problem = "is not set" if not value.strip() else f"is shorter than {_MIN_KEY_CHARS} characters"
        raise MaskingKeyMissing(
            f"{MASKING_KEY_ENV} {problem}: keyed tokens and the audit log's lookup hashes need a secret key; "
            f"set it in the environment of every Kindred process, e.g. export {MASKING_KEY_ENV}=$(openssl rand -hex 32)"
        )
    return value.strip().encode("utf-8")


class KeyedTokens:
    """Tokens that are the same for a value in every call: HMAC-SHA256 of the value under a secret key.

    Args:
        key: the secret; by default `KINDRED_MASKING_KEY` (see `masking_key`).
        region: the region for phone numbers without a country code.

    Example:
        >>> tokens = KeyedTokens(b"0123456789abcdef0123")
        >>> tokens.token("email", "jane@example.com") == tokens.token("email", "JANE@example.com")
        True
    """

    def __init__(self, key: bytes | None = None, *, region: str = "US") -> None:
        self._key = key if key is not None else masking_key()
        self.region = region

    def digest(self, kind: str, value: str) -> str:
        """The full HMAC-SHA256 (hex) of a normalised value: a lookup hash for the audit log."""
        message = f"{kind}:{normalise(kind, value, region=self.region)}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def token(self, kind: str, value: str) -> str:
        """The stable token of a value: `<EMAIL_3f9a0c12de>`."""
        return f"<{label(kind)}_{self.digest(kind, value)[:10]}>"

    def unmask(self, text: str | None, candidates: Iterable[tuple[str, str]], caller: Caller) -> str | None:
        """Put values back in place of their keyed tokens, trying each candidate value.

        Args:
            text: text holding keyed tokens.
            candidates: (kind, value) pairs that may be behind the tokens, typically the
                person's known values (`KnownPii.items()`).
            caller: who asks; must be allowed to see personal data.

        Returns:
            The text with the tokens of known candidates replaced; tokens of other values stay.

        Raises:
            PiiAccessDenied: the caller is a `reader`.
        """
        caller.require_pii("unmasking keyed tokens")
        if text is None:
            return None
        values = {self.token(kind, value)[1:-1]: value for kind, value in candidates}
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)

    def __repr__(self) -> str:  # never show the key
        return "KeyedTokens(<key hidden>)"
