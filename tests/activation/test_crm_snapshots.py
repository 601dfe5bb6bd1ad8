"""Per-run Parquet snapshots of the crm tables: layout, contents, atomic writes and retention."""

from __future__ import annotations

import os
import time
from datetime import datetime

import polars as pl
import pytest

from activation.snapshots import list_snapshots, write_crm_snapshot
from tests.activation.crm_mirror import copy_in_memory, crm_warehouse
from warehouse.connection import read_table

MOMENT = datetime(2026, 6, 30, 12, 0, 0)


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("crm_snapshots") / "warehouse.duckdb"
    crm_warehouse(path)
    return path


@pytest.fixture
def con(built_warehouse):
    connection = copy_in_memory(built_warehouse)
    yield connection
    connection.close()


def test_one_parquet_file_per_table_named_after_it_in_a_stamped_folder(con, tmp_path):
    snapshot = write_crm_snapshot(con, tmp_path / "crm", now=MOMENT)

    assert snapshot.path == tmp_path / "crm" / "20260630T120000Z"
    assert sorted(p.name for p in snapshot.path.iterdir()) == ["grounding.parquet", "record_scores.parquet"]
    assert snapshot.rows == {"record_scores.parquet": 4, "grounding.parquet": 4}
    for name in ("record_scores", "grounding"):
        written = pl.read_parquet(snapshot.path / f"{name}.parquet").sort("crm_record_id")
        assert written.equals(read_table(con, f"crm.{name}").sort("crm_record_id")), name


def test_only_the_newest_snapshots_are_kept_and_other_files_are_left_alone(con, tmp_path):
    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "README.txt").write_text("mine")
    for day in range(1, 6):
        write_crm_snapshot(con, folder, keep=3, now=datetime(2026, 6, day, 8, 0, 0))
    same_second = write_crm_snapshot(con, folder, keep=3, now=datetime(2026, 6, 5, 8, 0, 0))

    assert same_second.path.name == "20260605T080000Z-1"
    assert [p.name for p in list_snapshots(folder)] == [
        "20260604T080000Z",
        "20260605T080000Z",
        "20260605T080000Z-1",
    ]
    assert [p.name for p in same_second.removed] == ["20260603T080000Z"]
    assert (folder / "README.txt").read_text() == "mine"


def test_keep_zero_writes_nothing_and_no_crm_tables_means_no_snapshot(con, tmp_path):
    assert write_crm_snapshot(con, tmp_path / "off", keep=0) is None
    assert not (tmp_path / "off").exists()
    con.execute("DROP TABLE crm.record_scores; DROP TABLE crm.grounding")
    assert write_crm_snapshot(con, tmp_path / "empty") is None


def test_a_failed_snapshot_leaves_no_folder_behind(con, tmp_path):
    folder = tmp_path / "crm"
    write_crm_snapshot(con, folder, now=MOMENT)
    # The second table cannot be read: the snapshot fails after writing the first file.
    con.execute("DROP TABLE crm.grounding")
    con.execute("CREATE VIEW crm.grounding AS SELECT error('the disk is full') AS context")

    with pytest.raises(Exception, match="the disk is full"):
        write_crm_snapshot(con, folder, now=datetime(2026, 7, 1))

    assert [p.name for p in folder.iterdir()] == ["20260630T120000Z"]


def test_temporary_folders_of_killed_snapshots_are_cleaned_up(con, tmp_path):
    folder = tmp_path / "crm"
    stale = folder / ".tmp-20260101T000000Z-deadbeef"
    fresh = folder / ".tmp-20260102T000000Z-cafebabe"
    stale.mkdir(parents=True)
    fresh.mkdir()
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))

    write_crm_snapshot(con, folder, now=MOMENT)

    assert not stale.exists()
    # Possibly another snapshot still being written: left alone.
    assert fresh.exists()
