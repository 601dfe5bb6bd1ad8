"""Drift between this run and the previous one: the population stability index (PSI) of every feature
and every score.

PSI compares two distributions of one value: the previous run's values are cut into ten bins at
their deciles (a category is its own bin, and missing values one more), each run's share per bin is
counted, and PSI = sum over bins of (now - before) x ln(now / before), with shares floored at
0.0001. By the usual reading, below 0.1 nothing moved, 0.1 to 0.25 is a moderate shift worth a
look, and above 0.25 the population changed: scores may no longer mean what they meant.

Each run keeps the previous run's tables beside its own (`features.profile_features_previous`,
`scores.predictions_previous`, `scores.offers_previous`), so both sides are the real values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from warehouse.connection import quote_table, table_exists

MODERATE = 0.1
MAJOR = 0.25
BINS = 10
_FLOOR = 1e-4
_MISSING = "(missing)"


def psi(reference: pl.Series, current: pl.Series, bins: int = BINS) -> float:
    """The population stability index of `current` against `reference`.

    Args:
        reference: the previous run's values (numbers, booleans or text).
        current: this run's values of the same feature.
        bins: bins for numbers, cut at the reference's quantiles.

    Returns:
        PSI (0 when the distributions match); 0 when either side has no rows.
    """
    if reference.len() == 0 or current.len() == 0:
        return 0.0
    if reference.dtype in (pl.String, pl.Categorical, pl.Boolean):
        before = reference.cast(pl.String).fill_null(_MISSING)
        now = current.cast(pl.String).fill_null(_MISSING)
    else:
        values = reference.cast(pl.Float64).drop_nulls().drop_nans()
        edges = (
            np.unique(np.quantile(values.to_numpy(), np.linspace(0, 1, bins + 1)[1:-1]))
            if values.len()
            else []
        )

        def binned(series: pl.Series) -> pl.Series:
            numbers = series.cast(pl.Float64).fill_nan(None)
            codes = np.searchsorted(edges, numbers.fill_null(0.0).to_numpy(), side="right").astype(str)
            return pl.Series(np.where(numbers.is_null().to_numpy(), _MISSING, codes))

        before, now = binned(reference), binned(current)
    shares = (
        pl.DataFrame({"bin": before})
        .group_by("bin")
        .len("before")
        .join(pl.DataFrame({"bin": now}).group_by("bin").len("now"), on="bin", how="full", coalesce=True)
        .fill_null(0)
    )
    total = 0.0
    for b, n in zip(shares["before"], shares["now"], strict=True):
        p, q = max(b / before.len(), _FLOOR), max(n / now.len(), _FLOOR)
        total += (q - p) * math.log(q / p)
    return float(total)


@dataclass(frozen=True)
class DriftReport:
    """PSI per value between the previous run and this one.

    Attributes:
        values: `name, psi`, most drifted first.
        previous_as_of: the previous run's as_of (None when there was no previous run).
        current_as_of: this run's as_of.
    """

    values: pl.DataFrame
    previous_as_of: object
    current_as_of: object

    @property
    def compared(self) -> bool:
        """Whether a previous run existed to compare with."""
        return self.previous_as_of is not None

    def above(self, threshold: float) -> list[str]:
        """The names whose PSI is at least `threshold`."""
        return self.values.filter(pl.col("psi") >= threshold)["name"].to_list()

    def top(self, n: int = 5) -> dict[str, float]:
        """The n most drifted values and their PSI."""
        return {name: round(value, 4) for name, value in self.values.head(n).iter_rows()}


def _as_of(con: duckdb.DuckDBPyConnection, table: str, where: str, params: list) -> object:
    return con.sql(f"SELECT max(as_of) FROM {quote_table(table)} WHERE {where}", params=params).fetchall()[0][
        0
    ]


def compare_tables(
    con: duckdb.DuckDBPyConnection,
    current: str,
    previous: str,
    columns: list[str],
    *,
    where: str = "true",
    params: list | None = None,
) -> DriftReport:
    """PSI of each column between a table and its previous run's copy.

    Args:
        con: warehouse connection.
        current: `schema.table` of this run.
        previous: `schema.table` of the previous run.
        columns: the columns to compare (present in both; others are skipped).
        where: a filter both tables share (e.g. one model's rows), with `params`.
        params: its parameters.

    Returns:
        The report; without a previous table it compares nothing.
    """
    params = params or []
    empty = pl.DataFrame(schema={"name": pl.String, "psi": pl.Float64})
    current_as_of = _as_of(con, current, where, params) if table_exists(con, current) else None
    if not table_exists(con, current) or not table_exists(con, previous):
        return DriftReport(empty, None, current_as_of)
    shared = set(_columns(con, current)) & set(_columns(con, previous))
    rows = []
    for column in columns:
        if column not in shared:
            continue
        quoted = f'"{column}"'
        now = (
            con.sql(f"SELECT {quoted} FROM {quote_table(current)} WHERE {where}", params=params)
            .pl()
            .to_series()
        )
        before = (
            con.sql(f"SELECT {quoted} FROM {quote_table(previous)} WHERE {where}", params=params)
            .pl()
            .to_series()
        )
        rows.append({"name": column, "psi": psi(before, now)})
    values = pl.DataFrame(rows, schema=empty.schema).sort("psi", descending=True)
    return DriftReport(values, _as_of(con, previous, where, params), current_as_of)


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    schema, name = table.split(".")
    return [
        r[0]
        for r in con.sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
            params=[schema, name],
        ).fetchall()
    ]


def keep_previous(
    con: duckdb.DuckDBPyConnection, table: str, *, where: str = "true", params: list | None = None
) -> None:
    """Copy a table's rows (those matching `where`) to `<table>_previous`, replacing the copy's
    matching rows, before a run replaces them. Call inside the writer's transaction; the table's
    columns must not change between runs (the scores tables' do not).

    Args:
        con: warehouse connection.
        table: `schema.table`.
        where: which rows are about to be replaced (one model's, say).
        params: its parameters.
    """
    if not table_exists(con, table):
        return
    previous = quote_table(f"{table}_previous")
    con.execute(f"CREATE TABLE IF NOT EXISTS {previous} AS SELECT * FROM {quote_table(table)} WHERE false")
    con.execute(f"DELETE FROM {previous} WHERE {where}", params or [])
    con.execute(
        f"INSERT INTO {previous} BY NAME SELECT * FROM {quote_table(table)} WHERE {where}", params or []
    )


def feature_drift(con: duckdb.DuckDBPyConnection) -> DriftReport:
    """PSI of every feature in `features.profile_features` against the previous run's.

    Args:
        con: warehouse connection.

    Returns:
        The report (comparing nothing on the first run).
    """
    from feature_store.materialise import PREVIOUS_TABLE, PROFILE_FEATURES_TABLE

    if not table_exists(con, PROFILE_FEATURES_TABLE):
        return compare_tables(con, PROFILE_FEATURES_TABLE, PREVIOUS_TABLE, [])
    columns = [c for c in _columns(con, PROFILE_FEATURES_TABLE) if c not in ("profile_id", "as_of")]
    return compare_tables(con, PROFILE_FEATURES_TABLE, PREVIOUS_TABLE, columns)


def score_drift(
    con: duckdb.DuckDBPyConnection, model: str, features: list[str]
) -> tuple[DriftReport, DriftReport]:
    """PSI of a model's scores against the previous run's, and of the profile features it reads.

    Args:
        con: warehouse connection.
        model: `lead_score`, `churn_risk` or `next_best_offer`.
        features: the model's features (those in `features.profile_features` are compared).

    Returns:
        (the scores' report: `score`, and for offers the best offer `offer_id`; the inputs' report).
    """
    from feature_store.materialise import PREVIOUS_TABLE, PROFILE_FEATURES_TABLE
    from models.score_tables import OFFERS, PREDICTIONS

    if model == "next_best_offer":
        scores = compare_tables(con, OFFERS, f"{OFFERS}_previous", ["score"])
        best = compare_tables(con, OFFERS, f"{OFFERS}_previous", ["offer_id"], where="rank = 1")
        scores = DriftReport(
            pl.concat([scores.values, best.values.with_columns(name=pl.lit("best offer_id"))]).sort(
                "psi", descending=True
            ),
            scores.previous_as_of,
            scores.current_as_of,
        )
    else:
        scores = compare_tables(
            con, PREDICTIONS, f"{PREDICTIONS}_previous", ["score"], where="model = ?", params=[model]
        )
    return scores, compare_tables(con, PROFILE_FEATURES_TABLE, PREVIOUS_TABLE, features)
