"""Which fields hold personal data, and of which kind.

Every canonical field has a default kind; `privacy.pii_fields` in kindred.yaml overrides it, and
classifies source columns that have no canonical field (`crm_contacts.MobilePhone: phone`). The
kind decides how a value is masked and under which placeholder it goes (`<EMAIL_1>`, `<PERSON_2>`,
...), and which of a person's values are searched for in free text.

Kinds: `email`, `phone`, `name`, `address`, `date_of_birth`, `national_id`, `identifier` (loyalty
numbers, account ids), `free_text` (scanned for anything personal), `none` (not personal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import get_args

from warehouse.privacy_config import PiiKind, PrivacyConfig

PII_KINDS: tuple[str, ...] = get_args(PiiKind)
# Kinds whose values identify a person: searched for in free text and masked wherever they appear.
IDENTIFYING_KINDS = ("email", "phone", "name", "address", "date_of_birth", "national_id", "identifier")

DEFAULT_PII_FIELDS: dict[str, str] = {
    "first_name": "name",
    "last_name": "name",
    "full_name": "name",
    "email": "email",
    "phone": "phone",
    "street_number": "address",
    "address_line1": "address",
    "address_line2": "address",
    "postcode": "address",
    "date_of_birth": "date_of_birth",
    "national_id": "national_id",
    "loyalty_id": "identifier",
    # Free text people type: scanned for anything personal.
    "subject": "free_text",
    "description": "free_text",
    "event": "free_text",
    "status": "free_text",
    "lead_source": "free_text",
    # Useful to a copilot and not identifying on their own; masked where they hold a known value
    # of the person (a company named after its owner).
    "city": "none",
    "state": "none",
    "country": "none",
    "company": "none",
    "job_title": "none",
    "gender": "none",
}


@dataclass(frozen=True)
class Classification:
    """The kind of every field: the defaults with kindred.yaml's `privacy.pii_fields` over them.

    Args:
        fields: field -> kind; keys are canonical fields or `source.column`.

    Example:
        >>> Classification.from_config(None).kind_of("email")
        'email'
        >>> Classification({"crm_contacts.MobilePhone": "phone"}).kind_of("MobilePhone", source="crm_contacts")
        'phone'
    """

    fields: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, privacy: PrivacyConfig | None) -> Classification:
        """The classification of a loaded kindred.yaml (its `privacy:` section; None for the defaults)."""
        merged = dict(DEFAULT_PII_FIELDS)
        if privacy is not None:
            merged.update(privacy.pii_fields)
        return cls(merged)

    def kind_of(self, name: str, *, source: str | None = None) -> str:
        """The kind of a field: the source column's own setting, else the canonical field's, else `none`.

        Args:
            name: the field or column name.
            source: the source it comes from, for source columns.

        Returns:
            One of `PII_KINDS`.
        """
        if source is not None and f"{source}.{name}" in self.fields:
            return self.fields[f"{source}.{name}"]
        return self.fields.get(name, DEFAULT_PII_FIELDS.get(name, "none"))

    def canonical_fields_of(self, *kinds: str) -> list[str]:
        """The canonical fields classified as one of `kinds`, sorted (source columns left out)."""
        return sorted(name for name, kind in self.fields.items() if kind in kinds and "." not in name)

    def source_columns(self) -> dict[str, dict[str, str]]:
        """Source columns given a kind in kindred.yaml: source -> column -> kind."""
        out: dict[str, dict[str, str]] = {}
        for name, kind in self.fields.items():
            source, dot, column = name.partition(".")
            if dot:
                out.setdefault(source, {})[column] = kind
        return out
