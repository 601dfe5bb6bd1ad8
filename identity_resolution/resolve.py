"""The identity-resolution stage end to end: staging -> identity.* -> profiles.*.

`resolve_identities` runs it on the warehouse; `resolve_records` runs the same matching on
arbitrary person files (the `kindred resolve` command) and returns who is who.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb
import polars as pl

from identity_resolution.clustering import assign_profile_ids, cluster_records
from identity_resolution.deterministic import ContactGuard, deterministic_links, without_guarded_values
from identity_resolution.links import LINK_SCHEMA
from identity_resolution.probabilistic import (
    DEFAULT_MATCH_THRESHOLD,
    ProbabilisticResult,
    probabilistic_links,
)
from identity_resolution.records import collect_contact_values, person_records
from identity_resolution.survivorship import contact_points, unified_profiles
from warehouse.canonical import PERSON_ATTRIBUTES
from warehouse.connection import connect, quote_table, read_table, table_exists
from warehouse.staging import staging_columns

log = logging.getLogger(__name__)

PERSON_RECORDS = "identity.person_records"
LINKS = "identity.links"
RECORD_XREF = "identity.record_xref"
UNIFIED_PROFILE = "profiles.unified_profile"
CONTACT_POINTS = "profiles.contact_points"
LINK_COLUMNS = tuple(LINK_SCHEMA)


@dataclass
class ResolutionSummary:
    """What one resolution run did."""

    records: int
    profiles: int
    links_by_rule: dict[str, int] = field(default_factory=dict)
    merge_rate: float = 0.0
    seconds: float = 0.0
    match_threshold: float = DEFAULT_MATCH_THRESHOLD
    model_trained: bool = False
    model: str = "prior parameters"
    household_pairs_held_back: int = 0


@dataclass
class _Resolution:
    records: pl.DataFrame
    links: pl.DataFrame
    xref: pl.DataFrame
    probabilistic: ProbabilisticResult


def _resolve(
    con: duckdb.DuckDBPyConnection,
    *,
    default_phone_region: str,
    match_threshold: float,
    day_first: bool,
    previous: pl.DataFrame | None,
    resolved_at: dt.datetime,
) -> _Resolution:
    records = person_records(con, default_phone_region=default_phone_region, day_first=day_first)
    guard = ContactGuard()
    rule_links = deterministic_links(con, records, guard=guard)
    probabilistic = probabilistic_links(
        without_guarded_values(records, guard), rule_links=rule_links, match_threshold=match_threshold
    )
    links = pl.concat([rule_links, probabilistic.links.select(LINK_COLUMNS)])
    clusters = cluster_records(records, links)
    xref = assign_profile_ids(clusters, previous).with_columns(
        pl.lit(resolved_at, dtype=pl.Datetime("us")).alias("resolved_at")
    )
    return _Resolution(records, links, xref, probabilistic)


def _replace_tables(con: duckdb.DuckDBPyConnection, tables: Mapping[str, pl.DataFrame]) -> None:
    """Replace several tables in one transaction: readers see the old stage or the new, never a mix."""
    views = {name: f"_kindred_resolve_{i}" for i, name in enumerate(tables)}
    for name, frame in tables.items():
        con.register(views[name], frame.to_arrow())
    try:
        con.execute("BEGIN TRANSACTION")
        for name in tables:
            con.execute(f"CREATE OR REPLACE TABLE {quote_table(name)} AS SELECT * FROM {views[name]}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        for view in views.values():
            con.unregister(view)


def resolve_identities(
    con: duckdb.DuckDBPyConnection,
    *,
    default_phone_region: str = "US",
    match_threshold: float | None = None,
    day_first: bool = False,
) -> ResolutionSummary:
    """Resolve every staged record to a person and rebuild the identity and profile tables.

    Reads `staging.people/events/orders/cases` (missing or empty ones are fine) and replaces
    `identity.person_records`, `identity.links`, `identity.record_xref`,
    `profiles.unified_profile` and `profiles.contact_points` in one transaction. Profile ids
    of the previous `identity.record_xref` are kept where the cluster still matches.

    Args:
        con: warehouse connection.
        default_phone_region: region for phone numbers written without a country code.
        match_threshold: match probability a Splink pair needs to be linked
            (default `DEFAULT_MATCH_THRESHOLD`).
        day_first: read ambiguous slashed dates of birth as day/month/year.

    Returns:
        Counts of records, profiles and links by rule, the merge rate and the run time.

    Example:
        >>> from warehouse.connection import connect
        >>> con = connect(":memory:")  # with staging tables loaded
        >>> summary = resolve_identities(con, default_phone_region="GB")  # doctest: +SKIP
    """
    started = time.perf_counter()
    threshold = DEFAULT_MATCH_THRESHOLD if match_threshold is None else match_threshold
    resolved_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    previous = read_table(con, RECORD_XREF) if table_exists(con, RECORD_XREF) else None
    result = _resolve(
        con,
        default_phone_region=default_phone_region,
        match_threshold=threshold,
        day_first=day_first,
        previous=previous,
        resolved_at=resolved_at,
    )
    contacts = collect_contact_values(con, default_phone_region=default_phone_region)
    profiles = unified_profiles(con, result.xref, contacts, updated_at=resolved_at)
    points = contact_points(result.xref, contacts, profiles)
    _replace_tables(
        con,
        {
            PERSON_RECORDS: result.records,
            LINKS: result.links,
            RECORD_XREF: result.xref,
            UNIFIED_PROFILE: profiles,
            CONTACT_POINTS: points,
        },
    )
    n_records = result.records.height
    summary = ResolutionSummary(
        records=n_records,
        profiles=profiles.height,
        links_by_rule={r: n for r, n in result.links.group_by("rule").len().sort("rule").iter_rows()},
        merge_rate=1 - profiles.height / n_records if n_records else 0.0,
        seconds=time.perf_counter() - started,
        match_threshold=threshold,
        model_trained=result.probabilistic.trained,
        model=result.probabilistic.m_source,
        household_pairs_held_back=result.probabilistic.household_pairs_held_back,
    )
    log.info(
        "identity resolution: %d records -> %d profiles in %.1f s (links %s)",
        summary.records,
        summary.profiles,
        summary.seconds,
        summary.links_by_rule,
    )
    return summary


def _people_frame(
    frames: Mapping[str, pl.DataFrame], id_column: str, mapping: Mapping[str, str]
) -> pl.DataFrame:
    """Check the inputs of `resolve_records` and shape them like `staging.people`."""
    unknown = sorted(set(mapping) - set(PERSON_ATTRIBUTES))
    if unknown:
        raise ValueError(
            f"unknown canonical attribute {unknown[0]!r} in --map; "
            f"known attributes: {', '.join(PERSON_ATTRIBUTES)}"
        )
    if not frames:
        raise ValueError("no input files given")
    for column in mapping.values():
        if not any(column in frame.columns for frame in frames.values()):
            raise ValueError(f"mapped column {column!r} is in none of the input files ({', '.join(frames)})")
    people = []
    for source, frame in frames.items():
        if id_column not in frame.columns:
            raise ValueError(
                f"{source}: id column {id_column!r} not found (columns: {', '.join(frame.columns)})"
            )
        ids = frame.get_column(id_column).cast(pl.Utf8).str.strip_chars()
        missing = ids.is_null() | (ids == "")
        if missing.any():
            row = int(missing.arg_max()) + 1
            raise ValueError(f"{source}: row {row} has no value in id column {id_column!r}")
        duplicated = ids.filter(ids.is_duplicated())
        if duplicated.len():
            raise ValueError(f"{source}: duplicate id {duplicated[0]!r} in column {id_column!r}")
        columns = {a: mapping.get(a, a) for a in PERSON_ATTRIBUTES}
        people.append(
            frame.select(
                pl.lit(source).alias("source"),
                ids.alias("record_id"),
                pl.lit(source).alias("id_namespace"),
                *(
                    (
                        pl.col(column).cast(pl.Utf8).str.strip_chars()
                        if column in frame.columns
                        else pl.lit(None, dtype=pl.Utf8)
                    ).alias(attribute)
                    for attribute, column in columns.items()
                ),
                pl.lit(source).alias("_file"),
                pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row_number"),
            )
        )
    return pl.concat(people).with_columns(pl.col(a).replace("", None) for a in PERSON_ATTRIBUTES)


def resolve_records(
    frames: Mapping[str, pl.DataFrame],
    id_column: str,
    mapping: Mapping[str, str] | None = None,
    *,
    default_phone_region: str = "US",
    match_threshold: float | None = None,
    day_first: bool = False,
) -> pl.DataFrame:
    """Resolve arbitrary person records (the `kindred resolve` command) to profile ids.

    Columns already named like a canonical attribute (`first_name`, `email`, ...) are used as
    they are; `mapping` maps the others. Everything runs in a private in-memory database.

    Args:
        frames: one frame per input file, keyed by source name (the file's stem).
        id_column: the column holding each record's id (unique within a file).
        mapping: canonical attribute -> column name, e.g. `{"last_name": "surname"}`.
        default_phone_region: region for phone numbers written without a country code.
        match_threshold: match probability a Splink pair needs to be linked.
        day_first: read ambiguous slashed dates of birth as day/month/year.

    Returns:
        `source, record_id, profile_id`, one row per input record, in input order.

    Raises:
        ValueError: an unknown canonical attribute in `mapping`, a mapped column in no file, a
            file without the id column, or a missing or duplicate id (naming file and id).

    Example:
        >>> people = pl.DataFrame({"id": ["1", "2"], "name": ["Ann Lee", "Anne Lee"]})
        >>> resolve_records({"crm": people}, "id", {"full_name": "name"}).columns
        ['source', 'record_id', 'profile_id']
    """
    people = _people_frame(frames, id_column, mapping or {})
    threshold = DEFAULT_MATCH_THRESHOLD if match_threshold is None else match_threshold
    con = connect(":memory:")
    try:
        target = quote_table("staging.people")
        typed = people.with_columns(pl.lit(None, dtype=pl.Datetime("us")).alias("created_at"))
        con.register("_kindred_people", typed.to_arrow())
        known = [c for c in staging_columns("people") if c in typed.columns]
        con.execute(f"CREATE TABLE {target} AS SELECT {', '.join(known)} FROM _kindred_people")
        con.unregister("_kindred_people")
        result = _resolve(
            con,
            default_phone_region=default_phone_region,
            match_threshold=threshold,
            day_first=day_first,
            previous=None,
            resolved_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        )
    finally:
        con.close()
    order = people.select("source", "record_id").with_row_index("_order")
    return (
        order.join(result.xref, on=["source", "record_id"], how="left")
        .sort("_order")
        .select("source", "record_id", "profile_id")
    )
