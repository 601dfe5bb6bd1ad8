"""The shape of `identity.links`: every pair of records judged the same person, by which rule."""

from __future__ import annotations

import polars as pl

SPLINK_RULE = "splink"

LINK_SCHEMA: dict[str, pl.DataType] = {
    "source_l": pl.Utf8,
    "record_id_l": pl.Utf8,
    "source_r": pl.Utf8,
    "record_id_r": pl.Utf8,
    "rule": pl.Utf8,
    "match_probability": pl.Float64,
    "explanation": pl.Utf8,
}


def empty_links() -> pl.DataFrame:
    """An `identity.links` frame with no rows.

    Returns:
        An empty frame with the links schema.
    """
    return pl.DataFrame(schema=LINK_SCHEMA)
