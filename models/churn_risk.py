"""Churn risk: how likely a customer is to place no order in the horizon after as_of.

Population at cut-off T: profiles with at least one order before T. Label: no order in
[T, T + horizon). Baseline: recency alone (days since the last order).
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import numpy as np
import polars as pl

from feature_store.definitions import CHURN_RISK
from feature_store.sources import staging_sql, xref_sql
from models.binary_model import BinaryModelSpec, train_and_score_binary
from models.model_run import ModelRun
from warehouse.config import ConsentConfig

MODEL = "churn_risk"


def _orders(con: duckdb.DuckDBPyConnection) -> str:
    return (
        f"SELECT x.profile_id, t.ordered_at AS ts FROM {staging_sql(con, 'orders')} t "
        f"JOIN {xref_sql(con)} x ON x.source = t.source AND x.record_id = t.record_id "
        "WHERE t.ordered_at IS NOT NULL"
    )


def population(con: duckdb.DuckDBPyConnection, cutoffs: list[datetime], horizon_days: int) -> pl.DataFrame:
    """Customers at each cut-off and whether they churned in the horizon after it.

    Args:
        con: warehouse connection.
        cutoffs: the cut-offs T.
        horizon_days: label window length (0 for the population alone).

    Returns:
        `profile_id, as_of, label` (label 1 = no order in [T, T + horizon)).
    """
    return con.sql(
        f"""
        WITH c AS (SELECT unnest(CAST(? AS TIMESTAMP[])) AS as_of), o AS ({_orders(con)})
        SELECT o.profile_id, c.as_of,
               CAST(NOT coalesce(bool_or(o.ts >= c.as_of), false) AS INTEGER) AS label
        FROM c JOIN o ON o.ts < c.as_of + to_days(CAST(? AS INTEGER))
        GROUP BY o.profile_id, c.as_of
        HAVING bool_or(o.ts < c.as_of)
        ORDER BY c.as_of, o.profile_id
        """,
        params=[cutoffs, horizon_days],
    ).pl()


def _history_start(con: duckdb.DuckDBPyConnection) -> datetime | None:
    return con.sql(f"SELECT min(ts) FROM ({_orders(con)})").fetchall()[0][0]


def _thin_data(con: duckdb.DuckDBPyConnection) -> str | None:
    if _history_start(con) is None:
        return "no orders: staging.orders is empty or none of its rows is linked to a profile"
    return None


def _recency(train: pl.DataFrame, holdout: pl.DataFrame) -> np.ndarray:
    # No order within the orders view's TTL is the most churned-looking recency there is.
    days = holdout["days_since_last_order"].cast(pl.Float64)
    return days.fill_null(days.max() + 1 if days.max() is not None else 0.0).to_numpy()


SPEC = BinaryModelSpec(
    name=MODEL,
    service=CHURN_RISK,
    positive="churned",
    population=population,
    history_start=_history_start,
    thin_data=_thin_data,
    baseline="recency (days since last order)",
    baseline_scores=_recency,
    baseline_is_probability=False,
)


def train_and_score(
    con: duckdb.DuckDBPyConnection,
    *,
    as_of: date | datetime | None = None,
    horizon_days: int = 90,
    lgbm_params: dict | None = None,
    consent: ConsentConfig | None = None,
) -> ModelRun:
    """Train, evaluate and register churn risk, then score every customer as of as_of.

    Args:
        con: warehouse connection holding `staging.*` and `identity.record_xref`.
        as_of: the run sees facts strictly before it; None means midnight after the latest fact.
        horizon_days: churn means no order in this many days after as_of.
        lgbm_params: LightGBM parameters overriding the defaults.
        consent: the `consent:` settings; people who may not be profiled are left out.

    Returns:
        The run's outcome; `skipped` says why when there is too little data.
    """
    return train_and_score_binary(
        con, SPEC, as_of=as_of, horizon_days=horizon_days, lgbm_params=lgbm_params, consent=consent
    )
