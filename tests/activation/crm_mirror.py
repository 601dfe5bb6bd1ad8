"""Helpers for the CRM sync tests: a target database with a password-protected role, a warehouse
with real `crm` tables (built by the activation builders from the tiny warehouse in conftest), the
next run's changes, and comparing the mirror with the warehouse row by row.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
from psycopg import sql

from activation.crm_sync.tables import GROUNDING, RECORD_SCORES, SEGMENT_MEMBERSHIP, MirrorTable
from activation.grounding import build_grounding
from activation.grounding_hash import BUILD_STAMPS
from activation.record_scores import build_record_scores
from tests.activation.conftest import LATER, NOW, make_warehouse
from tests.postgres_server import PostgresServer
from warehouse.connection import connect

PASSWORD = "Kx9-sync-P4ssw0rd-unique"


@dataclass(frozen=True)
class Target:
    """A fresh database on the test server and a login role (with PASSWORD) that owns it."""

    server: PostgresServer
    database: str
    role: str

    @property
    def url(self) -> str:
        return self.server.url(self.role, self.database)

    def admin(self) -> psycopg.Connection:
        return self.server.admin(self.database)

    def query(self, statement: str | sql.Composable, params: list | None = None) -> list[tuple]:
        """Run a statement as the superuser; its rows (none for a statement that returns none)."""
        with self.admin() as con:
            cursor = con.execute(statement, params or [])
            return cursor.fetchall() if cursor.description else []


def new_target(server: PostgresServer, *, owner: bool = True) -> Target:
    """A new database and role; with `owner`, the role owns the database (may create schemas)."""
    database = server.create_database()
    role = f"sync_{uuid.uuid4().hex[:8]}"
    server.create_role(role, PASSWORD, database=database, owner=owner)
    return Target(server=server, database=database, role=role)


def crm_warehouse(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """The tiny warehouse with `crm.record_scores`, its feed and `crm.grounding` built as of NOW.

    Args:
        path: a DuckDB file to write it to (closed on return, so another process can open it);
            None keeps it in memory and returns the open connection.
    """
    con = make_warehouse()
    build_record_scores(con, now=NOW)
    build_grounding(con, as_of=NOW, generated_at=NOW)
    if path is None:
        return con
    con.execute(f"ATTACH '{path}' AS target")
    con.execute("COPY FROM DATABASE memory TO target")
    con.execute("DETACH target")
    con.close()
    return None


def copy_in_memory(path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse holding a copy of the warehouse file at `path` (cheaper than building one)."""
    con = connect(":memory:")
    con.execute(f"ATTACH '{path}' AS base (READ_ONLY)")
    con.execute("COPY FROM DATABASE base TO memory")
    con.execute("DETACH base")
    return con


def next_run(con: duckdb.DuckDBPyConnection) -> None:
    """What the next pipeline run changes: Jane's churn risk rises, Contact C1 is deleted in the
    CRM, a new Lead L4 arrives. The rebuilt grounding describes the same moment one second later,
    so every other document differs only in its build stamp."""
    con.execute(
        "UPDATE scores.predictions SET score = 0.9, score_1_99 = 90 WHERE profile_id = 'P1' AND model = 'churn_risk'"
    )
    con.execute("DELETE FROM staging.people WHERE record_id = 'C1'")
    con.execute(
        "INSERT INTO staging.people BY NAME SELECT * REPLACE ('L4' AS record_id, 'Nora' AS first_name) "
        "FROM staging.people WHERE record_id = 'L2'"
    )
    build_record_scores(con, now=LATER)
    build_grounding(con, as_of=NOW + timedelta(seconds=1), generated_at=NOW + timedelta(seconds=1))


def add_membership(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, datetime]]) -> None:
    """`segments.membership` as the segments stage writes it (segment, profile_id, entered_at)."""
    con.execute(
        "CREATE OR REPLACE TABLE segments.membership (segment VARCHAR, profile_id VARCHAR, entered_at TIMESTAMP)"
    )
    con.executemany("INSERT INTO segments.membership VALUES (?, ?, ?)", rows)


def _normal(value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def mirror_rows(target: Target, table: MirrorTable, *, schema: str = "kindred") -> list[tuple]:
    """The mirror's rows of `table` (its data columns, sorted by key), values normalised for comparing."""
    columns = list(table.columns)
    statement = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.Identifier(schema, table.name),
        sql.SQL(", ").join(map(sql.Identifier, table.key)),
    )
    return [tuple(_normal(v) for v in row) for row in target.query(statement)]


def warehouse_rows(con: duckdb.DuckDBPyConnection, table: MirrorTable) -> list[tuple]:
    """The warehouse's rows of `table`, in the mirror's columns and order (JSON text parsed)."""
    columns = ", ".join(f'"{c}"' for c in table.columns)
    keys = ", ".join(f'"{k}"' for k in table.key)
    rows = con.sql(f"SELECT {columns} FROM {table.warehouse_table} ORDER BY {keys}").fetchall()
    position = list(table.columns).index("context") if "context" in table.columns else None
    if position is None:
        return rows
    return [(*row[:position], json.loads(row[position]), *row[position + 1 :]) for row in rows]


def assert_mirror_equals_warehouse(
    con: duckdb.DuckDBPyConnection,
    target: Target,
    tables: tuple[MirrorTable, ...] = (RECORD_SCORES, GROUNDING),
) -> None:
    """Row for row equal; a grounding document equal but for its build stamp counts as equal (a
    document whose content did not change is not sent again, so the mirror keeps its first stamp)."""
    for table in tables:
        mirrored, held = mirror_rows(target, table), warehouse_rows(con, table)
        if "context" in table.columns:
            mirrored, held = _without_stamps(table, mirrored), _without_stamps(table, held)
        assert mirrored == held, table.name


def _without_stamps(table: MirrorTable, rows: list[tuple]) -> list[tuple]:
    names = list(table.columns)
    out = []
    for row in rows:
        values = dict(zip(names, row, strict=True))
        values.pop("generated_at")
        values["context"] = {k: v for k, v in values["context"].items() if k not in BUILD_STAMPS}
        out.append(tuple(values.values()))
    return out


def row_versions(
    target: Target, tables: tuple[str, ...] = ("record_scores", "grounding", "kindred_sync_state")
) -> dict:
    """Every row's physical version (ctid, xmin) per table: unchanged exactly when nothing was written."""
    versions = {}
    for name in tables:
        statement = sql.SQL("SELECT ctid::text, xmin::text FROM {} ORDER BY 1").format(
            sql.Identifier("kindred", name)
        )
        versions[name] = target.query(statement)
    return versions


__all__ = [
    "GROUNDING",
    "NOW",
    "PASSWORD",
    "RECORD_SCORES",
    "SEGMENT_MEMBERSHIP",
    "Target",
    "add_membership",
    "assert_mirror_equals_warehouse",
    "copy_in_memory",
    "crm_warehouse",
    "mirror_rows",
    "new_target",
    "next_run",
    "row_versions",
    "warehouse_rows",
]
