"""The `scores` tables models write: predictions, offers and holdout metrics (docs/data-model.md)."""

from __future__ import annotations

import uuid

import duckdb
import polars as pl

from models.drift import keep_previous

PREDICTIONS = "scores.predictions"
OFFERS = "scores.offers"
MODEL_METRICS = "scores.model_metrics"

_DDL = {
    PREDICTIONS: """CREATE TABLE IF NOT EXISTS scores.predictions (
        profile_id VARCHAR, model VARCHAR, model_version VARCHAR, as_of TIMESTAMP, score DOUBLE,
        score_1_99 INTEGER, top_factors JSON, scored_at TIMESTAMP)""",
    OFFERS: """CREATE TABLE IF NOT EXISTS scores.offers (
        profile_id VARCHAR, rank INTEGER, offer_id VARCHAR, score DOUBLE, model_version VARCHAR,
        as_of TIMESTAMP)""",
    MODEL_METRICS: """CREATE TABLE IF NOT EXISTS scores.model_metrics (
        model VARCHAR, model_version VARCHAR, as_of TIMESTAMP, metric VARCHAR, value DOUBLE,
        baseline VARCHAR, baseline_value DOUBLE, n_train BIGINT, n_holdout BIGINT)""",
}
# Columns added to tables after their first release: warehouses made before gain them on the next run.
_ADDED_COLUMNS = {
    MODEL_METRICS: {
        "lower": "DOUBLE",
        "upper": "DOUBLE",
        "baseline_lower": "DOUBLE",
        "baseline_upper": "DOUBLE",
        "n_train_positive": "BIGINT",
        "n_holdout_positive": "BIGINT",
        "promoted": "BOOLEAN",
        "decision": "VARCHAR",
        "classic": "VARCHAR",
        "classic_value": "DOUBLE",
        "classic_lower": "DOUBLE",
        "classic_upper": "DOUBLE",
    },
}
_COLUMNS = {
    PREDICTIONS: (
        "profile_id",
        "model",
        "model_version",
        "as_of",
        "score",
        "score_1_99",
        "top_factors",
        "scored_at",
    ),
    OFFERS: ("profile_id", "rank", "offer_id", "score", "model_version", "as_of"),
    MODEL_METRICS: (
        "model",
        "model_version",
        "as_of",
        "metric",
        "value",
        "lower",
        "upper",
        "baseline",
        "baseline_value",
        "baseline_lower",
        "baseline_upper",
        "n_train",
        "n_train_positive",
        "n_holdout",
        "n_holdout_positive",
        "promoted",
        "decision",
        "classic",
        "classic_value",
        "classic_lower",
        "classic_upper",
    ),
}


def ensure_score_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the `scores` tables if they do not exist yet (empty), so readers always find them.

    Args:
        con: warehouse connection.
    """
    con.execute("CREATE SCHEMA IF NOT EXISTS scores")
    for ddl in _DDL.values():
        con.execute(ddl)
    for table, columns in _ADDED_COLUMNS.items():
        for column, sql_type in columns.items():
            con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {sql_type}")


def score_1_99(score: pl.Expr) -> pl.Expr:
    """A probability as the 1-99 integer CRMs display.

    Args:
        score: a probability expression.

    Returns:
        round(100 x score), clipped to 1..99.
    """
    return (score * 100).round(0).clip(1, 99).cast(pl.Int32)


def _replace_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    where: str,
    params: list,
    *,
    keep: bool = False,
) -> int:
    ensure_score_tables(con)
    columns = ", ".join(_COLUMNS[table])
    view = f"_scores_{uuid.uuid4().hex}"
    con.register(view, frame.select(_COLUMNS[table]).to_arrow())
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            if keep:
                keep_previous(con, table, where=where, params=params)
            con.execute(f"DELETE FROM {table} WHERE {where}", params)
            con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {view}")
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister(view)
    return frame.height


def write_predictions(con: duckdb.DuckDBPyConnection, model: str, frame: pl.DataFrame) -> int:
    """Replace one model's rows of `scores.predictions`, atomically; other models' rows stay, and
    the replaced rows move to `scores.predictions_previous` (for drift).

    Args:
        con: warehouse connection.
        model: `lead_score` or `churn_risk`.
        frame: the table's columns, `model` equal to `model` on every row.

    Returns:
        Rows written.
    """
    if frame.height and frame["model"].unique().to_list() != [model]:
        raise ValueError(f"every prediction row must belong to model {model}")
    return _replace_rows(con, PREDICTIONS, frame, "model = ?", [model], keep=True)


def write_offers(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> int:
    """Replace `scores.offers` with the new ranking, atomically; the old one moves to
    `scores.offers_previous` (for drift).

    Args:
        con: warehouse connection.
        frame: the table's columns.

    Returns:
        Rows written.
    """
    return _replace_rows(con, OFFERS, frame, "true", [], keep=True)


def append_model_metrics(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> int:
    """Add one version's holdout figures to `scores.model_metrics` (replacing that version's rows).

    Args:
        con: warehouse connection.
        frame: the table's columns, for one model version.

    Returns:
        Rows written.
    """
    if frame.height == 0:
        return 0
    model, version = frame["model"][0], frame["model_version"][0]
    return _replace_rows(con, MODEL_METRICS, frame, "model = ? AND model_version = ?", [model, version])
