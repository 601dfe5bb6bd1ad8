"""Lead score: how likely an open lead is to convert in the horizon after as_of.

Population at cut-off T: profiles with a lead record (`crm_object` = Lead) created before T and no
lead conversion before T. Label: a lead record of the profile converted in [T, T + horizon).
Leads marked converted without a `converted_at` cannot be placed in time and are left out.
Lead attributes (source, title, industry, size) are the CRM's current values. `status` is never a
feature: it records the outcome. Baseline: the conversion rate of the lead's source in training.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import numpy as np
import polars as pl

from feature_store.definitions import LEAD_SCORE
from feature_store.identity_as_of import IdentityAsOf, identity_as_of
from feature_store.sources import staging_at_sql
from models.binary_model import BinaryModelSpec, train_and_score_binary
from models.model_run import ModelRun
from warehouse.consent_config import ConsentConfig

MODEL = "lead_score"
_PRIOR_WEIGHT = 10.0


def _leads(con: duckdb.DuckDBPyConnection, at: IdentityAsOf | None = None) -> str:
    return staging_at_sql(
        con, "people", "t.created_at, t.converted, t.converted_at", "lower(t.crm_object) = 'lead'", at
    )


def population(con: duckdb.DuckDBPyConnection, cutoffs: list[datetime], horizon_days: int) -> pl.DataFrame:
    """Open leads at each cut-off and whether they converted in the horizon after it.

    People are as known at each cut-off (`feature_store.identity_as_of`): a lead record belongs
    to the records linked to it by then.

    Args:
        con: warehouse connection.
        cutoffs: the cut-offs T.
        horizon_days: label window length (0 for the population alone).

    Returns:
        `profile_id, as_of, label` (label 1 = converted in [T, T + horizon)).
    """
    with identity_as_of(con, cutoffs) as at:
        return con.sql(
            f"""
            WITH l AS ({_leads(con, at)})
            SELECT l.profile_id, l.as_of,
                   CAST(coalesce(bool_or(l.converted_at >= l.as_of
                                         AND l.converted_at < l.as_of + to_days(CAST(? AS INTEGER))), false)
                        AS INTEGER) AS label
            FROM l
            GROUP BY l.profile_id, l.as_of
            HAVING coalesce(bool_or(l.created_at < l.as_of AND (l.converted_at IS NULL OR l.converted_at >= l.as_of)),
                            false)
               AND NOT coalesce(bool_or(l.converted_at < l.as_of), false)
               AND NOT coalesce(bool_or(l.converted AND l.converted_at IS NULL), false)
            ORDER BY l.as_of, l.profile_id
            """,
            params=[horizon_days],
        ).pl()


def _history_start(con: duckdb.DuckDBPyConnection) -> datetime | None:
    return con.sql(f"SELECT min(created_at) FROM ({_leads(con)})").fetchall()[0][0]


def _thin_data(con: duckdb.DuckDBPyConnection) -> str | None:
    counts = con.sql(f"SELECT count(*), count(converted_at) FROM ({_leads(con)})").fetchall()[0]
    if counts[0] == 0:
        return "no leads: staging.people has no record with crm_object = 'Lead' linked to a profile"
    if counts[1] == 0:
        return "no lead has a converted_at date, so there is nothing to learn conversion from"
    return None


def _source_rate(train: pl.DataFrame, holdout: pl.DataFrame) -> np.ndarray:
    prior = float(train["label"].mean())
    rates = train.group_by("lead_source").agg(
        rate=(pl.col("label").sum() + _PRIOR_WEIGHT * prior) / (pl.len() + _PRIOR_WEIGHT)
    )
    scored = holdout.select("lead_source").join(
        rates, on="lead_source", how="left", nulls_equal=True, maintain_order="left"
    )
    return scored["rate"].fill_null(prior).to_numpy()


SPEC = BinaryModelSpec(
    name=MODEL,
    service=LEAD_SCORE,
    positive="converted",
    question="Will this open lead convert (a lead record of the person gets a `converted_at`) in the horizon?",
    population=population,
    history_start=_history_start,
    thin_data=_thin_data,
    baseline="conversion rate of the lead source",
    baseline_scores=_source_rate,
    baseline_is_probability=True,
)


def train_and_score(
    con: duckdb.DuckDBPyConnection,
    *,
    as_of: date | datetime | None = None,
    horizon_days: int = 90,
    lgbm_params: dict | None = None,
    consent: ConsentConfig | None = None,
) -> ModelRun:
    """Train, evaluate and register the lead score, then score every open lead as of as_of.

    Args:
        con: warehouse connection holding `staging.*` and `identity.record_xref`.
        as_of: the run sees facts strictly before it; None means midnight after the latest fact.
        horizon_days: a conversion counts when it happens within this many days.
        lgbm_params: LightGBM parameters overriding the defaults.
        consent: the `consent:` settings; people who may not be profiled are left out.

    Returns:
        The run's outcome; `skipped` says why when there is too little data.
    """
    return train_and_score_binary(
        con, SPEC, as_of=as_of, horizon_days=horizon_days, lgbm_params=lgbm_params, consent=consent
    )
