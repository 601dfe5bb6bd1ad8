"""`features.profile_features`: every profile's features as of one date, the table users browse."""

from __future__ import annotations

import logging
from datetime import date, datetime

import duckdb

from feature_store.definitions import PROFILE_FEATURES
from feature_store.point_in_time import latest_features
from feature_store.sources import default_as_of
from warehouse.connection import quote_table, table_exists

log = logging.getLogger(__name__)

PROFILE_FEATURES_TABLE = "features.profile_features"
PREVIOUS_TABLE = "features.profile_features_previous"


def materialise_profile_features(con: duckdb.DuckDBPyConnection, as_of: datetime | date | None = None) -> int:
    """Write `features.profile_features(profile_id, as_of, ...)` for every profile, replacing the table.

    The table it replaces becomes `features.profile_features_previous`, in the same transaction,
    so drift checks compare this run's features with the last run's.

    Args:
        con: warehouse connection holding `staging.*` and `identity.record_xref`.
        as_of: features use facts strictly before it; None means midnight after the latest
            staging timestamp (today's midnight when staging is empty).

    Returns:
        The number of profiles written.
    """
    if as_of is None:
        as_of = default_as_of(con) or datetime.combine(date.today(), datetime.min.time())
    frame = latest_features(con, PROFILE_FEATURES, as_of)
    view = "_profile_features_new"
    con.register(view, frame.to_arrow())
    try:
        con.execute("BEGIN TRANSACTION")
        if table_exists(con, PROFILE_FEATURES_TABLE):
            con.execute(f"DROP TABLE IF EXISTS {quote_table(PREVIOUS_TABLE)}")
            con.execute(
                f"ALTER TABLE {quote_table(PROFILE_FEATURES_TABLE)} RENAME TO profile_features_previous"
            )
        con.execute(f"CREATE TABLE {quote_table(PROFILE_FEATURES_TABLE)} AS SELECT * FROM {view}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister(view)
    rows = frame.height
    log.info("materialised %d profiles' features as of %s", rows, as_of)
    return rows
