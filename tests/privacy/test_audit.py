"""The audit log: rows without personal data, appends from several processes, warehouse views over the files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from privacy.audit import ACCESS_LOG, LLM_CALLS, AuditLog, Lookup, create_views, read_audit
from privacy.callers import Caller
from privacy.tokens import MASKING_KEY_ENV, MaskingKeyMissing
from warehouse.connection import connect

REPO = Path(__file__).resolve().parents[2]
CALLER = Caller("crm-copilot", "reader", "api")
KEY = "a-test-masking-key-of-32-chars!!"


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_access_rows_hold_a_keyed_hash_of_the_lookup_never_the_value(kindred_home, monkeypatch):
    monkeypatch.setenv(MASKING_KEY_ENV, KEY)
    audit = AuditLog(kindred_home)
    row = audit.record_access(
        CALLER,
        resource="profile",
        action="lookup",
        lookup=Lookup("email", "Jane.Doe@Example.com"),
        profile_id="P1",
        fields=["profile_id"],
    )
    audit.record_access(
        CALLER, resource="profile", action="lookup", lookup=Lookup("email", "jane.doe@example.com")
    )
    rows = read_audit(ACCESS_LOG, kindred_home)
    assert rows.height == 2
    assert rows["lookup_hash"][0] == rows["lookup_hash"][1] == row["lookup_hash"]
    assert len(row["lookup_hash"]) == 64
    assert rows["caller"].to_list() == ["crm-copilot", "crm-copilot"]
    assert rows["role"][0] == "reader" and rows["channel"][0] == "api" and rows["masked"][0] is True
    assert rows["fields"][0].to_list() == ["profile_id"]
    everything = _all_bytes(kindred_home / "audit").lower()
    assert b"jane.doe" not in everything and b"example.com" not in everything
    assert "jane" not in repr(Lookup("email", "jane@example.com"))


def test_a_lookup_cannot_be_audited_without_the_masking_key(kindred_home, monkeypatch):
    monkeypatch.delenv(MASKING_KEY_ENV, raising=False)
    with pytest.raises(MaskingKeyMissing, match=MASKING_KEY_ENV):
        AuditLog(kindred_home).record_access(
            CALLER, resource="profile", lookup=Lookup("phone", "+14155550101")
        )
    assert read_audit(ACCESS_LOG, kindred_home).height == 0


def test_llm_call_rows_keep_the_masked_prompt_and_answer(kindred_home):
    audit = AuditLog(kindred_home)
    prompt = [{"role": "user", "content": "Write to <PERSON_1> about <CARD_1>"}]
    audit.record_llm_call(
        CALLER,
        template="follow_up_email",
        template_version="3",
        model="llama3.1",
        endpoint_host="127.0.0.1:11434",
        prompt=prompt,
        response="Dear <PERSON_1>",
        placeholders={"PERSON": 1, "CARD": 1},
        crm_object="Lead",
        crm_record_id="L1",
        prompt_tokens=12,
        completion_tokens=4,
        latency_ms=83.26,
    )
    row = read_audit(LLM_CALLS, kindred_home).row(0, named=True)
    assert json.loads(row["prompt"]) == prompt
    assert (row["response"], row["template_version"], row["total_tokens"], row["latency_ms"]) == (
        "Dear <PERSON_1>",
        "3",
        16,
        83.3,
    )
    assert json.loads(row["placeholders"]) == {"CARD": 1, "PERSON": 1}
    with pytest.raises(ValueError, match="unknown audit outcome 'meh'"):
        audit.record_access(CALLER, resource="grounding", outcome="meh")


def test_warehouse_views_show_rows_appended_after_they_were_made(kindred_home, tmp_path):
    con = connect(tmp_path / "warehouse.duckdb")
    create_views(con, kindred_home)
    assert con.sql("SELECT count(*) FROM audit.access_log").fetchall() == [(0,)]
    assert con.sql("SELECT count(*) FROM audit.llm_calls").fetchall() == [(0,)]
    AuditLog(kindred_home).record_access(CALLER, resource="grounding", crm_object="Lead", crm_record_id="L1")
    assert con.sql("SELECT caller, crm_record_id, masked FROM audit.access_log").fetchall() == [
        ("crm-copilot", "L1", True)
    ]
    con.close()


def test_a_line_cut_short_by_a_crash_is_skipped(kindred_home):
    audit = AuditLog(kindred_home)
    audit.record_access(CALLER, resource="grounding")
    audit.close()
    (path,) = (kindred_home / "audit" / ACCESS_LOG).glob("*/*.jsonl")
    with path.open("a") as handle:
        handle.write('{"logged_at": "2026-01-01T00:00:00Z", "request_id": "cut')
    assert read_audit(ACCESS_LOG, kindred_home).height == 1


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from privacy.audit import AuditLog, Lookup
    from privacy.callers import Caller
    audit = AuditLog(Path(sys.argv[1]))
    caller = Caller(sys.argv[2], "reader", "api")
    sys.stdin.readline()  # start together
    for n in range(int(sys.argv[3])):
        audit.record_access(caller, resource="profile", lookup=Lookup("email", f"person{n}@example.com"),
                            fields=["profile_id", "first_name"] * 20, request_id=f"{sys.argv[2]}-{n}")
    """
)


def test_two_processes_append_at_once_without_losing_or_mixing_rows(kindred_home, monkeypatch):
    monkeypatch.setenv(MASKING_KEY_ENV, KEY)
    rows_each = 400
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(kindred_home), name, str(rows_each)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            text=True,
        )
        for name in ("api", "mcp")
    ]
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        writer.stdin.close()
        assert writer.wait(timeout=120) == 0
    rows = read_audit(ACCESS_LOG, kindred_home)
    assert rows.height == 2 * rows_each
    assert rows["request_id"].n_unique() == 2 * rows_each
    assert sorted(rows["caller"].unique().to_list()) == ["api", "mcp"]
    assert rows["pid"].n_unique() == 2
    assert all(len(fields) == 40 for fields in rows["fields"].to_list())
    assert b"person1@" not in _all_bytes(kindred_home / "audit")
