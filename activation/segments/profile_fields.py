"""`segments.profile_fields`: one row per profile with every field a segment can use, built each run.

Scores and offers live one row per model run and per rank; finding each profile's latest score and
best offer means aggregating millions of rows. Doing that once per run, into one table, lets every
segment and every export read a single row per profile: at a million profiles an export joins two
tables instead of re-aggregating scores and offers each time.

The table is built from the upstream tables as they stand (`source_catalog`), in one transaction:
every column of `profiles.unified_profile`, the features of the newest `as_of`, each model's score
from its latest run (`warehouse/sql/segments/latest_scores.sql`) and the rank-1 offer of the latest
ranking (`best_offers.sql`). It holds the same personal data as the profile it is built from.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

import warehouse
from activation.segments.compiler import DIALECT, SegmentError, same_profile
from activation.segments.fields import (
    FEATURE,
    FEATURES_TABLE,
    OFFER,
    OFFERS_TABLE,
    PREDICTIONS_TABLE,
    PROFILE,
    PROFILE_FIELDS,
    PROFILE_TABLE,
    SCORE,
    FieldCatalog,
    source_catalog,
)
from warehouse.connection import replace_table_from_sql

log = logging.getLogger(__name__)

_SQL_DIR = Path(warehouse.__file__).parent / "sql" / "segments"
_ALIASES = {PROFILE: "profile", FEATURE: "feature", SCORE: "score", OFFER: "offer"}
# origin -> (common table expression and SQL file name, the table it reads)
_SOURCES = {
    FEATURE: ("latest_features", FEATURES_TABLE),
    SCORE: ("latest_scores", PREDICTIONS_TABLE),
    OFFER: ("best_offers", OFFERS_TABLE),
}


def profile_fields_sql(catalog: FieldCatalog) -> str:
    """The query that gathers every field of `catalog` into one row per profile.

    Args:
        catalog: the upstream fields (`source_catalog`).

    Returns:
        SQL without parameters: one row per profile of `profiles.unified_profile`, a column per field.

    Raises:
        SegmentError: `profiles.unified_profile` does not exist yet.
    """
    if PROFILE_TABLE not in catalog.tables:
        raise SegmentError(
            f"{PROFILE_TABLE} does not exist yet; segments need profiles: run `kindred run` first"
        )
    columns = [
        exp.alias_(exp.column(f.name, _ALIASES[f.origin], quoted=True), f.name, quoted=True)
        for f in catalog.fields.values()
    ]
    query = exp.select(*columns).from_(
        exp.table_("unified_profile", db="profiles", alias="profile"), copy=False
    )
    for origin, (name, table) in _SOURCES.items():
        if not any(f.origin == origin for f in catalog.fields.values()):
            continue
        source = _source(name) if table in catalog.tables else _empty(catalog, origin)
        query = query.with_(name, as_=source.copy(), copy=False).join(
            exp.table_(name, alias=_ALIASES[origin]),
            on=same_profile(_ALIASES[origin], "profile"),
            join_type="left",
            copy=False,
        )
    return query.sql(dialect=DIALECT)


def build_profile_fields(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild `segments.profile_fields` from the upstream tables as they stand, atomically.

    Args:
        con: warehouse connection (writable).

    Returns:
        Rows written: one per profile.

    Raises:
        SegmentError: there are no profiles yet.
    """
    catalog = source_catalog(con)
    rows = replace_table_from_sql(con, PROFILE_FIELDS, profile_fields_sql(catalog))
    log.info("%s: %d profiles, %d fields", PROFILE_FIELDS, rows, len(catalog.fields))
    return rows


@cache
def _source(name: str) -> exp.Query:
    tree = sqlglot.parse_one((_SQL_DIR / f"{name}.sql").read_text(encoding="utf-8"), dialect=DIALECT)
    # The files' comments explain them to a reader of the file; in the built query they are noise.
    for node in tree.walk():
        node.comments = None
    return tree


def _empty(catalog: FieldCatalog, origin: str) -> exp.Select:
    """A source with the right columns and no rows, for a table no run has written yet."""
    columns = [exp.alias_(exp.cast(exp.null(), "VARCHAR"), "profile_id")]
    columns += [
        exp.alias_(exp.cast(exp.null(), f.sql_type), f.name)
        for f in catalog.fields.values()
        if f.origin == origin
    ]
    return exp.select(*columns).where(exp.false(), copy=False)
