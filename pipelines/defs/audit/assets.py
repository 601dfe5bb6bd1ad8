"""The audit log's warehouse views over the files every Kindred process appends to (privacy.audit)."""

import dagster as dg

from pipelines.resources import KindredResource
from privacy.audit import ACCESS_LOG, LLM_CALLS, create_views
from warehouse.connection import row_count


def audit_view(table: str, description: str):
    """The asset that points `audit.<table>` at the audit files and counts their rows."""

    @dg.asset(key=["audit", table], description=description, kinds={"duckdb"}, pool="duckdb")
    def view(kindred: KindredResource) -> dg.MaterializeResult:
        with kindred.connect() as con:
            create_views(con)
            rows = row_count(con, f"audit.{table}")
        return dg.MaterializeResult(metadata={"dagster/row_count": rows})

    return view


access_log = audit_view(
    ACCESS_LOG,
    "Every read of grounding, profiles or scores through the command line, the API or MCP: who, when, "
    "which record, which fields, masked or not. A view over KINDRED_HOME/audit/access_log; one row per read.",
)
llm_calls = audit_view(
    LLM_CALLS,
    "Every LLM call: masked prompt and answer, model, endpoint host, template version, tokens, latency, "
    "who. A view over KINDRED_HOME/audit/llm_calls; one row per call.",
)
