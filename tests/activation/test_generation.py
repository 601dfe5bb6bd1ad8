"""Grounded generation against a real OpenAI-compatible HTTP server standing in for the LLM.

The stand-in records what it receives and answers with the placeholders it was sent; the tests
prove that nothing personal reached it, that a pii_reader gets the values back and a reader does
not, and that the audit log holds the masked prompt and answer.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import duckdb
import pytest

from activation.generation import GenerationError, LlmEndpointError, LlmKeyMissing, generate
from activation.grounding import record_grounding
from activation.prompts import PromptError
from privacy.audit import ACCESS_LOG, LLM_CALLS, read_audit
from privacy.callers import Caller
from tests.activation.conftest import HOSTILE_DESCRIPTION
from tests.openai_stand_in import StandInLlm
from warehouse.config import load_config

PII_READER = Caller("ops", "pii_reader", "cli")
READER = Caller("copilot", "reader", "api")
TEMPLATE = """
  - name: case_summary
    description: Everything a template can pull in, personal data included.
    system: "You write about {{ record.crm_object }} records. Keep placeholders as they are."
    template: |-
      Write to {{ profile.first_name }} {{ profile.last_name }} at {{ profile.emails | join(", ") }} or {{ profile.phones | join(", ") }}.
      {% for case in recent_activity.cases %}Case {{ case.case_id }}: {{ case.subject }} / {{ case.description }}
      {% endfor %}Lead score {{ scores.lead_score.score_1_99 }}; best offer {{ next_best_offers.offers[0].offer }}.
      Also mention our manager Maria Garcia.
