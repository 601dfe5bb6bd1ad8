"""Publishing and swapping: the server never holds the warehouse, moves to each new publication
without dropping requests, never shows half of one, and leaves no old file behind."""

from __future__ import annotations

import threading

import duckdb
import pytest

from serving.publish import POINTER, current_publication, publish, republish, serving_folder
from serving.store import NothingPublished, ServingStore
from warehouse.connection import connect


def _warehouse(home, version: int) -> None:
    """A warehouse whose two served tables both say which version wrote them."""
    with connect(home / "warehouse.duckdb") as con:
        con.execute(
            "CREATE OR REPLACE TABLE crm.record_scores AS SELECT 'Lead' AS crm_object, "
            "'R' || range AS crm_record_id, 'P' || range AS profile_id, ? AS version FROM range(2000)",
            [version],
        )
        con.execute(
            "CREATE OR REPLACE TABLE crm.grounding AS SELECT crm_object, crm_record_id, profile_id, "
            "'{}' AS context, true AS masked, version FROM crm.record_scores"
        )


def _publish(home) -> None:
    with connect(home / "warehouse.duckdb") as con:
        publish(con, home)


def test_nothing_published_is_a_clear_error(tmp_path):
    with (
        pytest.raises(NothingPublished, match="run `kindred run` or `kindred publish`"),
        ServingStore(tmp_path).connection(),
    ):
        pass


def test_a_publication_is_a_complete_indexed_copy_and_the_warehouse_stays_free(tmp_path):
    _warehouse(tmp_path, 1)
    _publish(tmp_path)
    path = current_publication(tmp_path)
    assert path.parent == serving_folder(tmp_path) and (serving_folder(tmp_path) / POINTER).is_file()
    store = ServingStore(tmp_path)
    with store.connection() as con:
        assert con.sql("SELECT count(*), min(version) FROM crm.record_scores").fetchall() == [(2000, 1)]
        indexes = {n for (n,) in con.sql("SELECT index_name FROM duckdb_indexes()").fetchall()}
        assert "record_scores_lookup_0" in indexes and "grounding_lookup_0" in indexes
        with pytest.raises(duckdb.Error):
            con.execute("CREATE TABLE crm.scribble AS SELECT 1")
        # A run can open the warehouse to write while the server reads.
        with connect(tmp_path / "warehouse.duckdb") as writer:
            writer.execute("CREATE OR REPLACE TABLE crm.touched AS SELECT 1 AS x")
    assert [p.name for p in serving_folder(tmp_path).iterdir() if p.suffix == ".tmp"] == []
    store.close()


def test_the_server_moves_to_a_new_publication_and_removes_the_old_one_when_unused(tmp_path):
    _warehouse(tmp_path, 1)
    _publish(tmp_path)
    store = ServingStore(tmp_path)
    with store.connection() as first:
        old = current_publication(tmp_path)
        _warehouse(tmp_path, 2)
        _publish(tmp_path)
        # The request that started on version 1 finishes on version 1, though its file is gone.
        assert not old.exists()
        assert first.sql("SELECT min(version), max(version) FROM crm.grounding").fetchall() == [(1, 1)]
        with store.connection() as second:
            assert second.sql("SELECT min(version) FROM crm.grounding").fetchall() == [(2,)]
    assert [p.name for p in serving_folder(tmp_path).glob("published-*")] == [
        current_publication(tmp_path).name
    ]
    store.close()


def test_requests_never_see_half_of_a_publication_while_publishing_repeats(tmp_path):
    _warehouse(tmp_path, 0)
    _publish(tmp_path)
    store = ServingStore(tmp_path)
    seen, problems, stop = set(), [], threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                with store.connection() as con:
                    scores = con.sql(
                        "SELECT min(version), max(version), count(*) FROM crm.record_scores"
                    ).fetchall()[0]
                    grounding = con.sql("SELECT min(version), max(version) FROM crm.grounding").fetchall()[0]
                if scores[0] != scores[1] or scores[:2] != grounding or scores[2] != 2000:
                    problems.append((scores, grounding))
                seen.add(scores[0])
            except Exception as error:  # noqa: BLE001 (any failure is a dropped request)
                problems.append(repr(error))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for version in range(1, 6):
            _warehouse(tmp_path, version)
            _publish(tmp_path)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert problems == []
    assert len(seen) >= 2 and max(seen) == 5
    store.close()
    assert len(list(serving_folder(tmp_path).glob("published-*"))) == 1


def test_republishing_after_a_deletion_leaves_no_file_with_the_old_rows(tmp_path):
    from warehouse.config import KindredConfig

    config = KindredConfig(sources=[{"name": "crm", "kind": "people", "path": "people.csv"}])
    _warehouse(tmp_path, 1)
    with connect(tmp_path / "warehouse.duckdb") as con:
        assert republish(con, tmp_path, config) is None  # never published: nothing to replace
        publish(con, tmp_path)
        con.execute("DELETE FROM crm.grounding WHERE crm_record_id = 'R7'")
        republished = republish(con, tmp_path, config)
    files = list(serving_folder(tmp_path).glob("published-*"))
    assert files == [republished.path]
    with duckdb.connect(str(files[0]), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM crm.grounding WHERE crm_record_id = 'R7'").fetchall() == [(0,)]
    with connect(tmp_path / "warehouse.duckdb") as con:
        con.execute("CREATE TABLE profiles.unified_profile AS SELECT 'P1' AS profile_id")
        # Without a config (the end-of-run upkeep), the tables published before, and no others.
        again = republish(con, tmp_path)
    assert again.rows == republished.rows and not republished.path.exists()
