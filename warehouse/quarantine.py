"""Where rejected rows are and how many: the ledger behind "rows in = rows kept + rows quarantined"."""

from __future__ import annotations

import duckdb

from warehouse.config import KindredConfig
from warehouse.connection import quote_table, row_count, table_exists
from warehouse.manifest import LOADED, MANIFEST, ensure_manifest


def account_rows(con: duckdb.DuckDBPyConnection, config: KindredConfig, kind: str) -> list[dict]:
    """The row ledger of every source of one kind.

    Three counts must agree: the rows the manifest says the loaded files hold (counted as they
    were read) less the rows erased on request since (privacy.erasure), the rows in
    `raw.<source>`, and its rows in `staging.<kind>` plus `quarantine.<source>`.

    Args:
        con: warehouse connection after staging.
        config: the loaded kindred.yaml.
        kind: people, events, orders or cases.

    Returns:
        One dict per source: `source, files, file_rows, erased, raw, staged, quarantined, balanced`.
    """
    ensure_manifest(con)
    ledger = []
    for source in config.sources_of(kind):
        files, file_rows, erased = con.execute(
            f"SELECT count(*), coalesce(sum(rows), 0), coalesce(sum(erased_rows), 0) FROM {MANIFEST} "
            "WHERE source = ? AND status = ?",
            [source.name, LOADED],
        ).fetchall()[0]
        raw = row_count(con, f"raw.{source.name}")
        staged = 0
        if table_exists(con, f"staging.{kind}"):
            staged = con.execute(
                f"SELECT count(*) FROM {quote_table(f'staging.{kind}')} WHERE source = ?", [source.name]
            ).fetchall()[0][0]
        quarantined = row_count(con, f"quarantine.{source.name}")
        ledger.append(
            {
                "source": source.name,
                "files": files,
                "file_rows": int(file_rows),
                "erased": int(erased),
                "raw": raw,
                "staged": staged,
                "quarantined": quarantined,
                "balanced": file_rows - erased == raw == staged + quarantined,
            }
        )
    return ledger


def reason_counts(con: duckdb.DuckDBPyConnection, source: str, limit: int = 10) -> dict[str, int]:
    """How many rows of a source's quarantine each kind of reason holds, most frequent first.

    Values, ids and file names are cut from the reasons so that, say, every unparseable date of
    one column counts as one reason.

    Args:
        con: warehouse connection.
        source: the source name.
        limit: at most this many reasons.

    Returns:
        Reason -> rows.
    """
    if not table_exists(con, f"quarantine.{source}"):
        return {}
    rows = con.execute(
        f"""SELECT kind, count(*) AS n FROM (
              SELECT regexp_replace(regexp_replace(regexp_replace(
                       split_part(reason, '; ', 1),
                       ' \\(first loaded from .*\\)$', ''),
                       '(: .*| of (record_id|case_id) .*| at byte [0-9]+.*)', ''),
                       '^row of [0-9,]+ bytes', 'row') AS kind
              FROM {quote_table(f"quarantine.{source}")})
            GROUP BY kind ORDER BY n DESC, kind LIMIT ?""",
        [limit],
    ).fetchall()
    return dict(rows)
