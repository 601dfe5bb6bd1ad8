"""Grounding says what each person consents to and withholds the contact points of channels they left."""

import json
from datetime import datetime

import pytest

from activation.grounding import GROUNDING, build_grounding, grounding_for
from tests.activation.conftest import NOW, make_warehouse
from warehouse.config import KindredConfig, SourceConfig
from warehouse.consent_config import ConsentConfig

AT = datetime(2024, 3, 1)


@pytest.fixture
def con():
    connection = make_warehouse()
    connection.execute(
        "CREATE TABLE profiles.consent (profile_id VARCHAR, channel VARCHAR, purpose VARCHAR, status VARCHAR, "
        "source VARCHAR, record_id VARCHAR, recorded_at TIMESTAMP)"
    )
    connection.executemany(
        "INSERT INTO profiles.consent VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            # Jane wants no email at all; John only no email marketing, and no texts at all.
            ("P1", "email", "any", "opted_out", "prefs", "F1", AT),
            ("P2", "email", "marketing", "opted_out", "esp", "m9", AT),
            ("P2", "sms", "any", "opted_out", "crm", "C1", AT),
            # Ana objected to profiling.
            ("P3", "any", "profiling", "opted_out", "support", "K3", AT),
        ],
    )
    yield connection
    connection.close()


def _documents(con) -> dict[str, dict]:
    return {
        r[0]: json.loads(r[1]) for r in con.sql(f"SELECT crm_record_id, context FROM {GROUNDING}").fetchall()
    }


def _channel(document: dict, channel: str) -> dict:
    return document["consent"]["channels"][channel]


def test_each_document_carries_the_persons_consent_per_channel(con):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    docs = _documents(con)
    jane, john, ana = docs["L1"], docs["C1"], docs["L2"]
    assert list(jane["consent"]) == ["profiling", "channels"]
    assert list(jane["consent"]["channels"]) == ["email", "sms", "phone", "post", "push"]
    assert _channel(jane, "email") == {"marketing": False, "contact": False}
    assert _channel(jane, "phone") == {"marketing": True, "contact": True}
    assert _channel(john, "email") == {"marketing": False, "contact": True}
    assert _channel(john, "sms") == {"marketing": False, "contact": False}
    assert jane["consent"]["profiling"] and john["consent"]["profiling"]
    assert ana["consent"]["profiling"] is False
    assert _channel(ana, "email") == {"marketing": True, "contact": True}
    # A CRM record identity resolution has not linked yet gets the defaults.
    assert docs["L3"]["consent"]["profiling"] is True


def test_contact_points_of_channels_left_entirely_are_not_offered(con):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    docs = _documents(con)
    jane, john, ana = docs["L1"], docs["C1"], docs["L2"]
    assert jane["profile"]["emails"] == []
    assert len(jane["profile"]["phones"]) == 2
    # Opted out of email marketing only: the address stays for service, the consent says no marketing.
    assert len(john["profile"]["emails"]) == 1
    # No texts at all: the number is withheld, since a copilot cannot tell a call from a text.
    assert john["profile"]["phones"] == []
    assert len(ana["profile"]["emails"]) == 1
    # Withheld addresses are still masked wherever free text mentions them.
    assert "jane.doe@example.com" not in json.dumps(jane).lower()


def test_an_opt_in_regime_turns_marketing_off_without_a_recorded_opt_in(con):
    regime = ConsentConfig(opt_in_required={"marketing": ["email"], "profiling": ["any"]})
    config = KindredConfig(
        sources=[SourceConfig(name="crm", kind="people", path="people.csv")], consent=regime
    )
    build_grounding(con, config=config, as_of=NOW, generated_at=NOW)
    docs = _documents(con)
    for record in ("L1", "C1", "L2", "L3"):
        assert _channel(docs[record], "email")["marketing"] is False, record
        assert docs[record]["consent"]["profiling"] is False, record
    assert _channel(docs["L2"], "post")["marketing"] is True
    assert _channel(docs["L2"], "email")["contact"] is True


def test_a_fresh_document_says_the_same(con):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    stored = grounding_for(con, "Contact", "C1")
    fresh = grounding_for(con, "Contact", "C1", fresh=True, as_of=NOW)
    assert fresh["consent"] == stored["consent"]
    assert fresh["profile"]["phones"] == stored["profile"]["phones"] == []


def test_without_a_consent_table_everyone_gets_the_defaults():
    connection = make_warehouse()
    try:
        build_grounding(connection, as_of=NOW, generated_at=NOW)
        docs = _documents(connection)
        for document in docs.values():
            assert document["consent"]["profiling"] is True
            assert all(
                c == {"marketing": True, "contact": True} for c in document["consent"]["channels"].values()
            )
        assert len(docs["L1"]["profile"]["emails"]) == 2
    finally:
        connection.close()
