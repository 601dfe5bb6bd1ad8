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
from pathlib import Path

import duckdb
import polars as pl

from activation.segments.compiler import SegmentError, compile_export
from activation.segments.fields import FieldCatalog, load_catalog
from activation.segments.membership import definition_hash, latest_evaluations
from privacy.consent import permitted_condition
from warehouse.segment_config import SegmentConfig

EXPORT_FORMATS = {".csv": "csv", ".parquet": "parquet"}


@dataclass(frozen=True)
class SegmentExport:
    """A segment's exportable members: the query that reads them and what was left out.

    Attributes:
        segment: the segment's name.
        format: `csv` or `parquet` (lists are joined into text for CSV).
        sql: the export query, `?` placeholders.
        params: its parameters.
        members: members of the segment (last run).
        exported: members the export holds: those consent permits.
        left_out_for_consent: members left out because consent for the purpose and channel is missing.
        evaluated_at: when the last run evaluated the segment (UTC).
        as_of: the as-of date of that evaluation.
        definition_changed: kindred.yaml's `where` differs from the one the last run evaluated.
    """

    segment: str
    format: str
    sql: str
    params: list
    members: int
    exported: int
    left_out_for_consent: int
    evaluated_at: datetime
    as_of: datetime | None
    definition_changed: bool


def export_segment(
    con: duckdb.DuckDBPyConnection,
    segment: SegmentConfig,
    *,
    fmt: str = "parquet",
    opt_in_required: bool = False,
    catalog: FieldCatalog | None = None,
) -> SegmentExport:
    """Prepare the export of a segment's current members with its columns, consent applied.

    Args:
        con: warehouse connection (read-only is enough).
        segment: the definition from kindred.yaml (its columns, purpose and channel are used).
        fmt: `parquet` or `csv`.
        opt_in_required: only members with a recorded opt-in for the purpose (and channel) are
            exported; by default everyone is, unless they opted out.
        catalog: the fields of the warehouse; read from it when None.

    Returns:
        The export, with its counts; `write_export` or `read_export` fetch its rows, ordered by
        profile id.

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
    compiled = compile_export(segment, catalog, consent=consent, lists_as_text=fmt == "csv")
    condition, params = consent
    members, excluded = con.sql(
        "SELECT count(*), count(*) FILTER (WHERE NOT (" + condition + ")) "
        "FROM segments.membership AS member WHERE member.segment = ?",
        params=[*params, segment.name],
    ).fetchall()[0]
    return SegmentExport(
        segment=segment.name,
        format=fmt,
        sql=compiled.sql,
        params=compiled.params,
        members=members,
        # Every member has a row in segments.profile_fields: both come from the same run's profiles
        # (the membership check guards it), so the export holds all members consent permits.
        exported=members - excluded,
        left_out_for_consent=excluded,
        evaluated_at=evaluation["evaluated_at"],
        as_of=evaluation["as_of"],
        definition_changed=evaluation["definition_hash"] != definition_hash(segment),
    )


def write_export(con: duckdb.DuckDBPyConnection, export: SegmentExport, path: Path) -> None:
    """Write an export's rows to `path` in its format, streamed by DuckDB (no copy in Python).

    Args:
        con: the connection `export_segment` used.
        export: what `export_segment` returned.
        path: the file to write (replaced if it exists); callers wanting an atomic write pass a
            temporary path and rename it.
    """
    rows = con.sql(export.sql, params=export.params)
    if export.format == "csv":
        rows.write_csv(str(path), header=True)
    else:
        rows.write_parquet(str(path))


def read_export(con: duckdb.DuckDBPyConnection, export: SegmentExport) -> pl.DataFrame:
    """An export's rows as a polars frame.

    Args:
        con: the connection `export_segment` used.
        export: what `export_segment` returned.

    Returns:
        One row per exported member, the segment's columns in order.
    """
    return con.sql(export.sql, params=export.params).pl()


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
