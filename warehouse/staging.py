"""`raw.<source>` -> typed canonical `staging.<kind>` tables, bad rows -> `quarantine.<source>`.

Each source gets one generated SELECT that maps its columns (or JSON paths) to canonical fields,
types them, and names what is wrong with a row in `_reason`. Rows without a reason are staged;
the rest are quarantined with their original content, so rows in raw = staged + quarantined.

Hard rules, checked per row: the row could be read (see warehouse.landing); a JSON line is an
object; required fields are present; timestamps, numbers and booleans parse (numbers finite,
timestamps within years 1000-9999); an event's `type` is a Segment call type and it has a
`userId` or an `anonymousId`. Repeats are quarantined too: a repeated event `messageId` (across
all event sources; the copy loaded first is kept) and older versions of a person or case record.

`build_staging` rebuilds whole kinds; `stage_window` re-stages the events and orders of a date
window (the daily partitions), plus any file version not staged yet and any row without a time.
Both write then swap: the typed rows go to a scratch table (`staging._<kind>_next` or `_scope`)
in one transaction, and a second one moves them into `staging.<kind>` and the quarantine, so a
killed run leaves staging as it was. (Typing straight into staging with a `WHERE _reason IS NULL`
would evaluate every expression twice, once for the filter; deleting rejected rows from freshly
inserted data makes DuckDB rewrite it at commit; both cost more than the scratch table.)

Identifiers in the generated SQL are raw column names read from the database (quoted); every
value (JSON paths, constants, formats, namespaces) is a `$n` parameter.

Rows carrying an identifier of an erased person (privacy.suppression) are set aside from each
batch before anything else and quarantined as "erased on request" without their content.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import date

import duckdb

from privacy.suppression_check import (
    ERASED_ON_REQUEST,
    finish_set_aside,
    quarantine_set_aside,
    set_aside_suppressed,
)
from warehouse.canonical import (
    EVENT_TIME,
    KINDS,
    PERSON_ATTRIBUTES,
    PERSON_KEY,
    SEGMENT_TRAITS,
    canonical_fields,
)
from warehouse.config import ConfigError, KindredConfig, SourceConfig
from warehouse.connection import quote_table, row_count, table_exists, unordered_inserts
from warehouse.ingest import transaction
from warehouse.landing import LINEAGE, READ_COLUMNS, data_column
from warehouse.manifest import LOADED, MANIFEST, ensure_manifest

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
SEGMENT_TYPES = ("track", "page", "screen", "identify", "group", "alias")
QUARANTINE_COLUMNS = "source VARCHAR, _file VARCHAR, _row_number BIGINT, reason VARCHAR, raw_content VARCHAR, _ingested_at TIMESTAMP"
# Kinds with daily partitions: their rows have a required time of their own.
PARTITIONED_KINDS = ("events", "orders")
# The file versions staged per source, and the source settings they were staged with: a window
# re-stage is only valid when the settings did not change since.
STAGED_FILES = "staging._staged_files"
_STAGED_FILES_COLUMNS = "source VARCHAR, file VARCHAR, ingested_at TIMESTAMP, settings VARCHAR"
# Text columns with about as many values as rows. DuckDB's default string compression spends
# more time looking for repeats in them than it saves. Ids are short and nearly random: stored as
# they are, they take half the time zstd takes to write, for twice the disk (about 50 bytes an
# event on 10M Segment events). Long texts (JSON objects, case text) shrink several-fold with zstd.
_UNIQUE_IDS = frozenset(
    {"message_id", "user_id", "anonymous_id", "record_id", "order_id", "customer_id", "case_id"}
)
_LONG_TEXTS = frozenset({"properties", "traits", "subject", "description"})
# Bumped whenever the typing rules change, so window re-stages of older results fall back to full.
_RULES_VERSION = 2


@dataclass
class StagingResult:
    """Rows staged per kind and quarantined per source (within the window, for `stage_window`)."""

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


def build_staging(
    con: duckdb.DuckDBPyConnection, config: KindredConfig, kinds: list[str] | tuple[str, ...] | None = None
) -> StagingResult:
    """Rebuild staging tables and their sources' quarantine tables; readers see old or new, never half.

    Every source's rows are typed into `staging._<kind>_next` (with each row's reason) in a first
    transaction; a second one quarantines the rows with a reason, removes them, and swaps the
    table in for `staging.<kind>`. A run killed in between leaves `staging.<kind>` as it was.

    Args:
        con: warehouse connection with `raw.<source>` loaded for every configured source.
        config: the loaded kindred.yaml.
        kinds: the kinds to rebuild (default: all four; a kind without sources gets an empty table).

    Returns:
        Rows staged per kind and rows quarantined per source of those kinds.
    """
    kinds = tuple(kinds or KINDS)
    _ensure_state(con)
    with unordered_inserts(con), transaction(con):
        for kind in kinds:
            scratch = _create_scratch(con, kind, "next")
            for source in config.sources_of(kind):
                sql, params = _typed_select(con, kind, source)
                con.execute(f"INSERT INTO {scratch} SELECT {_SCRATCH_SELECT[kind]} FROM ({sql})", params)
    result = StagingResult()
    with transaction(con):
        for kind in kinds:
            scratch = quote_table(f"staging._{kind}_next")
            erased = set_aside_suppressed(con, scratch, [s.name for s in config.sources_of(kind)])
            repeats = _find_repeats(con, kind, scratch)
            for source in config.sources_of(kind):
                _create_quarantine(con, source)
                _quarantine_from(con, scratch, source, with_repeats=bool(repeats))
                if erased:
                    quarantine_set_aside(con, source.name)
            con.execute(f"DELETE FROM {scratch} WHERE _reason IS NOT NULL")
            if repeats:
                _delete_repeats(con, scratch)
            con.execute(f"ALTER TABLE {scratch} DROP COLUMN _reason")
            con.execute(f"DROP TABLE IF EXISTS {quote_table(f'staging.{kind}')}")
            con.execute(f"ALTER TABLE {scratch} RENAME TO {_ident(kind)}")
            _record_staged(con, config.sources_of(kind))
            result.staged[kind] = row_count(con, f"staging.{kind}")
            for source in config.sources_of(kind):
                result.quarantined[source.name] = row_count(con, f"quarantine.{source.name}")
    finish_set_aside(con)
    log.info("staged %s; quarantined %s", result.staged, result.quarantined)
    return result


def stage_window(
    con: duckdb.DuckDBPyConnection,
    config: KindredConfig,
    start: date,
    end: date,
    kinds: list[str] | tuple[str, ...] = PARTITIONED_KINDS,
) -> StagingResult:
    """Re-stage the events and orders whose time falls in `[start, end)`.

    Also re-staged, whatever their date: rows of file versions loaded since the last staging, and
    rows without a readable time (they are quarantined). Rows of replaced or unloaded file
    versions leave staging and quarantine. A source whose settings in kindred.yaml changed since
    it was staged is re-staged whole. So after any window, every row of raw is staged or
    quarantined exactly once. The rows are typed into `staging._<kind>_scope` first; the change
    to staging and quarantine is one transaction.

    Args:
        con: warehouse connection with raw loaded.
        config: the loaded kindred.yaml.
        start: first day of the window.
        end: the day after the last day of the window.
        kinds: among events and orders.

    Returns:
        Rows staged per kind whose time falls in the window, and rows each source's re-stage put
        in quarantine (in the window, without a time, or from new file versions).
    """
    unknown = sorted(set(kinds) - set(PARTITIONED_KINDS))
    if unknown:
        raise ValueError(f"only events and orders have daily partitions, not {', '.join(unknown)}")
    if end <= start:
        raise ValueError(f"empty window: {start} to {end}")
    _ensure_state(con)
    whole: set[str] = set()
    with unordered_inserts(con), transaction(con):
        for kind in kinds:
            scratch = _create_scratch(con, kind, "scope")
            for source in config.sources_of(kind):
                sql, params = _typed_select(con, kind, source)
                if not table_exists(con, f"staging.{kind}") or _needs_full_restage(con, source):
                    log.info(
                        "source '%s': settings changed since it was staged; re-staging it whole", source.name
                    )
                    whole.add(source.name)
                    con.execute(f"INSERT INTO {scratch} SELECT {_SCRATCH_SELECT[kind]} FROM ({sql})", params)
                    continue
                n = len(params)
                con.execute(
                    f"""INSERT INTO {scratch} SELECT {_SCRATCH_SELECT[kind]} FROM ({sql}) t
                    WHERE (_event_time >= ${n + 1} AND _event_time < ${n + 2})
                       OR _event_time IS NULL
                       OR NOT EXISTS (
                         SELECT 1 FROM {STAGED_FILES} s
                         WHERE s.source = t.source AND s.file = t._file AND s.ingested_at = t._ingested_at)""",
                    [*params, start, end],
                )
    result = StagingResult()
    with transaction(con):
        for kind in kinds:
            staging = quote_table(f"staging.{kind}")
            scratch = quote_table(f"staging._{kind}_scope")
            if not table_exists(con, f"staging.{kind}"):
                _create_kind_table(con, kind)
            time_column = EVENT_TIME[kind]
            erased = set_aside_suppressed(con, scratch, [s.name for s in config.sources_of(kind)])
            for source in config.sources_of(kind):
                quarantine = quote_table(f"quarantine.{source.name}")
                if source.name in whole or not table_exists(con, f"quarantine.{source.name}"):
                    con.execute(f"DELETE FROM {staging} WHERE source = ?", [source.name])
                    _create_quarantine(con, source)
                else:
                    _drop_orphans(con, kind, source)
                    con.execute(
                        f"DELETE FROM {staging} WHERE source = ? AND {time_column} >= ? AND {time_column} < ?",
                        [source.name, start, end],
                    )
                    con.execute(
                        f"DELETE FROM {quarantine} q USING {scratch} s "
                        "WHERE s.source = ? AND q._file = s._file AND q._row_number = s._row_number",
                        [source.name],
                    )
                result.quarantined[source.name] = _quarantine_from(con, scratch, source)
                if erased:
                    result.quarantined[source.name] += quarantine_set_aside(con, source.name)
            columns = ", ".join(staging_columns(kind))
            con.execute(f"INSERT INTO {staging} SELECT {columns} FROM {scratch} WHERE _reason IS NULL")
            con.execute(f"DROP TABLE {scratch}")
            for source, moved in _deduplicate(con, config, kind).items():
                result.quarantined[source] += moved
            _record_staged(con, config.sources_of(kind))
            result.staged[kind] = con.execute(
                f"SELECT count(*) FROM {staging} WHERE {time_column} >= ? AND {time_column} < ?", [start, end]
            ).fetchall()[0][0]
    finish_set_aside(con)
    log.info("window %s..%s: staged %s; quarantined %s", start, end, result.staged, result.quarantined)
    return result


def event_days(
    con: duckdb.DuckDBPyConnection, kind: str, source: SourceConfig, files: list[str] | None = None
) -> list[date]:
    """The days the rows of a source (or of some of its files) happened on, from raw.

    Args:
        con: warehouse connection.
        kind: events or orders.
        source: the source.
        files: only rows of these files (default: all).

    Returns:
        The sorted distinct dates of the rows' times; rows without a readable time are left out.
    """
    if files is not None and not files:
        return []
    sql, params = _typed_select(con, kind, source)
    where = "_event_time IS NOT NULL"
    if files is not None:
        params = [*params, list(files)]
        where += f" AND list_contains(${len(params)}, _file)"
    rows = con.execute(
        f"SELECT DISTINCT _event_time::DATE FROM ({sql}) WHERE {where} ORDER BY 1", params
    ).fetchall()
    return [r[0] for r in rows]


def staged_days(con: duckdb.DuckDBPyConnection, kind: str, source: str, files: list[str]) -> list[date]:
    """The days of the rows of some files as staging holds them now (before they are re-staged)."""
    if not files or not table_exists(con, f"staging.{kind}"):
        return []
    rows = con.execute(
        f"SELECT DISTINCT {EVENT_TIME[kind]}::DATE FROM {quote_table(f'staging.{kind}')} "
        "WHERE source = ? AND list_contains(?, _file) ORDER BY 1",
        [source, list(files)],
    ).fetchall()
    return [r[0] for r in rows if r[0] is not None]


def days_touched(
    con: duckdb.DuckDBPyConnection, kind: str, source: SourceConfig, loaded: list[str], replaced: list[str]
) -> list[date]:
    """The days whose staging an ingest changed: days of the rows just loaded, and of the rows they replaced.

    Call it after `ingest_source` and before staging is rebuilt: the replaced rows' days are read
    from staging, which still holds them.

    Args:
        con: warehouse connection.
        kind: events or orders.
        source: the source.
        loaded: files loaded or reloaded by the ingest.
        replaced: files whose previous version the ingest replaced.

    Returns:
        Sorted distinct days.
    """
    days = set(event_days(con, kind, source, loaded)) | set(staged_days(con, kind, source.name, replaced))
    return sorted(days)


def _typed_columns(kind: str) -> str:
    fields = canonical_fields(kind)
    return ", ".join(f"{c} {_column_type(c, fields)}" for c in staging_columns(kind))


def _create_kind_table(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    con.execute(f"CREATE OR REPLACE TABLE {quote_table(f'staging.{kind}')} ({_typed_columns(kind)})")


def _create_scratch(con: duckdb.DuckDBPyConnection, kind: str, purpose: str) -> str:
    """`staging._<kind>_<purpose>`: the staging columns plus each row's `_reason`."""
    table = quote_table(f"staging._{kind}_{purpose}")
    con.execute(f"CREATE OR REPLACE TABLE {table} ({_typed_columns(kind)}, _reason VARCHAR)")
    return table


