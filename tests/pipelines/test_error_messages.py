"""Errors on stderr name the file in one piece, however long the line, so a CI log can be searched."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_missing_column_error_keeps_the_whole_path_on_one_line(tmp_path):
    # A path far longer than any console width: a hard-wrapped message would break it in two.
    folder = tmp_path / ("a_landing_folder_with_a_long_descriptive_name_" * 3) / "crm"
    folder.mkdir(parents=True)
    leads = folder / "salesforce_lead_export_with_a_long_name.csv"
    leads.write_text("Id,Surname\nL1,Doe\n", encoding="utf-8")
    config = tmp_path / "kindred.yaml"
    config.write_text(
        f"sources:\n  - name: crm_leads\n    kind: people\n    path: {leads}\n    columns: {{record_id: LeadId}}\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KINDRED_", "DAGSTER_"))}
    env["KINDRED_HOME"] = str(tmp_path / "home")
    env["COLUMNS"] = "60"  # a narrow terminal setting must not wrap messages either
    process = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--config", str(config)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode != 0
    error_lines = [line for line in process.stderr.splitlines() if "error:" in line]
    assert error_lines, process.stderr
    assert any(str(leads) in line and "LeadId" in line for line in error_lines), process.stderr
    assert not (tmp_path / "home" / "warehouse.duckdb").exists()
