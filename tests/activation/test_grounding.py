"""crm.grounding: masked copilot documents per CRM record."""

from __future__ import annotations

import json
import re

import duckdb
import phonenumbers
import polars as pl
import pytest

import activation.grounding as grounding_module
from activation.grounding import GROUNDING, build_grounding, event_channel, grounding_for
from tests.activation.conftest import (
    ADVERSARIAL_DESCRIPTION,
    ADVERSARIAL_SUBJECT,
    HOSTILE_DESCRIPTION,
    LATER,
    NOW,
    make_warehouse,
)
from warehouse.connection import read_table, replace_table

STAGING_TABLES = ("staging.people", "staging.events", "staging.orders", "staging.cases")
# Addresses and numbers written inside the case texts, beyond the ones in structured columns.
EMAILS_IN_TEXT = ["JANE.DOE+support@Example.com", "j.doe-family@mail.example.co.uk"]
PHONES_IN_TEXT = ["415.555.0101", "+1 415 555 0199", "001-415-555-0101x12", "+44 (0)20 7946 0958"]


def _contexts(con) -> dict[str, dict]:
    table = read_table(con, GROUNDING)
    return {row["crm_record_id"]: json.loads(row["context"]) for row in table.to_dicts()}


def _string_leaves(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _string_leaves(v)]
    if isinstance(value, list):
        return [s for v in value for s in _string_leaves(v)]
    return [value] if isinstance(value, str) else []


def _known_pii(con) -> tuple[set[str], set[str]]:
    emails: set[str] = set(EMAILS_IN_TEXT)
    phones: set[str] = set(PHONES_IN_TEXT)
    for kind, target in (("email", emails), ("phone", phones)):
        target.update(
            v
            for (v,) in con.sql(
                "SELECT value FROM profiles.contact_points WHERE kind = ?", params=[kind]
            ).fetchall()
        )
    for table in STAGING_TABLES:
        for email, phone in con.sql(f"SELECT email, phone FROM {table}").fetchall():
            if email:
                emails.add(email)
            if phone:
                phones.add(phone)
    return emails, phones


def _hidden_digits(phone: str) -> str:
    """The digits masking must hide: the national number without its last 4 digits."""
    try:
        digits = phonenumbers.national_significant_number(phonenumbers.parse(phone, "US"))
    except phonenumbers.NumberParseException:
        digits = re.sub(r"\D", "", phone)
    digits = re.sub(r"\D", "", phone) if len(digits) < 7 else digits
    return digits[:-4]


def test_one_masked_document_per_crm_record(con):
    assert build_grounding(con, as_of=NOW, generated_at=NOW) == 4
    table = read_table(con, GROUNDING)
    assert table.columns[:6] == [
        "crm_object",
        "crm_record_id",
        "profile_id",
        "context",
        "masked",
        "generated_at",
    ]
    assert sorted(table["crm_record_id"]) == ["C1", "L1", "L2", "L3"]
    assert table["masked"].all()
    assert set(table["generated_at"]) == {NOW}


def test_no_email_or_phone_of_anyone_appears_unmasked(con):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    emails, phones = _known_pii(con)
    assert len(emails) >= 8 and len(phones) >= 8
    contexts = _contexts(con)
    assert ADVERSARIAL_SUBJECT not in json.dumps(contexts)
    for record_id, context in contexts.items():
        text = json.dumps(context, ensure_ascii=False).lower()
        for email in emails:
            local = email.lower().split("@")[0]
            assert email.lower() not in text, (record_id, email)
            if re.search(r"[._+\-\d]", local):
                assert local not in text, (record_id, local)
        leaves = [re.sub(r"\D", "", s) for s in _string_leaves(context)]
        for phone in phones:
            hidden = _hidden_digits(phone)
            assert len(hidden) >= 3
            assert not any(hidden in leaf for leaf in leaves), (record_id, phone)


def test_last_names_are_reduced_to_initials(con):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    for record_id, context in _contexts(con).items():
        text = json.dumps(context)
        for last_name in ("Doe", "Smith", "Lopez", "Person"):
            assert not re.search(rf"\b{last_name}\b", text, re.IGNORECASE), (record_id, last_name)
    jane = _contexts(con)["L1"]
    assert jane["profile"]["first_name"] == "Jane"
    assert jane["profile"]["last_name"] == "D."
    assert "Jane D. says" in jane["recent_activity"]["cases"][0]["description"]