_SCRATCH_SELECT = {kind: ", ".join([*staging_columns(kind), "_reason"]) for kind in KINDS}


def _create_quarantine(con: duckdb.DuckDBPyConnection, source: SourceConfig) -> None:
    con.execute(f"CREATE OR REPLACE TABLE {quote_table(f'quarantine.{source.name}')} ({QUARANTINE_COLUMNS})")


def _quarantine_from(
    con: duckdb.DuckDBPyConnection, scratch: str, source: SourceConfig, with_repeats: bool = False
) -> int:
    """Copy a source's rows with a reason from a scratch table to its quarantine, with their raw content.

    `with_repeats`: also the source's rows in `_kindred_repeats`, in the same pass over raw (reading
    every raw line back is most of the cost).
    """
    rejected = (
        f"SELECT source, _file, _row_number, _reason AS reason FROM {scratch} WHERE _reason IS NOT NULL"
    )
    if with_repeats:
        rejected += f" UNION ALL {_REPEATED_ROWS}"
    return _quarantine_rows(con, source, rejected)


_REPEATED_ROWS = "SELECT source, _file, _row_number, reason FROM _kindred_repeats"


def _quarantine_rows(con: duckdb.DuckDBPyConnection, source: SourceConfig, rejected: str) -> int:
    """Insert the source's rows of `rejected` (source, _file, _row_number, reason) into its quarantine,
    with their raw content; returns how many."""
    return con.execute(
        f"INSERT INTO {quote_table(f'quarantine.{source.name}')} "
        f"SELECT s.source, s._file, s._row_number, s.reason, {_raw_content_of(con, source)}, r._ingested_at "
        f"FROM ({rejected}) s JOIN {quote_table(f'raw.{source.name}')} r USING (_file, _row_number) "
        "WHERE s.source = ?",
        [source.name],
    ).fetchall()[0][0]


