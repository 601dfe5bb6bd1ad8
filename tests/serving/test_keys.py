"""API keys: shown once, stored only as a hash, revocable, with clear errors; the `kindred keys` commands."""

from __future__ import annotations

import stat

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from serving.keys import KEY_PREFIX, KeyStore, KeyStoreError, digest_of


def test_a_key_is_stored_only_as_its_digest_in_a_private_file(tmp_path):
    store = KeyStore(tmp_path)
    record, secret = store.create("crm-copilot", "reader")
    assert secret.startswith(KEY_PREFIX) and len(secret) >= 40
    text = store.path.read_text()
    assert secret not in text and secret[len(KEY_PREFIX) :] not in text
    assert digest_of(secret) in text
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.verify(secret) == record
    assert store.verify(secret + "x") is None and store.verify("") is None and store.verify(None) is None


def test_revoking_takes_effect_on_a_running_reader_of_the_store(tmp_path):
    server_view = KeyStore(tmp_path)
    _, secret = KeyStore(tmp_path).create("ops", "pii_reader")
    assert server_view.verify(secret).role == "pii_reader"
    KeyStore(tmp_path).revoke("ops")
    assert server_view.verify(secret) is None
    (listed,) = server_view.list()
    assert listed.name == "ops" and listed.revoked_at is not None


@pytest.mark.parametrize(
    ("name", "role", "message"),
    [
        ("has space", "reader", "key name 'has space'"),
        ("ok", "admin", "unknown role 'admin'"),
        ("taken", "reader", "key 'taken' already exists"),
    ],
)
def test_bad_names_roles_and_repeats_are_refused(tmp_path, name, role, message):
    store = KeyStore(tmp_path)
    store.create("taken")
    with pytest.raises(KeyStoreError, match=message):
        store.create(name, role)
    assert [k.name for k in store.list()] == ["taken"]


def test_revoking_an_unknown_or_revoked_key_says_so(tmp_path):
    store = KeyStore(tmp_path)
    store.create("once")
    store.revoke("once")
    with pytest.raises(KeyStoreError, match="already revoked"):
        store.revoke("once")
    with pytest.raises(KeyStoreError, match="no key named 'nobody'"):
        store.revoke("nobody")


def test_a_damaged_key_file_is_named_in_the_error(tmp_path):
    store = KeyStore(tmp_path)
    store.path.write_text("{not json")
    with pytest.raises(KeyStoreError, match="api_keys.json: not a valid key file"):
        store.verify("kdr_anything")


def test_the_keys_commands_print_a_key_once_list_and_revoke(kindred_home):
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "copilot", "--role", "pii_reader"])
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    assert KeyStore(kindred_home).verify(secret).name == "copilot"
    listed = runner.invoke(app, ["keys", "list"])
    assert "copilot" in listed.output and "pii_reader" in listed.output and secret not in listed.output
    assert runner.invoke(app, ["keys", "revoke", "copilot"]).exit_code == 0
    assert KeyStore(kindred_home).verify(secret) is None
    again = runner.invoke(app, ["keys", "create", "copilot"])
    assert again.exit_code == 1 and "already exists" in again.output
    bad = runner.invoke(app, ["keys", "create", "x", "--role", "owner"])
    assert bad.exit_code == 1 and "unknown role 'owner'" in bad.output
