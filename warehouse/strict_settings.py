"""The base of every kindred.yaml section's settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictSettings(BaseModel):
    """Settings that refuse unknown keys (a typo is an error, not a silent default) and never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)