def _drop_orphans(con: duckdb.DuckDBPyConnection, kind: str, source: SourceConfig) -> None:
    """Remove staged and quarantined rows of file versions that are no longer loaded in raw."""
    current = (
        f"NOT EXISTS (SELECT 1 FROM {MANIFEST} m WHERE m.source = $1 AND m.status = $2 "
        "AND m.file = t._file AND m.ingested_at = t._ingested_at)"
    )
    con.execute(
        f"DELETE FROM {quote_table(f'staging.{kind}')} t WHERE t.source = $1 AND {current}",
        [source.name, LOADED],
    )
    con.execute(
        f"DELETE FROM {quote_table(f'quarantine.{source.name}')} t WHERE {current}", [source.name, LOADED]
    )


def _ensure_state(con: duckdb.DuckDBPyConnection) -> None:
    ensure_manifest(con)
    con.execute(f"CREATE TABLE IF NOT EXISTS {STAGED_FILES} ({_STAGED_FILES_COLUMNS})")


def _settings(source: SourceConfig) -> str:
    settings = source.model_dump(include={"name", "kind", "id_namespace", "columns", "constants", "formats"})
    settings["rules"] = _RULES_VERSION
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _needs_full_restage(con: duckdb.DuckDBPyConnection, source: SourceConfig) -> bool:
    recorded = con.execute(
        f"SELECT DISTINCT settings FROM {STAGED_FILES} WHERE source = ?", [source.name]
    ).fetchall()
    if not table_exists(con, f"quarantine.{source.name}"):
        return True
    return any(r[0] != _settings(source) for r in recorded)


