"""What Kindred knows about a person: every source, and classified raw columns without a canonical field."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from activation.grounding import build_grounding, grounding_for, record_grounding
from activation.known_pii import known_pii_for
from privacy.masking import Masker, PlaceholderStyle
from privacy.tokens import Vault
from tests.activation.conftest import NOW
from warehouse.config import load_config
from warehouse.connection import read_table, replace_table

MOBILE = "+1 646 555 0177"
APP_PHONE = "+1 917 555 0123"


def _config(tmp_path: Path):
    path = tmp_path / "kindred.yaml"
    path.write_text(
        "sources:\n"
        "  - {name: crm, kind: people, path: people.csv}\n"
        "  - {name: web, kind: events, path: web/*.jsonl}\n"
        "privacy:\n"
        "  pii_fields: {crm.MobilePhone: phone, web.context.traits.mobile: phone, crm.Nickname: name}\n"
    )
    return load_config(path)


def _with_raw_columns(con) -> None:
    """Raw rows behind Jane's CRM record and one of her web events, with columns no canonical field maps."""
    replace_table(
        con,
        "raw.crm",
        pl.DataFrame(
            {
                "source": ["crm"],
                "_file": ["/landing/crm/people.csv"],
                "_row_number": [17],
                "MobilePhone": [MOBILE],
                "Nickname": ["Janie"],
            }
        ),
    )
    events = read_table(con, "staging.events").filter(pl.col("source") == "web").head(1)
    replace_table(
        con,
        "raw.web",
        pl.DataFrame(
            {
                "source": ["web"],
                "_file": events["_file"].to_list(),
                "_row_number": events["_row_number"].to_list(),
                "_raw": [json.dumps({"context": {"traits": {"mobile": APP_PHONE}}})],
            }
        ),
    )
    cases = read_table(con, "staging.cases")
    replace_table(
        con,
        "staging.cases",
        cases.with_columns(
            pl.when(pl.col("case_id") == "K2")
            .then(pl.lit(f"Janie says text {MOBILE} or {APP_PHONE}"))
            .otherwise(pl.col("description"))
            .alias("description")
        ),
    )


def test_classified_raw_columns_are_known_and_masked(con, tmp_path):
    _with_raw_columns(con)
    config = _config(tmp_path)
    known = known_pii_for(con, "P1", config)
    assert {MOBILE, APP_PHONE} <= set(known.of("phone"))
    assert "Janie" in known.of("name")
    record = record_grounding(con, "Lead", "L1", config=config)
    assert MOBILE in record.known.of("phone")
    build_grounding(con, config=config, as_of=NOW, generated_at=NOW)
    k2 = next(c for c in grounding_for(con, "Lead", "L1")["recent_activity"]["cases"] if c["case_id"] == "K2")
    # A single-word name shows like a first name for display; an LLM gets a placeholder for it.
    assert k2["description"] == "Janie says text ***-***-0177 or ***-***-0123"
    vault = Vault()
    masked = Masker(PlaceholderStyle(vault), known=record.known).text(f"Janie says text {MOBILE}")
    assert masked == "<PERSON_1> says text <PHONE_1>"


def test_everything_staged_for_the_person_is_known(con):
    known = known_pii_for(con, "P1")
    # From the CRM record, the shop's billing fields, the case's supplied fields and identify traits.
    assert {"jane.doe@example.com", "jdoe.shopper@example.net", "jane.d@work.example"} <= set(
        known.of("email")
    )
    assert {"+1.415.555.0199", "415-555-0101"} <= set(known.of("phone"))
    assert {"Jane", "Doe"} <= set(known.of("name"))
    assert "12 Main St" in known.of("address") and "78701" in known.of("address")
    # The ids of her source records (too short ones are not searched for).
    assert known.of("identifier") == []
    assert known_pii_for(con, "P404").items() == []
