"""`features.profile_features`: every profile's features as of one date, the table users browse."""

from __future__ import annotations

import logging
from datetime import date, datetime

import duckdb

from feature_store.definitions import PROFILE_FEATURES
from feature_store.point_in_time import latest_features
from feature_store.sources import default_as_of
from warehouse.connection import replace_table

log = logging.getLogger(__name__)

PROFILE_FEATURES_TABLE = "features.profile_features"


def materialise_profile_features(con: duckdb.DuckDBPyConnection, as_of: datetime | date | None = None) -> int:
    """Write `features.profile_features(profile_id, as_of, ...)` for every profile, replacing the table.

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
    rows = replace_table(con, PROFILE_FEATURES_TABLE, frame)
    log.info("materialised %d profiles' features as of %s", rows, as_of)
    return rows