def _record_staged(con: duckdb.DuckDBPyConnection, sources: list[SourceConfig]) -> None:
    for source in sources:
        con.execute(f"DELETE FROM {STAGED_FILES} WHERE source = ?", [source.name])
        con.execute(
            f"INSERT INTO {STAGED_FILES} SELECT source, file, ingested_at, ? FROM {MANIFEST} "
            "WHERE source = ? AND status = ?",
            [_settings(source), source.name, LOADED],
        )


def _column_type(column: str, fields: dict[str, str]) -> str:
    if column == "_row_number":
        return "BIGINT"
    if column == "_ingested_at":
        return "TIMESTAMP"
    sql_type = _SQL_TYPES[fields.get(column, "string")]
    if column in _UNIQUE_IDS:
        return f"{sql_type} USING COMPRESSION uncompressed"
    return f"{sql_type} USING COMPRESSION zstd" if column in _LONG_TEXTS else sql_type


def _raw_columns(con: duckdb.DuckDBPyConnection, source: SourceConfig) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ? "
        "ORDER BY ordinal_position",
        [source.name],
    ).fetchall()
    return [r[0] for r in rows]


def _source_format(con: duckdb.DuckDBPyConnection, source: SourceConfig) -> str:
    ensure_manifest(con)
    formats = con.execute(
        f"SELECT DISTINCT format FROM {MANIFEST} WHERE source = ? AND status = ?", [source.name, LOADED]
    ).fetchall()
    if formats:
        return formats[0][0]
    return source.format or (
        "jsonl" if source.path.lower().endswith((".jsonl", ".ndjson", ".json")) else "csv"
    )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Select:
    """Accumulates the parameters of one source's SELECT, numbered in order."""

    def __init__(self) -> None:
        self.params: list = []

    def param(self, value: object) -> str:
        # Numbered placeholders, because one field's expression appears several times in the text.
        self.params.append(value)
        return f"${len(self.params)}"


