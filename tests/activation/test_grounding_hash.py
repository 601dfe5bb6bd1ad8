"""The grounding document's text and content hash: the hash ignores the build stamp, nothing else."""

from __future__ import annotations

import json

from activation.grounding import build_grounding
from activation.grounding_hash import document_text_and_hash
from tests.activation.conftest import LATER, NOW

DOCUMENT = {
    "record": {"crm_object": "Lead", "note": 'naïve "quoted" text'},
    "scores": {"lead_score": None, "churn_risk": {"score": 0.25}},
    "generated_at": "2024-06-30T12:00:00Z",
}


def test_text_is_the_whole_document_in_its_key_order():
    text, _ = document_text_and_hash(DOCUMENT)
    assert text == json.dumps(DOCUMENT, ensure_ascii=False, separators=(",", ":"))
    assert list(json.loads(text)) == ["record", "scores", "generated_at"]


def test_the_hash_ignores_the_build_stamp_and_sees_any_other_change():
    _, digest = document_text_and_hash(DOCUMENT)
    _, restamped = document_text_and_hash({**DOCUMENT, "generated_at": "2025-01-01T00:00:00Z"})
    _, changed = document_text_and_hash(
        {**DOCUMENT, "scores": {"lead_score": None, "churn_risk": {"score": 0.26}}}
    )
    assert restamped == digest
    assert changed != digest
    assert len(digest) == 32


def test_a_stamp_in_the_middle_keeps_the_key_order():
    document = {"generated_at": "2024-06-30T12:00:00Z", "record": {"crm_object": "Lead"}}
    text, digest = document_text_and_hash(document)
    assert text == json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    assert digest == document_text_and_hash({"record": {"crm_object": "Lead"}})[1]


def test_rebuilt_grounding_keeps_its_hashes_unless_a_document_says_something_else(con):
    build_grounding(con, as_of=NOW, generated_at=NOW)
    first = dict(con.sql("SELECT crm_record_id, content_hash FROM crm.grounding").fetchall())
    build_grounding(con, as_of=LATER, generated_at=LATER)
    again = dict(con.sql("SELECT crm_record_id, content_hash FROM crm.grounding").fetchall())
    con.execute("UPDATE scores.predictions SET score = 0.9 WHERE profile_id = 'P1' AND model = 'churn_risk'")
    build_grounding(con, as_of=LATER, generated_at=LATER)
    changed = dict(con.sql("SELECT crm_record_id, content_hash FROM crm.grounding").fetchall())

    assert again == first
    assert {k for k in first if changed[k] != first[k]} == {"L1"}
