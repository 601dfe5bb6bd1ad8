"""Turning numpy arrays into polars frames with the right types."""

import numpy as np
import polars as pl


def to_frame(columns: dict[str, object]) -> pl.DataFrame:
    """Build a polars frame, typing numpy object arrays (strings with `None` gaps) as strings.

    Args:
        columns: column name -> numpy array, polars series or list.

    Returns:
        The frame.
    """
    typed = {}
    for name, values in columns.items():
        if isinstance(values, np.ndarray) and values.dtype == object:
            typed[name] = strings(name, values)
        elif isinstance(values, np.ndarray) and values.dtype.kind == "U":
            typed[name] = pl.Series(name, values.astype(object), dtype=pl.String)
        else:
            typed[name] = values
    return pl.DataFrame(typed)


def strings(name: str, values: np.ndarray) -> pl.Series:
    """Make a string series from a numpy object array holding `str`, `numpy.str_` or `None`.

    Args:
        name: the series name.
        values: the array.

    Returns:
        A `String` series.
    """
    try:
        return pl.Series(name, values, dtype=pl.String)
    except pl.exceptions.ComputeError:
        # numpy.str_ items make polars fall back to its Object type; plain str converts directly.
        return pl.Series(name, [None if v is None else str(v) for v in values.tolist()], dtype=pl.String)


def labels(name: str, values: np.ndarray) -> pl.Series:
    """Make a string series from a numpy unicode array, reading empty strings as missing.

    Args:
        name: the series name.
        values: a numpy `<U` array (for example the result of `np.where` over string literals).

    Returns:
        A `String` series with nulls where the array held "".
    """
    series = pl.Series(name, values)
    return series.replace("", None)
