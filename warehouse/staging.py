"""`raw.<source>` -> typed canonical `staging.<kind>` tables, bad rows -> `quarantine.<source>`.

Each source gets one generated SELECT that maps its columns (or JSON paths) to canonical fields,
types them, and names what is wrong with a row in `_reason`. Rows without a reason are staged;
the rest are quarantined with their original content, so rows in raw = staged + quarantined.

Identifiers in the generated SQL are raw-table column names read from the database (quoted), and
every value (JSON paths, constants, formats, namespaces) goes in as a numbered `$n` parameter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import duckdb

from warehouse.canonical import (
    EVENT_TIME,
    KINDS,
    PERSON_ATTRIBUTES,
    PERSON_KEY,
    SEGMENT_TRAITS,
    canonical_fields,
)
from warehouse.config import KindredConfig, SourceConfig
from warehouse.connection import quote_table, row_count

log = logging.getLogger(__name__)

_SQL_TYPES = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "json": "JSON",
}
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
QUARANTINE_COLUMNS = "source VARCHAR, _file VARCHAR, _row_number BIGINT, reason VARCHAR, raw_content VARCHAR, _ingested_at TIMESTAMP"


@dataclass
class StagingResult:
    """Rows staged per kind and quarantined per source."""

    staged: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)


def staging_columns(kind: str) -> list[str]:
    """The column order of `staging.<kind>`."""
    fields = canonical_fields(kind)
    kind_fields = [f for f in fields if f not in PERSON_ATTRIBUTES and f != "record_id"]
    return [
        "source",
        *kind_fields,
        "record_id",
        "id_namespace",
        *PERSON_ATTRIBUTES,
        "_file",
        "_row_number",
        "_ingested_at",
    ]


def build_staging(con: duckdb.DuckDBPyConnection, config: KindredConfig) -> StagingResult:
    """Rebuild all four staging tables and every source's quarantine table in one transaction.

    Args:
        con: warehouse connection with `raw.<source>` loaded for every configured source.
        config: the loaded kindred.yaml.

    Returns:
        Rows staged per kind and rows quarantined per source.
    """
    result = StagingResult()
    con.execute("BEGIN TRANSACTION")
    try:
        for kind in KINDS:
            _stage_kind(con, kind, config.sources_of(kind))
            result.staged[kind] = row_count(con, f"staging.{kind}")
        for source in config.sources:
            result.quarantined[source.name] = row_count(con, f"quarantine.{source.name}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    log.info("staged %s; quarantined %s", result.staged, result.quarantined)
    return result


def _stage_kind(con: duckdb.DuckDBPyConnection, kind: str, sources: list[SourceConfig]) -> None:
    columns = staging_columns(kind)
    fields = canonical_fields(kind)
    typed = ", ".join(f"{c} {_column_type(c, fields)}" for c in columns)
    target = quote_table(f"staging.{kind}")
    con.execute(f"CREATE OR REPLACE TABLE {target} ({typed})")
    for source in sources:
        select, params = _source_select(con, kind, source)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _typed AS {select}", params)
        _mark_duplicates(con, kind)
        con.execute(f"INSERT INTO {target} SELECT {', '.join(columns)} FROM _typed WHERE _reason IS NULL")
        con.execute(
            f"CREATE OR REPLACE TABLE {quote_table(f'quarantine.{source.name}')} ({QUARANTINE_COLUMNS})"
        )
        con.execute(
            f"INSERT INTO {quote_table(f'quarantine.{source.name}')} "
            "SELECT source, _file, _row_number, _reason, _raw_content, _ingested_at FROM _typed WHERE _reason IS NOT NULL"
        )
        con.execute("DROP TABLE _typed")


def _column_type(column: str, fields: dict[str, str]) -> str:
    if column == "_row_number":
        return "BIGINT"
    if column == "_ingested_at":
        return "TIMESTAMP"
    return _SQL_TYPES[fields.get(column, "string")]


def _raw_columns(con: duckdb.DuckDBPyConnection, source: SourceConfig) -> list[str]:
    rows = con.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ? "
        "ORDER BY ordinal_position",
        params=[source.name],
    ).fetchall()
    return [r[0] for r in rows]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Select:
    """Accumulates the expressions of one source's SELECT and their parameters, in order."""

    def __init__(self) -> None:
        self.params: list = []

    def param(self, value: object) -> str:
        # Numbered placeholders, because one field's expression appears several times in the text.
        self.params.append(value)
        return f"${len(self.params)}"


