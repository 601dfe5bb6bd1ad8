"""`features.profile_features`: every profile's features as of one date, the table users browse,
and the models' scoring reads.

A run builds the table once (the `features/profile_features` asset) and then scores three models
at the same as_of; each model reading its profile features from the table, instead of computing
them again from staging, gets the same values for a third of the cost. The table is only read when
it was built at the scoring as_of from the same inputs: `features.profile_features_inputs` keeps
the as_of and a fingerprint (row counts and a hash of the columns the feature store reads) of the
staging and identity tables the table was computed from, and a model scoring after any of them
changed computes its features itself.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import date, datetime

import duckdb
import polars as pl

from feature_store.definitions import FEATURE_VIEWS, ON_DEMAND_FEATURES, PROFILE_FEATURES
from feature_store.identity_as_of import as_datetime
from feature_store.point_in_time import latest_features, training_set
from feature_store.sources import STAGING_COLUMNS, default_as_of, table_columns
from feature_store.vocabulary import FeatureService
from warehouse.connection import quote_table, table_exists

log = logging.getLogger(__name__)

PROFILE_FEATURES_TABLE = "features.profile_features"
PREVIOUS_TABLE = "features.profile_features_previous"
INPUTS_TABLE = "features.profile_features_inputs"
# Identity decides whose facts are whose (and, through link times, who was who at as_of).
_IDENTITY_TABLES = ("record_xref", "links", "person_records")
# A table built by a Kindred whose feature definitions differ is stale too.
_DEFINITIONS = repr((FEATURE_VIEWS, ON_DEMAND_FEATURES))


def inputs_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """A fingerprint of everything profile features are computed from.

    Row counts and an order-free hash of the staging columns the feature store reads (event
    properties aside: only offer features read them, and those are never stored) and of the
    identity tables, so an appended, changed or deleted row changes it; and the feature
    definitions themselves, so a table built by a version of Kindred that defines a feature
    differently is never read.

    Args:
        con: warehouse connection.

    Returns:
        A hex digest.
    """
    parts = []
    for schema, table, columns in [
        *(
            ("staging", table, [c for c in columns if c != "properties"])
            for table, columns in STAGING_COLUMNS.items()
        ),
        *(("identity", table, None) for table in _IDENTITY_TABLES),
    ]:
        present = table_columns(con, schema, table)
        if not present:
            continue
        hashed = "t" if columns is None else ", ".join(f'"{c}"' for c in columns if c in present)
        parts.append(
            f"SELECT '{schema}.{table}' AS name, count(*) AS n, bit_xor(hash({hashed})) AS h "
            f"FROM {quote_table(f'{schema}.{table}')} t"
        )
    rows = con.sql(" UNION ALL ".join(parts)).fetchall() if parts else []
    return hashlib.sha256(repr((_DEFINITIONS, sorted(rows))).encode()).hexdigest()


def stored_features_fresh(con: duckdb.DuckDBPyConnection, as_of: datetime | date) -> bool:
    """Whether `features.profile_features` holds features as of `as_of` computed from today's inputs.

    Args:
        con: warehouse connection.
        as_of: the as_of wanted.

    Returns:
        True when the table was built at `as_of` and no input changed since.
    """
    if not (table_exists(con, PROFILE_FEATURES_TABLE) and table_exists(con, INPUTS_TABLE)):
        return False
    rows = con.sql(f"SELECT as_of, fingerprint FROM {quote_table(INPUTS_TABLE)}").fetchall()
    return len(rows) == 1 and rows[0][0] == as_datetime(as_of) and rows[0][1] == inputs_fingerprint(con)


def features_for_scoring(
    con: duckdb.DuckDBPyConnection,
    spine: pl.DataFrame,
    service: FeatureService,
    *,
    offer_field: str = "product_category",
) -> pl.DataFrame:
    """A service's features for a scoring spine at one as_of, profile features read from the table
    when it is fresh (`stored_features_fresh`), the rest computed as `training_set` does.

    People the table lacks (a part of a profile not yet linked at as_of, keyed `<profile_id>#...`,
    or a profile that did not exist when it was built) have theirs computed too, so the result
    equals `training_set(con, spine, service)`.

    Args:
        con: warehouse connection.
        spine: `profile_id, as_of` (one as_of for every row), with `offer_id` for offer services.
        service: the features to compute.
        offer_field: the orders column that names an offer, or `CATALOG`.

    Returns:
        The spine's columns, in its row order, followed by the service's features.
    """
    cutoffs = spine["as_of"].unique().to_list() if spine.height else []
    if len(cutoffs) != 1 or not stored_features_fresh(con, cutoffs[0]):
        return training_set(con, spine, service, offer_field=offer_field)
    stored_ids = con.sql(f"SELECT profile_id FROM {quote_table(PROFILE_FEATURES_TABLE)}").pl()["profile_id"]
    in_table = pl.col("profile_id").is_in(stored_ids.implode())
    if spine.select(in_table.all()).item():
        return training_set(con, spine, service, offer_field=offer_field, stored=PROFILE_FEATURES_TABLE)
    numbered = spine.with_row_index("_scoring_row")
    found, missing = numbered.filter(in_table), numbered.filter(~in_table)
    frames = [
        training_set(
            con, found.drop("_scoring_row"), service, offer_field=offer_field, stored=PROFILE_FEATURES_TABLE
        ).with_columns(found["_scoring_row"])
    ]
    if missing.height:
        log.info("%d people not in %s: their features are computed", missing.height, PROFILE_FEATURES_TABLE)
        frames.append(
            training_set(con, missing.drop("_scoring_row"), service, offer_field=offer_field).with_columns(
                missing["_scoring_row"]
            )
        )
    return pl.concat(frames, how="vertical_relaxed").sort("_scoring_row").drop("_scoring_row")


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
    fingerprint = inputs_fingerprint(con)
    frame = latest_features(con, PROFILE_FEATURES, as_of)
    view = f"_profile_features_new_{uuid.uuid4().hex}"
    con.register(view, frame.to_arrow())
    try:
        con.execute("BEGIN TRANSACTION")
        if table_exists(con, PROFILE_FEATURES_TABLE):
            con.execute(f"DROP TABLE IF EXISTS {quote_table(PREVIOUS_TABLE)}")
            con.execute(
                f"ALTER TABLE {quote_table(PROFILE_FEATURES_TABLE)} RENAME TO profile_features_previous"
            )
        con.execute(f"CREATE TABLE {quote_table(PROFILE_FEATURES_TABLE)} AS SELECT * FROM {view}")
        con.execute(
            f"CREATE OR REPLACE TABLE {quote_table(INPUTS_TABLE)} AS "
            "SELECT CAST(? AS TIMESTAMP) AS as_of, CAST(? AS VARCHAR) AS fingerprint",
            [as_datetime(as_of), fingerprint],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister(view)
    rows = frame.height
    log.info("materialised %d profiles' features as of %s", rows, as_of)
    return rows
