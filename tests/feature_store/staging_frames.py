"""Build `staging.*` and `identity.record_xref` in a test database from a few Python rows.

The tables get the full column set of docs/data-model.md, so the code under test sees what the
real pipeline writes; rows name only the columns they care about.
"""

from __future__ import annotations

import json

import duckdb
import polars as pl

from warehouse.canonical import PERSON_ATTRIBUTES

_LINEAGE = {"_file": "VARCHAR", "_row_number": "BIGINT", "_ingested_at": "TIMESTAMP"}
_PERSON = {name: "VARCHAR" for name in PERSON_ATTRIBUTES}

STAGING_SCHEMAS: dict[str, dict[str, str]] = {
    "people": {
        "source": "VARCHAR",
        "record_id": "VARCHAR",
        "id_namespace": "VARCHAR",
        "crm_object": "VARCHAR",
        **_PERSON,
        "created_at": "TIMESTAMP",
        "updated_at": "TIMESTAMP",
        "status": "VARCHAR",
        "converted": "BOOLEAN",
        "converted_at": "TIMESTAMP",
        "lead_source": "VARCHAR",
        **_LINEAGE,
    },
    "events": {
        "source": "VARCHAR",
        "message_id": "VARCHAR",
        "type": "VARCHAR",
        "event": "VARCHAR",
        "user_id": "VARCHAR",
        "anonymous_id": "VARCHAR",
        "record_id": "VARCHAR",
        "id_namespace": "VARCHAR",
        "timestamp": "TIMESTAMP",
        "properties": "JSON",
        "traits": "JSON",
        **_PERSON,
        **_LINEAGE,
    },
    "orders": {
        "source": "VARCHAR",
        "order_id": "VARCHAR",
        "customer_id": "VARCHAR",
        "record_id": "VARCHAR",
        "id_namespace": "VARCHAR",
        "ordered_at": "TIMESTAMP",
        "amount": "DOUBLE",
        "quantity": "DOUBLE",
        "product_id": "VARCHAR",
        "product_category": "VARCHAR",
        **_PERSON,
        **_LINEAGE,
    },
    "cases": {
        "source": "VARCHAR",
        "case_id": "VARCHAR",
        "customer_id": "VARCHAR",
        "record_id": "VARCHAR",
        "id_namespace": "VARCHAR",
        "opened_at": "TIMESTAMP",
        "closed_at": "TIMESTAMP",
        "status": "VARCHAR",
        "subject": "VARCHAR",
        "description": "VARCHAR",
        **_PERSON,
        **_LINEAGE,
    },
}
_DEFAULT_SOURCE = {"people": "crm", "events": "web", "orders": "shop", "cases": "support"}


def write_staging(
    con: duckdb.DuckDBPyConnection,
    *,
    people: list[dict] | None = None,
    events: list[dict] | None = None,
    orders: list[dict] | None = None,
    cases: list[dict] | None = None,
    profiles: dict[str, str] | None = None,
) -> None:
    """Create all four staging tables and `identity.record_xref` from rows.

    Each row needs `record_id`; `source` defaults per kind. The profile of a record is
    `profiles[record_id]` when given, else the record_id itself. `properties` may be a dict.
    """
    for schema in ("staging", "identity"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    xref: dict[tuple[str, str], str] = {}
    for kind, rows in (("people", people), ("events", events), ("orders", orders), ("cases", cases)):
        schema = STAGING_SCHEMAS[kind]
        columns = ", ".join(f'"{name}" {sql_type}' for name, sql_type in schema.items())
        con.execute(f"CREATE OR REPLACE TABLE staging.{kind} ({columns})")
        rows = [{"source": _DEFAULT_SOURCE[kind], **row} for row in rows or []]
        if not rows:
            continue
        for row in rows:
            if isinstance(row.get("properties"), dict):
                row["properties"] = json.dumps(row["properties"])
            profile = (profiles or {}).get(row["record_id"], row["record_id"])
            xref[(row["source"], row["record_id"])] = profile
        frame = pl.from_dicts(rows, infer_schema_length=None)
        con.register("_staging_rows", frame.to_arrow())
        con.execute(f"INSERT INTO staging.{kind} BY NAME SELECT * FROM _staging_rows")
        con.unregister("_staging_rows")
    frame = pl.DataFrame(
        [{"source": s, "record_id": r, "profile_id": p} for (s, r), p in xref.items()],
        schema={"source": pl.String, "record_id": pl.String, "profile_id": pl.String},
    )
    con.register("_xref_rows", frame.to_arrow())
    con.execute(
        "CREATE OR REPLACE TABLE identity.record_xref AS "
        "SELECT *, current_timestamp::TIMESTAMP AS resolved_at FROM _xref_rows"
    )
    con.unregister("_xref_rows")