"""
# Everything personal the fixture holds for Jane (the Lead L1) beyond her known values: what the
# hostile case text carries about other people and her card.
HOSTILE = ["4111 1111 1111 1111", "123-45-6789", "Priya", "Natarajan", "Maria Garcia"]


def _config(tmp_path: Path, base_url: str, *, extra_llm: str = "", prompts: str = TEMPLATE):
    path = tmp_path / "kindred.yaml"
    path.write_text(
        "sources:\n  - {name: crm, kind: people, path: people.csv}\n"
        f"llm: {{base_url: '{base_url}', model: stand-in, timeout_seconds: 5, max_retries: 0{extra_llm}}}\n"
        f"prompts:{prompts}"
    )
    return load_config(path)


@pytest.fixture(scope="module")
def module_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("kindred_home")


@pytest.fixture
def kindred_home(module_home, monkeypatch) -> Path:
    """One home for the module: MLflow's prompt registry is created once, not per test (seconds each).

    Tests read only the audit rows written after they start (`_new_rows`).
    """
    monkeypatch.setenv("KINDRED_HOME", str(module_home))
    return module_home


def _new_rows(table: str, since: int) -> list[dict]:
    return read_audit(table).to_dicts()[since:]


@pytest.fixture
def con(warehouse_file):
    with duckdb.connect(str(warehouse_file), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        yield connection


def _personal_values(con) -> list[str]:
    record = record_grounding(con, "Lead", "L1")
    values = [value for _, value in record.known.items()] + HOSTILE
    assert "Jane" in values and "Doe" in values and "12 Main St" in values
    return values


def _leaks(text: str, values: list[str]) -> list[str]:
    """The values found in `text`: as written, in any case, and phones and cards by their digits."""
    digits = re.sub(r"\D", "", text)
    found = []
    for value in values:
        core = re.sub(r"\D", "", value)
        if re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE) or (
            len(core) >= 9 and core in digits
        ):
            found.append(value)
    return found


def test_nothing_personal_reaches_the_llm_and_a_pii_reader_gets_the_answer_unmasked(
    con, tmp_path, kindred_home
):
    with StandInLlm() as llm:
        result = generate(
            con, "case_summary", "Lead", "L1", caller=PII_READER, config=_config(tmp_path, llm.base_url)
        )
    assert len(llm.requests) == 1
    sent = llm.requests[0]
    assert sent["model"] == "stand-in"
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    values = _personal_values(con)
    assert _leaks(llm.raw_requests(), values) == []
    user = sent["messages"][1]["content"]
    assert user.startswith("Write to <PERSON_1> <PERSON_2> at <EMAIL_1>")
    assert "Card <CARD_1> was charged twice; SSN <SSN_1> on file" in user
    assert "Also mention our manager <PERSON_" in user
    # The stand-in echoed the placeholders; the pii_reader gets the values back.
    assert result.masked_answer.startswith("Dear <PERSON_1> <PERSON_2> <EMAIL_1>")
    assert result.answer.startswith("Dear Jane Doe jane.doe@example.com")
    assert "4111 1111 1111 1111" in result.answer and "Maria Garcia" in result.answer
    assert result.unmasked and result.template_version.isdigit()
    assert (result.prompt_tokens, result.completion_tokens) == (50, 9)


def test_a_reader_gets_the_masked_answer_and_the_audit_holds_only_masked_text(con, tmp_path, kindred_home):
    calls_before, reads_before = read_audit(LLM_CALLS).height, read_audit(ACCESS_LOG).height
    with StandInLlm() as llm:
        result = generate(
            con, "case_summary", "Lead", "L1", caller=READER, config=_config(tmp_path, llm.base_url)
        )
    assert not result.unmasked
    assert result.answer == result.masked_answer
    assert "Jane" not in result.answer and "<PERSON_1>" in result.answer
    (call,) = _new_rows(LLM_CALLS, calls_before)
    assert json.loads(call["prompt"]) == llm.requests[0]["messages"]
    assert call["response"] == result.masked_answer
    assert (call["caller"], call["role"], call["channel"]) == ("copilot", "reader", "api")
    assert (call["template"], call["template_version"], call["model"]) == (
        "case_summary",
        result.template_version,
        "stand-in",
    )
    assert call["endpoint_host"] == llm.base_url.split("//")[1].split("/")[0]
    assert (call["crm_object"], call["crm_record_id"], call["profile_id"]) == ("Lead", "L1", "P1")
    assert (call["outcome"], call["answer_unmasked"], call["total_tokens"]) == ("ok", False, 59)
    placeholders = json.loads(call["placeholders"])
    assert placeholders["PERSON"] >= 3 and placeholders["CARD"] == 1
    (access,) = _new_rows(ACCESS_LOG, reads_before)
    assert (access["action"], access["resource"], access["masked"], access["request_id"]) == (
        "generate",
        "grounding",
        True,
        call["request_id"],
    )
    assert access["fields"] == ["next_best_offers", "profile", "recent_activity", "record", "scores"]
    audit_text = "".join(p.read_text() for p in (kindred_home / "audit").rglob("*.jsonl"))
    assert _leaks(audit_text, _personal_values(con)) == []


def test_personal_data_in_the_answer_is_masked_in_the_audit_and_given_back(con, tmp_path, kindred_home):
    before = read_audit(LLM_CALLS).height
    with StandInLlm(extra_text=" Or call Tom Becker on +44 20 7946 0958.") as llm:
        result = generate(
            con, "case_summary", "Lead", "L1", caller=PII_READER, config=_config(tmp_path, llm.base_url)
        )
    assert "Tom Becker" not in result.masked_answer and "7946" not in result.masked_answer
    # The same number as the one in the case text, so it has that placeholder and comes back as written there.
    assert result.answer.endswith("Or call Tom Becker on +44 (0)20 7946 0958.")
    (call,) = _new_rows(LLM_CALLS, before)
    assert "Tom Becker" not in call["response"] and "<PERSON_" in call["response"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_endpoint_errors_are_clear_and_audited(con, tmp_path, kindred_home):
    before = read_audit(LLM_CALLS).height
    down = _config(tmp_path, f"http://127.0.0.1:{_free_port()}/v1")
    with pytest.raises(LlmEndpointError, match=r"cannot reach the LLM endpoint at 127\.0\.0\.1:\d+"):
        generate(con, "case_summary", "Lead", "L1", caller=PII_READER, config=down)
    with StandInLlm(delay=2.5) as slow:
        config = _config(tmp_path, slow.base_url, extra_llm=", timeout_seconds: 0.5")
        with pytest.raises(LlmEndpointError, match=r"did not answer within 0\.5 s \(llm\.timeout_seconds\)"):
            generate(con, "case_summary", "Lead", "L1", caller=PII_READER, config=config)
    with StandInLlm(status=500) as failing:
        config = _config(tmp_path, failing.base_url)
        with pytest.raises(LlmEndpointError, match="answered HTTP 500: the model is overloaded"):
            generate(con, "case_summary", "Lead", "L1", caller=PII_READER, config=config)
    calls = _new_rows(LLM_CALLS, before)
    assert [c["outcome"] for c in calls] == ["error", "error", "error"]
    assert [c["response"] for c in calls] == [None, None, None]
    assert all("<PERSON_1>" in c["prompt"] for c in calls)
    assert "answered HTTP 500" in calls[2]["error"]


def test_keys_come_from_the_environment_and_never_show(con, tmp_path, kindred_home, monkeypatch):
    monkeypatch.delenv("KINDRED_LLM_API_KEY", raising=False)
    secret = "sk-test-0123456789abcdef"
    with StandInLlm(require_key=secret) as llm:
        config = _config(tmp_path, llm.base_url)
        with pytest.raises(
            LlmEndpointError, match=r"refused the call without a key \(HTTP 401\): set KINDRED_LLM_API_KEY"
        ):
            generate(con, "case_summary", "Lead", "L1", caller=PII_READER, config=config)
        assert "authorization" not in llm.headers[0]
        monkeypatch.setenv("KINDRED_LLM_API_KEY", "sk-wrong-key-value")
        with pytest.raises(LlmEndpointError, match="refused the key in KINDRED_LLM_API_KEY") as refused:
            generate(con, "case_summary", "Lead", "L1", caller=PII_READER, config=config)
        assert "sk-wrong" not in str(refused.value)
        monkeypatch.setenv("KINDRED_LLM_API_KEY", secret)
        assert generate(con, "case_summary", "Lead", "L1", caller=PII_READER, config=config).answer
        assert llm.headers[-1]["authorization"] == f"Bearer {secret}"
    monkeypatch.delenv("KINDRED_LLM_API_KEY")
    with StandInLlm() as llm:
        required = _config(tmp_path, llm.base_url, extra_llm=", api_key_required: true")
        with pytest.raises(
            LlmKeyMissing, match="needs a key \\(llm.api_key_required\\): set KINDRED_LLM_API_KEY"
        ):
            generate(con, "case_summary", "Lead", "L1", caller=PII_READER, config=required)
        assert llm.requests == []
    audit_text = "".join(p.read_text() for p in (kindred_home / "audit").rglob("*.jsonl"))
    assert secret not in audit_text and "sk-wrong" not in audit_text


def test_unknown_template_record_and_missing_llm_section(con, tmp_path, kindred_home):
    before = read_audit(ACCESS_LOG).height
    with StandInLlm() as llm:
        config = _config(tmp_path, llm.base_url)
        with pytest.raises(
            PromptError, match="no prompt template named 'nope' \\(templates: case_summary\\)"
        ):
            generate(con, "nope", "Lead", "L1", caller=PII_READER, config=config)
        with pytest.raises(LookupError, match="no CRM record Lead 'L404'"):
            generate(con, "case_summary", "Lead", "L404", caller=PII_READER, config=config)
        # John's Contact has no lead score: the template fails by name, not with a blank.
        with pytest.raises(PromptError, match="prompt 'case_summary' cannot be rendered for this record"):
            generate(con, "case_summary", "Contact", "C1", caller=PII_READER, config=config)
        assert llm.requests == []
    (missing,) = [row for row in _new_rows(ACCESS_LOG, before) if row["outcome"] == "not_found"]
    assert missing["crm_record_id"] == "L404"
    path = tmp_path / "no_llm.yaml"
    path.write_text("sources:\n  - {name: crm, kind: people, path: people.csv}\nprompts:" + TEMPLATE)
    with pytest.raises(GenerationError, match="kindred.yaml has no `llm:` section"):
        generate(con, "case_summary", "Lead", "L1", caller=PII_READER, config=load_config(path))


def test_a_changed_template_is_a_new_version_in_the_registry(con, tmp_path, kindred_home):
    before = read_audit(LLM_CALLS).height
    with StandInLlm() as llm:
        config = _config(tmp_path, llm.base_url)
        first = generate(con, "case_summary", "Lead", "L1", caller=READER, config=config)
        again = generate(con, "case_summary", "Lead", "L1", caller=READER, config=config)
        changed = _config(tmp_path, llm.base_url, prompts=TEMPLATE.replace("Also mention", "Please mention"))
        third = generate(con, "case_summary", "Lead", "L1", caller=READER, config=changed)
    version = int(first.template_version)
    assert (again.template_version, third.template_version) == (str(version), str(version + 1))
    assert [c["template_version"] for c in _new_rows(LLM_CALLS, before)] == [
        str(version),
        str(version),
        str(version + 1),
    ]
    assert HOSTILE_DESCRIPTION  # the case text the leak tests rely on is in the fixture


def test_the_registry_is_used_without_changing_mlflows_process_wide_uris(con, tmp_path, kindred_home):
    import mlflow

    # Another library (the model registry, a test) points MLflow elsewhere in the same process.
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    mlflow.set_tracking_uri(elsewhere)
    mlflow.set_registry_uri(elsewhere)
    try:
        with StandInLlm() as llm:
            # A template not registered yet in this process: the registry is asked.
            config = _config(tmp_path, llm.base_url, prompts=TEMPLATE.replace("Also mention", "Do mention"))
            result = generate(con, "case_summary", "Lead", "L1", caller=READER, config=config)
        assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (elsewhere, elsewhere)
        assert result.template_version.isdigit()
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
