"""Idempotent loads: every file is loaded once, a changed file as a new version, repeated events once."""

import hashlib
import json
import os
import shutil

import blake3
import pytest

from tests.warehouse.conftest import reasons_of, write_config
from warehouse import manifest
from warehouse.config import ConfigError, load_config
from warehouse.connection import connect, row_count
from warehouse.ingest import ingest_source, ingest_sources, read_source, unload_files
from warehouse.manifest import manifest_of
from warehouse.quarantine import account_rows
from warehouse.staging import build_staging


def events(*rows: tuple[str, str]) -> str:
    """JSON lines of track calls from (messageId, timestamp) pairs."""
    return "".join(
        json.dumps({"messageId": m, "type": "track", "userId": "u1", "timestamp": t}) + "\n" for m, t in rows
    )


@pytest.fixture
def web(tmp_path):
    """A folder of event files and a config reading them; returns (folder, config, con)."""
    folder = tmp_path / "landing"
    folder.mkdir()
    (folder / "day1.jsonl").write_text(events(("m1", "2025-01-01"), ("m2", "2025-01-01")))
    config = load_config(
        write_config(tmp_path, "sources:\n  - {name: web, kind: events, path: 'landing/*.jsonl'}\n")
    )
    return folder, config, connect(":memory:")


def hash_of(path) -> str:
    return blake3.blake3(path.read_bytes()).hexdigest()


def statuses(con) -> list[tuple[str, int, str]]:
    return sorted((e["file"].rsplit("/", 1)[-1], e["version"], e["status"]) for e in manifest_of(con))


def test_the_same_file_twice_loads_once(web):
    folder, config, con = web
    assert ingest_sources(con, config) == {"web": 2}
    first = manifest_of(con)[0]
    assert (
        first["rows"] == 2
        and first["size"] == (folder / "day1.jsonl").stat().st_size
        and first["content_hash"] == hash_of(folder / "day1.jsonl")
    )
    load = ingest_source(con, config, config.sources[0])
    assert (load.rows, load.added, load.unchanged, load.loaded) == (2, 0, 1, [])
    # Touched but not changed: the hash says it is the same file.
    os.utime(folder / "day1.jsonl", (1_700_000_000, 1_700_000_000))
    load = ingest_source(con, config, config.sources[0])
    assert (load.rows, load.added, load.unchanged) == (2, 0, 1)
    assert statuses(con) == [("day1.jsonl", 1, "loaded")]


def test_a_copy_under_another_name_is_a_duplicate_file(web):
    folder, config, con = web
    ingest_sources(con, config)
    shutil.copy(folder / "day1.jsonl", folder / "day1 (1).jsonl")
    load = ingest_source(con, config, config.sources[0])
    assert load.duplicates == [str(folder / "day1 (1).jsonl")] and load.added == 0
    assert statuses(con) == [("day1 (1).jsonl", 1, "duplicate"), ("day1.jsonl", 1, "loaded")]
    duplicate = next(e for e in manifest_of(con) if e["status"] == "duplicate")
    assert duplicate["duplicate_of"] == str(folder / "day1.jsonl")
    # Recorded once: the next run does not report it again.
    assert ingest_source(con, config, config.sources[0]).duplicates == []
    assert row_count(con, "raw.web") == 2


def test_hashes_are_read_up_front_only_when_a_file_could_be_a_copy(web, monkeypatch):
    folder, config, con = web
    (folder / "day2.jsonl").write_text(events(("m3", "2025-01-02")))
    (folder / "day3.jsonl").write_text(events(("m4", "2025-01-03")))  # day2's size, other bytes
    shutil.copy(folder / "day1.jsonl", folder / "zcopy.jsonl")
    read_up_front = []
    monkeypatch.setattr(manifest, "file_hash", lambda path: read_up_front.append(path.name) or hash_of(path))
    plans = {p.file.name: p for p in manifest.plan_files(con, "web", sorted(folder.glob("*.jsonl")))}
    assert sorted(read_up_front) == ["day1.jsonl", "day2.jsonl", "day3.jsonl", "zcopy.jsonl"]
    assert plans["zcopy.jsonl"].action == "duplicate" and plans["day3.jsonl"].action == "load"
    (folder / "zcopy.jsonl").unlink()
    (folder / "day3.jsonl").unlink()
    ingest_sources(con, config)
    (folder / "day4.jsonl").write_text(
        events(("m5", "2025-01-04"), ("m6", "2025-01-04"), ("m7", "2025-01-04"))
    )
    read_up_front.clear()
    plans = {p.file.name: p for p in manifest.plan_files(con, "web", sorted(folder.glob("*.jsonl")))}
    # A size no other file has: no copy possible, so the hash is computed while the file loads.
    assert read_up_front == [] and plans["day4.jsonl"].content_hash is None
    ingest_sources(con, config)
    recorded = {e["file"].rsplit("/", 1)[-1]: e["content_hash"] for e in manifest_of(con)}
    assert recorded["day4.jsonl"] == hash_of(folder / "day4.jsonl")
    assert all(recorded[name] == hash_of(folder / name) for name in ("day1.jsonl", "day2.jsonl"))


