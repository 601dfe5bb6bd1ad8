"""Scores, reasons and best offers per CRM record, and the feed of what changed between builds.

`crm.record_scores` holds one row per CRM record (every `staging.people` row with a `crm_object`):
the current lead score (Lead records only), churn risk and best offer of the record's profile, with
reasons a rep can read. `crm.record_scores_changes` is an append-only log of the rows that were
inserted, updated or deleted by each build, so a CRM sync can push only what changed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import duckdb
import polars as pl

from activation.reasons import reasons_field
from activation.warehouse_inputs import crm_sql, input_views
from warehouse.connection import quote_table, read_table, replace_table, table_exists

log = logging.getLogger(__name__)

RECORD_SCORES = "crm.record_scores"
RECORD_SCORES_CHANGES = "crm.record_scores_changes"

KEY_COLUMNS = ("source", "crm_object", "crm_record_id")
# A change in any of these makes a row appear in the change feed.
VALUE_COLUMNS = (
    "profile_id",
    "lead_score",
    "lead_score_1_99",
    "lead_score_reasons",
    "churn_risk",
    "churn_risk_1_99",
    "churn_risk_reasons",
    "best_offer",
    "best_offer_score",
    "lead_score_model_version",
    "churn_risk_model_version",
    "next_best_offer_model_version",
)
RECORD_SCORES_SCHEMA: dict[str, pl.DataType] = {
    "crm_object": pl.String(),
    "crm_record_id": pl.String(),
    "profile_id": pl.String(),
    "lead_score": pl.Float64(),
    "lead_score_1_99": pl.Int32(),
    "lead_score_reasons": pl.String(),
    "churn_risk": pl.Float64(),
    "churn_risk_1_99": pl.Int32(),
    "churn_risk_reasons": pl.String(),
    "best_offer": pl.String(),
    "best_offer_score": pl.Float64(),
    "lead_score_model_version": pl.String(),
    "churn_risk_model_version": pl.String(),
    "next_best_offer_model_version": pl.String(),
    "updated_at": pl.Datetime("us"),
    # Not in the original contract: which people source the record came from, so two CRMs (or two
    # objects of one CRM loaded as separate sources) sharing a record id stay apart.
    "source": pl.String(),
}
CHANGES_SCHEMA: dict[str, pl.DataType] = {
    **RECORD_SCORES_SCHEMA,
    "change": pl.String(),
    "changed_at": pl.Datetime("us"),
}


def build_record_scores(con: duckdb.DuckDBPyConnection, *, now: datetime | None = None) -> int:
    """Rebuild `crm.record_scores` and append what changed to `crm.record_scores_changes`.

    One row per CRM record. `updated_at` is when the row's values last changed (carried over from
    the previous build when nothing changed), so it matches the row's latest entry in the feed.
    The first build logs every row as an insert; a rebuild with unchanged scores logs nothing.
    The feed is appended before the table is replaced: if the replace fails, the next build logs
    the same changes again (at least once, never lost).

    Args:
        con: warehouse connection.
        now: the build time (UTC); defaults to the current time.

    Returns:
        The number of rows in `crm.record_scores`.
    """
    built_at = utc_naive(now)
    with input_views(con):
        base = con.sql(crm_sql("record_scores")).pl()
    current = _with_reasons(base)
    previous = _previous(con)
    current, changes = _diff(previous, current, built_at)
    _append_changes(con, changes)
    written = replace_table(con, RECORD_SCORES, current)
    counts = changes.group_by("change").len().sort("change").rows() if changes.height else []
    log.info("crm.record_scores: %d rows; changes %s", written, dict(counts) or "none")
    return written


def read_changes(con: duckdb.DuckDBPyConnection, *, since: datetime | None = None) -> pl.DataFrame:
    """The latest change of every CRM record changed after `since`: what a sync must push.

    Args:
        con: warehouse connection.
        since: the `changed_at` a sync last processed (exclusive); None for the whole feed.

    Returns:
        One row per changed record (the columns of `crm.record_scores_changes`), its newest change
        only, ordered by `changed_at` then key; empty when the feed does not exist yet.
    """
    if not table_exists(con, RECORD_SCORES_CHANGES):
        return pl.DataFrame(schema=CHANGES_SCHEMA)
    frame = con.sql(
        f"SELECT * FROM {quote_table(RECORD_SCORES_CHANGES)} WHERE ? IS NULL OR changed_at > ?",
        params=[since, since],
    ).pl()
    latest = frame.sort("changed_at").unique(subset=list(KEY_COLUMNS), keep="last", maintain_order=True)
    return latest.sort(["changed_at", *KEY_COLUMNS], nulls_last=True)


def utc_naive(moment: datetime | None) -> datetime:
    """A moment as a naive UTC timestamp, the warehouse's convention; the current time for None."""
    if moment is None:
        return datetime.now(UTC).replace(tzinfo=None)
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _with_reasons(base: pl.DataFrame) -> pl.DataFrame:
    """The query result with top factors turned into reason text, in the table's column order."""
    frame = base.with_columns(
        _reasons_column(base, "lead_score_factors").alias("lead_score_reasons"),
        _reasons_column(base, "churn_risk_factors").alias("churn_risk_reasons"),
        pl.lit(None, dtype=pl.Datetime("us")).alias("updated_at"),
    )
    return _conform(frame, RECORD_SCORES_SCHEMA)


