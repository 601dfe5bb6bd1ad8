"""A run killed with SIGKILL at any point leaves the warehouse as it was, and the next run completes.

The run is a real `python -c` process on a DuckDB file. To kill it at a chosen point, the child
pauses right after that point (the first rows streamed into raw, the first source typed into the
scratch table, the first quarantine rewritten before the swap) and prints a marker; the test
kills it there. A last test kills a run of a large file after a delay, wherever it is.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.ingest_throughput import generate_events
from tests.warehouse.conftest import write_config
from warehouse.config import load_config
from warehouse.connection import connect, open_warehouse, table_exists
from warehouse.ingest import ingest_sources
from warehouse.manifest import manifest_of
from warehouse.quarantine import account_rows
from warehouse.raw_store import raw_root, version_folder
from warehouse.staging import build_staging

REPO = Path(__file__).resolve().parents[2]
CHILD = """
import sys, time
from warehouse import jsonl_reader, staging
from warehouse.config import load_config
from warehouse.connection import connect
from warehouse.ingest import ingest_sources

point, config_path, database = sys.argv[1:4]

def pause_after(function):
    def wrapped(*args, **kwargs):
        result = function(*args, **kwargs)
        print("MIDWAY", flush=True)
        time.sleep(120)
        return result
    return wrapped

def pause_after_first(generator):
    def wrapped(*args, **kwargs):
        for n, item in enumerate(generator(*args, **kwargs)):
            yield item
            if n == 0:
                print("MIDWAY", flush=True)
                time.sleep(120)
    return wrapped

if point == "raw":
    jsonl_reader._jsonl_batches = pause_after_first(jsonl_reader._jsonl_batches)
elif point == "typing":
    staging.typed_select = pause_after(staging.typed_select)
elif point == "swap":
    staging.create_quarantine = pause_after(staging.create_quarantine)
config = load_config(config_path)
con = connect(database)
ingest_sources(con, config)
staging.build_staging(con, config)
con.close()
print("DONE", flush=True)
"""


def events(start: int, n: int) -> str:
    return "".join(
        json.dumps({"messageId": f"m{i}", "type": "track", "userId": f"u{i % 7}", "timestamp": "2025-01-01"})
        + "\n"
        for i in range(start, start + n)
    )


def state(database: Path) -> dict:
    """Everything a run writes, to compare before and after a kill."""
    with open_warehouse(database) as con:
        tables = [
            f"{schema}.{name}"
            for schema, name in con.sql(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema IN ('raw', 'staging', 'quarantine') ORDER BY 1, 2"
            ).fetchall()
        ]
        return {t: sorted(con.sql(f"SELECT * FROM {t}").fetchall(), key=str) for t in tables}


def start_child(point: str, config_path: Path, database: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, point, str(config_path), str(database)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def kill(child: subprocess.Popen) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


def raw_store_holds_only_loaded_versions(con) -> bool:
    """No Parquet parts of a killed run are left in the raw store once the next ingest ran."""
    loaded = {
        version_folder(con, e["source"], e["file"], e["ingested_at"])
        for e in manifest_of(con)
        if e["status"] == "loaded"
    }
    on_disk = {p for p in (raw_root(con) / "web").iterdir() if p.is_dir()}
    return on_disk == loaded


def finish_and_check(config_path: Path, database: Path) -> None:
    """The next run completes, leaves no scratch table, and every row is accounted for."""
    config = load_config(config_path)
    with open_warehouse(database) as con:
        ingest_sources(con, config)
        build_staging(con, config)
        assert not table_exists(con, "staging._events_next")
        assert raw_store_holds_only_loaded_versions(con)
        assert all(e["balanced"] for e in account_rows(con, config, "events"))
        assert con.sql("SELECT count(*) FROM staging.events").fetchall() == [(30_000 + 2,)]


@pytest.fixture
def warehouse_with_history(tmp_path):
    """A warehouse where one file is already staged, and a second, larger file waiting to be loaded."""
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "old.jsonl").write_text(events(0, 2) + "{broken\n")
    config_path = write_config(tmp_path, "sources:\n  - {name: web, kind: events, path: 'landing/*.jsonl'}\n")
    database = tmp_path / "warehouse.duckdb"
    con = connect(database)
    ingest_sources(con, load_config(config_path))
    build_staging(con, load_config(config_path))
    con.close()
    before = state(database)
    (tmp_path / "landing" / "new.jsonl").write_text(events(100, 30_000))
    return config_path, database, before


@pytest.mark.parametrize("point", ["raw", "typing", "swap"])
def test_a_run_killed_mid_write_leaves_the_previous_tables(warehouse_with_history, point):
    config_path, database, before = warehouse_with_history
    child = start_child(point, config_path, database)
    assert child.stdout.readline().strip() == "MIDWAY", child.stderr.read()
    kill(child)
    after = state(database)
    if point == "raw":
        assert after == before
    else:
        # The ingest committed before staging began: raw and its manifest have the new file,
        # staging and quarantine are exactly as they were.
        for table, rows in before.items():
            if not table.startswith("raw."):
                assert after[table] == rows, table
        assert len(after["raw.web"]) == len(before["raw.web"]) + 30_000
    finish_and_check(config_path, database)


@pytest.mark.parametrize("delay", [1.5, 4.0])
def test_a_large_run_killed_after_a_delay_recovers(tmp_path, delay):
    (tmp_path / "landing").mkdir()
    generate_events(tmp_path / "landing" / "big.jsonl", 300_000)
    config_path = write_config(tmp_path, "sources:\n  - {name: web, kind: events, path: 'landing/*.jsonl'}\n")
    database = tmp_path / "warehouse.duckdb"
    child = start_child("none", config_path, database)
    time.sleep(delay)
    if child.poll() is None:
        kill(child)
    config = load_config(config_path)
    with open_warehouse(database) as con:
        # Whatever was committed is whole: a loaded file has all its rows. On a busy machine the
        # kill can come before the child has created anything: then nothing is loaded.
        loaded = (
            con.sql("SELECT coalesce(sum(rows), 0) FROM raw._manifest WHERE status = 'loaded'").fetchall()[0][
                0
            ]
            if table_exists(con, "raw._manifest")
            else 0
        )
        in_raw = (
            con.sql("SELECT count(*) FROM raw.web").fetchall()[0][0] if table_exists(con, "raw.web") else 0
        )
        assert in_raw == loaded
        ingest_sources(con, config)
        build_staging(con, config)
        assert raw_store_holds_only_loaded_versions(con)
        ledger = account_rows(con, config, "events")[0]
        assert ledger["balanced"] and ledger["raw"] == 300_000