def test_a_changed_file_loads_as_a_new_version_replacing_its_rows(web):
    folder, config, con = web
    ingest_sources(con, config)
    build_staging(con, config)
    (folder / "day1.jsonl").write_text(
        events(("m1", "2025-01-01"), ("m3", "2025-01-01"), ("m4", "not a date"))
    )
    load = ingest_source(con, config, config.sources[0])
    assert (load.added, load.removed, load.replaced) == (3, 2, [str(folder / "day1.jsonl")])
    assert statuses(con) == [("day1.jsonl", 1, "replaced"), ("day1.jsonl", 2, "loaded")]
    build_staging(con, config)
    assert con.sql("SELECT message_id FROM staging.events ORDER BY 1").fetchall() == [("m1",), ("m3",)]
    assert list(reasons_of(con, "web")) == [3]
    assert account_rows(con, config, "events")[0] == {
        "source": "web",
        "files": 1,
        "file_rows": 3,
        "erased": 0,
        "raw": 3,
        "staged": 2,
        "quarantined": 1,
        "balanced": True,
    }


def test_repeated_message_ids_are_deduplicated_across_files_and_sources(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "1.jsonl").write_text(events(("m1", "2025-01-01"), ("m2", "2025-01-01")))
    (tmp_path / "a" / "2.jsonl").write_text(events(("m2", "2025-01-01"), ("m3", "2025-01-02")))
    (tmp_path / "b.jsonl").write_text(events(("m3", "2025-01-02"), ("m4", "2025-01-02")))
    config = load_config(
        write_config(
            tmp_path,
            "sources:\n  - {name: web, kind: events, path: 'a/*.jsonl'}\n  - {name: app, kind: events, path: b.jsonl}\n",
        )
    )
    con = connect(":memory:")
    ingest_sources(con, config)
    build_staging(con, config)
    staged = con.sql("SELECT message_id, source FROM staging.events ORDER BY 1").fetchall()
    assert staged == [("m1", "web"), ("m2", "web"), ("m3", "web"), ("m4", "app")]
    assert reasons_of(con, "web") == {
        1: f"duplicate message_id (first loaded from {tmp_path / 'a' / '1.jsonl'} row 2)"
    }
    # Same load time: the first by file path wins, so b.jsonl's copy of m3 is the repeat.
    assert reasons_of(con, "app") == {
        1: f"duplicate message_id (first loaded from {tmp_path / 'a' / '2.jsonl'} row 2)"
    }
    # A later delivery repeating an event loses to the copy loaded first, whatever its name.
    (tmp_path / "a" / "0.jsonl").write_text(events(("m1", "2025-01-01")))
    ingest_sources(con, config)
    build_staging(con, config)
    assert con.sql("SELECT _file FROM staging.events WHERE message_id = 'm1'").fetchall() == [
        (str(tmp_path / "a" / "1.jsonl"),)
    ]
    assert all(e["balanced"] for e in account_rows(con, config, "events"))


def test_files_removed_from_landing_stay_loaded_until_unloaded(web):
    folder, config, con = web
    (folder / "day2.jsonl").write_text(events(("m5", "2025-01-02")))
    ingest_sources(con, config)
    (folder / "day1.jsonl").unlink()
    assert ingest_sources(con, config) == {"web": 3}
    with pytest.raises(ConfigError, match="not loaded, cannot unload"):
        unload_files(con, config, "web", [folder / "nope.jsonl"])
    assert unload_files(con, config, "web", [folder / "day1.jsonl"]) == 2
    assert statuses(con) == [("day1.jsonl", 1, "unloaded"), ("day2.jsonl", 1, "loaded")]
    build_staging(con, config)
    assert con.sql("SELECT message_id FROM staging.events").fetchall() == [("m5",)]
    # A full refresh mirrors exactly the files present now.
    (folder / "day3.jsonl").write_text(events(("m6", "2025-01-03")))
    (folder / "day2.jsonl").unlink()
    assert ingest_sources(con, config, full_refresh=True) == {"web": 1}


def test_a_manifest_of_sha256_digests_moves_to_blake3(web):
    folder, config, con = web
    ingest_sources(con, config)
    # The manifest as earlier versions wrote it: the digest in a `sha256` column.
    con.execute("ALTER TABLE raw._manifest RENAME COLUMN content_hash TO sha256")
    con.execute("UPDATE raw._manifest SET sha256 = ?", [hashlib.sha256(b"old").hexdigest()])
    load = ingest_source(con, config, config.sources[0])
    assert (load.added, load.unchanged) == (0, 1)  # same size and time: not read
    columns = {r[0] for r in con.execute("DESCRIBE raw._manifest").fetchall()}
    assert "sha256" not in columns and "content_hash" in columns
    # Touched: without a comparable digest it is read and loaded once more, replacing its rows.
    os.utime(folder / "day1.jsonl", (1_700_000_000, 1_700_000_000))
    load = ingest_source(con, config, config.sources[0])
    assert (load.added, load.removed) == (2, 2) and row_count(con, "raw.web") == 2
    assert manifest_of(con)[0]["content_hash"] == hash_of(folder / "day1.jsonl")
    # From then on the hash decides again.
    os.utime(folder / "day1.jsonl", (1_700_000_100, 1_700_000_100))
    assert ingest_source(con, config, config.sources[0]).unchanged == 1


def test_a_warehouse_from_before_the_manifest_is_reloaded(web):
    folder, config, con = web
    con.execute(
        "CREATE TABLE raw.web AS SELECT 'web' AS source, 'x' AS _file, 1 AS _row_number, now() AS _ingested_at"
    )
    assert ingest_sources(con, config) == {"web": 2}
    assert con.sql("SELECT DISTINCT _file FROM raw.web").fetchall() == [(str(folder / "day1.jsonl"),)]


def test_read_source_reads_without_touching_the_warehouse(web, kindred_home):
    _, config, _ = web
    frame = read_source(config, config.sources[0])
    assert frame.height == 2 and frame["_row_number"].to_list() == [1, 2]
    assert not (kindred_home / "warehouse.duckdb").exists()
