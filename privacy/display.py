"""Display masking: what a rep or a copilot may see of a value, keeping just enough to recognise it.

- emails keep their first character and the domain: `jane.doe@example.com` -> `j***@example.com`
  (a domain label holding the person's last name, as in `jane@doe-family.net`, is masked too);
- phones keep only their last digits: `+14155550101` -> `***-***-0101` (4 digits kept from
  numbers of 10 digits or more, 2 from shorter ones, none below 6 digits);
- first names stay (a copilot greets the person), last names shrink to an initial: `Doe` -> `D.`;
  other people's names become initials: `John Smith` -> `J. S.`;
- cards keep their last 4 digits (`****-****-****-1111`), IBANs their country (`GB** ****`);
  national ids, addresses, dates of birth, ids and IP addresses are hidden whole (`[SSN]`,
  `[ADDRESS]`, ...); a URL carrying personal data keeps only its scheme and host.

Every function is idempotent: masking masked text returns it unchanged, so a value can safely
pass through more than one layer that masks.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

import phonenumbers

_MASKED_PHONE = re.compile(r"^\*{3}(?:-\*{3}-\d{2,4})?$")
_EXTENSION = re.compile(r"\s*(?:x|ext\.?|extension)\s*\d{1,6}\s*$", re.IGNORECASE)
MIN_PHONE_DIGITS = 6
# Hidden whole: the bracketed label says what was there, which is all a reader needs.
HIDDEN = {
    "address": "[ADDRESS]",
    "date_of_birth": "[DATE OF BIRTH]",
    "national_id": "[NATIONAL ID]",
    "ssn": "[SSN]",
    "identifier": "[ID]",
    "ip_address": "[IP ADDRESS]",
}


def mask_email(email: str | None, *, private_words: Iterable[str | None] = ()) -> str | None:
    """Mask an email address to its first character and domain.

    Args:
        email: an address such as `jane.doe@example.com` (any case, surrounding spaces allowed).
        private_words: words that must not show in the domain either (the person's last names:
            `jane@doe-family.net` would otherwise give the name away); a domain label containing
            one becomes `***`.

    Returns:
        `j***@example.com`; `***` for a value without `@`; None for None or blank.

    Example:
        >>> mask_email("Jane.Doe+crm@Example.com")
        'j***@example.com'
        >>> mask_email("jane@mail.doe-family.net", private_words=["Doe"])
        'j***@mail.***.net'
    """
    if email is None or not email.strip():
        return None
    value = email.strip().strip("<>")
    local, at, domain = value.rpartition("@")
    if not at:
        return "***"
    first = local[:1].lower() if local[:1] not in ("", "*") else ""
    domain = domain.lower()
    words = [w.strip().lower() for w in private_words if w and len(w.strip()) >= 2]
    if words:
        labels = domain.split(".")
        domain = ".".join("***" if any(w in label for w in words) else label for label in labels)
    return f"{first}***@{domain}"


def mask_phone(phone: str | None, *, region: str = "US") -> str | None:
    """Mask a phone number down to its last digits.

    Args:
        phone: a number in any format (`+14155550101`, `(415) 555-0101 ext. 2`, ...).
        region: the region for numbers written without a country code.

    Returns:
        `***-***-0101` (last 4 digits for numbers of 10 digits or more, last 2 for 6 to 9 digits),
        `***` when fewer than 6 digits, None for None or blank. Extensions are dropped.

    Example:
        >>> mask_phone("+1 (415) 555-0101")
        '***-***-0101'
    """
    if phone is None or not phone.strip():
        return None
    value = phone.strip()
    if _MASKED_PHONE.match(value):
        return value
    return mask_digits(phone_digits(value, region))


def mask_name(name: str | None) -> str | None:
    """Reduce a (last) name to its initial.

    Args:
        name: a name such as `Doe` or `de la Cruz`.

    Returns:
        `D.`; None for None or blank.

    Example:
        >>> mask_name("Doe")
        'D.'
    """
    if name is None or not name.strip():
        return None
    return f"{name.strip()[0].upper()}."


def initials(name: str) -> str:
    """A name reduced to initials: `John Smith` -> `J. S.`; `J. S.` stays as it is."""
    parts = [p for p in re.split(r"[\s]+", name.strip()) if p]
    return " ".join(f"{p.lstrip('.')[0].upper()}." for p in parts if p.lstrip(".")) or "***"


def mask_card(card: str) -> str:
    """A payment card number down to its last 4 digits: `****-****-****-1111`."""
    digits = re.sub(r"\D", "", card)
    return f"****-****-****-{digits[-4:]}" if len(digits) >= 12 else "****"


def mask_iban(iban: str) -> str:
    """An IBAN down to its country: `GB** ****`."""
    compact = re.sub(r"\s", "", iban)
    country = compact[:2].upper() if compact[:2].isalpha() else ""
    return f"{country}** ****"


def mask_url(url: str) -> str:
    """A URL that carries personal data, down to its scheme and host: `https://example.com/***`."""
    parts = urlsplit(url if "://" in url else f"//{url}")
    if not parts.hostname:
        return "[URL]"
    scheme = f"{parts.scheme}://" if parts.scheme else ""
    return f"{scheme}{parts.hostname}/***"


def mask_digits(digits: str) -> str:
    """A phone number's digits down to the last few (see `mask_phone`)."""
    if len(digits) >= 10:
        return f"***-***-{digits[-4:]}"
    if len(digits) >= MIN_PHONE_DIGITS:
        return f"***-***-{digits[-2:]}"
    return "***"


def is_masked_phone(value: str) -> bool:
    """Whether a value already is a masked phone (`***-***-0101`)."""
    return bool(_MASKED_PHONE.match(value))


@functools.lru_cache(maxsize=65_536)
def phone_digits(value: str, region: str) -> str:
    """A phone number's own digits: the national number when parseable, else the digits left after
    dropping any extension."""
    try:
        parsed = phonenumbers.parse(value, region)
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.national_significant_number(parsed)
    except phonenumbers.NumberParseException:
        pass
    return re.sub(r"\D", "", _EXTENSION.sub("", value))
