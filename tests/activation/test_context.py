"""Customer context for a caller: masked or clear by role, every read audited, lookups hashed."""

from __future__ import annotations

import json

import pytest

from activation.context import customer_context, find_profiles, profile_context
from activation.grounding import build_grounding
from privacy.audit import ACCESS_LOG, Lookup, read_audit
from privacy.callers import Caller, PiiAccessDenied
from privacy.tokens import MASKING_KEY_ENV
from tests.activation.conftest import NOW

READER = Caller("copilot", "reader", "mcp")
PII_READER = Caller("ops", "pii_reader", "api")


@pytest.fixture
def grounded(con):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    return con


def test_a_reader_gets_the_stored_masked_document_and_the_read_is_audited(grounded):
    document = customer_context(grounded, READER, "Lead", "L1", request_id="r-1")
    assert document["profile"]["last_name"] == "D."
    (row,) = read_audit(ACCESS_LOG).to_dicts()
    assert (row["caller"], row["role"], row["channel"], row["resource"]) == (
        "copilot",
        "reader",
        "mcp",
        "grounding",
    )
    assert (row["crm_object"], row["crm_record_id"], row["profile_id"]) == ("Lead", "L1", "P1")
    assert (row["masked"], row["outcome"], row["request_id"]) == (True, "ok", "r-1")
    assert row["fields"][:4] == ["record", "profile", "consent", "scores"]


def test_only_a_pii_reader_may_have_the_document_in_clear(grounded):
    with pytest.raises(PiiAccessDenied, match="copilot \\(reader, mcp\\) may not see personal data"):
        customer_context(grounded, READER, "Lead", "L1", unmasked=True)
    clear = customer_context(grounded, PII_READER, "Lead", "L1", unmasked=True)
    assert clear["profile"]["last_name"] == "Doe"
    assert "4111 1111 1111 1111" in json.dumps(clear)
    outcomes = [(r["caller"], r["outcome"], r["masked"]) for r in read_audit(ACCESS_LOG).to_dicts()]
    assert outcomes == [("copilot", "denied", False), ("ops", "ok", False)]


def test_an_unknown_record_is_audited_as_not_found(grounded):
    with pytest.raises(LookupError):
        customer_context(grounded, READER, "Lead", "nope")
    assert read_audit(ACCESS_LOG)["outcome"].to_list() == ["not_found"]


@pytest.mark.parametrize(
    ("kind", "value", "found"),
    [
        ("email", "  JOHN.SMITH+work@Mail.Example.org ", ["P2"]),
        ("phone", "+44 20 7946 0958", ["P2"]),
        ("phone", "(415) 555-0101", ["P1"]),
        ("crm_id", "C1", ["P2"]),
        ("email", "nobody@example.com", []),
    ],
)
def test_profiles_are_found_by_email_phone_or_crm_id_with_the_value_hashed(
    con, monkeypatch, kind, value, found
):
    monkeypatch.setenv(MASKING_KEY_ENV, "x" * 32)
    assert find_profiles(con, READER, Lookup(kind, value)) == found
    (row,) = read_audit(ACCESS_LOG).to_dicts()
    assert (row["action"], row["lookup_kind"], row["outcome"]) == (
        "lookup",
        kind,
        "ok" if found else "not_found",
    )
    assert len(row["lookup_hash"]) == 64
    stored = json.dumps({k: v for k, v in row.items() if k not in ("lookup_hash", "request_id")}, default=str)
    assert value.strip().lower() not in stored.lower()


def test_a_lookup_value_that_cannot_be_one_is_refused(con, monkeypatch):
    monkeypatch.setenv(MASKING_KEY_ENV, "x" * 32)
    with pytest.raises(ValueError, match="the phone to look up is not a valid phone"):
        find_profiles(con, READER, Lookup("phone", "call me"))
    with pytest.raises(ValueError, match="unknown lookup kind 'name'"):
        find_profiles(con, READER, Lookup("name", "Jane"))
    assert read_audit(ACCESS_LOG)["outcome"].to_list() == ["invalid", "invalid"]


def test_a_profile_is_masked_by_field_kind_unless_a_pii_reader_asks(con):
    masked = profile_context(con, READER, "P1")
    assert (masked["first_name"], masked["last_name"], masked["email"], masked["phone"]) == (
        "Jane",
        "D.",
        "j***@example.com",
        "***-***-0101",
    )
    assert masked["address_line1"] == "[ADDRESS]"
    assert masked["first_seen"] == "2022-11-05T00:00:00"
    with pytest.raises(PiiAccessDenied):
        profile_context(con, READER, "P1", unmasked=True)
    assert profile_context(con, PII_READER, "P1", unmasked=True)["email"] == "jane.doe@example.com"
    with pytest.raises(LookupError, match="no profile 'P9'"):
        profile_context(con, READER, "P9")
    rows = read_audit(ACCESS_LOG).to_dicts()
    assert [(r["outcome"], r["masked"]) for r in rows] == [
        ("ok", True),
        ("denied", False),
        ("ok", False),
        ("not_found", True),
    ]
