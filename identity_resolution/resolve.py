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

from identity_resolution.evidence import with_evidence_times
from identity_resolution.links import LINK_SCHEMA
from identity_resolution.matching import Matching, match_records
from identity_resolution.model_store import SavedModel, insert_sql, latest_model, model_id, model_row
from identity_resolution.options import MatchOptions
from identity_resolution.probabilistic import MatchModel
from identity_resolution.records import collect_contact_values, person_records, records_from_people
from identity_resolution.splink_engine import EngineFactory, duckdb_engine
from identity_resolution.survivorship import contact_points, golden_records
from warehouse.canonical import PERSON_ATTRIBUTES
from warehouse.connection import connect, quote_table, read_table, table_exists
from warehouse.identity_config import SurvivorshipConfig

log = logging.getLogger(__name__)

PERSON_RECORDS = "identity.person_records"
LINKS = "identity.links"
REJECTED_LINKS = "identity.rejected_links"
RECORD_XREF = "identity.record_xref"
UNIFIED_PROFILE = "profiles.unified_profile"
CONTACT_POINTS = "profiles.contact_points"
ATTRIBUTE_PROVENANCE = "profiles.attribute_provenance"
LINK_COLUMNS = tuple(LINK_SCHEMA)


@dataclass
class ResolutionSummary:
    """What one resolution run did."""

    records: int
    profiles: int
    links_by_rule: dict[str, int] = field(default_factory=dict)
    merge_rate: float = 0.0
    seconds: float = 0.0
    match_threshold: float = 0.0
    model_trained: bool = False
    model: str = "none"
    model_id: str | None = None
    model_reason: str | None = None
    links_left_out: dict[str, int] = field(default_factory=dict)
    blocked_values: dict[str, int] = field(default_factory=dict)


def _replace_tables(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, pl.DataFrame], model: tuple | None = None
) -> None:
    """Replace several tables (and add the new match model) in one transaction: readers see the
    old stage or the new, never a mix."""
    views = {name: f"_kindred_resolve_{i}" for i, name in enumerate(tables)}
    for name, frame in tables.items():
        con.register(views[name], frame.to_arrow())
    try:
        con.execute("BEGIN TRANSACTION")
        for name in tables:
            con.execute(f"CREATE OR REPLACE TABLE {quote_table(name)} AS SELECT * FROM {views[name]}")
        if model is not None:
            create, insert = insert_sql()
            con.execute(create)
            con.execute(insert, list(model))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        for view in views.values():
            con.unregister(view)


def _summary(result: Matching, profiles: int, started: float, options: MatchOptions) -> ResolutionSummary:
    n_records = result.records.height
    return ResolutionSummary(
        records=n_records,
        profiles=profiles,
        links_by_rule={r: n for r, n in result.links.group_by("rule").len().sort("rule").iter_rows()},
        merge_rate=1 - profiles / n_records if n_records else 0.0,
        seconds=time.perf_counter() - started,
        match_threshold=result.threshold,
        model_trained=result.model_reason is not None and result.model is not None and result.model.trained,
        model=result.model.how if result.model else "none (nothing to compare)",
        model_id=model_id(result.model.settings) if result.model else None,
        model_reason=result.model_reason,
        links_left_out={r: n for r, n in result.rejected.group_by("reason").len().sort("reason").iter_rows()},
        blocked_values=result.blocked_values,
    )


