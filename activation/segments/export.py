"""A segment's members as a table to hand over: its export columns, consent applied.

An export reads `segments.membership`, the members the last run found, rather than evaluating the
definition again. The file then holds exactly the people the membership history announced to
journey tools and `kindred segments list` counted, an erased person (removed from membership) can
never come back through it, and exporting takes one join instead of a fresh evaluation. When
kindred.yaml's `where` has changed since the last run, the export says so (`definition_changed`)
and still holds the last run's members; `kindred run` applies the change. The columns, purpose and
channel are read from kindred.yaml as it is now.

Consent is checked with `privacy.consent.permitted_condition` for the segment's purpose and
channel: members who may not be contacted that way are left out and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from activation.segments.compiler import SegmentError, compile_export
from activation.segments.fields import FieldCatalog, load_catalog
from activation.segments.membership import definition_hash, latest_evaluations
from privacy.consent import permitted_condition
from warehouse.segment_config import SegmentConfig

EXPORT_FORMATS = {".csv": "csv", ".parquet": "parquet"}
# A list (the sources a profile came from) has no CSV form; it is written as its items joined by this.
CSV_LIST_SEPARATOR = "; "


@dataclass(frozen=True)
class SegmentExport:
    """A segment's exportable members and what was left out.

    Attributes:
        segment: the segment's name.
        frame: one row per permitted member, the segment's columns in order.
        members: members of the segment (last run).
        left_out_for_consent: members left out because consent for the purpose and channel is missing.
        evaluated_at: when the last run evaluated the segment (UTC).
        as_of: the as-of date of that evaluation.
        definition_changed: kindred.yaml's `where` differs from the one the last run evaluated.
    """

    segment: str
    frame: pl.DataFrame
    members: int
    left_out_for_consent: int
    evaluated_at: datetime
    as_of: datetime | None
    definition_changed: bool


def export_segment(
    con: duckdb.DuckDBPyConnection,
    segment: SegmentConfig,
    *,
    opt_in_required: bool = False,
    catalog: FieldCatalog | None = None,
) -> SegmentExport:
    """The segment's current members with its export columns, leaving out those consent excludes.

    Args:
        con: warehouse connection (read-only is enough).
        segment: the definition from kindred.yaml (its columns, purpose and channel are used).
        opt_in_required: only members with a recorded opt-in for the purpose (and channel) are
            exported; by default everyone is, unless they opted out.
        catalog: the fields of the warehouse; read from it when None.

    Returns:
        The export, ordered by profile id.

    Raises:
        SegmentError: the segment has not been built by a run yet, or a column is not a field.
    """
    evaluation = latest_evaluations(con).get(segment.name)
    if evaluation is None or evaluation["removed"]:
        raise SegmentError(
            f"segment '{segment.name}' has not been built yet: run `kindred run` to compute its members"
        )
    catalog = catalog or load_catalog(con)
    consent = permitted_condition(
        con,
        "member.profile_id",
        purpose=segment.purpose,
        channel=segment.channel,
        opt_in_required=opt_in_required,
    )
    compiled = compile_export(segment, catalog, consent=consent)
    frame = con.sql(compiled.sql, params=compiled.params).pl()
    condition, params = consent
    members, excluded = con.sql(
        "SELECT count(*), count(*) FILTER (WHERE NOT (" + condition + ")) "
        "FROM segments.membership AS member WHERE member.segment = ?",
        params=[*params, segment.name],
    ).fetchall()[0]
    return SegmentExport(
        segment=segment.name,
        frame=frame,
        members=members,
        left_out_for_consent=excluded,
        evaluated_at=evaluation["evaluated_at"],
        as_of=evaluation["as_of"],
        definition_changed=evaluation["definition_hash"] != definition_hash(segment),
    )


def export_format(path_suffix: str) -> str:
    """`csv` or `parquet` for a file suffix.

    Args:
        path_suffix: e.g. `.CSV` or `.parquet`.

    Returns:
        The format name.

    Raises:
        ValueError: any other suffix.
    """
    fmt = EXPORT_FORMATS.get(path_suffix.lower())
    if fmt is None:
        raise ValueError("the file name must end in .csv or .parquet")
    return fmt


def for_format(frame: pl.DataFrame, fmt: str) -> pl.DataFrame:
    """The frame as the format can hold it: lists joined into text for CSV, unchanged for Parquet.

    Args:
        frame: an export's frame.
        fmt: `csv` or `parquet`.

    Returns:
        The frame to write.
    """
    if fmt != "csv":
        return frame
    lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    return frame.with_columns(
        pl.col(name).cast(pl.List(pl.String)).list.join(CSV_LIST_SEPARATOR) for name in lists
    )
