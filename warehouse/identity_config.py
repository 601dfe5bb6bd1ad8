"""The survivorship and Splink-backend settings of kindred.yaml's `identity:` section.

Part of the typed config of `warehouse.config` (`IdentityConfig.survivorship`, `.backend`,
`.spark`); see docs/identity-resolution.md ("Survivorship" and "The Spark backend").
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    """Settings that refuse unknown keys (a typo is an error, not a silent default) and never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# The units a golden record is made of: each survives on its own, except `address`, whose parts
# (ADDRESS_FIELDS) always come together from one source row.
ADDRESS_FIELDS: tuple[str, ...] = (
    "street_number",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postcode",
    "country",
)
SURVIVING_ATTRIBUTES: tuple[str, ...] = (
    "first_name",
    "last_name",
    "full_name",
    "date_of_birth",
    "gender",
    "email",
    "phone",
    "address",
    "company",
    "job_title",
    "loyalty_id",
)
SurvivorshipRule = Literal["most_recent", "most_frequent", "source_priority", "most_complete"]
SURVIVORSHIP_RULES: tuple[str, ...] = SurvivorshipRule.__args__
# A name, a birth date or a gender does not change: the value most records agree on beats a
# one-off typo. Emails, phones, employers and titles do change, so the newest wins. An address
# with street, city and postcode beats a city alone (a web visit's geo-IP guess), then the newest.
DEFAULT_SURVIVORSHIP: dict[str, tuple[str, ...]] = {
    "first_name": ("most_frequent", "most_recent"),
    "last_name": ("most_frequent", "most_recent"),
    "full_name": ("most_frequent", "most_complete", "most_recent"),
    "date_of_birth": ("most_frequent", "most_recent"),
    "gender": ("most_frequent", "most_recent"),
    "email": ("most_recent",),
    "phone": ("most_recent",),
    "address": ("most_complete", "most_recent"),
    "company": ("most_recent",),
    "job_title": ("most_recent",),
    "loyalty_id": ("most_recent",),
}
# Values that stand for "nothing" in customer data, compared case-insensitively with the whole
# value (a date of birth in its ISO form); a phone matches one made of digits whatever its
# country code. 1900-01-01 is the classic "birth date unknown" of CRM imports.
DEFAULT_PLACEHOLDERS: tuple[str, ...] = (
    "n/a",
    "na",
    "none",
    "null",
    "nil",
    "unknown",
    "not provided",
    "not available",
    "-",
    "--",
    "?",
    ".",
    "x",
    "xx",
    "xxx",
    "test",
    "asdf",
    "test@test.com",
    "test@example.com",
    "none@none.com",
    "noemail@noemail.com",
    "no@email.com",
    "1900-01-01",
    "0000000",
    "1234567",
    "0000000000",
    "1111111111",
    "1234567890",
    "5555555555",
    "9999999999",
)


class AttributeSurvivorship(_Strict):
    """How one attribute's surviving value is chosen: rules applied in order, each breaking the
    ties the one before it left."""

    rules: list[SurvivorshipRule] = Field(min_length=1)
    # Sources in order of trust for the `source_priority` rule (the section's list when unset).
    source_priority: list[str] | None = None

    @field_validator("rules")
    @classmethod
    def _no_repeats(cls, rules: list[str]) -> list[str]:
        repeated = sorted({r for r in rules if rules.count(r) > 1})
        if repeated:
            raise ValueError(f"rule {repeated[0]!r} is listed twice")
        return rules


class SurvivorshipConfig(_Strict):
    """Which value of each attribute reaches the golden record (`profiles.unified_profile`)."""

    # Sources in order of trust, most trusted first, for every attribute whose rules name
    # `source_priority` without a list of their own. Sources not listed rank below all listed.
    source_priority: list[str] = Field(default_factory=list)
    # Values treated as empty, besides blanks and invalid emails, phones and dates of birth.
    placeholders: list[str] = Field(default_factory=lambda: list(DEFAULT_PLACEHOLDERS))
    # attribute -> its rules; attributes left out keep DEFAULT_SURVIVORSHIP.
    attributes: dict[str, AttributeSurvivorship] = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _known_attributes(cls, attributes: dict[str, AttributeSurvivorship]) -> dict:
        unknown = sorted(set(attributes) - set(SURVIVING_ATTRIBUTES))
        if unknown:
            hint = (
                " (address parts survive together as `address`)" if set(unknown) & set(ADDRESS_FIELDS) else ""
            )
            raise ValueError(
                f"unknown attribute {unknown[0]!r}{hint}; known attributes: {', '.join(SURVIVING_ATTRIBUTES)}"
            )
        return attributes

    @model_validator(mode="after")
    def _priority_lists_where_needed(self) -> SurvivorshipConfig:
        for attribute, setting in self.attributes.items():
            if "source_priority" in setting.rules and not (setting.source_priority or self.source_priority):
                raise ValueError(
                    f"attributes.{attribute} uses source_priority but no source list is set "
                    "(set identity.survivorship.source_priority or the attribute's own source_priority)"
                )
        return self

    def rules_of(self, attribute: str) -> tuple[str, ...]:
        """The rule chain of one surviving attribute (its own, else the default)."""
        own = self.attributes.get(attribute)
        return tuple(own.rules) if own else DEFAULT_SURVIVORSHIP[attribute]

    def priority_of(self, attribute: str) -> tuple[str, ...]:
        """The source order `source_priority` uses for one attribute."""
        own = self.attributes.get(attribute)
        return tuple(own.source_priority if own and own.source_priority else self.source_priority)

    def named_sources(self) -> dict[str, list[str]]:
        """Setting path -> the source names it lists, to check against the configured sources."""
        named = {"source_priority": self.source_priority}
        named |= {
            f"attributes.{a}.source_priority": s.source_priority
            for a, s in self.attributes.items()
            if s.source_priority
        }
        return named


class SparkSettings(_Strict):
    """Where the Spark backend runs and how it is tuned; defaults suit one machine."""

    master: str = "local[2]"
    # Spark properties passed as they are (e.g. spark.driver.memory: 4g).
    conf: dict[str, str] = Field(default_factory=dict)
    # Folder for Splink's intermediate tables (a fresh temporary folder when unset).
    checkpoint_dir: str | None = None
