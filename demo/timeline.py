"""The fixed time window of the demo company and helpers for times held as epoch seconds.

Times are int64 seconds since 1970-01-01 UTC inside the simulation: numpy arithmetic on them is
fast and exact, and they become polars datetimes only when a source file is written.
"""

from datetime import UTC, datetime

import numpy as np
import polars as pl

WINDOW_START = datetime(2025, 1, 1, tzinfo=UTC)
WINDOW_END = datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)
# The CRM exports are snapshots taken the morning after the window closes.
EXPORTED_AT = datetime(2026, 11, 1, 6, 0, 0, tzinfo=UTC)

T0 = int(WINDOW_START.timestamp())
T1 = int(WINDOW_END.timestamp())
DAY = 86_400
HOUR = 3_600

# Share of activity per hour of the day (UTC is treated as the shop's local time).
WEB_HOURS = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 4, 4, 4.5, 4.5, 4, 4, 4.5, 5, 6, 7, 7.5, 6.5, 4.5, 2.5]
)
STORE_HOURS = np.array([0] * 9 + [2, 3, 4, 5, 5, 4.5, 4.5, 5, 5.5, 5, 4, 2] + [0] * 3)
OFFICE_HOURS = np.array([0] * 8 + [3, 5, 5, 4, 3, 4, 5, 5, 4, 3, 1] + [0] * 5)


def times_on_days(days: np.ndarray, rng: np.random.Generator, hour_weights: np.ndarray) -> np.ndarray:
    """Place one moment on each given day, with the hour drawn from a daily activity profile.

    Args:
        days: epoch seconds of any moment on each day (the time of day is discarded).
        rng: the seeded generator.
        hour_weights: 24 non-negative weights, one per hour.

    Returns:
        int64 epoch seconds, one per input day.
    """
    midnight = (days // DAY) * DAY
    hours = rng.choice(24, size=len(days), p=hour_weights / hour_weights.sum())
    return midnight + hours * HOUR + rng.integers(0, HOUR, size=len(days))


def uniform_times(
    start: np.ndarray, end: np.ndarray, rng: np.random.Generator, hour_weights: np.ndarray | None = None
) -> np.ndarray:
    """Draw one moment uniformly between start and end per row, optionally reshaping the hour of day.

    Args:
        start: epoch seconds, per row.
        end: epoch seconds, per row (not before start).
        rng: the seeded generator.
        hour_weights: when given, keep the drawn day but redraw the hour from this profile.

    Returns:
        int64 epoch seconds, clipped to [start, end].
    """
    span = np.maximum(end - start, 0)
    moments = start + (rng.random(len(start)) * span).astype(np.int64)
    if hour_weights is not None:
        moments = np.clip(times_on_days(moments, rng, hour_weights), start, end)
    return moments


def to_datetime(seconds: np.ndarray, name: str) -> pl.Series:
    """Turn epoch seconds into a polars UTC-naive millisecond datetime series.

    Args:
        seconds: int64 epoch seconds.
        name: the series name.

    Returns:
        A `Datetime("ms")` series.
    """
    return pl.Series(name, np.asarray(seconds, dtype=np.int64) * 1000).cast(pl.Datetime("ms"))
