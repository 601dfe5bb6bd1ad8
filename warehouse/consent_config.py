"""The `consent:` section of kindred.yaml: where opt-outs and opt-ins come from, and the regimes.

Part of the typed config of `warehouse.config` (`KindredConfig.consent`); see docs/consent.md.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from warehouse.strict_settings import StrictSettings

# Consent vocabulary: channels a person can be reached on and purposes their data serves. `any`
# covers every channel or purpose. A word outside these lists is almost always a typo, and an
# opt-out recorded under a typo would never be enforced, so unknown words are refused.
ANY_CONSENT = "any"
CONSENT_CHANNELS = ("email", "sms", "phone", "post", "push")
CONSENT_PURPOSES = ("marketing", "profiling", "analytics", "personalisation", "advertising")
_CONSENT_WORD = r"^[a-z][a-z0-9_]{0,62}$"
# The columns of a consent file: who (a source and record id, or an email, or a phone), what
# (channel, purpose, status), when; `id` optionally names the statement.
CONSENT_FILE_FIELDS = (
    "source",
    "record_id",
    "email",
    "phone",
    "channel",
    "purpose",
    "status",
    "recorded_at",
    "id",
)


class ConsentFieldConfig(StrictSettings):
    """A people-source column whose true/false value states consent (e.g. Salesforce `DoNotCall`)."""

    column: str = Field(min_length=1)
    channel: str = ANY_CONSENT
    purpose: str = "marketing"
    # What a true value says; a false value says nothing unless `false_means: opposite` (a
    # default-false checkbox is not an opt-in: a record edited after an unsubscribe must not
    # subscribe the person again).
    true_means: Literal["opted_out", "opted_in"] = "opted_out"
    false_means: Literal["nothing", "opposite"] = "nothing"
    sources: list[str] | None = None


class ConsentEventConfig(StrictSettings):
    """A track event (by name) that states consent, e.g. `Unsubscribed` = opted out of email."""

    channel: str = ANY_CONSENT
    purpose: str = "marketing"
    status: Literal["opted_out", "opted_in"] = "opted_out"
    sources: list[str] | None = None


class ConsentFileConfig(StrictSettings):
    """A consent file (CSV or Parquet), e.g. a preference-centre export: one statement per row."""

    path: str
    # The `source` of its rows in profiles.consent, and its quarantine table's name.
    name: str = Field(default="consent_file", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    format: Literal["csv", "parquet"] | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    # Consent field -> file column, for names that differ (see CONSENT_FILE_FIELDS).
    columns: dict[str, str] = Field(default_factory=dict)

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, columns: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(columns) - set(CONSENT_FILE_FIELDS))
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: not a consent file field; known: {', '.join(CONSENT_FILE_FIELDS)}"
            )
        return columns

    def column(self, field: str) -> str:
        """The file column holding a consent field."""
        return self.columns.get(field, field)


class ConsentConfig(StrictSettings):
    """Where consent comes from (people-source fields, track events, a file) and which regimes apply."""

    channels: list[str] = Field(default_factory=lambda: list(CONSENT_CHANNELS))
    purposes: list[str] = Field(default_factory=lambda: list(CONSENT_PURPOSES))
    fields: list[ConsentFieldConfig] = Field(default_factory=list)
    events: dict[str, ConsentEventConfig] = Field(default_factory=dict)
    file: ConsentFileConfig | None = None
    # purpose -> the channels on which it needs a recorded opt-in (`any`: every channel, and uses
    # without contact such as profiling). A list of purposes means every channel.
    opt_in_required: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("channels", "purposes")
    @classmethod
    def _words(cls, words: list[str]) -> list[str]:
        bad = [w for w in words if not re.match(_CONSENT_WORD, w) or w == ANY_CONSENT]
        if bad:
            raise ValueError(f"{bad[0]!r}: expected lower-case words (letters, digits, _), not `any`")
        return list(dict.fromkeys(words))

    @field_validator("fields", mode="before")
    @classmethod
    def _short_fields(cls, value: object) -> object:
        # The short form `{email: HasOptedOutOfEmail}` is channel -> column (purpose marketing), or
        # channel -> the rich form without its channel (`{phone: {column: DoNotCall, purpose: any}}`).
        if isinstance(value, dict):
            return [
                {**column, "channel": channel}
                if isinstance(column, dict)
                else {"column": column, "channel": channel}
                for channel, column in value.items()
            ]
        return value

    @field_validator("events", mode="before")
    @classmethod
    def _short_events(cls, value: object) -> object:
        # The short form `{Unsubscribed: email}` is event name -> the channel it opts out of.
        if isinstance(value, dict):
            return {name: {"channel": v} if isinstance(v, str) else v for name, v in value.items()}
        return value

    @field_validator("opt_in_required", mode="before")
    @classmethod
    def _purpose_list(cls, value: object) -> object:
        if isinstance(value, list):
            return {purpose: [ANY_CONSENT] for purpose in value}
        if isinstance(value, dict):
            return {p: [c] if isinstance(c, str) else c for p, c in value.items()}
        return value

    @field_validator("fields", "events", "opt_in_required")
    @classmethod
    def _known_words(cls, value: list | dict, info: ValidationInfo) -> list | dict:
        channels = [*info.data.get("channels", CONSENT_CHANNELS), ANY_CONSENT]
        purposes = [*info.data.get("purposes", CONSENT_PURPOSES), ANY_CONSENT]
        if info.field_name == "fields":
            named = [(f"column {f.column}", f.channel, f.purpose) for f in value]
        elif info.field_name == "events":
            named = [(f"event {name!r}", e.channel, e.purpose) for name, e in value.items()]
        else:
            named = [(f"purpose {p}", channel, p) for p, on in value.items() for channel in on]
        for where, channel, purpose in named:
            if channel not in channels:
                raise ValueError(
                    f"{where}: {channel!r} is not a consent channel; known: {', '.join(channels)} "
                    "(add a new one to consent.channels)"
                )
            if purpose not in purposes:
                raise ValueError(
                    f"{where}: {purpose!r} is not a consent purpose; known: {', '.join(purposes)} "
                    "(add a new one to consent.purposes)"
                )
        return value

    def opt_in_needed(self, purpose: str, channel: str | None) -> bool:
        """Whether using data for `purpose` over `channel` needs a recorded opt-in.

        Args:
            purpose: e.g. `marketing`.
            channel: e.g. `email`; None for uses without contact (profiling).

        Returns:
            True when `opt_in_required` lists the purpose (or `any`) for the channel or for `any`.
        """
        for listed in (purpose, ANY_CONSENT):
            on = self.opt_in_required.get(listed, [])
            if ANY_CONSENT in on or (channel is not None and channel in on):
                return True
        return False
