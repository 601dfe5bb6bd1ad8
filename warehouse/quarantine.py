"""Where rejected rows are and how many: the ledger behind "rows in = rows kept + rows quarantined"."""

from __future__ import annotations

import duckdb

from warehouse.config import KindredConfig
from warehouse.connection import quote_table, row_count


def account_rows(con: duckdb.DuckDBPyConnection, config: KindredConfig, kind: str) -> list[dict]:
    """The row ledger of every source of one kind.

    Args:
        con: warehouse connection after staging.
        config: the loaded kindred.yaml.
        kind: people, events, orders or cases.

    Returns:
        One dict per source: `source, raw, staged, quarantined, balanced`.
    """
    ledger = []
    for source in config.sources_of(kind):
        raw = row_count(con, f"raw.{source.name}")
        staged = con.sql(
            f"SELECT count(*) FROM {quote_table(f'staging.{kind}')} WHERE source = ?", params=[source.name]
        ).fetchall()[0][0]
        quarantined = row_count(con, f"quarantine.{source.name}")
        ledger.append(
            {
                "source": source.name,
                "raw": raw,
                "staged": staged,
                "quarantined": quarantined,
                "balanced": raw == staged + quarantined,
            }
        )
    return ledger
