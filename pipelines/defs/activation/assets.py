"""Scores and profiles -> CRM-facing tables: one row per CRM record, and copilot grounding."""

import dagster as dg

from activation.grounding import build_grounding
from activation.record_scores import build_record_scores
from pipelines.resources import KindredResource

_SCORES = [["scores", "lead_score"], ["scores", "churn_risk"], ["scores", "next_best_offer"]]


@dg.asset(
    key=["crm", "record_scores"],
    description="Current scores, reasons and best offer for every CRM lead and contact, plus a change "
    "feed (crm.record_scores_changes). One row per CRM record.",
    deps=_SCORES,
    kinds={"duckdb"},
    pool="duckdb",
)
def record_scores(kindred: KindredResource) -> dg.MaterializeResult:
    with kindred.connect() as con:
        rows = build_record_scores(con)
    return dg.MaterializeResult(metadata={"dagster/row_count": rows})


@dg.asset(
    key=["crm", "grounding"],
    description="A PII-masked JSON summary of each CRM record's person for LLM copilots, as of the run's "
    "cut-off, with what they consent to and the provenance of each part; contact points of channels they "
    "opted out of entirely are left out. One row per CRM record.",
    deps=[*_SCORES, ["profiles", "unified_profile"], ["profiles", "consent"]],
    kinds={"duckdb"},
    pool="duckdb",
)
def grounding(kindred: KindredResource) -> dg.MaterializeResult:
    with kindred.connect() as con:
        as_of = kindred.as_of_date(con)
        rows = build_grounding(con, config=kindred.load(), as_of=as_of)
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "as_of": str(as_of)})