def test_document_content_and_key_order(con):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    jane = _contexts(con)["L1"]
    assert list(jane) == [
        "record",
        "profile",
        "consent",
        "scores",
        "next_best_offers",
        "recent_activity",
        "counts",
        "provenance",
        "as_of",
        "generated_at",
    ]
    profile = jane["profile"]
    assert list(profile) == [
        "first_name",
        "last_name",
        "emails",
        "phones",
        "city",
        "country",
        "company",
        "job_title",
        "customer_since",
        "first_seen",
        "last_seen",
        "n_sources",
    ]
    # jane@doe.example: the domain would give the last name away.
    assert profile["emails"] == ["j***@example.com", "j***@***.example"]
    assert profile["phones"] == ["***-***-0101", "***-***-0199"]
    assert (profile["city"], profile["country"], profile["company"], profile["job_title"]) == (
        "Austin",
        "US",
        "Acme",
        "CTO",
    )
    assert profile["customer_since"] == "2023-03-04"
    # Seen in the staged rows before the cut-off: the CRM record's creation to the last case.
    assert (profile["first_seen"], profile["last_seen"]) == ("2023-01-10", "2024-06-25")
    assert profile["n_sources"] == 7

    lead = jane["scores"]["lead_score"]
    assert (lead["score"], lead["score_1_99"], lead["model_version"]) == (0.83, 83, "2")
    assert lead["reasons"][0] == "Opened 7 emails in 90 days (+)"
    assert [o["offer"] for o in jane["next_best_offers"]["offers"]] == ["Outdoor", "Books", "Garden"]

    activity = jane["recent_activity"]
    # Two lines of order O1 are one order.
    assert [(o["order_id"], o["category"], o["amount"]) for o in activity["orders"]] == [
        ("O2", "Outdoor", 99.99),
        ("O1", "Books, Outdoor", 35.5),
    ]
    assert [(c["case_id"], c["status"], c["open"]) for c in activity["cases"]] == [
        ("K1", "Open", True),
        ("K2", "Closed", False),
        ("K3", "Closed", False),
    ]
    # Identify calls are not activity, and nothing after `now` is seen.
    assert [(e["channel"], e["event"]) for e in activity["events"]] == [
        ("web", "Product Viewed"),
        ("email", "Email Opened"),
        ("app", "Home"),
        ("web", "Pricing"),
        ("web", "Signed up as j***@example.com"),
    ]
    assert jane["counts"] == {
        "orders": 2,
        "total_spent": 135.49,
        "cases": 3,
        "open_cases": 1,
        "events": 5,
        "events_last_30_days": 4,
    }
    assert (jane["as_of"], jane["generated_at"]) == ("2024-06-30T12:00:00Z", "2024-06-30T12:00:00Z")


def test_contact_has_no_lead_score_and_unscored_records_have_nulls(con):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    contexts = _contexts(con)
    assert contexts["C1"]["scores"]["lead_score"] is None
    assert contexts["C1"]["scores"]["churn_risk"]["reasons"] == ["Spent 1,234.50 in 365 days (-)"]
    assert contexts["L2"]["scores"] == {"lead_score": None, "churn_risk": None}
    assert contexts["L2"]["next_best_offers"] is None
    # Not linked to a profile: the CRM record's own fields, masked.
    unlinked = contexts["L3"]
    assert unlinked["profile"]["first_name"] == "Unlinked"
    assert unlinked["profile"]["phones"] == ["***-***-0142"]
    assert unlinked["recent_activity"] == {"orders": [], "cases": [], "events": []}


def test_recent_limit_caps_lists_not_counts(con):
    build_grounding(con, as_of=NOW, generated_at=NOW, recent_limit=1)
    jane = _contexts(con)["L1"]
    assert [len(v) for v in jane["recent_activity"].values()] == [1, 1, 1]
    assert jane["recent_activity"]["orders"][0]["order_id"] == "O2"
    assert jane["counts"]["events"] == 5


def test_documents_are_deterministic(con):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    first = read_table(con, GROUNDING)
    build_grounding(con, as_of=NOW, generated_at=NOW)
    assert read_table(con, GROUNDING).equals(first)


def test_missing_inputs_still_give_a_document_per_record():
    con = make_warehouse(
        skip=(
            "scores.predictions",
            "scores.offers",
            "staging.events",
            "staging.orders",
            "staging.cases",
            "profiles.contact_points",
        )
    )
    assert build_grounding(con, as_of=NOW, generated_at=NOW) == 4
    jane = _contexts(con)["L1"]
    assert jane["scores"] == {"lead_score": None, "churn_risk": None}
    assert jane["counts"]["orders"] == 0
    # Without contact points, the profile's and record's own addresses are used, masked.
    assert jane["profile"]["emails"] == ["j***@example.com"]


