"""The staging check: rows carrying an erased person's identifier are quarantined without content.

Staging calls `set_aside_suppressed` on each kind's freshly typed rows. When nobody was erased it
costs one query; otherwise each distinct identifier key of the batch (record ids in their
namespace, emails, phone digits, CRM ids: see privacy.suppression) is hashed once, and only the
keys found on the list go on to match rows. Matching rows leave the batch, go to quarantine with
the reason "erased on request" and no content, and their raw rows are blanked in the raw store
(`warehouse.raw_store.rewrite_version`), so re-delivered files never bring the person back: the
next staging reads the blanked row's `_error` and quarantines it the same way. The rows did pass
through staging's scratch table, so their bytes linger in the warehouse file until it is
rewritten: the batch leaves a row in `privacy.erasure_cleanup`, and the end of the next run (or
the next `kindred forget`) rewrites the file (privacy.erasure.finish_pending).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

import duckdb
import polars as pl

from privacy.suppression import EXTENSION, SUPPRESSION, checked_salt, has_entries
from warehouse.connection import quote_table, table_exists
from warehouse.manifest import loaded_files, record_rewrite
from warehouse.raw_store import remove_unreferenced, replace_view, rewrite_version

log = logging.getLogger(__name__)

ERASED_ON_REQUEST = "erased on request"
# The rows a staging batch set aside, kept for the batch's transaction only.
SET_ASIDE = "_kindred_erased"
# Work left for privacy.erasure.finish_pending: the warehouse file holds bytes of set-aside rows.
CLEANUP = "privacy.erasure_cleanup"


def _email_sql(column: str) -> str:
    return f"regexp_replace(trim(lower({column})), '^mailto:\\s*', '')"


def _phone_sql(column: str) -> str:
    return f"regexp_replace(regexp_replace(lower({column}), '{EXTENSION}', ''), '[^0-9]', '', 'g')"


def _candidates(table: str, columns: set[str]) -> str:
    """Every distinct identifier key of a staging batch, as (kind, key)."""
    parts = []
    if {"id_namespace", "record_id"} <= columns:
        parts.append(
            "SELECT 'record' AS kind, id_namespace || ':' || record_id AS key "
            f"FROM (SELECT DISTINCT id_namespace, record_id FROM {table} WHERE record_id IS NOT NULL)"
        )
        # Some sources key people by their address (an email platform's userId).
        parts.append(
            f"SELECT 'email', {_email_sql('record_id')} "
            f"FROM (SELECT DISTINCT record_id FROM {table} WHERE contains(record_id, '@'))"
        )
    if {"id_namespace", "anonymous_id"} <= columns:
        parts.append(
            "SELECT 'record', id_namespace || ':' || anonymous_id "
            f"FROM (SELECT DISTINCT id_namespace, anonymous_id FROM {table} WHERE anonymous_id IS NOT NULL)"
        )
    if "email" in columns:
        parts.append(f"SELECT 'email', {_email_sql('email')} FROM (SELECT DISTINCT email FROM {table})")
    if "phone" in columns:
        parts.append(f"SELECT 'phone', {_phone_sql('phone')} FROM (SELECT DISTINCT phone FROM {table})")
    if {"crm_object", "record_id"} <= columns:
        parts.append(
            "SELECT 'crm', crm_object || ':' || record_id FROM "
            f"(SELECT DISTINCT crm_object, record_id FROM {table} WHERE crm_object IS NOT NULL)"
        )
    return " UNION ALL ".join(parts)


def _row_matches(columns: set[str]) -> str:
    """A condition on a batch row `t`: one of its identifier keys is in `_kindred_suppressed_keys`."""

    def among(kind: str, expression: str) -> str:
        return f"{expression} IN (SELECT key FROM _kindred_suppressed_keys WHERE kind = '{kind}')"

    tests = []
    if {"id_namespace", "record_id"} <= columns:
        tests += [
            among("record", "t.id_namespace || ':' || t.record_id"),
            among("email", _email_sql("t.record_id")),
        ]
    if {"id_namespace", "anonymous_id"} <= columns:
        tests.append(among("record", "t.id_namespace || ':' || t.anonymous_id"))
    if "email" in columns:
        tests.append(among("email", _email_sql("t.email")))
    if "phone" in columns:
        tests.append(among("phone", _phone_sql("t.phone")))
    if {"crm_object", "record_id"} <= columns:
        tests.append(among("crm", "t.crm_object || ':' || t.record_id"))
    return " OR ".join(tests) or "false"


def set_aside_suppressed(con: duckdb.DuckDBPyConnection, table: str, sources: Iterable[str]) -> int:
    """Take the rows carrying a suppressed identifier out of a staging batch (inside its transaction).

    The rows are deleted from `table` and listed in the temporary table `_kindred_erased`; their
    raw rows are blanked in the raw store (a new generation of each version, referenced by this
    transaction) so the content is gone when it commits. Call `quarantine_set_aside` for each
    source once its quarantine table exists, and `finish_set_aside` after the commit.

    Args:
        con: warehouse connection, in the staging transaction.
        table: the batch (a staging scratch table: staging columns plus `_reason`), quoted.
        sources: the names of the sources whose rows the batch holds.

    Returns:
        How many rows were set aside (0, at the cost of one query, when nobody was erased).
    """
    if not has_entries(con):
        return 0
    salt = checked_salt(con)
    columns = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    candidates = _candidates(table, columns)
    if not candidates:
        return 0
    # Each distinct key is hashed once; only the (few) keys on the list go on to match rows.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _kindred_suppressed_keys AS "
        f"SELECT DISTINCT kind, key FROM ({candidates}) WHERE key IS NOT NULL AND key <> '' "
        f"AND sha256($salt || ':' || kind || ':' || key) IN (SELECT identifier_hash FROM {SUPPRESSION})",
        {"salt": salt},
    )
    con.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {SET_ASIDE} "
        "(source VARCHAR, _file VARCHAR, _row_number BIGINT, _ingested_at TIMESTAMP)"
    )
    names = sorted(sources)
    con.execute(f"DELETE FROM {SET_ASIDE} WHERE list_contains(?, source)", [names])
    (keys,) = con.execute("SELECT count(*) FROM _kindred_suppressed_keys").fetchall()[0]
    if keys:
        con.execute(
            f"INSERT INTO {SET_ASIDE} SELECT t.source, t._file, t._row_number, t._ingested_at FROM {table} t "
            f"WHERE list_contains(?, t.source) AND ({_row_matches(columns)})",
            [names],
        )
    con.execute("DROP TABLE _kindred_suppressed_keys")
    rejected = {"_reason", "record_id"} <= columns and con.execute(
        f"SELECT EXISTS (SELECT 1 FROM {table} t WHERE {_unreadable('t')})"
    ).fetchall()[0][0]
    if rejected and "id_namespace" in columns:
        for source in names:
            _set_aside_unreadable(con, table, source, salt)
    (found,) = con.execute(
        f"SELECT count(*) FROM {SET_ASIDE} WHERE list_contains(?, source)", [names]
    ).fetchall()[0]
    if not found:
        return 0
    con.execute(
        f"DELETE FROM {table} t USING {SET_ASIDE} e "
        "WHERE t.source = e.source AND t._file = e._file AND t._row_number = e._row_number",
    )
    for source in names:
        _blank_raw_rows(con, source)
    con.execute(f"CREATE TABLE IF NOT EXISTS {CLEANUP} (requested_at TIMESTAMP, rows BIGINT)")
    con.execute(f"INSERT INTO {CLEANUP} VALUES (?, ?)", [datetime.now(UTC).replace(tzinfo=None), found])
    log.warning("%d arriving rows carry identifiers of erased people: quarantined without content", found)
    return found


def _unreadable(alias: str) -> str:
    """Rejected rows without a person key: nothing typed to check, so their raw text is searched."""
    return f"{alias}._reason IS NOT NULL AND {alias}.record_id IS NULL"


_TOKENS = (
    ("record", "id_namespace || ':' || token", "[A-Za-z0-9_.@+-]{3,}"),
    ("email", "lower(token)", "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)+"),
    ("phone", _phone_sql("token"), "\\+?[0-9][0-9 ().-]{5,}[0-9]"),
)


def _suppressed_tokens(rows: str, columns: str) -> str:
    """The `columns` of the rows (a relation with `id_namespace` and `content`) whose text holds a
    suppressed identifier: emails, digit runs that may be phones, and id-like words read in the
    row's namespace, each hashed with `$salt`."""
    pieces = " UNION ALL ".join(
        f"SELECT {columns}, '{kind}' AS kind, {expression} AS key "
        f"FROM (SELECT *, unnest(regexp_extract_all(content, '{pattern}')) AS token FROM ({rows}))"
        for kind, expression, pattern in _TOKENS
    )
    return (
        f"SELECT DISTINCT {columns} FROM ({pieces}) "
        f"WHERE sha256($salt || ':' || kind || ':' || key) IN (SELECT identifier_hash FROM {SUPPRESSION})"
    )


