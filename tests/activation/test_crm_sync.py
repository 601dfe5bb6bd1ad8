"""kindred crm sync, as a library, against a real PostgreSQL server: tables and types, upserts,
deletes and ownership, the cursor, unchanged re-syncs, dry runs, segments, and the error paths."""

from __future__ import annotations

import logging
import traceback
from datetime import datetime

import pytest
from psycopg import sql

from activation.crm_sync import CrmSyncError, CrmSyncFailed, sync_crm
from tests.activation.crm_mirror import (
    GROUNDING,
    PASSWORD,
    RECORD_SCORES,
    SEGMENT_MEMBERSHIP,
    add_membership,
    assert_mirror_equals_warehouse,
    copy_in_memory,
    crm_warehouse,
    mirror_rows,
    new_target,
    next_run,
    row_versions,
)


@pytest.fixture
def target(postgres_server, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    return new_target(postgres_server)


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("crm_sync") / "warehouse.duckdb"
    crm_warehouse(path)
    return path


@pytest.fixture
def con(built_warehouse):
    connection = copy_in_memory(built_warehouse)
    yield connection
    connection.close()


def counts(result) -> dict[str, tuple[str, int, int, int]]:
    return {t.mirror_table: (t.method, t.inserted, t.updated, t.deleted) for t in result.tables}


def test_first_sync_creates_typed_tables_with_keys_and_mirrors_every_row(con, target):
    result = sync_crm(con, target.url)

    assert counts(result) == {
        "record_scores": ("compared with mirror", 4, 0, 0),
        "grounding": ("compared with mirror", 4, 0, 0),
    }
    assert_mirror_equals_warehouse(con, target)
    types = dict(
        ((table, column), kind)
        for table, column, kind in target.query(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'kindred'"
        )
    )
    assert types[("record_scores", "lead_score")] == "double precision"
    assert types[("record_scores", "lead_score_1_99")] == "integer"
    assert types[("record_scores", "updated_at")] == "timestamp with time zone"
    assert types[("grounding", "context")] == "jsonb"
    assert types[("grounding", "masked")] == "boolean"
    assert types[("grounding", "crm_record_id")] == "text"
    keys = dict(
        target.query(
            "SELECT c.relname, array_agg(a.attname::text ORDER BY array_position(i.indkey, a.attnum)) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE n.nspname = 'kindred' AND i.indisprimary GROUP BY c.relname"
        )
    )
    assert keys["record_scores"] == ["source", "crm_object", "crm_record_id"]
    assert keys["grounding"] == ["source", "crm_object", "crm_record_id"]
    # The documents stay queryable as JSON in PostgreSQL.
    first_names = target.query(
        "SELECT context -> 'profile' ->> 'first_name' FROM kindred.grounding WHERE crm_record_id = 'L1'"
    )
    assert first_names == [("Jane",)]
    logged = con.sql(
        "SELECT mirror_table, inserted, updated, deleted, error FROM crm.sync_log ORDER BY 1"
    ).fetchall()
    assert logged == [("grounding", 4, 0, 0, None), ("record_scores", 4, 0, 0, None)]


def test_unchanged_resync_writes_nothing(con, target):
    sync_crm(con, target.url)
    before = row_versions(target)

    result = sync_crm(con, target.url)

    assert counts(result) == {"record_scores": ("unchanged", 0, 0, 0), "grounding": ("unchanged", 0, 0, 0)}
    assert row_versions(target) == before


def test_a_new_run_sends_only_what_changed(con, target):
    sync_crm(con, target.url)
    untouched = target.query(
        "SELECT ctid::text, xmin::text FROM kindred.grounding WHERE crm_record_id IN ('L2', 'L3')"
    )
    next_run(con)

    result = sync_crm(con, target.url)

    # Jane (L1) changed, Contact C1 is gone, Lead L4 is new; L2 and L3 were rebuilt with a new
    # generated_at but say the same, so their documents are not sent again.
    assert counts(result) == {
        "record_scores": ("change feed", 1, 1, 1),
        "grounding": ("compared with mirror", 1, 1, 1),
    }
    assert_mirror_equals_warehouse(con, target)
    assert (
        target.query(
            "SELECT ctid::text, xmin::text FROM kindred.grounding WHERE crm_record_id IN ('L2', 'L3')"
        )
        == untouched
    )
    cursor = target.query(
        "SELECT feed_cursor FROM kindred.kindred_sync_state WHERE mirror_table = 'record_scores'"
    )
    latest = con.sql("SELECT max(changed_at) FROM crm.record_scores_changes").fetchall()[0][0]
    assert cursor[0][0].replace(tzinfo=None) == latest


def test_deletes_only_rows_this_sync_wrote(con, target):
    sync_crm(con, target.url)
    # Another writer's rows in the same tables: one with a key Kindred does not have, one under
    # another owner name, and a row for C1 that another owner wrote in a different schema source.
    target.query(
        "INSERT INTO kindred.record_scores (source, crm_object, crm_record_id, lead_score) VALUES "
        "('manual', 'Lead', 'X1', 0.5), ('crm', 'Contact', 'C9', 0.1)"
    )
    target.query(
        "UPDATE kindred.record_scores SET kindred_owner = 'other_install' WHERE crm_record_id = 'C9'"
    )
    target.query(
        "INSERT INTO kindred.grounding (source, crm_object, crm_record_id, context) VALUES ('manual', 'Lead', 'X1', '{}')"
    )
    next_run(con)
    # Everything of this owner disappears from the warehouse (as after erasing every record).
    con.execute("DELETE FROM crm.record_scores")
    con.execute(
        "INSERT INTO crm.record_scores_changes (source, crm_object, crm_record_id, change, changed_at) "
        "SELECT source, crm_object, crm_record_id, 'delete', TIMESTAMP '2030-01-01' FROM crm.record_scores_changes"
    )
    con.execute("DELETE FROM crm.grounding")

    result = sync_crm(con, target.url)

    assert counts(result)["record_scores"] == ("change feed", 0, 0, 4)
    assert counts(result)["grounding"] == ("compared with mirror", 0, 0, 4)
    assert target.query("SELECT crm_record_id, kindred_owner FROM kindred.record_scores ORDER BY 1") == [
        ("C9", "other_install"),
        ("X1", None),
    ]
    assert target.query("SELECT crm_record_id FROM kindred.grounding") == [("X1",)]


def test_a_row_another_writer_put_under_a_kindred_key_is_taken_over(con, target):
    sync_crm(con, target.url)
    target.query("DELETE FROM kindred.record_scores WHERE crm_record_id = 'L1'")
    target.query(
        "INSERT INTO kindred.record_scores (source, crm_object, crm_record_id, lead_score) VALUES ('crm', 'Lead', 'L1', 0.01)"
    )

    result = sync_crm(con, target.url, full=True)

    assert counts(result)["record_scores"] == ("full comparison", 0, 1, 0)
    assert_mirror_equals_warehouse(con, target)
    owner = target.query("SELECT kindred_owner FROM kindred.record_scores WHERE crm_record_id = 'L1'")
    assert owner == [("kindred",)]


def test_full_repairs_rows_changed_or_removed_behind_the_syncs_back(con, target):
    sync_crm(con, target.url)
    target.query("UPDATE kindred.record_scores SET churn_risk = 0.123 WHERE crm_record_id = 'C1'")
    target.query("DELETE FROM kindred.grounding WHERE crm_record_id = 'L2'")

    assert counts(sync_crm(con, target.url)) == {
        "record_scores": ("unchanged", 0, 0, 0),
        "grounding": ("unchanged", 0, 0, 0),
    }
    result = sync_crm(con, target.url, full=True)

    assert counts(result) == {
        "record_scores": ("full comparison", 0, 1, 0),
        "grounding": ("full comparison", 1, 0, 0),
    }
    assert_mirror_equals_warehouse(con, target)


def test_a_mirror_table_dropped_by_hand_is_recreated_whole(con, target):
    sync_crm(con, target.url)
    target.query("DROP TABLE kindred.record_scores")
    next_run(con)

    result = sync_crm(con, target.url)

    # Every record, not only those the feed logged since the cursor (L1 and L4).
    assert counts(result)["record_scores"] == ("compared with mirror", 4, 0, 0)
    assert_mirror_equals_warehouse(con, target)


def test_a_pruned_or_replaced_feed_falls_back_to_comparing_with_the_mirror(con, target):
    sync_crm(con, target.url)
    next_run(con)
    # The feed is pruned past the cursor: the changes of the second build are gone from it.
    con.execute("DELETE FROM crm.record_scores_changes")

    result = sync_crm(con, target.url)

    assert counts(result)["record_scores"] == ("compared with mirror", 1, 1, 1)
    assert_mirror_equals_warehouse(con, target)


def test_dry_run_counts_what_a_sync_would_do_and_writes_nothing(con, target):
    result = sync_crm(con, target.url, dry_run=True)

    assert counts(result) == {
        "record_scores": ("compared with mirror", 4, 0, 0),
        "grounding": ("compared with mirror", 4, 0, 0),
    }
    assert target.query("SELECT count(*) FROM pg_namespace WHERE nspname = 'kindred'") == [(0,)]
    assert con.sql(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'sync_log'"
    ).fetchall() == [(0,)]

    sync_crm(con, target.url)
    next_run(con)
    before = row_versions(target)
    logged = con.sql("SELECT count(*) FROM crm.sync_log").fetchall()
    dry = sync_crm(con, target.url, dry_run=True)
    assert row_versions(target) == before
    assert con.sql("SELECT count(*) FROM crm.sync_log").fetchall() == logged
    assert counts(dry) == counts(sync_crm(con, target.url))


def test_segment_membership_is_mirrored_when_asked_and_skipped_while_absent(con, target):
    result = sync_crm(con, target.url, segments=True)
    assert counts(result)["segment_membership"] == ("skipped", 0, 0, 0)
    assert "does not exist" in result.tables[2].note
    assert target.query("SELECT to_regclass('kindred.segment_membership') IS NULL") == [(True,)]

    entered = datetime(2024, 6, 30, 12)
    add_membership(
        con, [("hot_leads", "P1", entered), ("hot_leads", "P3", entered), ("at_risk", "P2", entered)]
    )
    result = sync_crm(con, target.url, segments=True)
    assert counts(result)["segment_membership"] == ("compared with mirror", 3, 0, 0)
    assert mirror_rows(target, SEGMENT_MEMBERSHIP) == sorted(
        [("at_risk", "P2", entered), ("hot_leads", "P1", entered), ("hot_leads", "P3", entered)]
    )

    # P3 leaves hot_leads, P2 re-enters at_risk later: one delete, one update.
    add_membership(con, [("hot_leads", "P1", entered), ("at_risk", "P2", datetime(2024, 7, 1))])
    result = sync_crm(con, target.url, segments=True)
    assert counts(result)["segment_membership"] == ("compared with mirror", 0, 1, 1)
    assert_mirror_equals_warehouse(con, target, (RECORD_SCORES, GROUNDING, SEGMENT_MEMBERSHIP))
    assert counts(sync_crm(con, target.url, segments=True))["segment_membership"] == ("unchanged", 0, 0, 0)


def test_grounding_built_before_content_hashes_is_still_synced(con, target):
    con.execute("ALTER TABLE crm.grounding DROP COLUMN content_hash")
    assert counts(sync_crm(con, target.url))["grounding"] == ("compared with mirror", 4, 0, 0)
    assert counts(sync_crm(con, target.url))["grounding"] == ("unchanged", 0, 0, 0)
    assert_mirror_equals_warehouse(con, target)


def test_unreachable_target_fails_clearly_and_is_logged(con, postgres_server):
    closed = f"postgresql://nobody@127.0.0.1:{_closed_port()}/nothing"

    with pytest.raises(CrmSyncFailed) as raised:
        sync_crm(con, closed)

    message = str(raised.value)
    assert message.startswith(f"cannot connect to {closed}:")
    assert "refused" in message.lower()
    logged = con.sql("SELECT target, method, inserted, error FROM crm.sync_log").fetchall()
    assert logged == [(closed, "failed", 0, message)] * 2


def test_schema_without_permission_to_create_it(con, postgres_server, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    target = new_target(postgres_server, owner=False)

    with pytest.raises(CrmSyncFailed, match=r"cannot create schema kindred: permission denied for database"):
        sync_crm(con, target.url)


def test_schema_without_permission_to_create_tables_leaves_nothing(con, postgres_server, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    target = new_target(postgres_server, owner=False)
    target.query(
        sql.SQL("CREATE SCHEMA kindred; GRANT USAGE ON SCHEMA kindred TO {}").format(
            sql.Identifier(target.role)
        )
    )

    with pytest.raises(
        CrmSyncFailed, match=r"cannot create table kindred\.\w+: permission denied for schema kindred"
    ):
        sync_crm(con, target.url)
    assert target.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'kindred'") == [(0,)]


def test_mirror_table_with_other_columns_is_refused_and_nothing_is_half_written(con, target):
    target.query(
        sql.SQL(
            "CREATE SCHEMA kindred AUTHORIZATION {role}; "
            "CREATE TABLE kindred.grounding (source text, crm_object text, crm_record_id text, context text, "
            "PRIMARY KEY (source, crm_object, crm_record_id)); ALTER TABLE kindred.grounding OWNER TO {role}"
        ).format(role=sql.Identifier(target.role))
    )

    with pytest.raises(CrmSyncFailed) as raised:
        sync_crm(con, target.url)

    message = str(raised.value)
    assert "mirror table kindred.grounding does not match" in message
    assert "column context is text, not jsonb" in message
    assert "column masked is missing" in message
    # record_scores was created and filled before grounding failed: all of it was rolled back.
    assert target.query("SELECT to_regclass('kindred.record_scores') IS NULL") == [(True,)]


def test_existing_mirror_the_user_may_not_write(con, target, postgres_server):
    sync_crm(con, target.url)
    target.query(
        sql.SQL(
            "ALTER TABLE kindred.grounding OWNER TO postgres; REVOKE ALL ON kindred.grounding FROM {}"
        ).format(sql.Identifier(target.role))
    )
    next_run(con)

    with pytest.raises(CrmSyncFailed, match=r"may not read and write kindred\.grounding"):
        sync_crm(con, target.url)
    assert target.query("SELECT count(*) FROM kindred.record_scores WHERE crm_record_id = 'L4'") == [(0,)]


def test_password_never_appears_in_errors_logs_or_tracebacks(con, target, monkeypatch, caplog):
    monkeypatch.setenv("PGPASSWORD", "Wr0ng-but-secret-Pa55")
    caplog.set_level(logging.DEBUG)

    with pytest.raises(CrmSyncFailed) as raised:
        sync_crm(con, target.url)

    assert "password authentication failed" in str(raised.value)
    shown = [str(raised.value), caplog.text, "".join(traceback.format_exception(raised.value))]
    shown += [str(row) for row in con.sql("SELECT * FROM crm.sync_log").fetchall()]
    assert not any("Wr0ng-but-secret-Pa55" in text for text in shown)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://sync:Inline-Pa55word@127.0.0.1:5432/crm",
        "postgresql://sync@127.0.0.1:5432/crm?password=Inline-Pa55word",
    ],
)
def test_a_password_in_the_url_is_refused_without_repeating_it(con, url):
    with pytest.raises(CrmSyncError) as raised:
        sync_crm(con, url)
    assert "contains a password" in str(raised.value)
    assert "Inline-Pa55word" not in str(raised.value)
    assert con.sql(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'sync_log'"
    ).fetchall() == [(0,)]


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
