"""The grounding document's fields: their names, for prompt templates, and how each is masked.

`DOCUMENT_FIELDS` lists the keys of a document (`activation.grounding_document.clear_document`)
and is what prompt templates are checked against. `mask_document` masks a document field by field
for whoever reads it: a field of a known kind (an email) is masked whole; free text (case texts,
event names, CRM status) is searched for anything personal; identifiers and labels (order ids,
categories) for the person's own values and email addresses; Kindred's own words (sources,
channels, dates, reasons) are kept. A string field without a treatment here is treated as a
label, so a section added later is never left in clear.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from privacy.classification import Classification
from privacy.masking import Masker

SUBJECT_CHARS = 200
DESCRIPTION_CHARS = 300
_SCORE = {"score": None, "score_1_99": None, "reasons": [None], "model_version": None, "as_of": None}
# The document's keys: a dict per object, a one-element list per list, None for a value.
DOCUMENT_FIELDS: dict[str, Any] = {
    "record": {
        "crm_object": None,
        "source": None,
        "status": None,
        "lead_source": None,
        "converted": None,
        "converted_at": None,
        "created_at": None,
    },
    "profile": {
        "first_name": None,
        "last_name": None,
        "emails": [None],
        "phones": [None],
        "city": None,
        "country": None,
        "company": None,
        "job_title": None,
        "customer_since": None,
        "first_seen": None,
        "last_seen": None,
        "n_sources": None,
    },
    # Per channel (`email`, `sms`, ... as configured: `*` stands for any key), see privacy.consent.
    "consent": {"profiling": None, "channels": {"*": {"marketing": None, "contact": None}}},
    "scores": {"lead_score": _SCORE, "churn_risk": _SCORE},
    "next_best_offers": {
        "model_version": None,
        "offers": [{"rank": None, "offer": None, "name": None, "score": None}],
    },
    "recent_activity": {
        "orders": [
            {
                "ordered_at": None,
                "order_id": None,
                "category": None,
                "amount": None,
                "quantity": None,
                "source": None,
                "source_rows": None,
            }
        ],
        "cases": [
            {
                "opened_at": None,
                "closed_at": None,
                "case_id": None,
                "status": None,
                "open": None,
                "subject": None,
                "description": None,
                "source": None,
                "source_row": None,
            }
        ],
        "events": [
            {"at": None, "channel": None, "type": None, "event": None, "source": None, "source_row": None}
        ],
    },
    "counts": {
        "orders": None,
        "total_spent": None,
        "cases": None,
        "open_cases": None,
        "events": None,
        "events_last_30_days": None,
    },
    "provenance": {
        "record": {"tables": [None], "source": None, "source_row": None},
        "profile": {"tables": [None], "profile_id": None, "sources": [None]},
        "scores": {"tables": [None]},
        "next_best_offers": {"tables": [None]},
        "recent_activity": {"tables": [None]},
        "counts": {"tables": [None]},
    },
    "as_of": None,
    "generated_at": None,
}

# How each string field is masked: `text` (searched for anything personal), `label` (the person's
# values and emails only), `keep` (Kindred's own words: sources, channels, reasons, dates), or a
# field name whose kind the classification gives. `[]` stands for any list element.
_TREATMENTS = {
    "record.crm_object": "label",
    "record.source": "keep",
    "record.status": "text",
    "record.lead_source": "text",
    "profile.first_name": "first_name",
    "profile.last_name": "last_name",
    "profile.emails[]": "email",
    "profile.phones[]": "phone",
    "profile.city": "city",
    "profile.country": "country",
    "profile.company": "company",
    "profile.job_title": "job_title",
    "recent_activity.cases[].status": "text",
    "recent_activity.cases[].subject": "text",
    "recent_activity.cases[].description": "text",
    "recent_activity.events[].event": "text",
}
_KEPT_PREFIXES = ("scores.", "counts.", "consent.", "provenance.profile.tables", "provenance.profile.sources")
# Kindred's own words and numbers: dates, source names, channels, and the file names and line
# numbers of provenance (landing files are named by whoever exports them, not by the person).
_KEPT_SUFFIXES = (
    "_at",
    "_seen",
    "customer_since",
    ".source",
    ".source_row",
    ".source_rows",
    ".channel",
    ".type",
    ".model_version",
    "tables[]",
)
_CUT = {
    "recent_activity.cases[].subject": SUBJECT_CHARS,
    "recent_activity.cases[].description": DESCRIPTION_CHARS,
    "recent_activity.events[].event": SUBJECT_CHARS,
}
# Paths without an entry in _TREATMENTS, resolved once each.
_DEFAULT_TREATMENTS: dict[str, str] = {}
_TOKEN_AT_END = re.compile(r"(?:<[A-Z_]*\d*|\[[A-Z ]*)$")


def mask_document(
    document: dict, masker: Masker | None, classification: Classification | None = None
) -> dict:
    """The document masked field by field (see `_TREATMENTS`), free texts cut to length.

    Args:
        document: a document from `clear_document`.
        masker: the person's masker in the wanted style; None to only cut texts (clear output).
        classification: kinds of the profile's fields (city, company, ...); defaults when None.

    Returns:
        A new document, same keys.
    """
    kinds = classification or Classification.from_config(None)
    return _walk(document, "", masker, kinds)


def _walk(value: Any, path: str, masker: Masker | None, kinds: Classification) -> Any:
    if isinstance(value, dict):
        return {
            key: _walk(item, f"{path}.{key}" if path else key, masker, kinds) for key, item in value.items()
        }
    if isinstance(value, list):
        items = [_walk(item, f"{path}[]", masker, kinds) for item in value]
        return _distinct(items) if path in ("profile.emails", "profile.phones") else items
    if not isinstance(value, str):
        return value
    masked = value if masker is None else _masked(value, path, masker, kinds)
    limit = _CUT.get(path)
    return _cut(masked, limit) if limit and masked is not None else masked


def _treatment(path: str) -> str:
    treatment = _TREATMENTS.get(path)
    if treatment is None:
        treatment = _DEFAULT_TREATMENTS.get(path)
    if treatment is None:
        kept = (
            path.startswith(_KEPT_PREFIXES)
            or path.endswith(_KEPT_SUFFIXES)
            or path in ("as_of", "generated_at")
        )
        treatment = _DEFAULT_TREATMENTS[path] = "keep" if kept else "label"
    return treatment


def _masked(value: str, path: str, masker: Masker, kinds: Classification) -> str | None:
    treatment = _treatment(path)
    if treatment == "keep":
        return value
    if treatment == "text":
        return masker.text(value)
    if treatment == "label":
        return masker.label(value)
    if treatment in ("email", "phone"):
        return masker.value(treatment, value)
    return masker.value(kinds.kind_of(treatment), value, field=treatment)


def _cut(text: str, limit: int) -> str:
    """A text cut to `limit` characters, never through a placeholder or a masked label."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    head = _TOKEN_AT_END.sub("", head)
    return head.rstrip() + "…"


def _distinct(values: Iterable[Any]) -> list:
    out: list = []
    for value in values:
        if value and value not in out:
            out.append(value)
    return out
