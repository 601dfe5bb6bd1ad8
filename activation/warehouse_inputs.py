"""The warehouse tables activation reads, seen through fixed-shape views.

Upstream stages may not have run (a skipped model leaves no `scores.predictions` rows, a
deployment without a support desk has no cases), and their column types vary slightly (`as_of`
as DATE or TIMESTAMP, `top_factors` as JSON, text or a list of structs). Activation SQL therefore
never reads those tables directly: `input_views` exposes each one as a temporary view with exactly
the columns and types below, empty when the table does not exist and NULL for a missing column.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb

import warehouse
from warehouse.canonical import PERSON_ATTRIBUTES
from warehouse.connection import quote_table, table_exists

log = logging.getLogger(__name__)

# Every person attribute: grounding masks each of the person's values wherever it appears.
_PERSON = {name: "VARCHAR" for name in PERSON_ATTRIBUTES}
# Where a staged row came from, for a document's provenance.
_LINEAGE = {"_file": "VARCHAR", "_row_number": "BIGINT"}

INPUT_COLUMNS: dict[str, dict[str, str]] = {
    "staging.people": {
        "source": "VARCHAR",
        "record_id": "VARCHAR",
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
    "identity.record_xref": {"source": "VARCHAR", "record_id": "VARCHAR", "profile_id": "VARCHAR"},
    "profiles.unified_profile": {
        "profile_id": "VARCHAR",
        **_PERSON,
        "n_sources": "BIGINT",
        "first_seen": "TIMESTAMP",
        "last_seen": "TIMESTAMP",
    },
    "profiles.contact_points": {
        "profile_id": "VARCHAR",
        "kind": "VARCHAR",
        "value": "VARCHAR",
        "is_primary": "BOOLEAN",
        "last_seen": "TIMESTAMP",
    },
    "scores.predictions": {
        "profile_id": "VARCHAR",
        "model": "VARCHAR",
        "model_version": "VARCHAR",
        "as_of": "TIMESTAMP",
        "score": "DOUBLE",
        "score_1_99": "INTEGER",
        "top_factors": "VARCHAR",
        "scored_at": "TIMESTAMP",
    },
    "scores.offers": {
        "profile_id": "VARCHAR",
        "rank": "INTEGER",
        "offer_id": "VARCHAR",
        "score": "DOUBLE",
        "model_version": "VARCHAR",
        "as_of": "TIMESTAMP",
    },
    # The offer catalog (empty or absent without one): offers are shown with their names.
    "scores.offer_catalog": {"offer_id": "VARCHAR", "name": "VARCHAR"},
    "staging.events": {
        "source": "VARCHAR",
        "record_id": "VARCHAR",
        "message_id": "VARCHAR",
        "timestamp": "TIMESTAMP",
        "type": "VARCHAR",
        "event": "VARCHAR",
        "properties": "VARCHAR",
        **_PERSON,
        **_LINEAGE,
    },
    "staging.orders": {
        "source": "VARCHAR",
        "record_id": "VARCHAR",
        "order_id": "VARCHAR",
        "ordered_at": "TIMESTAMP",
        "amount": "DOUBLE",
        "quantity": "DOUBLE",
        "product_id": "VARCHAR",
        "product_category": "VARCHAR",
        **_PERSON,
        **_LINEAGE,
    },
    "staging.cases": {
        "source": "VARCHAR",
        "record_id": "VARCHAR",
        "case_id": "VARCHAR",
        "opened_at": "TIMESTAMP",
        "closed_at": "TIMESTAMP",
        "status": "VARCHAR",
        "subject": "VARCHAR",
        "description": "VARCHAR",
        **_PERSON,
        **_LINEAGE,
    },
}

# Views built on the input views, in dependency order (files in warehouse/sql/crm/views/).
DERIVED_VIEWS = ("crm_records", "latest_predictions", "latest_offers", "known_pii")
# Session variables the derived views read: the as-of cut-off (NULL: none) and the person attributes.
AS_OF_VARIABLE = "activation_as_of"
ATTRIBUTES_VARIABLE = "activation_person_attributes"

_SQL_DIR = Path(warehouse.__file__).parent / "sql" / "crm"
_NESTED_TYPES = ("STRUCT", "MAP", "UNION")


def input_view_name(table: str) -> str:
    """The temporary view name that stands for a warehouse table (`scores.offers` -> `activation_scores_offers`)."""
    return "activation_" + table.replace(".", "_")


def crm_sql(name: str) -> str:
    """The text of `warehouse/sql/crm/<name>.sql`.

    Args:
        name: the file stem, optionally inside a sub-folder (`views/crm_records`).

    Returns:
        The SQL text.
    """
    return (_SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


@contextmanager
def input_views(con: duckdb.DuckDBPyConnection, *, as_of: datetime | None = None) -> Iterator[None]:
    """Expose every activation input as a fixed-shape temporary view for the duration of a block.

    Args:
        con: warehouse connection.
        as_of: the run's cut-off: the latest predictions and offers are those of the newest
            scoring run at or before it (None: the newest run of all).

    Yields:
        Nothing; the views `activation_<schema>_<table>`, `activation_crm_records`,
        `activation_latest_predictions`, `activation_latest_offers` and `activation_known_pii`
        exist inside the block.
    """
    created: list[str] = []
    con.execute(f"SET VARIABLE {AS_OF_VARIABLE} = CAST(? AS TIMESTAMP)", [as_of])
    con.execute(f"SET VARIABLE {ATTRIBUTES_VARIABLE} = ?", [list(PERSON_ATTRIBUTES)])
    try:
        for table, columns in INPUT_COLUMNS.items():
            view = input_view_name(table)
            con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {_input_select(con, table, columns)}")
            created.append(view)
        for name in DERIVED_VIEWS:
            view = f"activation_{name}"
            con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {crm_sql(f'views/{name}')}")
            created.append(view)
        yield
    finally:
        for view in reversed(created):
            con.execute(f"DROP VIEW IF EXISTS {view}")
        con.execute(f"RESET VARIABLE {AS_OF_VARIABLE}")
        con.execute(f"RESET VARIABLE {ATTRIBUTES_VARIABLE}")


def _input_select(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str]) -> str:
    """A SELECT over `table` returning exactly `columns`, or no rows when the table is missing."""
    if not table_exists(con, table):
        log.info("%s does not exist yet: activation treats it as empty", table)
        nulls = ", ".join(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in columns.items())
        return f"SELECT {nulls} WHERE false"
    schema, name = table.split(".")
    present = dict(
        con.sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            params=[schema, name],
        ).fetchall()
    )
    missing = [c for c in columns if c not in present]
    if missing:
        log.info("%s has no column %s: read as NULL", table, ", ".join(missing))
    selected = ", ".join(_column_expr(c, kind, present.get(c)) for c, kind in columns.items())
    return f"SELECT {selected} FROM {quote_table(table)}"


def _column_expr(column: str, kind: str, actual: str | None) -> str:
    quoted = f'"{column}"'
    if actual is None:
        return f"CAST(NULL AS {kind}) AS {quoted}"
    actual = actual.upper()
    if kind == "VARCHAR" and (actual.startswith(_NESTED_TYPES) or actual.endswith("]")):
        # Lists and structs (e.g. top_factors written from a polars list of structs) become JSON text.
        return f"CAST(to_json({quoted}) AS VARCHAR) AS {quoted}"
    if kind == "TIMESTAMP" and actual.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"timezone('UTC', {quoted}) AS {quoted}"
    return f"TRY_CAST({quoted} AS {kind}) AS {quoted}"