def resolve_identities(
    con: duckdb.DuckDBPyConnection,
    options: MatchOptions | None = None,
    *,
    retrain: bool = False,
    engine_factory: EngineFactory = duckdb_engine,
    survivorship: SurvivorshipConfig | None = None,
) -> ResolutionSummary:
    """Resolve every staged record to a person and rebuild the identity and profile tables.

    Reads `staging.people/events/orders/cases` (missing or empty ones are fine) and replaces
    `identity.person_records`, `identity.links`, `identity.rejected_links`,
    `identity.record_xref`, `profiles.unified_profile`, `profiles.contact_points` and
    `profiles.attribute_provenance` in one transaction, adding a row to `identity.match_models`
    when a model was trained. Profile ids of the previous `identity.record_xref` are kept where
    the cluster still matches. Each link carries `evidence_at`, when it became known
    (`identity_resolution.evidence`).

    Args:
        con: warehouse connection.
        options: matching options (`MatchOptions.from_config(config.identity)`; defaults when None).
        retrain: fit a new match model even if the saved one still fits the data.
        engine_factory: where Splink runs (`backends.engine_factory` for `identity.backend`).
        survivorship: how each golden-record value is chosen (`identity.survivorship`; the
            documented defaults when None).

    Returns:
        Counts of records, profiles and links by rule, the model used, what the guardrails left out.

    Example:
        >>> from warehouse.connection import connect
        >>> con = connect(":memory:")  # with staging tables loaded
        >>> summary = resolve_identities(con, MatchOptions(default_phone_region="GB"))  # doctest: +SKIP
    """
    options = options or MatchOptions()
    started = time.perf_counter()
    resolved_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    previous = read_table(con, RECORD_XREF) if table_exists(con, RECORD_XREF) else None
    records = person_records(
        con, default_phone_region=options.default_phone_region, day_first=options.day_first
    )
    result = match_records(
        con,
        records,
        options,
        previous=previous,
        saved=latest_model(con),
        retrain=retrain,
        engine_factory=engine_factory,
    )
    xref = result.xref.with_columns(pl.lit(resolved_at, dtype=pl.Datetime("us")).alias("resolved_at"))
    contacts = collect_contact_values(con, default_phone_region=options.default_phone_region)
    golden = golden_records(
        con, xref, contacts, updated_at=resolved_at, settings=survivorship, day_first=options.day_first
    )
    profiles = golden.profiles
    points = contact_points(xref, contacts, profiles)
    new_model = None
    if result.model_reason is not None and result.model is not None and result.model.trained:
        new_model = model_row(
            result.model,
            reason=result.model_reason,
            trained_at=resolved_at,
            fingerprint=options.fingerprint(),
        )
    _replace_tables(
        con,
        {
            PERSON_RECORDS: records,
            LINKS: with_evidence_times(
                con, result.records, result.links, default_phone_region=options.default_phone_region
            ),
            REJECTED_LINKS: result.rejected,
            RECORD_XREF: xref,
            UNIFIED_PROFILE: profiles,
            CONTACT_POINTS: points,
            ATTRIBUTE_PROVENANCE: golden.provenance,
        },
        new_model,
    )
    summary = _summary(result, profiles.height, started, options)
    log.info(
        "identity resolution: %d records -> %d profiles in %.1f s (links %s; left out %s; model %s)",
        summary.records,
        summary.profiles,
        summary.seconds,
        summary.links_by_rule,
        summary.links_left_out,
        summary.model,
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
    options: MatchOptions | None = None,
    *,
    engine_factory: EngineFactory = duckdb_engine,
) -> pl.DataFrame:
    """Resolve arbitrary person records (the `kindred resolve` command) to profile ids.

    Columns already named like a canonical attribute (`first_name`, `email`, ...) are used as
    they are; `mapping` maps the others. Everything runs in a private in-memory database, and a
    model is fitted on the files themselves.

    Args:
        frames: one frame per input file, keyed by source name (the file's stem).
        id_column: the column holding each record's id (unique within a file).
        mapping: canonical attribute -> column name, e.g. `{"last_name": "surname"}`.
        options: matching options (phone region, day-first dates, threshold, guardrails, ...).
        engine_factory: where Splink runs.

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
    return resolve_frames(frames, id_column, mapping, options, engine_factory=engine_factory)[0]


def resolve_frames(
    frames: Mapping[str, pl.DataFrame],
    id_column: str,
    mapping: Mapping[str, str] | None = None,
    options: MatchOptions | None = None,
    *,
    model: MatchModel | None = None,
    engine_factory: EngineFactory = duckdb_engine,
) -> tuple[pl.DataFrame, MatchModel | None]:
    """`resolve_records` that can score with a given model and returns the model it used.

    Args:
        frames: one frame per input file, keyed by source name.
        id_column: the record id column.
        mapping: canonical attribute -> column name.
        options: matching options.
        model: a model to score with instead of fitting one (e.g. to compare thresholds).
        engine_factory: where Splink runs.

    Returns:
        The `source, record_id, profile_id` frame and the model.
    """
    options = options or MatchOptions()
    people = _people_frame(frames, id_column, mapping or {})
    saved = SavedModel(model_id(model.settings), dt.datetime.now(), "given", model, {}) if model else None
    order = people.select("source", "record_id").with_row_index("_order")
    # The files are read once: each row is a record (ids are unique per file), so the rows go
    # straight to normalising instead of through staging tables.
    records = records_from_people(
        people, default_phone_region=options.default_phone_region, day_first=options.day_first
    )
    del people
    con = connect(":memory:")
    try:
        result = match_records(
            con, records, options, saved=saved, reuse=saved is not None, engine_factory=engine_factory
        )
    finally:
        con.close()
    resolved = (
        order.join(result.xref, on=["source", "record_id"], how="left")
        .sort("_order")
        .select("source", "record_id", "profile_id")
    )
    return resolved, result.model
