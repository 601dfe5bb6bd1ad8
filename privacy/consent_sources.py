"""Consent statements from what the data says: people-source fields and track events.

A statement is one thing a source said about one person: "opted out of email marketing", at a
time. Each statement names the source record it came from and how to find the person:
`match_kind` `record` (a `source`, `record_id` pair of `identity.record_xref`), `email` or
`phone` (a normalised contact point of `profiles.contact_points`). Every statement lands in
the temporary table `STATEMENTS`; `privacy.consent_build` maps them to profiles and keeps the
latest per profile, channel and purpose.

Field columns are not canonical fields, so they are read from `raw.<source>` (which keeps every
file column) for the rows staging kept: joined on `_file`, `_row_number` and `_ingested_at`
with `staging.people`, and dated by the record's `updated_at`, else `created_at`, else the time
it was loaded.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import duckdb
import pyarrow as pa

from privacy.consent import OPTED_IN, OPTED_OUT
from warehouse.config import ConfigError, KindredConfig, SourceConfig
from warehouse.connection import quote_table, table_exists
from warehouse.consent_config import ConsentFieldConfig
from warehouse.landing import data_column
from warehouse.manifest import LOADED, MANIFEST, ensure_manifest
from warehouse.typed_select import FALSE_WORDS, TRUE_WORDS

log = logging.getLogger(__name__)

STATEMENTS = "_consent_statements"
STATEMENT_COLUMNS = {
    "source": "VARCHAR",  # where the statement was made: a source name or the consent file's name
    "record_id": "VARCHAR",  # which record said it: a people record id, an event messageId, a file row
    "match_kind": "VARCHAR",  # how to find the person: record | email | phone
    "match_source": "VARCHAR",  # for `record`: the source whose record id `match_value` is
    "match_value": "VARCHAR",  # a record id, a normalised email or an E.164 phone
    "channel": "VARCHAR",
    "purpose": "VARCHAR",
    "status": "VARCHAR",
    "recorded_at": "TIMESTAMP",
}
# True and false are read as staging reads booleans (`TRUE_WORDS`, `FALSE_WORDS`); anything else
# is ignored and counted.


def create_statements(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or empty) the temporary statements table of this connection."""
    columns = ", ".join(f"{name} {kind}" for name, kind in STATEMENT_COLUMNS.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STATEMENTS} ({columns})")


def field_columns(con: duckdb.DuckDBPyConnection, config: KindredConfig) -> dict[str, list[str] | None]:
    """The file columns of each people source as loaded: raw column names, or None for JSON lines.

    Args:
        con: warehouse connection with `raw.<source>` loaded.
        config: the loaded kindred.yaml.

    Returns:
        People source name -> its raw columns (None when the source is JSON lines, whose fields
        are paths into each line rather than columns).
    """
    found: dict[str, list[str] | None] = {}
    for source in config.sources_of("people"):
        if not table_exists(con, f"raw.{source.name}"):
            found[source.name] = []
            continue
        if _is_json(con, source):
            found[source.name] = None
            continue
        rows = con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ?",
            [source.name],
        ).fetchall()
        found[source.name] = [r[0] for r in rows]
    return found


def field_sources(
    con: duckdb.DuckDBPyConnection, config: KindredConfig, setting: ConsentFieldConfig, index: int
) -> list[SourceConfig]:
    """The people sources a consent field is read from.

    Args:
        con: warehouse connection with `raw.<source>` loaded.
        config: the loaded kindred.yaml.
        setting: the field.
        index: its position in `consent.fields`, for the message.

    Returns:
        The field's `sources` (each must have the column), or every people source that has it.

    Raises:
        ConfigError: no people source (or a named source) has the column.
    """
    columns = field_columns(con, config)
    return sources_having(
        config, setting, index, lambda source: _has_field(con, source, columns[source.name], setting.column)
    )


def sources_having(
    config: KindredConfig, setting: ConsentFieldConfig, index: int, has: Callable[[SourceConfig], bool]
) -> list[SourceConfig]:
    """The people sources a consent field applies to, given which sources have its column.

    Args:
        config: the loaded kindred.yaml.
        setting: the field.
        index: its position in `consent.fields`, for the message.
        has: whether a people source has the field's column.

    Returns:
        The field's `sources`, or every people source that has the column.

    Raises:
        ConfigError: a named source lacks the column, or no people source has it.
    """
    people = config.sources_of("people")
    chosen = [s for s in people if setting.sources is None or s.name in setting.sources]
    having = [s for s in chosen if has(s)]
    where = f"consent.fields[{index}] (column {setting.column})"
    if setting.sources is not None and len(having) < len(chosen):
        lacking = [s.name for s in chosen if s not in having]
        raise ConfigError(f"{where}: source {lacking[0]} has no column {setting.column}")
    if not having:
        names = ", ".join(s.name for s in people) or "none configured"
        raise ConfigError(
            f"{where}: no people source has a column {setting.column} (people sources: {names}); "
            "fix the column name or remove the setting"
        )
    return having