def _reasons_column(base: pl.DataFrame, column: str) -> pl.Series:
    # Many profiles share no factors, but the same JSON text does repeat (e.g. empty lists), and
    # formatting is pure Python, so each distinct value is formatted once.
    values = base.get_column(column)
    distinct = values.drop_nulls().unique().to_list()
    mapping = {value: reasons_field(value) for value in distinct}
    return values.replace_strict(mapping, default=None, return_dtype=pl.String())


def _conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Exactly `schema`'s columns and types, in order (missing columns as NULL)."""
    return frame.select(
        [
            (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )


def _previous(con: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    if not table_exists(con, RECORD_SCORES):
        return None
    return _conform(read_table(con, RECORD_SCORES), RECORD_SCORES_SCHEMA)


def _diff(
    previous: pl.DataFrame | None, current: pl.DataFrame, built_at: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Stamp `updated_at` on the new rows and list the inserts, updates and deletes since `previous`."""
    stamp = pl.lit(built_at, dtype=pl.Datetime("us"))
    if previous is None:
        current = current.with_columns(stamp.alias("updated_at"))
        changes = current.with_columns(pl.lit("insert").alias("change"), stamp.alias("changed_at"))
        return current, _conform(changes, CHANGES_SCHEMA)

    keys = list(KEY_COLUMNS)
    old = previous.select([*keys, *VALUE_COLUMNS, "updated_at"]).rename(
        {c: f"{c}__old" for c in (*VALUE_COLUMNS, "updated_at")}
    )
    joined = current.with_columns(pl.lit(True).alias("__new")).join(
        old.with_columns(pl.lit(True).alias("__old")), on=keys, how="full", coalesce=True, nulls_equal=True
    )
    differs = pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}__old")) for c in VALUE_COLUMNS])
    joined = joined.with_columns(
        pl.when(pl.col("__old").is_null())
        .then(pl.lit("insert"))
        .when(pl.col("__new").is_null())
        .then(pl.lit("delete"))
        .when(differs)
        .then(pl.lit("update"))
        .otherwise(None)
        .alias("change")
    )

    kept = joined.filter(pl.col("__new").fill_null(False)).with_columns(
        pl.when(pl.col("change").is_null())
        .then(pl.col("updated_at__old"))
        .otherwise(stamp)
        .alias("updated_at")
    )
    current = _conform(kept, RECORD_SCORES_SCHEMA).sort(
        ["crm_object", "crm_record_id", "source"], nulls_last=True
    )

    deleted = joined.filter(pl.col("change") == "delete").with_columns(
        pl.col("profile_id__old").alias("profile_id"), stamp.alias("updated_at")
    )
    changed = pl.concat(
        [
            kept.filter(pl.col("change").is_not_null()),
            _conform(deleted, RECORD_SCORES_SCHEMA).with_columns(pl.lit("delete").alias("change")),
        ],
        how="diagonal_relaxed",
    ).with_columns(stamp.alias("changed_at"))
    return current, _conform(changed, CHANGES_SCHEMA).sort(list(KEY_COLUMNS), nulls_last=True)


def _append_changes(con: duckdb.DuckDBPyConnection, changes: pl.DataFrame) -> None:
    """Append to the change feed in one transaction, creating it on first use."""
    target = quote_table(RECORD_SCORES_CHANGES)
    view = "_kindred_record_scores_changes"
    con.register(view, changes.to_arrow())
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"CREATE TABLE IF NOT EXISTS {target} AS SELECT * FROM {view} WHERE false")
        if changes.height:
            con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {view}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister(view)