def _typed_select(con: duckdb.DuckDBPyConnection, kind: str, source: SourceConfig) -> tuple[str, list]:
    """The SELECT typing one source's raw rows, with `_reason` and `_event_time`.

    Four layers, so every expression is written (and evaluated) once: the raw rows with their
    JSON extracted (`src`), each field's cleaned source text (`_t_<field>`), the typed values,
    then the reason built from the texts and typed values by name.

    Args:
        con: warehouse connection.
        kind: the source's kind.
        source: the source.

    Returns:
        The SQL and its parameters.
    """
    if not table_exists(con, f"raw.{source.name}"):
        raise ConfigError(
            f"source '{source.name}': raw.{source.name} does not exist; ingest the source first"
        )
    raw_columns = _raw_columns(con, source)
    is_json = _source_format(con, source) == "jsonl"
    fields = canonical_fields(kind)
    mapping = source.column_map()
    q = _Select()

    def source_paths(name: str) -> list[str]:
        if name in mapping:
            return [mapping[name]]
        # Events read Segment's names and traits; other kinds a key named like the field.
        return _json_defaults(kind).get(name, []) if kind == "events" else [name]

    paths = _JsonPaths({p for name in fields if name not in source.constants for p in source_paths(name)})

    def source_text(name: str, kind_type: str) -> str | None:
        """Expression for the source text of a canonical field, or None if unmapped."""
        if name in source.constants:
            return q.param(source.constants[name])
        if is_json:
            parts = [paths.ref(p) for p in source_paths(name)]
            if not parts:
                return None
            joined = f"coalesce({', '.join(parts)})" if len(parts) > 1 else parts[0]
            # JSON values keep their text as it is; everything else is trimmed.
            text = joined if kind_type == "json" else _clean(joined)
            parents = sorted({part.split("[")[0] for part in parts})
            if "_ex" in parents:
                return text
            # Read from objects most rows lack (traits): only rows that have one do the work.
            return f"CASE WHEN {' OR '.join(f'{p} IS NOT NULL' for p in parents)} THEN {text} END"
        column = data_column(mapping.get(name, name))
        return _clean(_ident(column)) if column in raw_columns else None

    texts: dict[str, str] = {}  # field -> its text column
    text_columns: list[str] = []
    typed: dict[str, str] = {}  # field -> its typed expression
    # (condition that the row breaks the rule, message): cheap conditions decide; messages are
    # only built for the rows that fail.
    reasons: list[tuple[str, str]] = []
    for name, kind_type in fields.items():
        label = mapping.get(name, name)
        text = source_text(name, kind_type)
        if text is None:
            typed[name] = f"NULL::{_SQL_TYPES[kind_type]}"
            continue
        texts[name] = column = f"_t_{name}"
        text_columns.append(f"{text} AS {column}")
        if is_json and kind_type == "json" and name not in source.constants:
            typed[name] = _json_value(column)
            continue
        typed[name] = _typed(column, kind_type, source.formats.get(name), q)
        if kind_type != "string":
            reasons.append(
                (
                    f"({column} IS NOT NULL AND {name} IS NULL)",
                    f"concat({q.param(f'unparseable {kind_type} in {name} (column {label}): ')}, left({column}, 80))",
                )
            )
    for name in source.required_fields():
        label = mapping.get(name, name)
        present = texts.get(name, "NULL")
        reasons.append((f"({present} IS NULL)", q.param(f"missing {name} (column {label})")))
    if kind == "events":
        reasons += _event_rules(texts, typed, mapping, q)
    if is_json:
        read_reason = (
            "CASE WHEN _ex IS NULL THEN 'malformed JSON line' "
            # ltrim copies the line: only lines not starting with the brace pay for it.
            "WHEN NOT starts_with(_raw, '{') AND NOT starts_with(ltrim(_raw), '{') "
            "THEN 'JSON line is not an object' END"
        )
        inner = paths.select(quote_table(f"raw.{source.name}"), q)
    else:
        read_reason = "NULL"
        inner = f"SELECT * FROM {quote_table(f'raw.{source.name}')}"
    broken = " OR ".join(c for c, _ in reasons) or "false"
    messages = ", ".join(f"CASE WHEN {c} THEN {m} END" for c, m in reasons) or "NULL"
    reason = (
        f"coalesce(_error, {read_reason}, "
        f"CASE WHEN {broken} THEN nullif(concat_ws('; ', {messages}), '') END)"
    )
    carried = "_file, _row_number, _ingested_at, _error" + (", _ex, _raw" if is_json else "")
    namespace = q.param(source.namespace)
    source_name = q.param(source.name)
    person_key = "" if kind == "people" else f"{PERSON_KEY[kind]} AS record_id,"
    sql = f"""
WITH src AS ({inner}),
text AS (SELECT {", ".join([*text_columns, carried])} FROM src),
typed AS (SELECT *, {", ".join(f"{expr} AS {name}" for name, expr in typed.items())} FROM text)
SELECT {source_name} AS source, {", ".join(fields)},
  {person_key}
  {namespace} AS id_namespace,
  _file, _row_number, _ingested_at,
  {reason} AS _reason,
  {EVENT_TIME[kind]} AS _event_time
FROM typed
"""
    return sql, q.params