def _set_aside_unreadable(con: duckdb.DuckDBPyConnection, table: str, source: str, salt: str) -> None:
    """Rejected rows without a person key (a broken JSON line) carry no typed identifier: their
    raw text is searched for one (`_suppressed_tokens`), and a row holding one is set aside too.
    Only those rows are read back from raw (its parts are pruned by file), so this costs little."""
    if not table_exists(con, f"raw.{source}"):
        return
    rejected = f"""
        SELECT t.source, t._file, t._row_number, t._ingested_at, t.id_namespace,
               coalesce(r._raw, CAST(r AS VARCHAR)) AS content
        FROM {table} t JOIN {quote_table(f"raw.{source}")} r ON r._file = t._file AND r._row_number = t._row_number
        WHERE t.source = $source AND {_unreadable("t")}
          AND r._file IN (SELECT DISTINCT u._file FROM {table} u WHERE u.source = $source AND {_unreadable("u")})"""
    con.execute(
        f"""INSERT INTO {SET_ASIDE}
        SELECT * FROM ({_suppressed_tokens(rejected, "source, _file, _row_number, _ingested_at")}) k
        WHERE NOT EXISTS (SELECT 1 FROM {SET_ASIDE} e
                          WHERE e.source = k.source AND e._file = k._file AND e._row_number = k._row_number)""",
        {"source": source, "salt": salt},
    )


