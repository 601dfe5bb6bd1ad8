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

Rows carrying an identifier of an erased person (privacy.suppression) are set aside from each
batch before anything else and quarantined as "erased on request" without their content.

This module runs the two transactions, owns the layout of the `staging.<kind>` tables, and finds
the days of events and orders an ingest touched (`days_touched`). The parts it runs live apart:
`warehouse.typed_select` generates each source's SELECT (the hard rules above),
`warehouse.staging_quarantine` moves rejected and repeated rows to quarantine, and
`warehouse.staged_files` records which file versions were staged with which settings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import duckdb

from privacy.suppression_check import finish_set_aside, quarantine_set_aside, set_aside_suppressed
from warehouse.canonical import EVENT_TIME, KINDS, PERSON_ATTRIBUTES, canonical_fields
from warehouse.config import KindredConfig, SourceConfig
from warehouse.connection import quote_table, row_count, table_exists, transaction, unordered_inserts
from warehouse.staged_files import STAGED_FILES, ensure_staged_files, needs_full_restage, record_staged
from warehouse.staging_quarantine import (
    create_quarantine,
    deduplicate,
    delete_repeats,
    drop_orphans,
    find_repeats,
    quarantine_from,
)
from warehouse.typed_select import SQL_TYPES, quote_identifier, typed_select

log = logging.getLogger(__name__)

# Kinds with daily partitions: their rows have a required time of their own.
PARTITIONED_KINDS = ("events", "orders")
# Text columns with about as many values as rows. DuckDB's default string compression spends
# more time looking for repeats in them than it saves. Ids are short and nearly random: stored as
# they are, they take half the time zstd takes to write, for twice the disk (about 50 bytes an
# event on 10M Segment events). Long texts (JSON objects, case text) shrink several-fold with zstd.
_UNIQUE_IDS = frozenset(
    {"message_id", "user_id", "anonymous_id", "record_id", "order_id", "customer_id", "case_id"}
)
_LONG_TEXTS = frozenset({"properties", "traits", "subject", "description"})


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
    ensure_staged_files(con)
    with unordered_inserts(con), transaction(con):
        for kind in kinds:
            scratch = _create_scratch(con, kind, "next")
            for source in config.sources_of(kind):
                sql, params = typed_select(con, kind, source)
                con.execute(f"INSERT INTO {scratch} SELECT {_SCRATCH_SELECT[kind]} FROM ({sql})", params)
    result = StagingResult()
    with transaction(con):
        for kind in kinds:
            scratch = quote_table(f"staging._{kind}_next")
            erased = set_aside_suppressed(con, scratch, [s.name for s in config.sources_of(kind)])
            repeats = find_repeats(con, kind, scratch)
            for source in config.sources_of(kind):
                create_quarantine(con, source)
                quarantine_from(con, scratch, source, with_repeats=bool(repeats))
                if erased:
                    quarantine_set_aside(con, source.name)
            con.execute(f"DELETE FROM {scratch} WHERE _reason IS NOT NULL")
            if repeats:
                delete_repeats(con, scratch)
            con.execute(f"ALTER TABLE {scratch} DROP COLUMN _reason")
            con.execute(f"DROP TABLE IF EXISTS {quote_table(f'staging.{kind}')}")
            con.execute(f"ALTER TABLE {scratch} RENAME TO {quote_identifier(kind)}")
            record_staged(con, config.sources_of(kind))
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
    ensure_staged_files(con)
    whole: set[str] = set()
    with unordered_inserts(con), transaction(con):
        for kind in kinds:
            scratch = _create_scratch(con, kind, "scope")
            for source in config.sources_of(kind):
                sql, params = typed_select(con, kind, source)
                if not table_exists(con, f"staging.{kind}") or needs_full_restage(con, source):
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
                    create_quarantine(con, source)
                else:
                    drop_orphans(con, kind, source)
                    con.execute(
                        f"DELETE FROM {staging} WHERE source = ? AND {time_column} >= ? AND {time_column} < ?",
                        [source.name, start, end],
                    )
                    con.execute(
                        f"DELETE FROM {quarantine} q USING {scratch} s "
                        "WHERE s.source = ? AND q._file = s._file AND q._row_number = s._row_number",
                        [source.name],
                    )
                result.quarantined[source.name] = quarantine_from(con, scratch, source)
                if erased:
                    result.quarantined[source.name] += quarantine_set_aside(con, source.name)
            columns = ", ".join(staging_columns(kind))
            con.execute(f"INSERT INTO {staging} SELECT {columns} FROM {scratch} WHERE _reason IS NULL")
            con.execute(f"DROP TABLE {scratch}")
            for source, moved in deduplicate(con, config, kind).items():
                result.quarantined[source] += moved
            record_staged(con, config.sources_of(kind))
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
    sql, params = typed_select(con, kind, source)
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


def _column_type(column: str, fields: dict[str, str]) -> str:
    if column == "_row_number":
        return "BIGINT"
    if column == "_ingested_at":
        return "TIMESTAMP"
    sql_type = SQL_TYPES[fields.get(column, "string")]
    if column in _UNIQUE_IDS:
        return f"{sql_type} USING COMPRESSION uncompressed"
    return f"{sql_type} USING COMPRESSION zstd" if column in _LONG_TEXTS else sql_type
