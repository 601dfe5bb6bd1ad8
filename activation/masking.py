"""Masking of personal data before it leaves Kindred for a CRM field or an LLM prompt.

The contract, applied everywhere a copilot or rep sees a person:

- emails keep their first character and the domain: `jane.doe@example.com` -> `j***@example.com`
  (a domain label holding the person's last name, as in `jane@doe-family.net`, is masked too);
- phones keep only their last digits: `+14155550101` -> `***-***-0101` (4 digits kept from
  numbers of 10 digits or more, 2 from shorter ones, none below 6 digits);
- first names stay (a copilot greets the person), last names shrink to an initial: `Doe` -> `D.`;
- free text (case subjects, descriptions, event names) is scrubbed of every email and phone number
  it contains, plus the person's own known emails, phones and last names.

Every function is idempotent: masking masked text returns it unchanged, so a value can safely pass
through more than one layer that masks.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher

# Local parts may carry plus tags and dots; `*` is allowed so that an already-masked address is
# recognised again and re-masked to itself.
_EMAIL = re.compile(
    r"(?<![\w.%+*-])[\w.%+*-]+@(?:[\w-]+(?:\.[\w-]+)+|\[[0-9A-Fa-f:.]+\])",
    re.UNICODE,
)
_MASKED_PHONE = re.compile(r"^\*{3}(?:-\*{3}-\d{2,4})?$")
_EXTENSION = re.compile(r"\s*(?:x|ext\.?|extension)\s*\d{1,6}\s*$", re.IGNORECASE)
# A safety net for numbers the phone library does not recognise in the default region (national
# formats of other countries, `001-...` dialling prefixes): 9 to 15 digits with light separators.
_PHONE_LIKE = re.compile(
    r"(?<![\w+*])(?:\+|\b00)?\(?\d(?:[\s().\-/]{0,2}\d){6,16}(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?(?!\w)",
    re.IGNORECASE,
)
_DATE_LIKE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}")
_PHONE_SEPARATORS = r"[\s().\-/]{0,3}"
# Below this many digits a text cannot hold a phone number worth matching; skipping the phone
# passes there keeps scrubbing of short labels cheap.
_MIN_PHONE_DIGITS = 6
_SIX_DIGITS = re.compile(r"\d(?:\D*\d){5}")


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
    value = email.strip()
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
    return _mask_digits(_phone_digits(value, region))


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


def scrub_text(
    text: str | None,
    *,
    region: str = "US",
    emails: Iterable[str | None] = (),
    phones: Iterable[str | None] = (),
    last_names: Iterable[str | None] = (),
) -> str | None:
    """Mask every email and phone number inside free text, and the person's known identifiers.

    Emails are found by pattern (plus tags, sub-domains, any case); phones by
    `phonenumbers.PhoneNumberMatcher` in `region` (lenient: possible numbers, not only valid
    ones), then by a digit-run safety net (9 to 15 digits, dates excluded). The person's own
    emails, phones (in any formatting, with or without country code) and last names are masked
    even where the generic patterns would miss them. To scrub many texts of one person, build a
    `TextScrubber` once instead.

    Args:
        text: the free text (case subject, description, event name, ...).
        region: the region for phone numbers written without a country code.
        emails: the person's known email addresses.
        phones: the person's known phone numbers, in any format.
        last_names: the person's known last names; each whole-word occurrence becomes its initial.

    Returns:
        The text with every match masked (see `mask_email`, `mask_phone`, `mask_name`); None
        for None.

    Example:
        >>> scrub_text("Reach Jane Doe at jane+crm@example.com or (415) 555-0101", last_names=["Doe"])
        'Reach Jane D. at j***@example.com or ***-***-0101'
    """
    return TextScrubber(region=region, emails=emails, phones=phones, last_names=last_names)(text)


class TextScrubber:
    """`scrub_text` for one person, built once and applied to many texts.

    Work is done only where a text could hold something to mask (an `@`, six digits, a known last
    name), and each distinct text is scrubbed once, so scrubbing a person's whole activity stays
    cheap.

    Args:
        region: the region for phone numbers written without a country code.
        emails: the person's known email addresses.
        phones: the person's known phone numbers, in any format.
        last_names: the person's known last names.

    Example:
        >>> scrub = TextScrubber(phones=["+1 415 555 0101"], last_names=["Doe"])
        >>> scrub("Mrs DOE asked to be called on 415/555/0101")
        'Mrs D. asked to be called on ***-***-0101'
    """

    _CACHE_LIMIT = 4096

    def __init__(
        self,
        *,
        region: str = "US",
        emails: Iterable[str | None] = (),
        phones: Iterable[str | None] = (),
        last_names: Iterable[str | None] = (),
    ) -> None:
        self.region = region
        self._emails = [e.lower() for e in _clean(emails)]
        self._phones = _clean(phones)
        self._phone_cores: list[str] | None = None
        self._last_names = [n for n in _clean(last_names) if len(n) >= 2]
        self._cache: dict[tuple[str, bool], str] = {}

    def __call__(self, text: str | None) -> str | None:
        """Scrub one text.

        Args:
            text: free text, or None.

        Returns:
            The masked text; None for None.
        """
        return self._cached(text, generic_phones=True)

    def identifier(self, value: str | None) -> str | None:
        """Scrub an identifier or label (order id, product category, offer id).

        Emails and the person's own phones are masked as in free text, but unknown digit runs are
        left alone: a long order number is not a phone, and masking it would make it useless.

        Args:
            value: the identifier, or None.

        Returns:
            The masked value; None for None.
        """
        return self._cached(value, generic_phones=False)

    def _cached(self, text: str | None, *, generic_phones: bool) -> str | None:
        if text is None:
            return None
        key = (text, generic_phones)
        done = self._cache.get(key)
        if done is None:
            done = self._scrub(text, generic_phones=generic_phones)
            if len(self._cache) >= self._CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = done
        return done

    def mask_email(self, email: str | None) -> str | None:
        """`mask_email` with this person's last names hidden from the domain too."""
        return mask_email(email, private_words=self._last_names)

    def _scrub(self, text: str, *, generic_phones: bool) -> str:
        out = text
        if "@" in out:
            for email in self._emails:
                if email in out.lower():
                    out = re.sub(re.escape(email), self._mask_email_match, out, flags=re.IGNORECASE)
            out = _EMAIL.sub(self._mask_email_match, out)
        if _SIX_DIGITS.search(out):
            # Generic passes first so a whole number (country code, extension) goes at once; the
            # person's own numbers then catch formats the generic passes do not recognise.
            if generic_phones:
                out = _scrub_phone_matches(out, self.region)
                out = _PHONE_LIKE.sub(_mask_phone_like, out)
            digits = re.sub(r"\D", "", out)
            for core in self._cores():
                if core in digits:
                    pattern = r"\(?" + _PHONE_SEPARATORS.join(core)
                    out = re.sub(pattern, lambda m: _mask_digits(re.sub(r"\D", "", m.group(0))), out)
        for name in self._last_names:
            if name.lower() in out.lower():
                initial = mask_name(name) or ""
                out = re.sub(
                    rf"(?<!\w){re.escape(name)}(?!\w)", lambda _m, i=initial: i, out, flags=re.IGNORECASE
                )
        return out

    def _cores(self) -> list[str]:
        """The known phones' core digits (national number without trunk zeros), parsed on first need."""
        if self._phone_cores is None:
            self._phone_cores = _known_phone_cores(self._phones, self.region)
        return self._phone_cores

    def _mask_email_match(self, match: re.Match[str]) -> str:
        return self.mask_email(match.group(0)) or "***"


