"""Callers and roles, per-request placeholders, keyed tokens and the masking key."""

from __future__ import annotations

import pytest

from privacy.callers import Caller, Channel, PiiAccessDenied, Role
from privacy.known import KnownPii
from privacy.masking import KeyedStyle, Masker, PlaceholderStyle
from privacy.tokens import MASKING_KEY_ENV, KeyedTokens, MaskingKeyMissing, Vault, masking_key

PII_READER = Caller("ops", Role.PII_READER, Channel.API)
READER = Caller("copilot", "reader", "mcp")


def test_callers_check_role_and_channel():
    assert READER.role is Role.READER and READER.channel is Channel.MCP
    assert PII_READER.may_see_pii and not READER.may_see_pii
    with pytest.raises(ValueError, match="unknown role 'admin' \\(known: reader, pii_reader\\)"):
        Caller("x", "admin", "api")
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        Caller("x", "reader", "fax")
    with pytest.raises(ValueError, match="needs a name"):
        Caller(" ", "reader", "api")
    with pytest.raises(PiiAccessDenied, match="copilot \\(reader, mcp\\) may not see personal data: x needs"):
        READER.require_pii("x")


def test_the_command_line_operator_is_a_pii_reader_unless_asked_for_masked():
    assert Caller.cli_operator().role is Role.PII_READER
    masked = Caller.cli_operator(masked=True)
    assert (masked.role, masked.channel) == (Role.READER, Channel.CLI)


def test_a_vault_gives_one_placeholder_per_value_and_unmasks_for_pii_readers_only():
    vault = Vault()
    assert vault.token("email", "Jane@Example.com") == "<EMAIL_1>"
    assert vault.token("email", "jane@example.com ") == "<EMAIL_1>"
    assert vault.token("phone", "+1 415 555 0101") == vault.token("phone", "(415) 555-0101") == "<PHONE_1>"
    assert vault.token("name", "Jane") == "<PERSON_1>"
    assert vault.token("name", "Doe") == "<PERSON_2>"
    answer = "Dear <PERSON_1> [PERSON_2], we wrote to PERSON_1 at <EMAIL_1>; <PERSON_9> is unknown."
    assert vault.unmask(answer, PII_READER) == (
        "Dear Jane Doe, we wrote to Jane at Jane@Example.com; <PERSON_9> is unknown."
    )
    with pytest.raises(PiiAccessDenied):
        vault.unmask(answer, READER)
    assert vault.counts() == {"EMAIL": 1, "PERSON": 2, "PHONE": 1}
    assert vault.counts(["only <PERSON_2> and <EMAIL_1> here"]) == {"EMAIL": 1, "PERSON": 1}
    assert "Jane" not in repr(vault)
    assert vault.unmask_document({"a": ["<PERSON_1>", 3]}, PII_READER) == {"a": ["Jane", 3]}


def test_keyed_tokens_are_stable_across_instances_and_need_the_key(monkeypatch):
    monkeypatch.setenv(MASKING_KEY_ENV, "k" * 32)
    first, second = KeyedTokens(), KeyedTokens()
    token = first.token("email", "Jane@Example.com")
    assert token == second.token("email", "jane@example.com")
    assert token.startswith("<EMAIL_") and len(token) == len("<EMAIL_>") + 10
    assert KeyedTokens(b"another key, long enough").token("email", "jane@example.com") != token
    known = KnownPii()
    known.add("email", "jane@example.com")
    known.add("name", "Doe", part="last")
    masked = Masker(KeyedStyle(first), known=known).text("Mrs Doe wrote from jane@example.com")
    assert "Doe" not in masked and "jane" not in masked
    assert first.unmask(masked, known.items(), PII_READER) == "Mrs Doe wrote from jane@example.com"
    with pytest.raises(PiiAccessDenied):
        first.unmask(masked, known.items(), READER)
    assert "k" * 32 not in repr(first)


@pytest.mark.parametrize(("value", "problem"), [(None, "is not set"), ("short", "is shorter than 16")])
def test_a_missing_or_short_masking_key_is_a_clear_error(monkeypatch, value, problem):
    if value is None:
        monkeypatch.delenv(MASKING_KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(MASKING_KEY_ENV, value)
    with pytest.raises(MaskingKeyMissing, match=f"{MASKING_KEY_ENV} {problem}.*openssl rand -hex 32"):
        masking_key()


def test_placeholder_masking_of_free_text_uses_the_vault():
    vault = Vault()
    known = KnownPii()
    known.add("name", "Jane", part="first")
    masker = Masker(PlaceholderStyle(vault), known=known)
    masked = masker.text("Jane paid with 4111 1111 1111 1111, call +44 20 7946 0958")
    assert masked == "<PERSON_1> paid with <CARD_1>, call <PHONE_1>"
    assert vault.unmask(masked, PII_READER) == "Jane paid with 4111 1111 1111 1111, call +44 20 7946 0958"
