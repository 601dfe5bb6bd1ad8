"""How staging fills `quarantine.<source>`: rows with a reason, and rows that repeat an earlier one.

A quarantined row keeps its raw content (the JSON line, or a CSV record as a JSON object of its
columns) so it can be fixed and loaded again; a row set aside because it carried an erased
person's identifier keeps none. Repeats are a repeated event `messageId` (the copy loaded first
is kept) and the older versions of a person or case record: they are collected in the temp table
`_kindred_repeats`, quarantined, then deleted from staging. `warehouse.staging` decides when these
run; `warehouse.quarantine` reads the quarantine tables back (the row ledger).
"""

from __future__ import annotations

import duckdb

from privacy.suppression_check import ERASED_ON_REQUEST
from warehouse.canonical import EVENT_TIME
from warehouse.config import KindredConfig, SourceConfig
from warehouse.connection import quote_table
from warehouse.landing import LINEAGE, READ_COLUMNS
from warehouse.manifest import LOADED, MANIFEST
from warehouse.typed_select import quote_identifier, raw_column_names, source_format

QUARANTINE_COLUMNS = "source VARCHAR, _file VARCHAR, _row_number BIGINT, reason VARCHAR, raw_content VARCHAR, _ingested_at TIMESTAMP"


def create_quarantine(con: duckdb.DuckDBPyConnection, source: SourceConfig) -> None:
    """Create `quarantine.<source>` empty, replacing what it held.

    Args:
        con: warehouse connection.
        source: the source.
    """
    con.execute(f"CREATE OR REPLACE TABLE {quote_table(f'quarantine.{source.name}')} ({QUARANTINE_COLUMNS})")


def quarantine_from(
    con: duckdb.DuckDBPyConnection, scratch: str, source: SourceConfig, with_repeats: bool = False
) -> int:
    """Copy a source's rows with a reason from a scratch table to its quarantine, with their raw content.

    Args:
        con: warehouse connection.
        scratch: the quoted name of a scratch table with a `_reason` column.
        source: the source.
        with_repeats: also the source's rows in `_kindred_repeats`, in the same pass over raw
            (reading every raw line back is most of the cost).

    Returns:
        The number of rows quarantined.
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


def drop_orphans(con: duckdb.DuckDBPyConnection, kind: str, source: SourceConfig) -> None:
    """Remove staged and quarantined rows of file versions that are no longer loaded in raw.

    Args:
        con: warehouse connection.
        kind: the source's kind.
        source: the source.
    """
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


def find_repeats(
    con: duckdb.DuckDBPyConnection, kind: str, table: str, candidates: str = "_reason IS NULL"
) -> int:
    """Collect the repeated rows of `table` in the temp table `_kindred_repeats`; returns how many.

    A temp table and a delete, not an UPDATE of the rows' reason: DuckDB rewrites updated row
    groups when it commits, which cost more than the whole dedupe.

    Args:
        con: warehouse connection.
        kind: the kind of the rows (events, people and cases have repeats; orders none).
        table: the quoted name of a staging or scratch table of that kind.
        candidates: a condition on the rows that take part.

    Returns:
        The number of repeated rows.
    """
    query = _repeats(kind, table, candidates)
    if query is None:
        return 0
    con.execute(f"CREATE OR REPLACE TEMP TABLE _kindred_repeats AS {query}")
    return con.execute("SELECT count(*) FROM _kindred_repeats").fetchall()[0][0]


def delete_repeats(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Delete the rows collected by `find_repeats` from `table`, and drop `_kindred_repeats`.

    Args:
        con: warehouse connection.
        table: the quoted name of the table `find_repeats` read.
    """
    con.execute(
        f"DELETE FROM {table} s USING _kindred_repeats d "
        "WHERE s.source = d.source AND s._file = d._file AND s._row_number = d._row_number"
    )
    con.execute("DROP TABLE _kindred_repeats")


def deduplicate(con: duckdb.DuckDBPyConnection, config: KindredConfig, kind: str) -> dict[str, int]:
    """Move the repeated rows of `staging.<kind>` to their sources' quarantine.

    Args:
        con: warehouse connection.
        config: the loaded kindred.yaml.
        kind: the kind.

    Returns:
        Rows moved per source (empty when none repeat).
    """
    staging = quote_table(f"staging.{kind}")
    if not config.sources_of(kind) or not find_repeats(con, kind, staging, "TRUE"):
        return {}
    moved = {source.name: _quarantine_rows(con, source, _REPEATED_ROWS) for source in config.sources_of(kind)}
    delete_repeats(con, staging)
    return moved


def _raw_content_of(con: duckdb.DuckDBPyConnection, source: SourceConfig) -> str:
    if source_format(con, source) == "jsonl":
        return "r._raw"
    lineage = {*LINEAGE, *READ_COLUMNS}
    body = [c for c in raw_column_names(con, source) if c not in lineage]
    pairs = (
        ", ".join(f"{quote_identifier(_file_column(c))} := r.{quote_identifier(c)}" for c in body)
        or "empty := NULL"
    )
    # A row blanked because it carried an erased person's identifier keeps no content at all.
    erased = "'" + ERASED_ON_REQUEST.replace("'", "''") + "'"
    return (
        f"CASE WHEN r._error = {erased} THEN NULL "
        f"ELSE coalesce(r._raw, to_json(struct_pack({pairs}))::VARCHAR) END"
    )


def _file_column(raw_column: str) -> str:
    """The file's own name of a raw column (undoing `data_column`)."""
    return raw_column.removeprefix("_col_")
