"""`kindred segments list | show | fields | export` on a warehouse a run has built."""

import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from activation.segments.membership import refresh_segment
from pipelines.cli import app
from tests.activation.segments.conftest import build_warehouse, write_config
from warehouse.config import load_config
from warehouse.connection import connect

SEGMENTS = """
segments:
  - name: at_risk
    description: Likely to churn
    purpose: marketing
    channel: email
    where: {all: [{field: churn_risk, op: ">=", value: 0.5}, {field: country, op: in, value: [US, Canada, "O'Hara; --"]}]}
    columns: [profile_id, first_name, churn_risk, sources]
  - name: seen
    purpose: marketing
    where: {field: last_seen, op: ">=", value: {days_ago: 60}}
  - name: not_built
    purpose: marketing
    where: {field: email, op: is null}
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A warehouse file where a run has built `at_risk` and `seen`, built once for the module."""
    folder = tmp_path_factory.mktemp("template")
    config = write_config(folder, SEGMENTS)
    with connect(folder / "warehouse.duckdb") as con:
        build_warehouse(con)
        for segment in load_config(config).segments[:2]:
            refresh_segment(con, segment, now=datetime(2026, 6, 1, 6, 30))
    return folder / "warehouse.duckdb"


@pytest.fixture
def built(template, tmp_path, kindred_home):
    """A config, and a copy of the built warehouse in this test's KINDRED_HOME."""
    kindred_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, kindred_home / "warehouse.duckdb")
    return write_config(tmp_path / "project", SEGMENTS)


def kindred(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_list_shows_every_segment_with_its_size(built):
    code, out, _ = kindred("segments", "list", "--config", str(built))
    assert code == 0
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("│ ")}
    assert (
        "Likely to churn" in lines["at_risk"]
        and " 2 " in lines["at_risk"]
        and "2026-06-01 06:30" in lines["at_risk"]
    )
    assert " 3 " in lines["seen"]
    assert "not built yet" in lines["not_built"]


def test_show_prints_the_definition_size_and_sql_with_parameters(built):
    code, out, _ = kindred("segments", "show", "at_risk", "--config", str(built))
    assert code == 0, out
    assert "at_risk: Likely to churn" in out and "purpose: marketing; channel: email" in out
    assert "field: churn_risk" in out and "op: '>='" in out
    assert "size: 2 members at the last run" in out and "data as of 2026-06-01" in out
    assert "FROM segments.profile_fields AS profile" in out
    assert '"profile"."churn_risk" >= ? AND "profile"."country" IN (?, ?, ?)' in out
    assert "parameters: [0.5, 'US', 'Canada', \"O'Hara; --\"]" in out
    code, out, _ = kindred("segments", "show", "seen", "--config", str(built))
    assert "parameters: ['2026-04-02 00:00:00']" in out


def test_fields_lists_what_segments_can_use(built):
    code, out, _ = kindred("segments", "fields", "--config", str(built))
    assert code == 0
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith("│ ")}
    assert {"churn_risk", "lead_score_1_99", "best_offer", "revenue_365d", "country", "sources"} <= set(rows)
    assert "between" in rows["churn_risk"] and "contains" in rows["sources"]


