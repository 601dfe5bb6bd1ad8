"""Field classification: defaults, kindred.yaml's privacy: section, its errors, and masking records by it."""

from __future__ import annotations

from pathlib import Path

import pytest

from privacy.classification import DEFAULT_PII_FIELDS, Classification
from privacy.known import KnownPii
from privacy.masking import DisplayStyle, Masker
from warehouse.config import ConfigError, load_config

SOURCES = """
sources:
  - {name: crm_contacts, kind: people, path: contacts.csv, columns: {record_id: Id}}
"""


def _config(tmp_path: Path, extra: str):
    path = tmp_path / "kindred.yaml"
    path.write_text(SOURCES + extra)
    return load_config(path)


def test_canonical_fields_have_defaults():
    defaults = Classification.from_config(None)
    assert defaults.kind_of("email") == "email"
    assert defaults.kind_of("last_name") == "name"
    assert defaults.kind_of("address_line1") == "address"
    assert defaults.kind_of("description") == "free_text"
    assert defaults.kind_of("city") == "none"
    assert defaults.kind_of("not_a_field") == "none"
    assert set(DEFAULT_PII_FIELDS.values()) <= {
        "email",
        "phone",
        "name",
        "address",
        "date_of_birth",
        "national_id",
        "identifier",
        "free_text",
        "none",
    }


def test_kindred_yaml_overrides_defaults_and_classifies_source_columns(tmp_path):
    config = _config(
        tmp_path,
        "privacy:\n  pii_fields: {city: address, crm_contacts.MobilePhone: phone, company: name}\n",
    )
    kinds = Classification.from_config(config.privacy)
    assert kinds.kind_of("city") == "address"
    assert kinds.kind_of("MobilePhone", source="crm_contacts") == "phone"
    assert kinds.kind_of("MobilePhone") == "none"
    assert kinds.source_columns() == {"crm_contacts": {"MobilePhone": "phone"}}
    assert "company" in kinds.canonical_fields_of("name")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "privacy:\n  pii_fields: {email: secret}\n",
            "privacy.pii_fields.email: Input should be 'email', 'phone'",
        ),
        (
            "privacy:\n  pii_fields: {emial: email}\n",
            "'emial' is neither a canonical field nor source.column",
        ),
        (
            "privacy:\n  pii_fields: {shop.Phone2: phone}\n",
            "privacy.pii_fields: 'shop.Phone2' names source 'shop', which kindred.yaml does not define",
        ),
        ("privacy:\n  phone_regions: [US, XX]\n", "privacy.phone_regions: unknown phone region XX"),
        ("privacy:\n  detection_threshold: 0\n", "privacy.detection_threshold"),
    ],
)
def test_bad_privacy_settings_name_the_setting(tmp_path, section, message):
    with pytest.raises(ConfigError) as error:
        _config(tmp_path, section)
    assert message in str(error.value)
    assert "kindred.yaml" in str(error.value)


def test_records_are_masked_field_by_field():
    known = KnownPii()
    known.add("name", "Doe", part="last")
    known.add("name", "Jane", part="first")
    row = {
        "profile_id": "P1",
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@doe-family.net",
        "phone": "+14155550101",
        "address_line1": "12 Main St",
        "date_of_birth": "1985-04-12",
        "company": "Doe & Sons",
        "city": "Austin",
        "n_records": 7,
        "sources": ["crm", "web"],
    }
    masked = Masker(DisplayStyle(private_words=["Doe"]), known=known).record(
        row, Classification.from_config(None)
    )
    assert masked == {
        "profile_id": "P1",
        "first_name": "Jane",
        "last_name": "D.",
        "email": "j***@***.net",
        "phone": "***-***-0101",
        "address_line1": "[ADDRESS]",
        "date_of_birth": "[DATE OF BIRTH]",
        "company": "D. & Sons",
        "city": "Austin",
        "n_records": 7,
        "sources": ["crm", "web"],
    }
