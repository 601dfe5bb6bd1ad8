"""crm.grounding as of the run's cut-off, with the provenance of each part; one record built on demand."""

from __future__ import annotations

import json
import re
from datetime import date, datetime

import polars as pl

from activation.grounding import GROUNDING, build_grounding, record_grounding
from tests.activation.conftest import NOW, make_warehouse
from warehouse.connection import read_table, replace_table


def _contexts(con) -> dict[str, dict]:
    table = read_table(con, GROUNDING)
    return {row["crm_record_id"]: json.loads(row["context"]) for row in table.to_dicts()}


def test_items_and_sections_carry_their_provenance(con):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    jane = _contexts(con)["L1"]
    activity = jane["recent_activity"]
    assert [(o["source"], o["source_rows"]) for o in activity["orders"]] == [
        ("shop", "orders.csv:4"),
        ("shop", "orders.csv:2,3"),
    ]
    assert activity["cases"][0]["source_row"] == "cases.csv:8"
    assert (activity["events"][0]["source"], activity["events"][0]["source_row"]) == (
        "web",
        "2024-06.jsonl:4",
    )
    provenance = jane["provenance"]
    assert provenance["record"] == {
        "tables": ["staging.people"],
        "source": "crm",
        "source_row": "people.csv:17",
    }
    assert provenance["profile"]["profile_id"] == "P1"
    assert provenance["profile"]["sources"] == [
        "crm",
        "desk",
        "email_esp",
        "mobile_app",
        "newsletter",
        "shop",
        "web",
    ]
    assert provenance["scores"] == {"tables": ["scores.predictions"]}
    # No landing folder leaves Kindred: file names only.
    assert "/landing/" not in json.dumps(jane)


def test_as_of_document_shows_nothing_after_the_cut_off():
    con = make_warehouse()
    people = read_table(con, "staging.people")
    # Jane's lead converts after the cut-off: the document must not know it yet.
    converted = people.with_columns(
        pl.when(pl.col("record_id") == "L1").then(True).otherwise(pl.col("converted")).alias("converted"),
        pl.when(pl.col("record_id") == "L1")
        .then(pl.lit(datetime(2024, 6, 28)))
        .otherwise(pl.col("converted_at"))
        .alias("converted_at"),
    )
    # Ana's lead is created after the cut-off: her document cannot know when.
    converted = converted.with_columns(
        pl.when(pl.col("record_id") == "L2")
        .then(pl.lit(datetime(2024, 6, 25)))
        .otherwise(pl.col("created_at"))
        .alias("created_at")
    )
    replace_table(con, "staging.people", converted)
    cut_off = date(2024, 6, 22)
    build_grounding(con, as_of=cut_off, generated_at=NOW)
    jane = _contexts(con)["L1"]
    assert jane["as_of"] == "2024-06-22T00:00:00Z"
    assert jane["generated_at"] == "2024-06-30T12:00:00Z"
    assert (jane["record"]["converted"], jane["record"]["converted_at"]) == (False, None)
    assert jane["record"]["created_at"] == "2023-01-10"
    assert _contexts(con)["L2"]["record"]["created_at"] is None
    activity = jane["recent_activity"]
    assert [o["order_id"] for o in activity["orders"]] == ["O2", "O1"]
    # K1 was opened on 2024-06-25, after the cut-off.
    assert [c["case_id"] for c in activity["cases"]] == ["K2", "K3"]
    assert [e["at"][:10] for e in activity["events"]] == ["2024-06-21", "2024-06-20", "2024-01-02"]
    assert jane["counts"] == {
        "orders": 2,
        "total_spent": 135.49,
        "cases": 2,
        "open_cases": 0,
        "events": 3,
        "events_last_30_days": 2,
    }
    assert jane["profile"]["last_seen"] == "2024-06-21"
    # Scores of the newest run at or before the cut-off: lead score version 1 of 2024-05-31;
    # churn risk and offers were first scored on 2024-06-30.
    lead = jane["scores"]["lead_score"]
    assert (lead["model_version"], lead["score"], lead["as_of"]) == ("1", 0.11, "2024-05-31")
    assert jane["scores"]["churn_risk"] is None
    assert jane["next_best_offers"] is None
    described = {k: v for k, v in jane.items() if k not in ("as_of", "generated_at")}
    every_date = re.findall(r"20\d\d-\d\d-\d\d", json.dumps(described))
    assert every_date and max(every_date) < "2024-06-22", max(every_date)


def test_record_grounding_is_clear_and_knows_the_person(con):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    record = record_grounding(con, "Lead", "L1")
    assert record.profile_id == "P1"
    assert record.document["profile"]["last_name"] == "Doe"
    assert "Jane.Doe@Example.com" in record.document["profile"]["emails"] or (
        "jane.doe@example.com" in record.document["profile"]["emails"]
    )
    assert record.document["as_of"] == "2024-06-30T12:00:00Z"
    assert {"Jane", "Doe"} <= set(record.known.of("name"))
    assert "12 Main St" in record.known.of("address")
    assert "+442079460958" not in record.known.of("phone")  # John's number is not Jane's
