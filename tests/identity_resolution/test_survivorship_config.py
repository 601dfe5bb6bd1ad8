"""`identity.survivorship` and `identity.backend` in kindred.yaml: defaults, and errors that name
the setting to fix."""

from __future__ import annotations

import pytest

from identity_resolution.survivorship_keys import ChainKeys
from identity_resolution.survivorship_sql import CONTACT_ATTRIBUTES, INDEX
from warehouse.config import ConfigError, load_config
from warehouse.identity_config import DEFAULT_SURVIVORSHIP, SURVIVING_ATTRIBUTES

SOURCES = """
sources:
  - {name: crm_contacts, kind: people, path: c.csv}
  - {name: web_events, kind: events, path: e.jsonl}
"""


def load(tmp_path, identity: str):
    path = tmp_path / "kindred.yaml"
    path.write_text(SOURCES + "identity:\n" + identity)
    return load_config(path)


def test_every_attribute_has_a_default_chain():
    assert set(DEFAULT_SURVIVORSHIP) == set(SURVIVING_ATTRIBUTES)


def test_a_chain_with_source_priority_is_read(tmp_path):
    config = load(
        tmp_path,
        """
  survivorship:
    source_priority: [crm_contacts, web_events]
    attributes:
      first_name: {rules: [source_priority, most_recent]}
      company: {rules: [most_frequent], source_priority: [web_events]}
""",
    )
    survivorship = config.identity.survivorship
    assert survivorship.rules_of("first_name") == ("source_priority", "most_recent")
    assert survivorship.rules_of("email") == DEFAULT_SURVIVORSHIP["email"]
    assert survivorship.priority_of("first_name") == ("crm_contacts", "web_events")
    assert survivorship.priority_of("company") == ("web_events",)
    keys = ChainKeys.fit(
        survivorship,
        records=10,
        largest_profile=3,
        time_span=(0, 1000),
        contact_attributes=CONTACT_ATTRIBUTES,
    )
    chains = {row["a"]: row for row in keys.table(INDEX).iter_rows(named=True)}
    first_name = chains[INDEX["first_name"]]
    assert (first_name["rule_1"], first_name["rule_2"], first_name["rule_3"]) == (
        "source_priority",
        "most_recent",
        None,
    )
    assert config.identity.backend == "duckdb"


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        (
            "  survivorship: {attributes: {shoe_size: {rules: [most_recent]}}}\n",
            r"identity.survivorship.attributes: unknown attribute 'shoe_size'; known attributes: first_name,",
        ),
        (
            "  survivorship: {attributes: {postcode: {rules: [most_recent]}}}\n",
            r"unknown attribute 'postcode' \(address parts survive together as `address`\)",
        ),
        (
            "  survivorship: {attributes: {email: {rules: [newest]}}}\n",
            r"identity.survivorship.attributes.email.rules\[0\]: Input should be 'most_recent', 'most_frequent', "
            r"'source_priority' or 'most_complete'",
        ),
        (
            "  survivorship: {attributes: {email: {rules: []}}}\n",
            r"identity.survivorship.attributes.email.rules: List should have at least 1 item",
        ),
        (
            "  survivorship: {attributes: {email: {rules: [most_recent, most_recent]}}}\n",
            r"identity.survivorship.attributes.email.rules: rule 'most_recent' is listed twice",
        ),
        (
            "  survivorship: {source_priority: [crm, web_events]}\n",
            r"identity.survivorship.source_priority: unknown source 'crm'; sources: crm_contacts, web_events",
        ),
        (
            "  survivorship: {attributes: {phone: {rules: [source_priority], source_priority: [shop]}}}\n",
            r"identity.survivorship.attributes.phone.source_priority: unknown source 'shop'",
        ),
        (
            "  survivorship: {attributes: {phone: {rules: [source_priority]}}}\n",
            r"attributes.phone uses source_priority but no source list is set",
        ),
        ("  backend: hadoop\n", r"identity.backend: Input should be 'duckdb' or 'spark'"),
        ("  spark: {masterr: local}\n", r"identity.spark.masterr: Extra inputs are not permitted"),
    ],
)
def test_bad_settings_are_named(tmp_path, identity, message):
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, identity)


def test_the_spark_backend_settings(tmp_path):
    config = load(
        tmp_path, "  backend: spark\n  spark: {master: 'local[1]', conf: {spark.driver.memory: 2g}}\n"
    )
    assert config.identity.backend == "spark"
    assert (config.identity.spark.master, config.identity.spark.conf) == (
        "local[1]",
        {"spark.driver.memory": "2g"},
    )


def test_a_check_across_sections_names_the_setting_once(tmp_path):
    # It read "kindred.yaml: config: identity.survivorship...", a location made up for a check
    # that spans sections.
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, "  survivorship: {source_priority: [crm, web_events]}\n")
    assert str(raised.value) == (
        f"{tmp_path / 'kindred.yaml'}: identity.survivorship.source_priority: unknown source 'crm'; "
        "sources: crm_contacts, web_events"
    )
