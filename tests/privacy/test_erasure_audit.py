"""The audit log after an erasure: her rows kept with her identifiers and texts blanked, everyone
else's lines untouched byte for byte, and no line lost while another process appends."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

from privacy.audit import ACCESS_LOG, LLM_CALLS, AuditLog, Lookup, read_audit
from privacy.callers import Caller
from privacy.erasure_audit import audit_clock, audit_files, audit_match, erase_from_audit
from privacy.erasure_find import Person
from privacy.erasure_rules import token_pattern
from privacy.tokens import MASKING_KEY_ENV

REPO = Path(__file__).resolve().parents[2]
KEY = "a-test-masking-key-of-32-chars!!"
CALLER = Caller("crm-copilot", "reader", "api")
HER_PROFILE, BOB_PROFILE = "p_4e1f0c2a9b7d3e51", "p_0b5c7d2e4f6a8c13"
HER_EMAIL = "zephyrine.q@example.org"


def her() -> Person:
    person = Person("email", requested=HER_EMAIL, emails={HER_EMAIL}, phones={"+14155550134"})
    person.profiles.add(HER_PROFILE)
    person.records |= {("crm_contacts", "003A"), ("web_events", "acc_77")}
    person.crm_records.add(("crm_contacts", "Contact", "003A"))
    person.written_phones["(415) 555-0134"] = "+14155550134"
    return person


def her_match():
    person = her()
    return audit_match(person, token_pattern(person))


def write_rows(home: Path) -> None:
    """Rows about her (by profile, CRM record, lookup, or her email in a text) and about others."""
    audit = AuditLog(home)
    grounding = {"resource": "grounding", "fields": ["profile", "scores"]}
    audit.record_access(
        CALLER, crm_object="Contact", crm_record_id="003A", profile_id=HER_PROFILE, **grounding
    )
    audit.record_access(
        CALLER, crm_object="Contact", crm_record_id="003B", profile_id=BOB_PROFILE, **grounding
    )
    audit.record_access(CALLER, crm_object="Lead", crm_record_id="003A", **grounding)  # another object's 003A
    audit.record_access(
        CALLER,
        resource="profile",
        action="lookup",
        lookup=Lookup("email", "Zephyrine.Q@Example.ORG"),
        outcome="not_found",
    )
    audit.record_access(
        CALLER,
        resource="profile",
        action="lookup",
        lookup=Lookup("email", "bob@y.com"),
        profile_id=BOB_PROFILE,
    )
    call = {
        "template": "follow_up",
        "template_version": "2",
        "model": "m",
        "endpoint_host": "127.0.0.1:9",
        "placeholders": {"PERSON": 1},
        "prompt_tokens": 10,
        "completion_tokens": 3,
    }
    audit.record_llm_call(
        CALLER,
        prompt=[{"role": "user", "content": "Write to <PERSON_1>, Zephyrine"}],
        response="Dear Zephyrine",
        crm_object="Contact",
        crm_record_id="003A",
        **call,
    )
    audit.record_llm_call(
        CALLER,
        prompt=[{"role": "user", "content": "Write to <PERSON_1>"}],
        response=f"Dear Bob, cc {HER_EMAIL}",
        crm_object="Contact",
        crm_record_id="003B",
        **call,
    )
    audit.record_llm_call(
        CALLER,
        prompt=[{"role": "user", "content": "Write to <PERSON_1>"}],
        response="Dear Bob",
        crm_object="Contact",
        crm_record_id="003B",
        **call,
    )
    audit.close()
    (access,) = [p for p in audit_files(home, ACCESS_LOG) if p.name != "_empty.jsonl"]
    with access.open("a") as handle:  # a line a machine crash cut short, naming her
        handle.write(f'{{"logged_at":"2026-01-01T00:00:00Z","profile_id":"{HER_PROFILE}"')


def lines_of(home: Path) -> dict[Path, list[bytes]]:
    return {path: path.read_bytes().splitlines(keepends=True) for table in (ACCESS_LOG, LLM_CALLS)
            for path in audit_files(home, table)}  # fmt: skip


def test_her_rows_are_kept_blanked_and_every_other_line_keeps_its_bytes(kindred_home, monkeypatch):
    monkeypatch.setenv(MASKING_KEY_ENV, KEY)
    write_rows(kindred_home)
    before = lines_of(kindred_home)
    assert erase_from_audit(kindred_home, her_match()) == {"audit.access_log": 2, "audit.llm_calls": 2}
    after = lines_of(kindred_home)
    assert after.keys() == before.keys()
    for path, old in before.items():
        new = after[path]
        if path.name == "_empty.jsonl":
            assert new == old == []
            continue
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        kept = [line for line in old if line in new]
        changed = [json.loads(line) for line in new if line not in old]
        assert len(kept) + len(changed) == len(new)
        assert all(row["erased"] is True for row in changed)
        # Order kept: the lines of others are where they were.
        assert [line for line in new if line in old] == kept
    access = read_audit(ACCESS_LOG, kindred_home)
    assert access.height == 5  # every row kept (the cut line was never a row)
    erased = access.filter(access["erased"].fill_null(False))
    assert erased["crm_record_id"].to_list() == [None, None]
    assert erased["profile_id"].to_list() == [None, None] and erased["lookup_hash"].to_list() == [None, None]
    assert erased["resource"].to_list() == ["grounding", "profile"]
    assert (
        erased["crm_object"].to_list() == ["Contact", None]
        and erased["caller"].to_list() == ["crm-copilot"] * 2
    )
    others = access.filter(~access["erased"].fill_null(False))
    assert sorted(others["crm_record_id"].drop_nulls().to_list()) == ["003A", "003B"]  # the Lead's 003A stays
    calls = read_audit(LLM_CALLS, kindred_home)
    assert calls.height == 3
    blanked = calls.filter(calls["erased"].fill_null(False))
    assert blanked.height == 2
    for column in ("prompt", "response", "placeholders", "crm_record_id", "profile_id"):
        assert blanked[column].null_count() == 2, column
    assert blanked["template"].to_list() == ["follow_up"] * 2 and blanked["total_tokens"].to_list() == [
        13,
        13,
    ]
    everything = b"".join(line for lines in after.values() for line in lines).lower()
    for needle in (HER_EMAIL, "zephyrine", HER_PROFILE):
        assert needle.encode() not in everything, needle
    assert not list(kindred_home.rglob("*.erasing"))
    # A second pass finds nothing more and leaves every byte as it is.
    assert erase_from_audit(kindred_home, her_match()) == {}
    assert lines_of(kindred_home) == after


def test_without_the_masking_key_a_lookup_that_found_no_one_cannot_be_told(kindred_home, monkeypatch):
    monkeypatch.setenv(MASKING_KEY_ENV, KEY)
    AuditLog(kindred_home).record_access(
        CALLER, resource="profile", action="lookup", lookup=Lookup("email", HER_EMAIL), outcome="not_found"
    )
    monkeypatch.delenv(MASKING_KEY_ENV)
    assert erase_from_audit(kindred_home, her_match()) == {}
    monkeypatch.setenv(MASKING_KEY_ENV, KEY)
    assert erase_from_audit(kindred_home, her_match()) == {"audit.access_log": 1}


def test_an_email_beyond_ascii_is_found_in_any_case(kindred_home):
    person = Person("email", requested="zoë.q@example.org", emails={"zoë.q@example.org"})
    audit = AuditLog(kindred_home)
    for response in ("Dear Bob, cc ZOË.Q@example.org", "Dear Bob"):
        audit.record_llm_call(CALLER, template="t", template_version="1", model="m", endpoint_host="h:1",
                              prompt=[], response=response, placeholders={})  # fmt: skip
    assert erase_from_audit(kindred_home, audit_match(person, token_pattern(person))) == {
        "audit.llm_calls": 1
    }
    assert read_audit(LLM_CALLS, kindred_home)["response"].to_list() == [None, "Dear Bob"]


APPENDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from privacy.audit import AuditLog
    from privacy.callers import Caller
    audit = AuditLog(Path(sys.argv[1]))
    caller = Caller("api", "reader", "api")
    print("ready", flush=True)
    for n in range(int(sys.argv[2])):
        profile = sys.argv[3] if n % 5 == 0 else "p_someone_else"
        audit.record_access(caller, resource="grounding", profile_id=profile, request_id=f"r{n}")
    """
)


