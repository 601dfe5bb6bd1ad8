"""The `identity:` section of kindred.yaml: how records are matched into people.

The match threshold, the guardrails that forbid a link whatever the evidence, placeholder values
that identify nobody, and overrides of the Splink model; see docs/identity-resolution.md. The
section's survivorship and Splink-backend settings are in `warehouse.identity_config`. Part of the
typed config of `warehouse.config` (`KindredConfig.identity`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from warehouse.canonical import PERSON_ATTRIBUTES
from warehouse.identity_config import SparkSettings, SurvivorshipConfig


class _Strict(BaseModel):
    """Settings that refuse unknown keys (a typo is an error, not a silent default) and never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _known_attribute(name: str) -> str:
    if name not in PERSON_ATTRIBUTES:
        raise ValueError(f"unknown attribute {name!r}; known attributes: {', '.join(PERSON_ATTRIBUTES)}")
    return name


class IdentityGuardsConfig(_Strict):
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


class BlockedValuesConfig(_Strict):
    """Placeholder values that identify nobody, added to the defaults (test@..., 0000000000)."""

    use_defaults: bool = True
    email: list[str] = Field(default_factory=list)
    phone: list[str] = Field(default_factory=list)
    national_id: list[str] = Field(default_factory=list)
    loyalty_id: list[str] = Field(default_factory=list)


class SplinkComparisonConfig(_Strict):
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


class SplinkConfig(_Strict):
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


class IdentityConfig(_Strict):
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
