"""`kindred generate`, `kindred prompts list` and `kindred grounding` against a warehouse file and a stand-in LLM."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from privacy.audit import ACCESS_LOG, LLM_CALLS, read_audit
from tests.openai_stand_in import StandInLlm

PROMPTS = """
prompts:
  - name: greeting
    description: A one-line greeting.
    template: "Greet {{ profile.first_name }} {{ profile.last_name }} about case {{ recent_activity.cases[0].subject }}"
"""


@pytest.fixture(scope="module")
def module_home(tmp_path_factory, warehouse_file) -> Path:
    home = tmp_path_factory.mktemp("home")
    shutil.copyfile(warehouse_file, home / "warehouse.duckdb")
    return home


@pytest.fixture
def home(module_home, monkeypatch) -> Path:
    """One home for the module (its MLflow prompt registry is made once); tests read their own audit rows."""
    monkeypatch.setenv("KINDRED_HOME", str(module_home))
    return module_home


def _config(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "kindred.yaml"
    path.write_text(
        "sources:\n  - {name: crm, kind: people, path: people.csv}\n"
        f"llm: {{base_url: '{base_url}', model: stand-in, timeout_seconds: 5, max_retries: 0}}\n" + PROMPTS
    )
    return path


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_generate_prints_the_answer_unmasked_or_masked(home, tmp_path):
    before = read_audit(LLM_CALLS, home).height
    with StandInLlm() as llm:
        config = str(_config(tmp_path, llm.base_url))
        clear = _run("generate", "greeting", "Lead", "L1", "--config", config)
        masked = _run("generate", "greeting", "Lead", "L1", "--config", config, "--masked")
    assert clear.exit_code == 0, clear.output
    # The case subject holds her phone and email: the stand-in echoes their placeholders too.
    assert clear.stdout.strip() == "Dear Jane Doe +14155550101 JANE.DOE+support@Example.com, thank you."
    assert masked.exit_code == 0, masked.output
    assert masked.stdout.strip() == "Dear <PERSON_1> <PERSON_2> <PHONE_1> <EMAIL_3>, thank you."
    sent = llm.requests[0]["messages"][0]["content"]
    assert sent.startswith("Greet <PERSON_1> <PERSON_2> about case Please call me at <PHONE_1>")
    calls = read_audit(LLM_CALLS, home).to_dicts()[before:]
    assert [(c["channel"], c["role"], c["answer_unmasked"]) for c in calls] == [
        ("cli", "pii_reader", True),
        ("cli", "reader", False),
    ]


def test_dry_run_prints_the_masked_prompt_and_calls_nothing(home, tmp_path):
    with StandInLlm() as llm:
        result = _run(
            "generate",
            "greeting",
            "Lead",
            "L1",
            "--config",
            str(_config(tmp_path, llm.base_url)),
            "--dry-run",
        )
    assert result.exit_code == 0, result.output
    assert "Greet <PERSON_1> <PERSON_2>" in result.stdout
    assert "Jane" not in result.stdout and "Doe" not in result.stdout
    assert llm.requests == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "nope", "Lead", "L1"], "error: no prompt template named 'nope' (templates: greeting)"),
        (["generate", "greeting", "Lead", "L404"], "error: no CRM record Lead 'L404'\n"),
    ],
)
def test_generate_errors_are_one_clear_line(home, tmp_path, args, message):
    with StandInLlm() as llm:
        result = _run(*args, "--config", str(_config(tmp_path, llm.base_url)))
    assert result.exit_code == 1
    assert message in result.output
    assert llm.requests == []


def test_an_endpoint_that_is_down_is_reported(home, tmp_path):
    with StandInLlm() as llm:
        config = _config(tmp_path, llm.base_url)
    # The server is stopped now: nothing listens on its port.
    result = _run("generate", "greeting", "Lead", "L1", "--config", str(config))
    assert result.exit_code == 1
    assert "error: cannot reach the LLM endpoint at 127.0.0.1:" in result.output


def test_prompts_list_shows_fields_and_versions(home, tmp_path):
    result = _run("prompts", "list", "--config", str(_config(tmp_path, "http://127.0.0.1:9/v1")))
    assert result.exit_code == 0, result.output
    assert "greeting" in result.output and "profile.first_name" in result.output


def test_grounding_reads_are_audited_and_unmasked_on_request(home):
    before = read_audit(ACCESS_LOG, home).height
    masked = _run("grounding", "Lead", "L1")
    clear = _run("grounding", "Lead", "L1", "--unmasked")
    assert masked.exit_code == 0 and clear.exit_code == 0, masked.output + clear.output
    assert '"last_name": "D."' in masked.stdout
    assert '"last_name": "Doe"' in clear.stdout
    rows = read_audit(ACCESS_LOG, home).to_dicts()[before:]
    assert [(r["channel"], r["resource"], r["masked"], r["crm_record_id"]) for r in rows] == [
        ("cli", "grounding", True, "L1"),
        ("cli", "grounding", False, "L1"),
    ]


def test_grounding_without_a_warehouse_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("KINDRED_HOME", str(tmp_path / "empty"))
    result = _run("grounding", "Lead", "L1")
    assert result.exit_code == 1
    assert "error: no warehouse at" in result.output
