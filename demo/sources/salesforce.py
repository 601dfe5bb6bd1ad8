"""Helpers shared by the Salesforce-style exports: timestamps, booleans and typed-in names."""

import numpy as np
import polars as pl

from demo.arrays import strings
from demo.messiness import MessRates, nicknames, stray_whitespace, typos


def sf_datetime(seconds: str) -> pl.Expr:
    """Format epoch seconds the way Salesforce exports datetimes: `2025-03-04T10:22:11.000+0000`.

    Args:
        seconds: the name of an epoch-seconds column (negative or null means empty).

    Returns:
        A string expression.
    """
    return pl.when(pl.col(seconds) >= 0).then(
        pl.from_epoch(seconds).dt.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    )


def sf_date(seconds: str) -> pl.Expr:
    """Format epoch seconds as a Salesforce date (`2025-03-04`).

    Args:
        seconds: the name of an epoch-seconds column (negative or null means empty).

    Returns:
        A string expression.
    """
    return pl.when(pl.col(seconds) >= 0).then(pl.from_epoch(seconds).dt.strftime("%Y-%m-%d"))


def sf_boolean(flag: pl.Expr) -> pl.Expr:
    """Write a boolean as Salesforce exports do (`true` / `false`).

    Args:
        flag: a boolean expression.

    Returns:
        A string expression.
    """
    return pl.when(flag).then(pl.lit("true")).otherwise(pl.lit("false"))


def typed_names(
    first: np.ndarray,
    last: np.ndarray,
    rng: np.random.Generator,
    rates: MessRates,
    nickname_rate: float | np.ndarray,
    case_rate: float | np.ndarray,
) -> tuple[pl.Series, pl.Series]:
    """First and last names as someone typed them into the CRM.

    Args:
        first: true first names.
        last: true last names.
        rng: the seeded generator.
        rates: the mess rates (typos, whitespace).
        nickname_rate: share of short forms (one value, or one per record).
        case_rate: share of records written in capitals (one value, or one per record).

    Returns:
        `(FirstName, LastName)` string series.
    """
    first = typos(nicknames(first, nickname_rate, rng), rates.name_typo, rng)
    last = typos(last, rates.name_typo, rng)
    # Imported lists shout whole records, so both names of a row change case together.
    shout = np.flatnonzero(rng.random(len(first)) < case_rate)
    first, last = first.copy(), last.copy()
    for i in shout.tolist():
        first[i] = first[i].upper() if first[i] is not None else None
        last[i] = last[i].upper() if last[i] is not None else None
    first = stray_whitespace(first, rates.whitespace, rng)
    last = stray_whitespace(last, rates.whitespace, rng)
    return strings("FirstName", first), strings("LastName", last)