def _clean(text: str) -> str:
    """The trimmed text, NULL when empty.

    `trim` costs more than the rest of the typing on long ids, and almost no value needs it: a
    value whose first and last characters are printable ASCII is kept as it is.
    """
    return (
        f"CASE WHEN ord({text}) BETWEEN 33 AND 126 AND ord({text}[-1]) BETWEEN 33 AND 126 "
        f"THEN {text} ELSE nullif(trim({text}), '') END"
    )


class _JsonPaths:
    """The JSON paths one source reads, extracted with one parse per row and object.

    Paths come from one `json_extract_string` over the line (`_ex`); a deeper path is read from
    an object above it (`_ex_<n>`), parsed on its own: `traits.email` from the text of `traits`,
    `context.traits.address.city` from `context.traits`. Dozens of trait paths then cost one parse
    of a small object that most events do not even have, and no large object (such as all of
    `context`) is written out as text only to be parsed again.
    """

    def __init__(self, read: set[str]) -> None:
        """`read`: every path the source reads; an object among them is a parent for the paths below it."""
        self.read = read
        self.top: dict[str, int] = {}
        self.nested: dict[str, dict[str, int]] = {}

    def parent(self, dotted: str) -> str | None:
        """The object a path is read from: the deepest one read anyway, else its second level."""
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            if ".".join(parts[:cut]) in self.read:
                return ".".join(parts[:cut])
        return ".".join(parts[: min(2, len(parts) - 1)]) or None

    def ref(self, dotted: str) -> str:
        """The SQL expression of a dotted path's text."""
        parent = self.parent(dotted)
        if parent is None:
            return f"_ex[{self.top.setdefault(dotted, len(self.top) + 1)}]"
        self.top.setdefault(parent, len(self.top) + 1)
        group = self.nested.setdefault(parent, {})
        position = group.setdefault(dotted.removeprefix(parent + "."), len(group) + 1)
        return f"_ex_{list(self.nested).index(parent) + 1}[{position}]"

    def select(self, table: str, q: _Select) -> str:
        """A SELECT of the raw table with `_ex` and the `_ex_<n>` lists added."""
        if not self.top:
            return f"SELECT *, []::VARCHAR[] AS _ex FROM {table}"
        top = [_json_path(key) for key in self.top]
        inner = f"SELECT *, try(json_extract_string(_raw, {q.param(top)})) AS _ex FROM {table}"
        if not self.nested:
            return inner
        levels = [
            f"try(json_extract_string(_ex[{self.top[head]}], {q.param([_json_path(p) for p in group])})) AS _ex_{n}"
            for n, (head, group) in enumerate(self.nested.items(), start=1)
        ]
        return f"SELECT *, {', '.join(levels)} FROM ({inner})"