def test_a_file_another_process_is_appending_to_loses_no_line(kindred_home):
    rows = 5000
    appender = subprocess.Popen(
        [sys.executable, "-c", APPENDER, str(kindred_home), str(rows), HER_PROFILE],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert appender.stdout.readline().strip() == "ready"
    match = her_match()
    rewrites_meanwhile = 0
    while appender.poll() is None:
        rewrites_meanwhile += bool(erase_from_audit(kindred_home, match))
    assert appender.wait(timeout=120) == 0
    erase_from_audit(kindred_home, match)
    written = read_audit(ACCESS_LOG, kindred_home)
    assert written.height == rows
    assert sorted(written["request_id"].to_list()) == sorted(f"r{n}" for n in range(rows))
    assert rewrites_meanwhile >= 2  # the file was replaced under the appending process, more than once
    assert written["profile_id"].to_list().count(HER_PROFILE) == 0
    assert written["erased"].fill_null(False).sum() == rows // 5
    assert len(audit_files(kindred_home, ACCESS_LOG)) == 2  # the seed and the appender's one file


def test_a_later_pass_reads_only_the_files_changed_since_a_time(kindred_home):
    AuditLog(kindred_home).record_access(CALLER, resource="grounding", profile_id=HER_PROFILE)
    later = audit_clock() + 60 * 10**9
    assert erase_from_audit(kindred_home, her_match(), since_ns=later) == {}
    assert erase_from_audit(kindred_home, her_match(), since_ns=audit_clock()) == {"audit.access_log": 1}