def test_export_csv_and_parquet(built, tmp_path, kindred_home):
    out = tmp_path / "exports" / "at_risk.csv"
    code, stdout, _ = kindred("segments", "export", "at_risk", "--out", str(out), "--config", str(built))
    assert code == 0, stdout
    # p4 and p5 are members; p5 opted out of everything.
    assert "wrote 1 people of segment 'at_risk'" in stdout
    assert "1 of 2 members left out for consent (marketing over email)" in stdout
    frame = pl.read_csv(out)
    assert frame.columns == ["profile_id", "first_name", "churn_risk", "sources"]
    assert frame.rows() == [("p4", "Robert'); DROP TABLE profiles.unified_profile; --", 0.55, "web_events")]
    # A file name full of quotes and SQL is only a file name.
    odd = tmp_path / "it's; DROP TABLE profiles.unified_profile; -- é.csv"
    code, stdout, _ = kindred("segments", "export", "at_risk", "--out", str(odd), "--config", str(built))
    assert code == 0 and pl.read_csv(odd).rows() == frame.rows()
    parquet = tmp_path / "seen.parquet"
    code, stdout, _ = kindred("segments", "export", "seen", "--out", str(parquet), "--config", str(built))
    assert code == 0 and pl.read_parquet(parquet)["profile_id"].to_list() == ["p1", "p4"]
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind
    with connect(kindred_home / "warehouse.duckdb") as con:
        assert con.sql("SELECT count(*) FROM profiles.unified_profile").fetchall() == [(5,)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--out", "x.csv"], "unknown segment 'nope': {config} declares at_risk, seen, not_built"),
        (["at_risk", "--out", "x.xlsx"], "--out x.xlsx: the file name must end in .csv or .parquet"),
        (["not_built", "--out", "x.csv"], "segment 'not_built' has not been built yet: run `kindred run`"),
    ],
)
def test_export_errors_name_what_is_wrong(built, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = kindred("segments", "export", *args, "--config", str(built))
    assert code == 1
    assert message.format(config=built) in err
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.xlsx").exists()


def test_export_to_a_folder_or_without_a_warehouse(built, tmp_path, kindred_home):
    folder = tmp_path / "looks_like_a_file.csv"
    folder.mkdir()
    code, _, err = kindred("segments", "export", "at_risk", "--out", str(folder), "--config", str(built))
    assert code == 1 and f"--out {folder}: is a folder" in err
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    code, _, err = kindred(
        "segments", "export", "at_risk", "--out", str(blocked / "a.csv"), "--config", str(built)
    )
    assert code == 1 and f"--out {blocked / 'a.csv'}: cannot write the file" in err
    (kindred_home / "warehouse.duckdb").unlink()
    code, _, err = kindred(
        "segments", "export", "at_risk", "--out", str(tmp_path / "a.csv"), "--config", str(built)
    )
    assert (
        code == 1 and f"no warehouse at {kindred_home / 'warehouse.duckdb'}: run `kindred run` first" in err
    )


def test_a_failed_export_leaves_the_previous_file(built, tmp_path):
    out = tmp_path / "at_risk.csv"
    out.write_text("yesterday's export\n")
    bad = write_config(
        tmp_path / "bad",
        SEGMENTS.replace(
            "columns: [profile_id, first_name, churn_risk, sources]", "columns: [profile_id, shoe_size]"
        ),
    )
    code, _, err = kindred("segments", "export", "at_risk", "--out", str(out), "--config", str(bad))
    assert code == 1 and "segment 'at_risk', column 'shoe_size': unknown field" in err
    assert out.read_text() == "yesterday's export\n"
    assert list(tmp_path.glob("*.csv")) == [out]


def test_a_changed_definition_is_exported_as_last_run_with_a_warning(built, tmp_path):
    changed = write_config(tmp_path / "changed", SEGMENTS.replace("value: 0.5}", "value: 0.9}"))
    code, out, err = kindred(
        "segments", "export", "at_risk", "--out", str(tmp_path / "a.csv"), "--config", str(changed)
    )
    assert code == 0
    assert "warning: segment 'at_risk' changed in" in err and "`kindred run` applies the change" in err
    assert pl.read_csv(tmp_path / "a.csv")["profile_id"].to_list() == ["p4"]
    code, out, _ = kindred("segments", "list", "--config", str(changed))
    assert "changed in kindred.yaml since the last run" in out


def test_the_cli_only_reads_the_warehouse(built, tmp_path, kindred_home):
    """Another process holds the warehouse open read-only: a writer could not open it, a reader can."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); print('open', flush=True); time.sleep(60)",
            str(kindred_home / "warehouse.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        for args in (
            ["list"],
            ["show", "at_risk"],
            ["fields"],
            ["export", "at_risk", "--out", str(tmp_path / "a.parquet")],
        ):
            code, out, err = kindred("segments", *args, "--config", str(built))
            assert code == 0, (args, out, err)
        with pytest.raises(Exception, match="lock"):
            connect(kindred_home / "warehouse.duckdb")
    finally:
        holder.kill()
        holder.wait()


def test_show_and_fields_before_the_first_run_with_segments(tmp_path, kindred_home):
    """A warehouse built before segments existed: no fields table yet, a clear message."""
    config = write_config(tmp_path / "project", SEGMENTS)
    kindred_home.mkdir(parents=True, exist_ok=True)
    with connect(kindred_home / "warehouse.duckdb") as con:
        con.execute("CREATE TABLE profiles.unified_profile (profile_id VARCHAR)")
    code, out, err = kindred("segments", "show", "at_risk", "--config", str(config))
    assert code == 1 and "segment 'at_risk': segments.profile_fields does not exist yet" in err
    assert "field: churn_risk" in out  # the definition is still shown
    code, _, err = kindred("segments", "fields", "--config", str(config))
    assert code == 1 and "the segment fields are not built yet" in err
    code, out, _ = kindred("segments", "list", "--config", str(config))
    assert code == 0 and out.count("not built yet") == 3


def test_an_opt_in_regime_exports_only_recorded_opt_ins(built, tmp_path):
    """consent.opt_in_required in kindred.yaml applies to the segment's purpose and channel."""
    regime = tmp_path / "regime" / "kindred.yaml"
    regime.parent.mkdir()
    regime.write_text(built.read_text() + "consent: {opt_in_required: {marketing: [email]}}\n")
    code, out, _ = kindred("segments", "show", "at_risk", "--config", str(regime))
    assert code == 0 and "channel: email; consent: opt-in required" in out
    out_file = tmp_path / "a.csv"
    code, out, _ = kindred("segments", "export", "at_risk", "--out", str(out_file), "--config", str(regime))
    assert code == 0
    # Nobody among the members recorded an opt-in to email marketing.
    assert (
        "wrote 0 people" in out
        and "2 of 2 members left out for consent (marketing over email, opt-in required)" in out
    )
    assert out_file.read_text() == "profile_id,first_name,churn_risk,sources\n"
