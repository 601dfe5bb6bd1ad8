"""Request and response bodies of the HTTP API (and the structured results of the MCP tools).

Field descriptions appear in `/openapi.json` and in the MCP tools' schemas, where an LLM reads
them to choose a tool and fill its arguments: they say what a value is and where it comes from.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CRM_OBJECT_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,62}$"
SEGMENT_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
TEMPLATE_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """Every error: the HTTP status and one line saying what is wrong and what to do."""

    status: int = Field(description="The HTTP status code, repeated.")
    message: str = Field(
        description="What went wrong, naming the field, record or setting; never personal data."
    )
    fields: list[dict[str, str]] | None = Field(
        default=None, description="For 422: each invalid field's location (e.g. `query.limit`) and problem."
    )


class Health(BaseModel):
    """Whether the server can answer, and which publication it answers from."""

    status: Literal["ok", "unavailable"]
    published_at: str | None = Field(
        description="When the publication served was made by a pipeline run (UTC)."
    )
    message: str | None = None


class RecordScores(BaseModel):
    """A CRM record's current scores, their reasons in words and the best offer, from `crm.record_scores`."""

    model_config = ConfigDict(extra="allow")

    crm_object: str
    crm_record_id: str
    source: str | None = Field(default=None, description="The people source the record was loaded from.")
    profile_id: str | None = Field(default=None, description="The unified profile the record belongs to.")
    lead_score: float | None = Field(
        default=None, description="Probability (0-1) the lead converts; leads only."
    )
    lead_score_1_99: int | None = None
    lead_score_reasons: str | None = Field(
        default=None,
        description="Top reasons for the lead score in words, `; `-separated, (+) raising it, (-) lowering it.",
    )
    churn_risk: float | None = Field(default=None, description="Probability (0-1) the customer stops buying.")
    churn_risk_1_99: int | None = None
    churn_risk_reasons: str | None = Field(
        default=None, description="Top reasons for the churn risk in words."
    )
    best_offer: str | None = Field(default=None, description="The offer most likely to be taken up next.")
    best_offer_score: float | None = None
    lead_score_model_version: str | None = None
    churn_risk_model_version: str | None = None
    next_best_offer_model_version: str | None = None
    updated_at: str | None = None


class Offer(BaseModel):
    """One next best offer."""

    rank: int = Field(description="1 is the best.")
    offer: str = Field(
        description="The offer: its catalog id, or without a catalog a product category or product id, as configured."
    )
    name: str | None = Field(
        default=None, description="The offer's name in the catalog (none without a catalog)."
    )
    score: float | None = Field(default=None, description="How likely the person is to take it up (0-1).")
    model_version: str | None = None


class RecordOffers(BaseModel):
    """A CRM record's next best offers from the newest scoring run."""

    crm_object: str
    crm_record_id: str
    profile_id: str | None = None
    as_of: str | None = Field(default=None, description="The as-of date of the scoring run.")
    offers: list[Offer]


class LookupRequest(_Body):
    """A profile lookup: the value goes in the body so it never appears in a URL or an access log."""

    kind: Literal["email", "phone", "crm_id"] = Field(description="What the value is.")
    value: str = Field(min_length=1, max_length=320, description="The email, phone number or CRM record id.")


class CrmRecordRef(BaseModel):
    """A CRM record by object and id."""

    crm_object: str
    crm_record_id: str


class ProfileMatch(BaseModel):
    """A profile a lookup matched, with its CRM records (use them with the record endpoints)."""

    profile_id: str
    crm_records: list[CrmRecordRef]


class LookupResult(BaseModel):
    """The profiles a lookup matched (none, one, or several people sharing a value)."""

    profiles: list[ProfileMatch]


class SegmentSummary(BaseModel):
    """A declared segment."""

    name: str
    description: str
    purpose: str = Field(description="Whose consent applies to its members (e.g. marketing).")
    channel: str | None = Field(
        default=None, description="The channel members are contacted on (e.g. email)."
    )
    size: int | None = Field(default=None, description="Members at the last run (before consent is applied).")
    evaluated_at: str | None = Field(default=None, description="When the last run evaluated it (UTC).")


class SegmentList(BaseModel):
    """Every declared segment."""

    segments: list[SegmentSummary]


class SegmentMembers(BaseModel):
    """One page of a segment's members that consent permits for its purpose and channel."""

    segment: str
    members: list[dict[str, Any]] = Field(description="One row per member with the segment's columns.")
    next_after: str | None = Field(description="Pass as `after` for the next page; null on the last page.")
    members_total: int = Field(description="Members at the last run.")
    permitted_total: int = Field(description="Members consent permits for the segment's purpose and channel.")
    masked: bool


class GenerateRequest(_Body):
    """A grounded generation: a prompt template rendered with one CRM record's grounding."""

    template: str = Field(
        pattern=TEMPLATE_NAME_PATTERN, description="A prompt template of kindred.yaml `prompts:`."
    )
    crm_object: str = Field(pattern=CRM_OBJECT_PATTERN, description="The CRM object, e.g. Lead or Contact.")
    crm_record_id: str = Field(min_length=1, max_length=255, description="The record's id in the CRM.")
    source: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]{0,62}$",
        description="The people source, when two hold the same id.",
    )


class Generation(BaseModel):
    """The LLM's answer: with the person's values put back for a pii_reader, placeholders for a reader."""

    template: str
    template_version: str | None = None
    model: str
    answer: str
    unmasked: bool
    request_id: str = Field(description="The id of this call's rows in audit.llm_calls and audit.access_log.")
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
