"""The `identity:` section of kindred.yaml: how records are matched into people, and what a profile keeps.

The match threshold, the guardrails that forbid a link whatever the evidence, placeholder values
that identify nobody, overrides of the Splink model, survivorship (which record's value a profile
shows) and the Splink backend. Part of the typed config of `warehouse.config`
(`KindredConfig.identity`); see docs/identity-resolution.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from warehouse.canonical import PERSON_ATTRIBUTES
from warehouse.strict_settings import StrictSettings

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


class AttributeSurvivorship(StrictSettings):
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


class SurvivorshipConfig(StrictSettings):
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


class SparkSettings(StrictSettings):
    """Where the Spark backend runs and how it is tuned; defaults suit one machine."""

    master: str = "local[2]"
    # Spark properties passed as they are (e.g. spark.driver.memory: 4g).
    conf: dict[str, str] = Field(default_factory=dict)
    # Folder for Splink's intermediate tables (a fresh temporary folder when unset).
    checkpoint_dir: str | None = None


def _known_attribute(name: str) -> str:
    if name not in PERSON_ATTRIBUTES:
        raise ValueError(f"unknown attribute {name!r}; known attributes: {', '.join(PERSON_ATTRIBUTES)}")
    return name


class IdentityGuardsConfig(StrictSettings):
    """Conflict rules that forbid a link whatever the evidence, and the cluster size limit."""

    dates_of_birth: bool = True
    # Two dates of birth this many edits apart (or fewer) may be typos of one date.
    date_of_birth_max_edits: int = Field(default=2, ge=0, le=4)
    national_ids: bool = True
    national_id_max_edits: int = Field(default=1, ge=0, le=4)
    generational_suffixes: bool = True
    given_names: bool = True
    # Jaro-Winkler similarity above which two given names may be one name typed twice.
    given_name_similarity: float = Field(default=0.88, gt=0, le=1)
    max_cluster_size: int = Field(default=100, ge=2, le=100_000)
    # An email, phone or loyalty number carried by more given names or records than this is shared.
    shared_contact_max_names: int = Field(default=3, ge=1)
    shared_contact_max_records: int = Field(default=50, ge=2)


class BlockedValuesConfig(StrictSettings):
    """Placeholder values that identify nobody, added to the defaults (test@..., 0000000000)."""

    use_defaults: bool = True
    email: list[str] = Field(default_factory=list)
    phone: list[str] = Field(default_factory=list)
    national_id: list[str] = Field(default_factory=list)
    loyalty_id: list[str] = Field(default_factory=list)


class SplinkComparisonConfig(StrictSettings):
    """An extra comparison, or one replacing the built-in comparison of the same attribute."""

    attribute: str
    method: Literal["exact", "jaro_winkler", "jaro", "levenshtein", "damerau_levenshtein", "date_years"] = (
        "exact"
    )
    thresholds: list[float] = Field(default_factory=list)
    term_frequencies: bool = False

    _attribute = field_validator("attribute")(_known_attribute)

    @model_validator(mode="after")
    def _thresholds_fit_the_method(self) -> SplinkComparisonConfig:
        if self.method == "exact":
            if self.thresholds:
                raise ValueError("method 'exact' takes no thresholds")
            return self
        if not self.thresholds:
            raise ValueError(f"method '{self.method}' needs thresholds, e.g. [0.9] or [1, 2]")
        if self.method in ("jaro_winkler", "jaro") and not all(0 < t < 1 for t in self.thresholds):
            raise ValueError(f"method '{self.method}' takes similarity thresholds between 0 and 1")
        if self.method in ("levenshtein", "damerau_levenshtein") and not all(
            t >= 1 and t == int(t) for t in self.thresholds
        ):
            raise ValueError(f"method '{self.method}' takes whole-number distances of 1 or more")
        if self.method == "date_years" and not all(t > 0 for t in self.thresholds):
            raise ValueError("method 'date_years' takes positive numbers of years")
        return self


class SplinkConfig(StrictSettings):
    """Overrides of the Splink model Kindred builds from the data."""

    # The match probability a pair needs to be linked (same as identity.match_threshold).
    threshold: float | None = Field(default=None, gt=0, lt=1)
    comparisons: list[SplinkComparisonConfig] = Field(default_factory=list)
    # Each rule: the attributes that must be equal, e.g. [last_name, city].
    blocking_rules: list[list[str]] = Field(default_factory=list)

    @field_validator("blocking_rules")
    @classmethod
    def _rules_name_attributes(cls, rules: list[list[str]]) -> list[list[str]]:
        for rule in rules:
            if not rule:
                raise ValueError("a blocking rule needs at least one attribute")
            for name in rule:
                _known_attribute(name)
        return rules


class IdentityConfig(StrictSettings):
    default_phone_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    match_threshold: float | None = Field(default=None, gt=0, lt=1)
    # Slashed dates of birth such as 04/12/1985 read as day/month/year (most of the world) when
    # true, month/day/year (the US) when false; unambiguous dates read the same either way.
    date_of_birth_day_first: bool = False
    # The saved match model is retrained when the data moved by more than this share.
    retrain_when_changed: float = Field(default=0.2, gt=0, le=1)
    guards: IdentityGuardsConfig = Field(default_factory=IdentityGuardsConfig)
    blocked_values: BlockedValuesConfig = Field(default_factory=BlockedValuesConfig)
    splink: SplinkConfig = Field(default_factory=SplinkConfig)
    survivorship: SurvivorshipConfig = Field(default_factory=SurvivorshipConfig)
    # Which engine scores record pairs with Splink: `duckdb` in process, or `spark` (the optional
    # `spark` extra) for data past one machine.
    backend: Literal["duckdb", "spark"] = "duckdb"
    spark: SparkSettings = Field(default_factory=SparkSettings)

    @model_validator(mode="after")
    def _one_threshold(self) -> IdentityConfig:
        both = self.match_threshold is not None and self.splink.threshold is not None
        if both and self.match_threshold != self.splink.threshold:
            raise ValueError(
                f"match_threshold ({self.match_threshold}) and splink.threshold ({self.splink.threshold}) "
                "disagree; set one of them"
            )
        return self