def _source_select(con: duckdb.DuckDBPyConnection, kind: str, source: SourceConfig) -> tuple[str, list]:
    raw_columns = _raw_columns(con, source)
    is_json = "_raw" in raw_columns
    fields = canonical_fields(kind)
    mapping = source.column_map()
    q = _Select()

    def text_of(name: str) -> str | None:
        """Expression for the trimmed source text of a canonical field, or None if unmapped."""
        if name in source.constants:
            return q.param(source.constants[name])
        column = mapping.get(name, name)
        if is_json:
            if name in mapping or name in _json_defaults(kind):
                paths = [mapping[name]] if name in mapping else _json_defaults(kind)[name]
                parts = [f"json_extract_string(_json, {q.param(_json_path(p))})" for p in paths]
                return (
                    f"nullif(trim(coalesce({', '.join(parts)})), '')"
                    if len(parts) > 1
                    else f"nullif(trim({parts[0]}), '')"
                )
            return None
        if column in raw_columns:
            return f"nullif(trim({_ident(column)}), '')"
        return None

    exprs: dict[str, str] = {}
    texts: dict[str, str] = {}
    reasons: list[str] = []
    for name, kind_type in fields.items():
        column = mapping.get(name, name)
        if is_json and kind_type == "json":
            path = mapping.get(name)
            paths = [path] if path else _json_defaults(kind).get(name, [])
            parts = [f"json_extract(_json, {q.param(_json_path(p))})" for p in paths]
            exprs[name] = (
                f"coalesce({', '.join(parts)})" if len(parts) > 1 else (parts[0] if parts else "NULL::JSON")
            )
            continue
        text = text_of(name)
        if text is None:
            exprs[name] = f"NULL::{_SQL_TYPES[kind_type]}"
            continue
        typed = _typed(text, kind_type, source.formats.get(name), q)
        exprs[name] = typed
        texts[name] = text
        if kind_type not in ("string", "json"):
            reasons.append(
                f"CASE WHEN {text} IS NOT NULL AND {typed} IS NULL THEN "
                f"concat({q.param(f'unparseable {kind_type} in {name} (column {column}): ')}, left({text}, 80)) END"
            )
    for name in source.required_fields():
        column = mapping.get(name, name)
        present = texts.get(name) or _nested_text(exprs[name], fields[name])
        reasons.append(f"CASE WHEN {present} IS NULL THEN {q.param(f'missing {name} (column {column})')} END")
    raw_content = "_raw" if is_json else "to_json(r)::VARCHAR"
    body_columns = [c for c in raw_columns if c not in ("source", "_file", "_row_number", "_ingested_at")]
    row_struct = ", ".join(f"{_ident(c)} := {_ident(c)}" for c in body_columns) or "empty := NULL"
    select_fields = ",\n  ".join(f"{expr} AS {name}" for name, expr in exprs.items())
    json_reason = (
        "CASE WHEN _json IS NULL THEN 'malformed JSON line' "
        "WHEN json_type(_json) <> 'OBJECT' THEN 'JSON line is not an object' END"
        if is_json
        else None
    )
    reason = f"nullif(concat_ws('; ', {', '.join(reasons) or 'NULL'}), '')"
    if json_reason:
        reason = f"coalesce({json_reason}, {reason})"
    namespace = q.param(source.namespace)
    source_name = q.param(source.name)
    if is_json:
        base = f"SELECT *, CASE WHEN json_valid(_raw) THEN _raw::JSON END AS _json FROM {quote_table(f'raw.{source.name}')}"
        inner = f"SELECT * FROM ({base}) b"
    else:
        inner = f"SELECT *, struct_pack({row_struct}) AS r FROM {quote_table(f'raw.{source.name}')}"
    person_key = "" if kind == "people" else f"{PERSON_KEY[kind]} AS record_id,"
    sql = f"""
WITH src AS ({inner}),
typed AS (
  SELECT
  {select_fields},
  _file, _row_number, _ingested_at,
  {raw_content} AS _raw_content,
  {reason} AS _reason
  FROM src
)
SELECT {source_name} AS source, *,
  {person_key}
  {namespace} AS id_namespace,
  {EVENT_TIME[kind]} AS _event_time
FROM typed
"""
    return sql, q.params


