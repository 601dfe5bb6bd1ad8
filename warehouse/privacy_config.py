"""The `privacy:` section of kindred.yaml: which fields hold personal data, and how free text is searched.

Part of the typed config of `warehouse.config` (`KindredConfig.privacy`); see docs/trust-layer.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from warehouse.canonical import KIND_FIELDS
from warehouse.strict_settings import StrictSettings

# What a field holds, for masking and for finding a person's values in free text (privacy:).
PiiKind = Literal[
    "email", "phone", "name", "address", "date_of_birth", "national_id", "identifier", "free_text", "none"
]


class PrivacyConfig(StrictSettings):
    """Which fields hold personal data, and how free text is searched for it (`privacy:`)."""

    # Canonical field (`email`) or source column (`crm_contacts.MobilePhone`) -> kind. Merged over
    # the defaults of privacy.classification; `none` declares a field not personal.
    pii_fields: dict[str, PiiKind] = Field(default_factory=dict)
    # Regions whose national phone formats are searched for in free text, besides the identity
    # section's default region (numbers written with a country code are found whatever the list).
    phone_regions: list[str] = Field(
        default_factory=lambda: ["US", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "CA", "AU", "BR", "MX"]
    )
    # A finding scoring below this is ignored (Presidio's scores: 0.4 for a possible phone number,
    # 1.0 for a Luhn-valid card).
    detection_threshold: float = Field(default=0.4, gt=0, le=1)

    @field_validator("pii_fields")
    def _known_fields(cls, fields: dict[str, str]) -> dict[str, str]:
        from warehouse.canonical import PERSON_ATTRIBUTES

        known = set(PERSON_ATTRIBUTES).union(*(set(f) for f in KIND_FIELDS.values()))
        for name in fields:
            source, dot, column = name.partition(".")
            if dot and source and column:
                continue
            if name not in known:
                raise ValueError(
                    f"'{name}' is neither a canonical field nor source.column (e.g. crm_contacts.MobilePhone); "
                    f"canonical fields: {', '.join(sorted(known))}"
                )
        return fields

    @field_validator("phone_regions")
    def _regions(cls, regions: list[str]) -> list[str]:
        import phonenumbers

        unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(
                f"unknown phone region {', '.join(unknown)}: use ISO 3166 codes such as US, GB, DE"
            )
        return regions
