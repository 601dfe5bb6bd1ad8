"""The raw store: raw rows as Parquet beside the warehouse, behind `raw.<source>` views."""

import json
import shutil

import duckdb
import pytest

from tests.warehouse.conftest import write_config
from warehouse import ingest
from warehouse.config import load_config
from warehouse.connection import connect, row_count
from warehouse.ingest import ingest_sources, unload_files
from warehouse.manifest import manifest_of
from warehouse.quarantine import account_rows
from warehouse.raw_store import RawFilesMissing, raw_root, version_folder
from warehouse.staging import build_staging


def events(prefix: str, n: int) -> str:
    return "".join(
        json.dumps({"messageId": f"{prefix}{i}", "type": "track", "userId": "u1", "timestamp": "2025-01-01"})
        + "\n"
        for i in range(n)
    )


@pytest.fixture
def web(tmp_path):
    """Two event files, a config reading them and a warehouse file; returns (folder, config, database)."""
    folder = tmp_path / "landing"
    folder.mkdir()
    (folder / "day1.jsonl").write_text(events("a", 3))
    (folder / "day2.jsonl").write_text(events("b", 4))
    config = load_config(
        write_config(tmp_path, "sources:\n  - {name: web, kind: events, path: 'landing/*.jsonl'}\n")
    )
    return folder, config, tmp_path / "warehouse.duckdb"


def version_folders(con) -> set:
    root = raw_root(con) / "web"
    return {p for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()


def loaded_folders(con) -> set:
    return {
        version_folder(con, e["source"], e["file"], e["ingested_at"])
        for e in manifest_of(con)
        if e["status"] == "loaded"
    }


def test_raw_rows_live_beside_the_warehouse_and_any_client_reads_them(web):
    folder, config, database = web
    with connect(database) as con:
        assert ingest_sources(con, config) == {"web": 7}
        assert raw_root(con) == database.with_name("warehouse.raw")
        assert version_folders(con) == loaded_folders(con) and len(loaded_folders(con)) == 2
    # A plain DuckDB client (no Kindred settings) reads the view as it is.
    with duckdb.connect(str(database), read_only=True) as plain:
        rows = plain.sql("SELECT _file, _row_number FROM raw.web ORDER BY _file, _row_number").fetchall()
    assert rows == [(str(folder / "day1.jsonl"), n) for n in (1, 2, 3)] + [
        (str(folder / "day2.jsonl"), n) for n in (1, 2, 3, 4)
    ]


def test_a_replaced_or_unloaded_version_leaves_the_store(web):
    folder, config, database = web
    with connect(database) as con:
        ingest_sources(con, config)
        (folder / "day1.jsonl").write_text(events("c", 5))
        assert ingest_sources(con, config) == {"web": 9}
        assert version_folders(con) == loaded_folders(con) and len(version_folders(con)) == 2
        assert unload_files(con, config, "web", [folder / "day2.jsonl"]) == 4
        assert row_count(con, "raw.web") == 5
        assert version_folders(con) == loaded_folders(con) and len(version_folders(con)) == 1


def test_parts_of_a_failed_load_are_removed_and_raw_is_unchanged(web, monkeypatch):
    folder, config, database = web
    with connect(database) as con:
        ingest_sources(con, config)
        before = version_folders(con)
        (folder / "day3.jsonl").write_text(events("d", 6))
        real = ingest.record_version

        def fail_after_writing(*args, **kwargs):
            real(*args, **kwargs)
            raise OSError("disk full")

        monkeypatch.setattr(ingest, "record_version", fail_after_writing)
        with pytest.raises(OSError, match="disk full"):
            ingest_sources(con, config)
        assert row_count(con, "raw.web") == 7
        assert version_folders(con) == before


def test_parts_a_killed_run_left_are_removed_by_the_next_ingest(web):
    folder, config, database = web
    with connect(database) as con:
        ingest_sources(con, config)
        # What a run killed between writing its parts and its commit leaves behind.
        stray = raw_root(con) / "web" / "20260101T000000000000-0123456789abcdef"
        stray.mkdir()
        (stray / "part-0.parquet").write_bytes(b"PAR1 half written")
        assert row_count(con, "raw.web") == 7
        (folder / "day3.jsonl").write_text(events("d", 6))
        assert ingest_sources(con, config) == {"web": 13}
        assert not stray.exists() and version_folders(con) == loaded_folders(con)


def test_a_missing_version_folder_stops_the_ingest_with_the_fix(web):
    folder, config, database = web
    with connect(database) as con:
        ingest_sources(con, config)
        shutil.rmtree(raw_root(con))
        (folder / "day3.jsonl").write_text(events("d", 6))
        with pytest.raises(RawFilesMissing, match=r"raw\.web: the rows of .*day1\.jsonl .* full refresh"):
            ingest_sources(con, config)
        assert ingest_sources(con, config, full_refresh=True) == {"web": 13}


def test_large_files_are_written_as_two_parts_with_every_row(web, monkeypatch):
    folder, config, database = web
    (folder / "day1.jsonl").write_text(events("a", 50_000))
    monkeypatch.setattr(ingest, "_PARALLEL_PARTS_BYTES", 1 << 20)
    with connect(database) as con:
        assert ingest_sources(con, config) == {"web": 50_004}
        day1 = version_folder(con, "web", str(folder / "day1.jsonl"), manifest_of(con)[0]["ingested_at"])
        assert sorted(p.name for p in day1.iterdir()) == ["part-0.parquet", "part-1.parquet"]
        numbers = con.sql(
            "SELECT count(DISTINCT _row_number), min(_row_number), max(_row_number) FROM raw.web "
            "WHERE _file LIKE '%day1.jsonl'"
        ).fetchall()
        assert numbers == [(50_000, 1, 50_000)]


def test_a_raw_table_from_before_the_store_moves_into_it(web):
    folder, config, database = web
    with connect(database) as con:
        ingest_sources(con, config)
        # Turn raw back into the table an older Kindred wrote, and drop the store.
        con.execute("CREATE TABLE raw.web_old AS SELECT * FROM raw.web")
        con.execute("DROP VIEW raw.web")
        con.execute("ALTER TABLE raw.web_old RENAME TO web")
        shutil.rmtree(raw_root(con))
        before = sorted(con.sql("SELECT * FROM raw.web").fetchall())
        (folder / "day3.jsonl").write_text(events("d", 6))
        assert ingest_sources(con, config) == {"web": 13}
        kinds = con.sql(
            "SELECT table_type FROM information_schema.tables WHERE table_name = 'web'"
        ).fetchall()
        assert kinds == [("VIEW",)]
        assert (
            sorted(con.sql("SELECT * FROM raw.web WHERE _file NOT LIKE '%day3.jsonl'").fetchall()) == before
        )
        assert version_folders(con) == loaded_folders(con) and len(version_folders(con)) == 3
        build_staging(con, config)
        ledger = account_rows(con, config, "events")[0]
        assert ledger["balanced"] and ledger["raw"] == 13


def test_an_empty_source_has_an_empty_raw_view(tmp_path):
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "empty.jsonl").write_text("\n\n")
    config = load_config(
        write_config(tmp_path, "sources:\n  - {name: web, kind: events, path: 'landing/*.jsonl'}\n")
    )
    with connect(tmp_path / "w.duckdb") as con:
        assert ingest_sources(con, config) == {"web": 0}
        columns = [r[0] for r in con.sql("DESCRIBE raw.web").fetchall()]
        assert columns[:6] == ["source", "_file", "_row_number", "_ingested_at", "_error", "_raw"]
