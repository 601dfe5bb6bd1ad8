"""crm.record_scores and its change feed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl

from activation.record_scores import (
    RECORD_SCORES,
    RECORD_SCORES_CHANGES,
    build_record_scores,
    read_changes,
)
from tests.activation.conftest import LATER, NOW, make_warehouse
from warehouse.connection import read_table, replace_table, table_exists

CONTRACT_COLUMNS = [
    "crm_object",
    "crm_record_id",
    "profile_id",
    "lead_score",
    "lead_score_1_99",
    "lead_score_reasons",
    "churn_risk",
    "churn_risk_1_99",
    "churn_risk_reasons",
    "best_offer",
    "best_offer_score",
    "lead_score_model_version",
    "churn_risk_model_version",
    "next_best_offer_model_version",
    "updated_at",
]


def _row(con, record_id: str) -> dict:
    rows = read_table(con, RECORD_SCORES).filter(pl.col("crm_record_id") == record_id).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_one_row_per_crm_record(con):
    written = build_record_scores(con, now=NOW)
    table = read_table(con, RECORD_SCORES)
    assert written == table.height == 4
    assert table.columns[: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS
    assert sorted(table["crm_record_id"].to_list()) == ["C1", "L1", "L2", "L3"]
    # The newsletter record has no crm_object: not a CRM record.
    assert "N1" not in table["crm_record_id"].to_list()
    assert table.select("source", "crm_object", "crm_record_id").is_duplicated().sum() == 0


def test_lead_gets_latest_scores_reasons_and_best_offer(con):
    build_record_scores(con, now=NOW)
    jane = _row(con, "L1")
    assert jane["profile_id"] == "P1"
    # The newest as_of wins over the older run (0.11).
    assert jane["lead_score"] == 0.83
    assert jane["lead_score_1_99"] == 83
    assert jane["lead_score_model_version"] == "2"
    assert jane["lead_score_reasons"].startswith("Opened 7 emails in 90 days (+); Last order 12 days ago (-)")
    assert jane["churn_risk"] == 0.2
    assert jane["churn_risk_reasons"] == "Has 1 open support case (+)"
    assert jane["best_offer"] == "Outdoor"
    assert jane["best_offer_score"] == 0.4
    assert jane["next_best_offer_model_version"] == "7"
    assert jane["updated_at"] == NOW


def test_contacts_have_no_lead_score(con):
    build_record_scores(con, now=NOW)
    john = _row(con, "C1")
    assert john["lead_score"] is None
    assert john["lead_score_1_99"] is None
    assert john["lead_score_reasons"] is None
    assert john["lead_score_model_version"] is None
    assert john["churn_risk"] == 0.7
    assert john["churn_risk_reasons"] == "Spent 1,234.50 in 365 days (-)"
    assert john["best_offer"] == "Garden"


def test_unscored_and_unlinked_records_keep_their_row_with_nulls(con):
    build_record_scores(con, now=NOW)
    ana = _row(con, "L2")
    assert ana["profile_id"] == "P3"
    unlinked = _row(con, "L3")
    assert unlinked["profile_id"] is None
    for row in (ana, unlinked):
        assert row["lead_score"] is None
        assert row["churn_risk"] is None
        assert row["best_offer"] is None


def test_skipped_model_leaves_its_columns_null(con):
    con.execute("DELETE FROM scores.predictions WHERE model = 'lead_score'")
    build_record_scores(con, now=NOW)
    table = read_table(con, RECORD_SCORES)
    assert table.height == 4
    assert table["lead_score"].null_count() == 4
    assert table["lead_score_reasons"].null_count() == 4
    assert table["lead_score_model_version"].null_count() == 4
    assert _row(con, "L1")["churn_risk"] == 0.2


def test_missing_score_tables_still_write_every_record():
    con = make_warehouse(skip=("scores.predictions", "scores.offers", "profiles.unified_profile"))
    assert build_record_scores(con, now=NOW) == 4
    table = read_table(con, RECORD_SCORES)
    for column in ("lead_score", "churn_risk", "best_offer", "next_best_offer_model_version"):
        assert table[column].null_count() == 4
    assert table.schema["lead_score"] == pl.Float64
    assert table.schema["best_offer"] == pl.String


def test_no_people_writes_empty_tables():
    con = make_warehouse(skip=("staging.people",))
    assert build_record_scores(con, now=NOW) == 0
    assert table_exists(con, RECORD_SCORES)
    assert table_exists(con, RECORD_SCORES_CHANGES)
    assert read_table(con, RECORD_SCORES).columns[: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS


def test_first_build_logs_every_row_as_insert(con):
    build_record_scores(con, now=NOW)
    changes = read_table(con, RECORD_SCORES_CHANGES)
    assert changes.height == 4
    assert set(changes["change"]) == {"insert"}
    assert set(changes["changed_at"]) == {NOW}


def test_unchanged_rebuild_adds_no_changes_and_keeps_updated_at(con):
    build_record_scores(con, now=NOW)
    before = read_table(con, RECORD_SCORES)
    build_record_scores(con, now=LATER)
    assert read_table(con, RECORD_SCORES_CHANGES).height == 4
    after = read_table(con, RECORD_SCORES)
    assert after.equals(before)
    assert set(after["updated_at"]) == {NOW}


def test_changed_score_is_logged_once_with_its_new_values(con):
    build_record_scores(con, now=NOW)
    con.execute(
        "UPDATE scores.predictions SET score = 0.91, score_1_99 = 91 "
        "WHERE profile_id = 'P1' AND model = 'lead_score' AND model_version = '2'"
    )
    build_record_scores(con, now=LATER)
    new = read_table(con, RECORD_SCORES_CHANGES).filter(pl.col("changed_at") == LATER)
    assert new.height == 1
    change = new.to_dicts()[0]
    assert (change["crm_record_id"], change["change"], change["lead_score"]) == ("L1", "update", 0.91)
    assert change["updated_at"] == LATER
    assert _row(con, "L1")["updated_at"] == LATER
    assert _row(con, "C1")["updated_at"] == NOW


def test_new_and_removed_records_are_logged(con):
    build_record_scores(con, now=NOW)
    people = read_table(con, "staging.people")
    people = people.filter(pl.col("record_id") != "L2")
    extra = people.filter(pl.col("record_id") == "L3").with_columns(pl.lit("L4").alias("record_id"))
    replace_table(con, "staging.people", pl.concat([people, extra]))
    build_record_scores(con, now=LATER)
    new = read_table(con, RECORD_SCORES_CHANGES).filter(pl.col("changed_at") == LATER).sort("crm_record_id")
    assert new.select("crm_record_id", "change").rows() == [("L2", "delete"), ("L4", "insert")]
    deleted = new.filter(pl.col("change") == "delete").to_dicts()[0]
    assert deleted["profile_id"] == "P3"
    assert "L2" not in read_table(con, RECORD_SCORES)["crm_record_id"].to_list()


def test_read_changes_returns_latest_change_per_record_since(con):
    build_record_scores(con, now=NOW)
    con.execute("UPDATE scores.offers SET offer_id = 'Kayaks' WHERE profile_id = 'P2'")
    build_record_scores(con, now=LATER)
    assert read_changes(con).height == 4
    since = read_changes(con, since=NOW)
    assert since.select("crm_record_id", "change", "best_offer").rows() == [("C1", "update", "Kayaks")]
    assert read_changes(con, since=LATER).height == 0
    assert read_changes(make_warehouse(), since=datetime(2020, 1, 1)).height == 0


def test_reads_top_factors_stored_as_json_or_as_a_list_of_structs(con):
    con.execute("ALTER TABLE scores.predictions ALTER top_factors TYPE JSON USING CAST(top_factors AS JSON)")
    build_record_scores(con, now=NOW)
    assert _row(con, "L1")["lead_score_reasons"].startswith("Opened 7 emails in 90 days (+)")

    con.execute(
        "ALTER TABLE scores.predictions ALTER top_factors "
        "TYPE STRUCT(feature VARCHAR, value DOUBLE, contribution DOUBLE)[] "
        "USING CAST(top_factors AS STRUCT(feature VARCHAR, value DOUBLE, contribution DOUBLE)[])"
    )
    build_record_scores(con, now=LATER)
    assert _row(con, "C1")["churn_risk_reasons"] == "Spent 1,234.50 in 365 days (-)"
    # The reasons read the same whatever the storage type, so nothing changed.
    assert read_changes(con, since=NOW).height == 0


def test_now_with_a_time_zone_is_stored_as_utc(con):
    paris_summer = timezone(timedelta(hours=2))
    build_record_scores(con, now=datetime(2024, 6, 30, 14, 0, tzinfo=paris_summer))
    assert set(read_table(con, RECORD_SCORES)["updated_at"]) == {NOW}
