"""Prompt templates: merge fields checked against the grounding document, strict and sandboxed rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from activation.grounding_fields import DOCUMENT_FIELDS
from activation.prompts import PromptError, PromptLibrary, check_fields
from warehouse.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]


def _library(tmp_path: Path, template: str, system: str | None = None) -> PromptLibrary:
    path = tmp_path / "kindred.yaml"
    lines = ["sources:", "  - {name: crm, kind: people, path: people.csv}", "prompts:", "  - name: note"]
    lines.append(f"    template: {json.dumps(template)}")
    if system is not None:
        lines.append(f"    system: {json.dumps(system)}")
    path.write_text("\n".join(lines) + "\n")
    return PromptLibrary.from_config(load_config(path))


def test_the_demo_templates_use_only_fields_the_document_has():
    library = PromptLibrary.from_config(load_config(REPO / "kindred.yaml"))
    assert {t.name for t in library} == {"follow_up_email", "retention_note"}
    email = library.get("follow_up_email")
    assert "profile.first_name" in email.fields
    assert "next_best_offers.offers[].offer" in email.fields
    assert "scores.churn_risk.reasons" in library.get("retention_note").fields


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "Hi {{ profile.first_nme }}",
            "prompt 'note': unknown merge field 'profile.first_nme' (line 1); profile has: first_name,",
        ),
        (
            "{{ customer.name }}",
            "unknown merge field 'customer' (line 1); the document has: record, profile,",
        ),
        (
            "{{ next_best_offers[0].offer }}",
            "unknown merge field 'next_best_offers[0]' (line 1); next_best_offers has: model_version, offers",
        ),
        (
            "{% for o in recent_activity.orders %}\n{{ o.total }}{% endfor %}",
            "unknown merge field 'recent_activity.orders[].total' (line 2)",
        ),
        ("{{ profile.__class__ }}", "unknown merge field 'profile.__class__'"),
    ],
)
def test_an_unknown_merge_field_fails_when_the_templates_load(tmp_path, template, message):
    with pytest.raises(PromptError) as error:
        _library(tmp_path, template)
    assert message in str(error.value)


def test_the_system_message_is_checked_too(tmp_path):
    with pytest.raises(PromptError, match="unknown merge field 'scores.churn'"):
        _library(tmp_path, "Hi", system="{{ scores.churn }}")


def test_a_template_that_is_not_jinja_fails_at_config_load(tmp_path):
    path = tmp_path / "kindred.yaml"
    path.write_text(
        "sources:\n  - {name: crm, kind: people, path: people.csv}\n"
        "prompts:\n  - name: note\n    template: 'Hi {{ profile.first_name '\n"
    )
    with pytest.raises(ConfigError, match=r"prompts\[0\] \('note'\)\.template: not a valid Jinja2 template"):
        load_config(path)


def test_loops_slices_filters_and_helpers_are_understood():
    fields = check_fields(
        "note",
        "{% for e in recent_activity.events[:3] %}{{ e.event|upper }} {{ loop.index }}{% endfor %}"
        "{% set n = counts.orders %}{{ n }} {{ scores.churn_risk.reasons | join('; ') }}"
        "{% for k, v in counts.items() %}{{ k }}{% endfor %}{{ profile.first_name.title() }}",
    )
    assert "recent_activity.events[].event" in fields and "scores.churn_risk.reasons" in fields


def test_rendering_is_strict_and_sandboxed(tmp_path):
    library = _library(tmp_path, "Score {{ scores.lead_score.score_1_99 }} for {{ profile.first_name }}")
    template = library.get("note")
    document = {"profile": {"first_name": "<PERSON_1>"}, "scores": {"lead_score": {"score_1_99": 83}}}
    assert template.render(document) == [{"role": "user", "content": "Score 83 for <PERSON_1>"}]
    with pytest.raises(PromptError, match="prompt 'note' cannot be rendered for this record"):
        template.render({"profile": {"first_name": "<PERSON_1>"}, "scores": {"lead_score": None}})
    unsafe = PromptLibrary.__new__(PromptLibrary)
    unsafe._templates = {}
    with pytest.raises(PromptError, match="no prompt template named 'other' \\(templates: none"):
        unsafe.get("other")


def test_the_document_fields_match_what_grounding_builds():
    from activation.grounding_document import clear_document
    from tests.activation.conftest import NOW

    consent = {"profiling": True, "channels": {"email": {"marketing": True, "contact": True}}}
    row = {
        "crm_object": "Lead",
        "crm_record_id": "L1",
        "source": "crm",
        "profile_id": "P1",
        "consent": consent,
    }
    document = clear_document(row, as_of=NOW, generated_at=NOW)

    def keys(schema, value, path=""):
        if isinstance(schema, dict) and isinstance(value, dict):
            if list(schema) == ["*"]:  # any key (consent channels)
                for key in value:
                    keys(schema["*"], value[key], f"{path}.{key}")
                return
            assert list(value) == list(schema), path
            for key in schema:
                keys(schema[key], value[key], f"{path}.{key}")

    keys(DOCUMENT_FIELDS, document)