def _event_rules(
    texts: dict[str, str], typed: dict[str, str], mapping: dict[str, str], q: _Select
) -> list[tuple[str, str]]:
    """The Segment rules: a known call type (stored lower-case), and a user or an anonymous id."""
    rules = []
    if "type" in texts:
        allowed = q.param(list(SEGMENT_TYPES))
        message = q.param(f"' is not a Segment call type ({', '.join(SEGMENT_TYPES)})")
        text = texts["type"]
        typed["type"] = f"lower({typed['type']})"
        rules.append(
            (
                f"({text} IS NOT NULL AND NOT list_contains({allowed}, type))",
                f"concat('type ''', left({text}, 40), {message})",
            )
        )
    user = texts.get("user_id", "NULL")
    anonymous = texts.get("anonymous_id", "NULL")
    labels = f"columns {mapping.get('user_id', 'user_id')}, {mapping.get('anonymous_id', 'anonymous_id')}"
    rules.append(
        (f"({user} IS NULL AND {anonymous} IS NULL)", q.param(f"missing user_id and anonymous_id ({labels})"))
    )
    return rules


def _file_column(raw_column: str) -> str:
    """The file's own name of a raw column (undoing `data_column`)."""
    return raw_column.removeprefix("_col_")


def _json_value(value: str) -> str:
    # Objects and arrays stay JSON; a scalar where an object was expected is kept as a JSON string.
    return (
        f"CASE WHEN {value} IS NULL THEN NULL "
        f"WHEN (starts_with({value}, '{{') OR starts_with({value}, '[')) AND json_valid({value}) THEN {value}::JSON "
        f"ELSE to_json({value}) END"
    )


def _typed(text: str, kind_type: str, fmt: str | None, q: _Select) -> str:
    if kind_type == "timestamp":
        parsed = (
            f"try_strptime({text}, {q.param(fmt)})::TIMESTAMP"
            if fmt
            else f"try_cast({text} AS TIMESTAMPTZ)::TIMESTAMP"
        )
        # Years outside 1000-9999 are typos or overflow, not times a customer did something.
        return f"CASE WHEN year({parsed}) BETWEEN 1000 AND 9999 THEN {parsed} END"
    if kind_type == "double":
        return f"CASE WHEN isfinite(try_cast({text} AS DOUBLE)) THEN try_cast({text} AS DOUBLE) END"
    if kind_type == "boolean":
        return (
            f"CASE WHEN list_contains({q.param(list(_TRUE))}, lower({text})) THEN true "
            f"WHEN list_contains({q.param(list(_FALSE))}, lower({text})) THEN false END"
        )
    if kind_type == "json":
        return f"CASE WHEN json_valid({text}) THEN {text}::JSON END"
    return text


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


