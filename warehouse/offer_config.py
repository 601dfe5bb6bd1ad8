"""The offer catalog of kindred.yaml (`models.next_best_offer.catalog`): what next best offer may recommend.

Part of the typed config of `warehouse.config` (`NextBestOfferConfig.catalog`); see docs/models.md.
Without a catalog every value of the offer field (each product category, by default) is an offer.
With one, each entry is an offer with an id, a name, what it covers (products or categories, or a
declared event for offers that are not products, such as a loyalty programme or a service plan),
the channels it goes out on, a window of dates, an active flag and eligibility rules.
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import Field, field_validator, model_validator

from warehouse.strict_settings import StrictSettings

OFFER_ID = r"^[a-z][a-z0-9_]{0,62}$"


def event_key(name: str) -> str:
    """An event name in the one spelling Kindred compares them in ("Care Plan Purchased" -> "care plan purchased").

    Args:
        name: an event name as written in kindred.yaml or sent by a tracker.

    Returns:
        The name lower-cased, with runs of spaces, underscores and hyphens turned into one space
        (the same rule as `feature_store.sources.EVENT_NAME_SQL`).
    """
    return re.sub(r"[_\s-]+", " ", name.strip().lower())


class OfferCoversConfig(StrictSettings):
    """The order lines that count as buying the offer: any of these products or categories."""

    product_ids: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)

    @field_validator("product_ids", "categories")
    @classmethod
    def _no_blanks(cls, values: list[str]) -> list[str]:
        if any(not v.strip() for v in values):
            raise ValueError("holds an empty value")
        return values


class OfferTakenConfig(StrictSettings):
    """The track event that records a person taking the offer (e.g. `Loyalty Programme Joined`)."""

    event: str = Field(min_length=1)

    @field_validator("event")
    @classmethod
    def _a_name(cls, event: str) -> str:
        if not event_key(event):
            raise ValueError("is blank")
        return event


class OfferEligibilityConfig(StrictSettings):
    """Who may be given the offer, checked as of each run's as-of date."""

    # Left out: people who bought (or took) the offer in this many days before as_of. A service
    # plan runs a year: 365. None: buying it again any time is fine.
    not_bought_within_days: int | None = Field(default=None, ge=1, le=36_500)
    # Left out: people who ever bought or took it (a programme one joins once).
    once_per_person: bool = False


class OfferConfig(StrictSettings):
    """One offer of the catalog; `covers` (products) and/or `taken` (an event) say what taking it means."""

    id: str = Field(pattern=OFFER_ID)
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    covers: OfferCoversConfig | None = None
    taken: OfferTakenConfig | None = None
    # How the offer reaches people; None: the model's `channels`. A person gets the offer only if
    # they may receive marketing on at least one of them.
    channels: list[str] | None = Field(default=None, min_length=1)
    # The offer runs from `starts` through `ends` (both days included); None: open-ended.
    starts: date | None = None
    ends: date | None = None
    # False: kept in the catalog but offered to nobody (sold out, paused).
    active: bool = True
    eligibility: OfferEligibilityConfig = Field(default_factory=OfferEligibilityConfig)

    @model_validator(mode="after")
    def _says_what_taking_it_means(self) -> OfferConfig:
        covered = self.covers is not None and (self.covers.product_ids or self.covers.categories)
        if not covered and self.taken is None:
            raise ValueError(
                f"offer '{self.id}' says neither what it covers nor how it is taken: give covers "
                "(product_ids and/or categories) for a product offer, or taken: {event: ...} for one "
                "that is not a product"
            )
        if self.starts and self.ends and self.ends < self.starts:
            raise ValueError(f"offer '{self.id}': ends ({self.ends}) is before starts ({self.starts})")
        return self

    @property
    def is_product(self) -> bool:
        """True when order lines (products or categories) count as taking the offer."""
        return self.covers is not None and bool(self.covers.product_ids or self.covers.categories)

    def channels_or(self, default: list[str]) -> list[str]:
        """The channels the offer goes out on, or `default` when the offer names none."""
        return list(self.channels) if self.channels else list(default)


__all__ = ["OfferConfig", "OfferCoversConfig", "OfferEligibilityConfig", "OfferTakenConfig", "event_key"]