def test_grounding_for_reads_the_stored_document(con):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    stored = _contexts(con)["L1"]
    assert grounding_for(con, "Lead", "L1") == stored
    fresh = grounding_for(con, "Lead", "L1", fresh=True)
    # Built now, for the stored document's cut-off: the same document but for when it was made.
    assert fresh["as_of"] == stored["as_of"]
    assert {**fresh, "generated_at": None} == {**stored, "generated_at": None}


def test_grounding_for_unknown_record_raises_lookup_error(con):
    with pytest.raises(LookupError, match="not been built"):
        grounding_for(con, "Lead", "L1")
    build_grounding(con, as_of=NOW, generated_at=NOW)
    with pytest.raises(LookupError, match="no CRM record Lead 'nope'"):
        grounding_for(con, "Lead", "nope")
    with pytest.raises(LookupError, match="no CRM record Contact 'L1'"):
        grounding_for(con, "Contact", "L1", fresh=True)
    # A record without crm_object is not a CRM record.
    with pytest.raises(LookupError):
        grounding_for(con, "Lead", "N1", fresh=True)


def test_grounding_for_asks_for_a_source_when_ambiguous(con):
    people = read_table(con, "staging.people")
    twin = people.filter(pl.col("record_id") == "L1").with_columns(pl.lit("crm_eu").alias("source"))
    replace_table(con, "staging.people", pl.concat([people, twin]))
    build_grounding(con, as_of=LATER, generated_at=LATER)
    with pytest.raises(ValueError, match="several sources"):
        grounding_for(con, "Lead", "L1")
    assert grounding_for(con, "Lead", "L1", source="crm")["record"]["source"] == "crm"
    assert grounding_for(con, "Lead", "L1", source="crm_eu")["profile"]["first_name"] == "Jane"


@pytest.mark.parametrize(
    ("source", "event_type", "event", "channel"),
    [
        ("web", "page", None, "web"),
        ("anything", "screen", "Home", "app"),
        ("web", "track", "Email Link Clicked", "email"),
        ("mobile_app", "track", "Order Completed", "app"),
        ("braze_mail", "track", "Delivered", "email"),
        ("pos", "track", "Order Completed", "other"),
    ],
)
def test_event_channel(source, event_type, event, channel):
    assert event_channel(source, event_type, event) == channel


def test_adversarial_texts_are_in_the_fixture():
    # Guards the leak test: it only proves something while the fixture carries these values.
    assert "415.555.0101" in ADVERSARIAL_SUBJECT
    assert "001-415-555-0101x12" in ADVERSARIAL_DESCRIPTION


def test_building_in_parts_gives_the_same_documents(con, monkeypatch):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    whole = read_table(con, GROUNDING).sort("crm_record_id")
    # One record per part: four slices, each its own query.
    monkeypatch.setattr(grounding_module, "_PART_RECORDS", 1)
    assert build_grounding(con, as_of=NOW, generated_at=NOW) == 4
    assert read_table(con, GROUNDING).sort("crm_record_id").equals(whole)


def test_a_failed_build_leaves_the_previous_table(con, monkeypatch):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    before = read_table(con, GROUNDING)
    calls = {"n": 0}
    real = grounding_module.clear_document

    def fail_on_third(row, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("boom")
        return real(row, **kwargs)

    monkeypatch.setattr(grounding_module, "_PART_RECORDS", 1)
    monkeypatch.setattr(grounding_module, "clear_document", fail_on_third)
    with pytest.raises(RuntimeError, match="boom"):
        build_grounding(con, as_of=LATER, generated_at=LATER)
    assert read_table(con, GROUNDING).equals(before)
    # The connection is usable afterwards (views dropped, no transaction left open).
    assert con.sql("SELECT count(*) FROM crm.grounding").fetchall() == [(4,)]


def test_hostile_case_text_is_masked_in_every_kind(con):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    text = json.dumps(_contexts(con))
    for secret in ("4111 1111 1111 1111", "123-45-6789", "12 Main Street", "78701", "Priya", "Natarajan"):
        assert secret not in text, secret
    k3 = next(c for c in _contexts(con)["L1"]["recent_activity"]["cases"] if c["case_id"] == "K3")
    assert k3["description"] == (
        "Card ****-****-****-1111 was charged twice; SSN [SSN] on file. Ship to [ADDRESS], Austin, [ADDRESS]. "
        "My neighbour P. N. can sign for it."
    )
    assert HOSTILE_DESCRIPTION.startswith("Card 4111 1111 1111 1111")


def test_a_stored_document_before_any_run_is_a_clear_lookup_error():
    with (
        duckdb.connect() as empty,
        pytest.raises(LookupError, match=r"crm\.grounding has not been built yet"),
    ):
        grounding_for(empty, "Lead", "L1")
