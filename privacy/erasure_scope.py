"""What an erasure removes, worked out before anything is removed (privacy.erasure_rules says how).

`staging.*` and `quarantine.*` rows take their raw rows with them (and the other way round), so
rows in = rows kept + rows quarantined still holds: all of them are collected in the temporary
table `_erase_rows` first. Quarantine rows name no profile: they are found by their content, like
raw rows not staged yet (the JSON line or the CSV fields holding one of the person's tokens, or
one of their record ids within the source's own id namespace).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from privacy.erasure_find import Person
from privacy.erasure_rules import (
    CRM_RECORDS,
    ROWS,
    Table,
    bound,
    is_text,
    load_person,
    quoted,
    row_condition,
    token_pattern,
    warehouse_tables,
)
from serving.publish import current_publication
from warehouse.config import KindredConfig, SourceConfig
from warehouse.connection import table_exists
from warehouse.landing import LINEAGE, READ_COLUMNS
from warehouse.manifest import ManifestEntry, loaded_files
from warehouse.raw_store import raw_root

log = logging.getLogger(__name__)

_SERVED = "_erase_publication"


@dataclass
class Scope:
    """Everything the erasure will remove, counted."""

    pattern: str | None
    tables: dict[str, int] = field(default_factory=dict)  # schema.table -> rows
    raw: dict[str, int] = field(default_factory=dict)  # source -> raw rows
    versions: list[tuple[str, ManifestEntry]] = field(default_factory=list)  # raw versions to rewrite
    exports: dict[Path, int] = field(default_factory=dict)  # Parquet or CSV file under KINDRED_HOME -> rows
    feed_deletes: dict[str, int] = field(default_factory=dict)  # change feed -> delete rows to append
    served: int = 0  # rows of theirs in the current serving publication (replaced by publishing anew)

    @property
    def empty(self) -> bool:
        """Whether nothing at all would be removed."""
        counts = (*self.tables.values(), *self.raw.values(), *self.exports.values(), self.served)
        return not any(counts)


def find_scope(
    con: duckdb.DuckDBPyConnection, person: Person, config: KindredConfig, home: Path | None = None
) -> Scope:
    """Count what erasing the person removes from every table, the raw store and the files under home.

    Leaves the rows of staging, quarantine and raw to remove in the temporary table `_erase_rows`.

    Args:
        con: warehouse connection.
        person: from `privacy.erasure_find.find_person`.
        config: the loaded kindred.yaml (the sources and their id namespaces).
        home: KINDRED_HOME: its Parquet and CSV files outside the raw store (the per-run exports
            under `exports/`, and any other part's) are searched too.

    Returns:
        The scope; `empty` when the person left nothing anywhere.
    """
    load_person(con, person)
    scope = Scope(pattern=token_pattern(person))
    params = {"pattern": scope.pattern} if scope.pattern else {}
    tables = warehouse_tables(con)
    lineage_tables = [t for t in tables if t.has_lineage and t.schema in ("staging", "quarantine")]
    for table in lineage_tables:
        condition = _lineage_condition(table, person, config, scope.pattern)
        if condition:
            sql, extra = condition
            con.execute(
                f"INSERT INTO {ROWS} SELECT t.source, t._file, t._row_number, t._ingested_at "
                f"FROM {table.sql} t WHERE {sql}",
                bound(sql, {**params, **extra}),
            )
    for source in config.sources:
        _find_raw_rows(con, person, source, scope.pattern)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ROWS} AS SELECT DISTINCT * FROM {ROWS}")
    for table in lineage_tables:
        scope.tables[table.label] = _count(
            con, f"SELECT count(*) FROM {table.sql} t WHERE {_in_rows('t')}", {}
        )
    for source in config.sources:
        _versions(con, source.name, scope)
    for table in tables:
        if table in lineage_tables:
            continue
        condition = row_condition(table.columns, text=scope.pattern is not None)
        if condition:
            scope.tables[table.label] = _count(
                con, f"SELECT count(*) FROM {table.sql} t WHERE {condition}", params
            )
        if table.is_change_feed:
            scope.feed_deletes[table.label] = len(feed_records(con, table))
    for path in data_files(home, raw_root(con), _landing_files(con)) if home is not None else []:
        condition = file_condition(con, path, scope.pattern is not None)
        if condition:
            scope.exports[path] = _count(
                con, f"SELECT count(*) FROM {file_reader(path)} t WHERE {condition}", params
            )
    scope.served = served_rows(con, home, params) if home is not None else 0
    return scope


def served_rows(con: duckdb.DuckDBPyConnection, home: Path, params: dict) -> int:
    """The person's rows in the current serving publication (serving.publish), by the same rules.

    Args:
        con: warehouse connection holding the person's temporary tables (`load_person`).
        home: KINDRED_HOME.
        params: the rules' parameters (`pattern`).

    Returns:
        Rows, over every table of the published file; 0 when nothing is published.
    """
    path = current_publication(home)
    if path is None or not path.is_file():
        return 0
    con.execute(f"ATTACH ? AS {_SERVED} (READ_ONLY)", [str(path)])
    try:
        published = con.execute(
            "SELECT table_schema, table_name, list(column_name ORDER BY ordinal_position), "
            "list(data_type ORDER BY ordinal_position) FROM information_schema.columns "
            "WHERE table_catalog = ? AND table_schema <> 'serving' GROUP BY ALL",
            [_SERVED],
        ).fetchall()
        total = 0
        for schema, name, columns, types in published:
            condition = row_condition(dict(zip(columns, types, strict=True)), text="pattern" in params)
            if condition:
                relation = f"{_SERVED}.{quoted(schema)}.{quoted(name)}"
                total += _count(con, f"SELECT count(*) FROM {relation} t WHERE {condition}", params)
        return total
    finally:
        con.execute(f"DETACH {_SERVED}")


def data_files(home: Path, raw_store: Path, landing: set[str]) -> list[Path]:
    """The Parquet and CSV files under KINDRED_HOME that may hold rows: all but the raw store's parts
    (erased through the manifest), landing files kept there (Kindred never changes a source's
    files) and temporary files (a leading dot)."""
    if not home.is_dir():
        return []
    return [
        path
        for path in sorted(home.rglob("*"))
        if path.suffix.lower() in (".parquet", ".csv")
        and path.is_file()
        and not path.name.startswith(".")
        and not path.is_relative_to(raw_store)
        and str(path.resolve()) not in landing
    ]


def _landing_files(con: duckdb.DuckDBPyConnection) -> set[str]:
    if not table_exists(con, "raw._manifest"):
        return set()
    return {r[0] for r in con.execute("SELECT DISTINCT file FROM raw._manifest").fetchall()}


def _in_rows(alias: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM {ROWS} e WHERE e.source = {alias}.source AND e._file = {alias}._file "
        f"AND e._row_number = {alias}._row_number)"
    )


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> int:
    return con.execute(sql, bound(sql, params)).fetchall()[0][0]


def _source_ids(person: Person, config: KindredConfig, source_name: str) -> set[str]:
    """The person's record ids within the id namespace of one source."""
    source = next((s for s in config.sources if s.name == source_name), None)
    if source is None:
        return set()
    return {record for namespace, record in person.namespaced if namespace == source.namespace}


def _lineage_condition(
    table: Table, person: Person, config: KindredConfig, pattern: str | None
) -> tuple[str, dict] | None:
    """Staging rows by the usual rules; quarantine rows by their content (they name no profile)."""
    if table.schema == "staging":
        condition = row_condition(table.columns, text=pattern is not None)
        return (condition, {}) if condition else None
    quoted_ids = _source_ids(person, config, table.name)
    content = token_pattern(person, quoted_ids=quoted_ids)
    if content is None:
        return None
    texts = [c for c, kind in table.columns.items() if is_text(kind) and c not in ("source", "_file")]
    tests = [f"regexp_matches(CAST(t.{quoted(c)} AS VARCHAR), $content)" for c in texts]
    return (" OR ".join(tests), {"content": content}) if tests else None


def _find_raw_rows(
    con: duckdb.DuckDBPyConnection, person: Person, source: SourceConfig, pattern: str | None
) -> None:
    """Raw rows whose content names the person (rows not staged yet, or staged under someone else)."""
    view = f"raw.{source.name}"
    if not table_exists(con, view):
        return
    ids = {record for namespace, record in person.namespaced if namespace == source.namespace}
    columns = {r[0] for r in con.execute(f"DESCRIBE {quoted('raw')}.{quoted(source.name)}").fetchall()}
    tests, params = [], {}
    lines = token_pattern(person, ids=ids, quoted_ids=ids)
    if lines is not None and "_raw" in columns:
        tests.append("regexp_matches(_raw, $lines)")
        params["lines"] = lines
    fields = [c for c in columns if c not in (*LINEAGE, *READ_COLUMNS)]
    if fields and (pattern is not None or ids):
        for column in fields:
            if pattern is not None:
                tests.append(f"regexp_matches({quoted(column)}, $pattern)")
            if ids:
                tests.append(f"list_contains($ids, trim({quoted(column)}))")
        if pattern is not None:
            params["pattern"] = pattern
        if ids:
            params["ids"] = sorted(ids)
    if not tests:
        return
    con.execute(
        f"INSERT INTO {ROWS} SELECT source, _file, _row_number, _ingested_at "
        f"FROM {quoted('raw')}.{quoted(source.name)} WHERE {' OR '.join(tests)}",
        params,
    )


def _versions(con: duckdb.DuckDBPyConnection, source: str, scope: Scope) -> None:
    """The loaded versions of a source holding rows to erase, and how many raw rows go."""
    found = con.execute(
        f"SELECT _file, _ingested_at, count(*) FROM {ROWS} WHERE source = ? GROUP BY ALL", [source]
    ).fetchall()
    counts = {(file, ingested_at): n for file, ingested_at, n in found}
    if not counts:
        return
    total = 0
    for file, entry in loaded_files(con, source).items():
        n = counts.get((file, entry.ingested_at), 0)
        if n:
            scope.versions.append((source, entry))
            total += n
    scope.raw[source] = total


def feed_records(con: duckdb.DuckDBPyConnection, table: Table) -> list[tuple]:
    """The person's CRM records a change feed ever carried: each gets a `delete` row."""
    has_source = "source" in table.columns
    source = "f.source" if has_source else "NULL"
    match = "e.crm_object = f.crm_object AND e.crm_record_id = f.crm_record_id" + (
        " AND e.source IS NOT DISTINCT FROM f.source" if has_source else ""
    )
    return con.execute(
        f"SELECT DISTINCT {source}, f.crm_object, f.crm_record_id FROM {table.sql} f "
        f"WHERE EXISTS (SELECT 1 FROM {CRM_RECORDS} e WHERE {match}) ORDER BY ALL"
    ).fetchall()


def file_reader(path: Path) -> str:
    """A DuckDB table function reading an export file (every CSV field as text)."""
    literal = "'" + str(path).replace("'", "''") + "'"
    if path.suffix.lower() == ".parquet":
        return f"read_parquet({literal})"
    return f"read_csv({literal}, all_varchar = true, header = true)"


def file_condition(con: duckdb.DuckDBPyConnection, path: Path, text: bool) -> str | None:
    """The row condition for one export file, from its columns."""
    described = con.execute(f"DESCRIBE SELECT * FROM {file_reader(path)}").fetchall()
    return row_condition({r[0]: r[1] for r in described}, text=text)
