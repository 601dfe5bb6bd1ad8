"""The cut-offs a run learns from: training cut-offs, the holdout cut-off, and what `as_of` means.

A run at `as_of` sees only facts strictly before it. A label window starting at cut-off T covers
[T, T + horizon), so it has matured by `as_of` when T + horizon <= as_of. The holdout is the latest
matured cut-off, T = as_of - horizon; training cut-offs are monthly, starting at as_of - 2 x horizon
so that their label windows end before the holdout's begins.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

import duckdb

from feature_store.identity_as_of import as_datetime
from feature_store.sources import default_as_of

__all__ = ["as_datetime", "holdout_cutoff", "months_before", "resolve_as_of", "training_cutoffs"]


def resolve_as_of(con: duckdb.DuckDBPyConnection, as_of: date | datetime | None) -> datetime | None:
    """The run's as_of: the given one, else midnight after the latest staging timestamp.

    Args:
        con: warehouse connection.
        as_of: the caller's as_of, or None.

    Returns:
        A datetime, or None when as_of is None and staging is empty.
    """
    if as_of is not None:
        return as_datetime(as_of)
    return default_as_of(con)


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (clamped to the month's last day).

    Args:
        moment: the starting point.
        months: how many months to go back.

    Returns:
        The earlier datetime.
    """
    month_index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(month_index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def holdout_cutoff(as_of: datetime, horizon_days: int) -> datetime:
    """The latest cut-off whose label window has matured by as_of: as_of - horizon.

    Args:
        as_of: the run's as_of.
        horizon_days: label window length.

    Returns:
        The holdout cut-off.
    """
    return as_of - timedelta(days=horizon_days)


def training_cutoffs(
    as_of: datetime, horizon_days: int, *, history_start: datetime | None, max_cutoffs: int = 12
) -> list[datetime]:
    """Monthly training cut-offs whose label windows end on or before the holdout cut-off.

    Args:
        as_of: the run's as_of.
        horizon_days: label window length.
        history_start: the earliest relevant fact; a cut-off needs some history before it.
        max_cutoffs: at most this many cut-offs, newest first.

    Returns:
        Cut-offs T <= as_of - 2 x horizon, one month apart, each after `history_start`, newest first.
    """
    if history_start is None:
        return []
    latest = as_of - timedelta(days=2 * horizon_days)
    cutoffs = []
    for k in range(max_cutoffs):
        cutoff = months_before(latest, k)
        if cutoff <= history_start:
            break
        cutoffs.append(cutoff)
    return cutoffs
