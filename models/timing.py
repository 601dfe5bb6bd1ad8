"""Seconds per step of a scoring run, for the logs and the scoring benchmark."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def step(seconds: dict[str, float] | None, name: str) -> Iterator[None]:
    """Add the time spent in the `with` block to `seconds[name]` (nothing when `seconds` is None).

    Args:
        seconds: step name -> seconds so far, or None to measure nothing.
        name: the step, e.g. `features`, `scoring`, `reasons`, `writes`.
    """
    started = time.perf_counter()
    try:
        yield
    finally:
        if seconds is not None:
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