def _clean(values: Iterable[str | None]) -> list[str]:
    """Distinct non-blank values, longest first so a longer value is masked before its parts."""
    distinct = {v.strip() for v in values if v is not None and v.strip()}
    return sorted(distinct, key=lambda v: (-len(v), v))


def _mask_digits(digits: str) -> str:
    if len(digits) >= 10:
        return f"***-***-{digits[-4:]}"
    if len(digits) >= _MIN_PHONE_DIGITS:
        return f"***-***-{digits[-2:]}"
    return "***"


@functools.lru_cache(maxsize=65_536)
def _phone_digits(value: str, region: str) -> str:
    """The number's own digits: the national number when parseable, else the digits left after
    dropping any extension."""
    try:
        parsed = phonenumbers.parse(value, region)
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.national_significant_number(parsed)
    except phonenumbers.NumberParseException:
        pass
    return re.sub(r"\D", "", _EXTENSION.sub("", value))


def _known_phone_cores(phones: Iterable[str], region: str) -> list[str]:
    """Each known phone's core digits: the national number without trunk zeros, so that
    `+1 415.555.0101` and `(415) 555 0101` both contain the core `4155550101`. Cores under 7
    digits are dropped: too short to tell a phone from any other number."""
    cores = []
    for phone in phones:
        if _MASKED_PHONE.match(phone):
            continue
        core = _phone_digits(phone, region).lstrip("0")
        if len(core) >= 7 and core not in cores:
            cores.append(core)
    return cores


def _scrub_phone_matches(text: str, region: str) -> str:
    matches = list(PhoneNumberMatcher(text, region, leniency=Leniency.POSSIBLE))
    if not matches:
        return text
    parts = []
    cursor = 0
    for match in matches:
        parts.append(text[cursor : match.start])
        parts.append(_mask_digits(phonenumbers.national_significant_number(match.number)))
        cursor = match.end
    parts.append(text[cursor:])
    return "".join(parts)


def _mask_phone_like(match: re.Match[str]) -> str:
    candidate = match.group(0)
    digits = re.sub(r"\D", "", _EXTENSION.sub("", candidate))
    if not 9 <= len(digits) <= 15 or _DATE_LIKE.search(candidate):
        return candidate
    return _mask_digits(digits)
