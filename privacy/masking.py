"""Masking a person's data: free text, classified fields and whole records, in one of three styles.

A `Masker` belongs to one person (their known values) and one style:

- `DisplayStyle`: what a rep or a stored document may show (`j***@example.com`, `***-***-0101`,
  `Jane D.`, `****-****-****-1111`, `[ADDRESS]`): see `privacy.display`. Not reversible.
- `PlaceholderStyle`: typed placeholders from a request's `Vault` (`<EMAIL_1>`): reversible for
  that request only. What an LLM is sent.
- `KeyedStyle`: keyed tokens (`<EMAIL_3f9a0c12de>`), stable across calls and processes.

Free text is searched with `privacy.detection.PiiDetector` plus the person's own values; a field
whose kind is known (an email column) is masked whole by its kind, without searching.

Example:
    >>> from privacy.known import KnownPii
    >>> known = KnownPii(); known.add("name", "Doe", part="last")
    >>> Masker(DisplayStyle(), known=known).text("Mrs Doe paid with 4111 1111 1111 1111")
    'Mrs D. paid with ****-****-****-1111'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from privacy.classification import Classification
from privacy.detection import Finding, PiiDetector
from privacy.display import (
    HIDDEN,
    initials,
    mask_card,
    mask_email,
    mask_iban,
    mask_name,
    mask_phone,
    mask_url,
)
from privacy.known import KnownPii
from privacy.tokens import KeyedTokens, Vault

_NAME_PART_OF_FIELD = {"first_name": "first", "last_name": "last"}
_CACHE_LIMIT = 4096


class MaskStyle(Protocol):
    """How one found value is replaced."""

    def replace(self, kind: str, value: str, detail: str | None) -> str:
        """The replacement of `value`, a finding of `kind` (`detail`: a name's part, when known)."""
        ...


class DisplayStyle:
    """Partial masking for people to read (see `privacy.display`); first names of the person stay.

    Args:
        region: the region for phone numbers without a country code.
        private_words: words hidden from email domains too (the person's last names).
    """

    def __init__(self, *, region: str = "US", private_words: Iterable[str] = ()) -> None:
        self.region = region
        self.private_words = [w for w in private_words if w]

    def replace(self, kind: str, value: str, detail: str | None) -> str:  # noqa: D102
        if kind == "email":
            return mask_email(value, private_words=self.private_words) or "***"
        if kind == "phone":
            return mask_phone(value, region=self.region) or "***"
        if kind == "name":
            return _display_name(value, detail)
        if kind == "card":
            return mask_card(value)
        if kind == "iban":
            return mask_iban(value)
        if kind == "url":
            return mask_url(value)
        return HIDDEN.get(kind, f"[{kind.upper()}]")


class PlaceholderStyle:
    """Typed placeholders from a request's vault: `<EMAIL_1>`, `<PERSON_2>`."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    def replace(self, kind: str, value: str, detail: str | None) -> str:  # noqa: D102
        return self.vault.token(kind, value)


class KeyedStyle:
    """Keyed tokens, the same in every call: `<EMAIL_3f9a0c12de>`."""

    def __init__(self, tokens: KeyedTokens) -> None:
        self.tokens = tokens

    def replace(self, kind: str, value: str, detail: str | None) -> str:  # noqa: D102
        return self.tokens.token(kind, value)


def _display_name(value: str, detail: str | None) -> str:
    if detail == "first":
        return value
    if detail == "last":
        return mask_name(value) or "***"
    if detail == "full":
        # The person themselves: greeted by first name, family name as an initial.
        first, _, rest = value.partition(" ")
        return f"{first} {initials(rest)}" if rest.strip() else first
    return initials(value)


class Masker:
    """Masks one person's texts and values in one style.

    Args:
        style: how values are replaced.
        known: the person's own values (found in text whatever their formatting).
        detector: the detector (one per process is enough; the default one otherwise).
        region: the region for phone numbers without a country code.
    """

    def __init__(
        self,
        style: MaskStyle,
        *,
        known: KnownPii | None = None,
        detector: PiiDetector | None = None,
        region: str = "US",
    ) -> None:
        self.style = style
        self.known = known if known is not None else KnownPii()
        self.detector = detector or default_detector()
        self._matcher = self.known.matcher(region) if self.known else None
        self._cache: dict[tuple[str, bool], str] = {}

    def findings(self, text: str, *, generic: bool = True) -> list[Finding]:
        """What would be masked in `text` (kinds and spans)."""
        return self.detector.find(text, self._matcher, generic=generic)

    def text(self, text: str | None) -> str | None:
        """Mask everything personal in free text: the person's values and anything that looks personal."""
        return self._masked(text, generic=True)

    def label(self, text: str | None) -> str | None:
        """Mask an identifier or label (order id, product category, city): the person's own values
        and email addresses only. A long order number is not a phone, and masking it would make it
        useless."""
        return self._masked(text, generic=False)

    def value(self, kind: str, value: object, *, field: str | None = None) -> object:
        """Mask one field value by its kind.

        Args:
            kind: the field's kind (`privacy.classification`): identifying kinds are replaced
                whole, `free_text` is searched, `none` is searched for the person's values only.
            value: the value; None and non-text values (numbers, dates) other than identifying
                ones come back unchanged.
            field: the field's name (`first_name` keeps a first name in display style).

        Returns:
            The masked value.
        """
        if value is None:
            return None
        if kind == "free_text":
            return self.text(str(value)) if isinstance(value, str) else value
        if kind == "none":
            return self.label(value) if isinstance(value, str) else value
        text = str(value).strip()
        if not text:
            return value
        detail = _NAME_PART_OF_FIELD.get(field or "", "full") if kind == "name" else None
        return self.style.replace(kind, text, detail)

    def record(
        self, row: Mapping[str, object], classification: Classification, *, source: str | None = None
    ) -> dict[str, object]:
        """Mask a flat record (a profile, a segment export row) field by field.

        Args:
            row: field -> value.
            classification: the kinds of the fields.
            source: the source the row comes from, for source-specific kinds.

        Returns:
            A new dict, same keys, values masked by their field's kind (lists element by element).
        """
        out: dict[str, object] = {}
        for name, value in row.items():
            kind = classification.kind_of(name, source=source)
            if isinstance(value, list | tuple):
                out[name] = [self.value(kind, v, field=name) for v in value]
            else:
                out[name] = self.value(kind, value, field=name)
        return out

    def _masked(self, text: str | None, *, generic: bool) -> str | None:
        if text is None or not text.strip():
            return text
        key = (text, generic)
        done = self._cache.get(key)
        if done is None:
            done = replace_findings(text, self.findings(text, generic=generic), self.style)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = done
        return done


def replace_findings(text: str, findings: list[Finding], style: MaskStyle) -> str:
    """`text` with every finding replaced by `style` (findings must not overlap)."""
    parts = []
    cursor = 0
    for finding in sorted(findings, key=lambda f: f.start):
        parts.append(text[cursor : finding.start])
        parts.append(style.replace(finding.kind, text[finding.start : finding.end], finding.detail))
        cursor = finding.end
    parts.append(text[cursor:])
    return "".join(parts)


_DETECTORS: dict[tuple, PiiDetector] = {}


def default_detector(config=None) -> PiiDetector:
    """One detector per process and setting (its Presidio engine takes seconds to build).

    Args:
        config: a loaded kindred.yaml (`warehouse.config.KindredConfig`), or None for the defaults.

    Returns:
        The shared detector for those settings.
    """
    detector = PiiDetector.from_config(config)
    key = (detector.phone_regions, detector.threshold)
    return _DETECTORS.setdefault(key, detector)