def _repeats(kind: str, table: str, candidates: str = "TRUE") -> str | None:
    """A query of the rows of `table` that repeat an earlier row, with the reason; None if the kind has none.

    Events: a `message_id` seen before (the copy loaded first wins: earliest `_ingested_at`, then
    file and row); people and cases: every version of a record but the latest of its source.
    """
    if kind == "events":
        # Hash first: the exact window only runs over the few ids that repeat.
        return f"""
            SELECT source, _file, _row_number,
              'duplicate message_id (first loaded from ' || first_file || ' row ' || first_row || ')' AS reason
            FROM (
              SELECT source, _file, _row_number,
                first_value(_file) OVER w AS first_file, first_value(_row_number) OVER w AS first_row,
                row_number() OVER w AS n
              FROM {table}
              WHERE {candidates} AND hash(message_id) IN (
                SELECT hash(message_id) FROM {table} WHERE {candidates} GROUP BY 1 HAVING count(*) > 1)
              WINDOW w AS (PARTITION BY message_id ORDER BY _ingested_at, _file, _row_number)
            ) WHERE n > 1"""
    if kind in ("people", "cases"):
        key = "record_id" if kind == "people" else "case_id"
        return f"""
            SELECT source, _file, _row_number, 'superseded by a later version of {key} ' || {key} AS reason
            FROM (
              SELECT source, _file, _row_number, {key},
                row_number() OVER (
                  PARTITION BY source, {key}
                  ORDER BY {EVENT_TIME[kind]} DESC NULLS LAST, _file DESC, _row_number DESC) AS n
              FROM {table} WHERE {candidates}
            ) WHERE n > 1"""
    return None


def _find_repeats(
    con: duckdb.DuckDBPyConnection, kind: str, table: str, candidates: str = "_reason IS NULL"
) -> int:
    """Collect the repeated rows of `table` in the temp table `_kindred_repeats`; returns how many.

    A temp table and a delete, not an UPDATE of the rows' reason: DuckDB rewrites updated row
    groups when it commits, which cost more than the whole dedupe.
    """
    query = _repeats(kind, table, candidates)
    if query is None:
        return 0
    con.execute(f"CREATE OR REPLACE TEMP TABLE _kindred_repeats AS {query}")
    return con.execute("SELECT count(*) FROM _kindred_repeats").fetchall()[0][0]


def _delete_repeats(con: duckdb.DuckDBPyConnection, table: str) -> None:
    con.execute(
        f"DELETE FROM {table} s USING _kindred_repeats d "
        "WHERE s.source = d.source AND s._file = d._file AND s._row_number = d._row_number"
    )
    con.execute("DROP TABLE _kindred_repeats")


def _deduplicate(con: duckdb.DuckDBPyConnection, config: KindredConfig, kind: str) -> dict[str, int]:
    """Move the repeated rows of `staging.<kind>` to their sources' quarantine; returns rows moved per source."""
    staging = quote_table(f"staging.{kind}")
    if not config.sources_of(kind) or not _find_repeats(con, kind, staging, "TRUE"):
        return {}
    moved = {source.name: _quarantine_rows(con, source, _REPEATED_ROWS) for source in config.sources_of(kind)}
    _delete_repeats(con, staging)
    return moved


def _raw_content_of(con: duckdb.DuckDBPyConnection, source: SourceConfig) -> str:
    if _source_format(con, source) == "jsonl":
        return "r._raw"
    lineage = {*LINEAGE, *READ_COLUMNS}
    body = [c for c in _raw_columns(con, source) if c not in lineage]
    pairs = ", ".join(f"{_ident(_file_column(c))} := r.{_ident(c)}" for c in body) or "empty := NULL"
    # A row blanked because it carried an erased person's identifier keeps no content at all.
    erased = "'" + ERASED_ON_REQUEST.replace("'", "''") + "'"
    return (
        f"CASE WHEN r._error = {erased} THEN NULL "
        f"ELSE coalesce(r._raw, to_json(struct_pack({pairs}))::VARCHAR) END"
    )