def _nested_text(expr: str, kind_type: str) -> str:
    return f"nullif(trim(CAST({expr} AS VARCHAR)), '')" if kind_type == "json" else expr


def _typed(text: str, kind_type: str, fmt: str | None, q: _Select) -> str:
    if kind_type == "timestamp":
        if fmt:
            return f"try_strptime({text}, {q.param(fmt)})::TIMESTAMP"
        return f"try_cast({text} AS TIMESTAMPTZ)::TIMESTAMP"
    if kind_type == "double":
        return f"try_cast({text} AS DOUBLE)"
    if kind_type == "boolean":
        return (
            f"CASE WHEN lower({text}) IN {_in_list(_TRUE)} THEN true "
            f"WHEN lower({text}) IN {_in_list(_FALSE)} THEN false END"
        )
    return text


def _in_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _json_path(dotted: str) -> str:
    return "$." + ".".join(f'"{part}"' for part in dotted.split("."))


def _json_defaults(kind: str) -> dict[str, list[str]]:
    """JSON paths read when a field is not mapped: Segment names and traits, for events."""
    if kind != "events":
        return {}
    defaults: dict[str, list[str]] = {
        "message_id": ["messageId"],
        "type": ["type"],
        "event": ["event"],
        "user_id": ["userId"],
        "anonymous_id": ["anonymousId"],
        "timestamp": ["timestamp"],
        "properties": ["properties"],
        "traits": ["traits", "context.traits"],
    }
    for attribute, trait in SEGMENT_TRAITS.items():
        defaults[attribute] = [f"traits.{trait}", f"context.traits.{trait}"]
    return defaults


def _mark_duplicates(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Quarantine repeats: a repeated event messageId, and older versions of a person or case."""
    if kind == "events":
        con.execute("""
            UPDATE _typed SET _reason = 'duplicate message_id (first loaded from ' || d.first_file || ' row ' || d.first_row || ')'
            FROM (
              SELECT _file, _row_number,
                first_value(_file) OVER w AS first_file, first_value(_row_number) OVER w AS first_row,
                row_number() OVER w AS n
              FROM _typed WHERE _reason IS NULL
              WINDOW w AS (PARTITION BY message_id ORDER BY _file, _row_number)
            ) d
            WHERE _typed._file = d._file AND _typed._row_number = d._row_number AND d.n > 1
        """)
    elif kind in ("people", "cases"):
        key = "record_id" if kind == "people" else "case_id"
        con.execute(f"""
            UPDATE _typed SET _reason = 'superseded by a later version of {key} ' || {key}
            FROM (
              SELECT _file, _row_number,
                row_number() OVER (PARTITION BY {key} ORDER BY _event_time DESC NULLS LAST, _file DESC, _row_number DESC) AS n
              FROM _typed WHERE _reason IS NULL
            ) d
            WHERE _typed._file = d._file AND _typed._row_number = d._row_number AND d.n > 1
        """)
