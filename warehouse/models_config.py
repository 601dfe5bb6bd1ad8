"""The `models:` section of kindred.yaml: horizons and populations of lead score, churn risk and next best offer.

Part of the typed config of `warehouse.config` (`KindredConfig.models`); see docs/models.md. The
offer catalog of next best offer has its own module, `warehouse.offer_config`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from warehouse.offer_config import OfferConfig
from warehouse.segment_config import repeated
from warehouse.strict_settings import StrictSettings


class LeadScoreConfig(StrictSettings):
    horizon_days: int = Field(default=90, ge=7, le=730)


class ChurnRiskConfig(StrictSettings):
    horizon_days: int = Field(default=90, ge=7, le=730)
    # Active customers: a purchase in this many days before a cut-off (the churn population).
    lookback_days: int = Field(default=180, ge=7, le=3650)


class NextBestOfferConfig(StrictSettings):
    horizon_days: int = Field(default=90, ge=7, le=730)
    offer_field: Literal["product_category", "product_id"] = "product_category"
    top_k: int = Field(default=10, ge=1, le=100)
    # How offers reach people: offers are kept only for people who may receive marketing on at
    # least one of these channels (consent).
    channels: list[str] = Field(default_factory=lambda: ["email"], min_length=1)
    # The offers to rank (warehouse/offer_config.py); empty: every value of offer_field is an offer.
    catalog: list[OfferConfig] = Field(default_factory=list)

    @field_validator("catalog")
    @classmethod
    def _unique_offer_ids(cls, catalog: list[OfferConfig]) -> list[OfferConfig]:
        duplicated = repeated(o.id for o in catalog)
        if duplicated:
            raise ValueError(f"offer ids must be unique; repeated: {', '.join(duplicated)}")
        return catalog


class ModelsConfig(StrictSettings):
    lead_score: LeadScoreConfig = Field(default_factory=LeadScoreConfig)
    churn_risk: ChurnRiskConfig = Field(default_factory=ChurnRiskConfig)
    next_best_offer: NextBestOfferConfig = Field(default_factory=NextBestOfferConfig)
