"""`kindred crm sync` as a user runs it: a sync killed while it writes, dry runs, the password kept out
of everything shown or stored, and errors on the command line."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import duckdb
import pytest
from psycopg import sql
from typer.testing import CliRunner

from pipelines.cli import app
from tests.activation.crm_mirror import (
    GROUNDING,
    PASSWORD,
    RECORD_SCORES,
    assert_mirror_equals_warehouse,
    crm_warehouse,
    mirror_rows,
    new_target,
    next_run,
)
from warehouse.connection import open_warehouse

OTHER_SECRET = "Another-Secret-9xq"


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("crm_cli") / "warehouse.duckdb"
    crm_warehouse(path)
    return path


@pytest.fixture
def home(kindred_home, built_warehouse):
    kindred_home.mkdir(parents=True)
    shutil.copyfile(built_warehouse, kindred_home / "warehouse.duckdb")
    return kindred_home


@pytest.fixture
def target(postgres_server):
    return new_target(postgres_server)


def kindred(home, *arguments: str, password: str | None = PASSWORD, background: bool = False):
    """The command in a process of its own, as a user runs it."""
    env = {**os.environ, "KINDRED_HOME": str(home)}
    env.pop("PGPASSWORD", None)
    if password is not None:
        env["PGPASSWORD"] = password
    command = [sys.executable, "-m", "pipelines.cli", *arguments]
    if background:
        return subprocess.Popen(
            command, env=env, cwd=home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(command, env=env, cwd=home, capture_output=True, text=True, timeout=300)


def invoke(*arguments: str, password: str | None = PASSWORD):
    """The command in this process (same code path, without a new interpreter's start-up)."""
    env = {"PGPASSWORD": password} if password is not None else {"PGPASSWORD": None}
    return CliRunner().invoke(app, list(arguments), env=env)


def wait_for(condition, *, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_a_sync_killed_while_it_writes_leaves_the_mirror_as_it_was_and_the_next_completes_it(home, target):
    assert invoke("crm", "sync", "--target", target.url).exit_code == 0
    with open_warehouse(home / "warehouse.duckdb") as con:
        next_run(con)
    before = {t.name: mirror_rows(target, t) for t in (RECORD_SCORES, GROUNDING)}
    syncing = "SELECT pid FROM pg_stat_activity WHERE application_name = 'kindred crm sync' AND wait_event_type = 'Lock'"

    with target.admin() as blocker, blocker.transaction():
        # The sync records its cursor last: holding that table makes it wait with every row written.
        blocker.execute("LOCK TABLE kindred.kindred_sync_state IN SHARE MODE")
        process = kindred(home, "crm", "sync", "--target", target.url, background=True)
        wait_for(lambda: target.query(syncing))
        (pid,) = target.query(syncing)[0]
        written = target.query(
            "SELECT relation::regclass::text FROM pg_locks WHERE pid = %s AND mode = 'RowExclusiveLock' AND granted",
            [pid],
        )
        assert {"kindred.record_scores", "kindred.grounding"} <= {r[0] for r in written}
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        assert process.returncode == -signal.SIGKILL
        assert {t.name: mirror_rows(target, t) for t in (RECORD_SCORES, GROUNDING)} == before

    again = invoke("crm", "sync", "--target", target.url)

    assert again.exit_code == 0, again.stderr
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert_mirror_equals_warehouse(con, target)
        # The killed sync logged nothing; the first and the last did.
        assert con.sql("SELECT count(DISTINCT sync_id) FROM crm.sync_log").fetchall() == [(2,)]
    assert invoke("crm", "sync", "--target", target.url).stdout.count("unchanged") == 2


def test_dry_run_prints_counts_and_writes_nothing(home, target):
    done = invoke("crm", "sync", "--target", target.url, "--dry-run")

    assert done.exit_code == 0, done.stderr
    assert "dry run: would write to" in done.stdout
    assert "nothing was written" in done.stdout
    lines = [
        line for line in done.stdout.splitlines() if "crm.record_scores" in line or "crm.grounding" in line
    ]
    assert len(lines) == 2 and all("│        4 │" in line for line in lines)
    assert target.query("SELECT count(*) FROM pg_namespace WHERE nspname = 'kindred'") == [(0,)]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'sync_log'"
        ).fetchall() == [(0,)]


def test_the_password_appears_nowhere(home, target):
    shown = []
    first = invoke("crm", "sync", "--target", target.url)
    assert first.exit_code == 0, first.stderr
    target.query(
        sql.SQL(
            "CREATE SCHEMA broken AUTHORIZATION {role}; CREATE TABLE broken.record_scores (source int); "
            "ALTER TABLE broken.record_scores OWNER TO {role}"
        ).format(role=sql.Identifier(target.role))
    )
    mismatch = invoke("crm", "sync", "--target", target.url, "--schema", "broken")
    wrong = invoke("crm", "sync", "--target", target.url, password=OTHER_SECRET)
    inline = invoke("crm", "sync", "--target", target.url.replace("@", f":{OTHER_SECRET}@"))

    assert mismatch.exit_code == 1 and "mirror table broken.record_scores does not match" in mismatch.stderr
    assert wrong.exit_code == 1 and "password authentication failed" in wrong.stderr
    assert inline.exit_code == 1 and "contains a password" in inline.stderr
    for done in (first, mismatch, wrong, inline):
        shown += [done.stdout, done.stderr]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        log = con.sql("SELECT * FROM crm.sync_log").fetchall()
    assert {row[6] for row in log if row[12]} == {"record_scores", "grounding"}
    shown += [str(row) for row in log]
    assert not any(PASSWORD in text or OTHER_SECRET in text for text in shown)


def test_a_password_in_kindred_yaml_is_refused(home, tmp_path):
    config = tmp_path / "kindred.yaml"
    config.write_text(
        "sources:\n  - {name: crm_leads, kind: people, path: leads.csv}\n"
        f"crm_sync:\n  target: postgresql://sync:{OTHER_SECRET}@db.example:5432/crm\n"
    )

    done = invoke("crm", "sync", "--config", str(config))

    assert done.exit_code == 1
    assert "crm_sync.target: the target URL contains a password" in done.stderr
    assert OTHER_SECRET not in done.stderr + done.stdout


def test_no_target_and_bad_options_are_named(home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = invoke("crm", "sync")
    schema = invoke("crm", "sync", "--target", "postgresql://u@localhost/db", "--schema", "Bad-Name")
    not_url = invoke("crm", "sync", "--target", "host=localhost user=u")

    assert missing.exit_code == 1 and "no target: pass --target" in missing.stderr
    assert schema.exit_code == 1 and "--schema 'Bad-Name'" in schema.stderr
    assert not_url.exit_code == 1 and "the target must be a URL like postgresql://" in not_url.stderr