def blank_suppressed(
    con: duckdb.DuckDBPyConnection, rejected: pl.DataFrame, namespaces: Iterable[str]
) -> pl.DataFrame:
    """Rejected rows read outside staging (a consent file's) that hold an erased person's identifier:
    their reason becomes "erased on request" and their content goes.

    Args:
        con: warehouse connection.
        rejected: rows with `reason` and `raw_content` (the quarantine's shape).
        namespaces: the id namespaces a record id in the content may belong to.

    Returns:
        The rows, those of erased people blanked.
    """
    if rejected.height == 0 or not has_entries(con):
        return rejected
    salt = checked_salt(con)
    indexed = rejected.with_row_index("_kindred_row")
    view = "_kindred_rejected_rows"
    con.register(view, indexed.select("_kindred_row", "raw_content").to_arrow())
    try:
        rows = (
            f"SELECT _kindred_row, unnest($namespaces::VARCHAR[]) AS id_namespace, raw_content AS content FROM {view} "
            "WHERE raw_content IS NOT NULL"
        )
        hits = {
            r[0]
            for r in con.execute(
                _suppressed_tokens(rows, "_kindred_row"),
                {"namespaces": sorted(namespaces) or [""], "salt": salt},
            ).fetchall()
        }
    finally:
        con.unregister(view)
    if not hits:
        return rejected
    erased = pl.col("_kindred_row").is_in(list(hits))
    log.warning("%d rejected rows carry identifiers of erased people: quarantined without content", len(hits))
    return indexed.with_columns(
        pl.when(erased).then(pl.lit(ERASED_ON_REQUEST)).otherwise(pl.col("reason")).alias("reason"),
        pl.when(erased)
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(pl.col("raw_content"))
        .alias("raw_content"),
    ).drop("_kindred_row")


def _blank_raw_rows(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Rewrite the source's raw versions holding set-aside rows with those rows blanked."""
    versions = con.execute(
        f"SELECT DISTINCT _file, _ingested_at FROM {SET_ASIDE} WHERE source = ?", [source]
    ).fetchall()
    if not versions:
        return
    loaded = loaded_files(con, source)
    for file, ingested_at in versions:
        entry = loaded.get(file)
        if entry is None or entry.ingested_at != ingested_at:
            continue
        rewrite_version(con, source, entry, SET_ASIDE, tombstone=ERASED_ON_REQUEST)
        record_rewrite(con, source, file, entry.generation + 1, 0)
    replace_view(con, source)


def quarantine_set_aside(con: duckdb.DuckDBPyConnection, source: str) -> int:
    """Quarantine a source's set-aside rows: source, file, row and reason, no content.

    Returns:
        How many rows.
    """
    quarantine = quote_table(f"quarantine.{source}")
    con.execute(
        f"DELETE FROM {quarantine} q USING {SET_ASIDE} e "
        "WHERE e.source = ? AND q._file = e._file AND q._row_number = e._row_number",
        [source],
    )
    return con.execute(
        f"INSERT INTO {quarantine} (source, _file, _row_number, reason, raw_content, _ingested_at) "
        f"SELECT source, _file, _row_number, ?, NULL, _ingested_at FROM {SET_ASIDE} WHERE source = ?",
        [ERASED_ON_REQUEST, source],
    ).fetchall()[0][0]


def finish_set_aside(con: duckdb.DuckDBPyConnection) -> None:
    """After the staging transaction: drop the list and delete the raw parts that held the rows."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [SET_ASIDE]
    ).fetchall()[0][0]
    if exists:
        con.execute(f"DROP TABLE {SET_ASIDE}")
        remove_unreferenced(con)