def add_field_statements(
    con: duckdb.DuckDBPyConnection, config: KindredConfig, setting: ConsentFieldConfig, index: int
) -> dict[str, int]:
    """Add the statements one consent field makes, for every people source that has it.

    A true value states `true_means`; a false value states the opposite only with
    `false_means: opposite`; an empty cell states nothing.

    Args:
        con: warehouse connection holding `staging.people` and `raw.<source>`.
        config: the loaded kindred.yaml.
        setting: the field.
        index: its position in `consent.fields`.

    Returns:
        `<source>.<column>` -> values that were neither true nor false (ignored).

    Raises:
        ConfigError: no people source has the column.
    """
    ignored: dict[str, int] = {}
    if not table_exists(con, "staging.people"):
        return ignored
    opposite = OPTED_IN if setting.true_means == OPTED_OUT else OPTED_OUT
    when_false = opposite if setting.false_means == "opposite" else None
    for source in field_sources(con, config, setting, index):
        value, path = _field_value(con, source, setting.column)
        rows = f"""
            SELECT s.source, s.record_id, coalesce(s.updated_at, s.created_at, s._ingested_at) AS recorded_at,
                   lower(trim(CAST({value} AS VARCHAR))) AS value
            FROM staging.people AS s
            JOIN {quote_table(f"raw.{source.name}")} AS r
              ON r._file = s._file AND r._row_number = s._row_number AND r._ingested_at = s._ingested_at
            WHERE s.source = $source AND s.record_id IS NOT NULL"""
        con.execute(
            f"""INSERT INTO {STATEMENTS}
                SELECT source, record_id, 'record', source, record_id, $channel, $purpose,
                       CASE WHEN list_contains($true, value) THEN $when_true ELSE $when_false END,
                       recorded_at
                FROM ({rows})
                WHERE list_contains($true, value) OR (list_contains($false, value) AND $when_false IS NOT NULL)""",
            {
                "source": source.name,
                "channel": setting.channel,
                "purpose": setting.purpose,
                "true": list(TRUE_WORDS),
                "false": list(FALSE_WORDS),
                "when_true": setting.true_means,
                "when_false": when_false,
                **path,
            },
        )
        unknown = con.execute(
            f"SELECT count(*) FROM ({rows}) WHERE nullif(value, '') IS NOT NULL AND NOT list_contains($words, value)",
            {"source": source.name, "words": [*TRUE_WORDS, *FALSE_WORDS], **path},
        ).fetchall()[0][0]
        if unknown:
            ignored[f"{source.name}.{setting.column}"] = unknown
            log.warning(
                "consent: %d values of %s in %s are not true or false; they were ignored",
                unknown,
                setting.column,
                source.name,
            )
    return ignored


def add_event_statements(con: duckdb.DuckDBPyConnection, config: KindredConfig) -> int:
    """Add a statement for every staged track event named in `consent.events`.

    Args:
        con: warehouse connection holding `staging.events`.
        config: the loaded kindred.yaml.

    Returns:
        Statements added.
    """
    events = config.consent.events
    if not events or not table_exists(con, "staging.events"):
        return 0
    mapping = pa.table(
        {
            "event": list(events),
            "channel": [e.channel for e in events.values()],
            "purpose": [e.purpose for e in events.values()],
            "status": [e.status for e in events.values()],
            "sources": pa.array([e.sources for e in events.values()], pa.list_(pa.string())),
        }
    )
    view = f"_consent_events_{uuid.uuid4().hex}"
    con.register(view, mapping)
    try:
        before = _count(con)
        con.execute(f"""
            INSERT INTO {STATEMENTS}
            SELECT e.source, e.message_id, 'record', e.source, e.record_id, m.channel, m.purpose, m.status,
                   e.timestamp
            FROM staging.events AS e
            JOIN {view} AS m ON m.event = e.event AND (m.sources IS NULL OR list_contains(m.sources, e.source))
            WHERE lower(e.type) = 'track' AND e.record_id IS NOT NULL
        """)
        return _count(con) - before
    finally:
        con.unregister(view)


def _count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(f"SELECT count(*) FROM {STATEMENTS}").fetchall()[0][0]


def _is_json(con: duckdb.DuckDBPyConnection, source: SourceConfig) -> bool:
    ensure_manifest(con)
    formats = con.execute(
        f"SELECT DISTINCT format FROM {MANIFEST} WHERE source = ? AND status = ?", [source.name, LOADED]
    ).fetchall()
    return bool(formats) and formats[0][0] == "jsonl"


def _json_path(dotted: str) -> str:
    return "$." + ".".join('"' + part.replace('"', '\\"') + '"' for part in dotted.split("."))


def _has_field(
    con: duckdb.DuckDBPyConnection, source: SourceConfig, columns: list[str] | None, column: str
) -> bool:
    if columns is not None:
        return data_column(column) in columns
    # JSON lines: the field is a (dotted) path that at least one line must carry.
    rows = con.execute(
        f"SELECT 1 FROM {quote_table(f'raw.{source.name}')} WHERE json_extract(_raw, ?) IS NOT NULL LIMIT 1",
        [_json_path(column)],
    ).fetchall()
    return bool(rows)


def _field_value(con: duckdb.DuckDBPyConnection, source: SourceConfig, column: str) -> tuple[str, dict]:
    """The raw expression of a field and its parameters: a quoted column, or a JSON path into the line."""
    if _is_json(con, source):
        return "json_extract_string(r._raw, $path)", {"path": _json_path(column)}
    return "r." + '"' + data_column(column).replace('"', '""') + '"', {}
