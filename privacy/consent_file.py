"""Consent statements from a consent file: a preference centre's or a consent platform's export.

One row per statement: who (a `source` and `record_id`, or an `email`, or a `phone`), the
`channel`, the `purpose`, the `status` and when it was `recorded_at` (ISO 8601; UTC unless it
carries an offset); `id` optionally names the statement. Column names can be mapped in
`consent.file.columns`. The file is read whole on every build, so the consent table always
reflects the file as it is now.

A row that cannot be a statement (no usable identifier, an unknown channel, purpose or status,
a missing or unreadable time) goes to `quarantine.<file name>` with its row number, the reason
and its content; rows in = statements + rows quarantined.
"""

from __future__ import annotations

import glob
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from identity_resolution.email_phone_keys import email_series, phone_series
from privacy.consent import ANY, OPTED_IN, OPTED_OUT
from privacy.consent_sources import STATEMENTS
from privacy.suppression_check import blank_suppressed
from warehouse.config import ConfigError, KindredConfig
from warehouse.connection import quote_table
from warehouse.consent_config import ConsentFileConfig
from warehouse.staging_quarantine import QUARANTINE_COLUMNS

log = logging.getLogger(__name__)

# Status words consent platforms write, after lower-casing and turning spaces and dashes into _.
STATUS_WORDS = {
    OPTED_IN: ("opted_in", "opt_in", "optin", "in", "granted", "given", "consented", "subscribed", "allowed"),
    OPTED_OUT: (
        "opted_out",
        "opt_out",
        "optout",
        "out",
        "denied",
        "refused",
        "withdrawn",
        "revoked",
        "objected",
        "unsubscribed",
    ),
}
_IDENTIFIERS = ("record_id", "email", "phone")
_REQUIRED = ("channel", "purpose", "status", "recorded_at")


@dataclass
class FileStatements:
    """What a consent file gave: rows read, statements added, rows quarantined by reason."""

    files: list[Path] = field(default_factory=list)
    rows: int = 0
    statements: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)


def consent_files(config: KindredConfig) -> list[Path]:
    """The files `consent.file.path` matches now, sorted.

    Raises:
        ConfigError: the setting matches no file.
    """
    setting = config.consent.file
    if setting is None:
        return []
    pattern = config.path_of(setting.path)
    files = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True) if Path(p).is_file())
    if not files:
        raise ConfigError(
            f"consent.file.path: no file matches {setting.path} (relative to {config.base_dir}); "
            "fix the path or remove consent.file"
        )
    return files


def check_consent_files(config: KindredConfig) -> None:
    """Check that the consent file exists and has the columns statements need (before a run writes).

    Raises:
        ConfigError: naming `consent.file`, the file and the column.
    """
    for file in consent_files(config):
        _read(file, config.consent.file)


def add_file_statements(
    con: duckdb.DuckDBPyConnection, config: KindredConfig, *, phone_region: str
) -> tuple[FileStatements, pl.DataFrame]:
    """Read the consent file(s), add their statements, and return the rows to quarantine.

    Args:
        con: warehouse connection (the statements table exists).
        config: the loaded kindred.yaml (`consent.file` set).
        phone_region: region for phone numbers written without a country code.

    Returns:
        The counts, and the rejected rows in the quarantine table's shape (written by the caller,
        in the same transaction as the consent table).

    Raises:
        ConfigError: no file matches, a file cannot be read, or it lacks a column the statements need.
    """
    setting = config.consent.file
    result = FileStatements(files=consent_files(config))
    rows = pl.concat([_read(file, setting) for file in result.files], how="vertical")
    result.rows = rows.height
    rows = rows.with_columns(
        email=email_series(rows["email"]),
        phone=phone_series(rows["phone"], phone_region),
    )
    view = f"_consent_file_{uuid.uuid4().hex}"
    con.register(view, rows.to_arrow())
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _consent_file_checked AS {_checked_sql(view)}",
            {
                "opted_in": list(STATUS_WORDS[OPTED_IN]),
                "opted_out": list(STATUS_WORDS[OPTED_OUT]),
                "channels": [*config.consent.channels, ANY],
                "purposes": [*config.consent.purposes, ANY],
                "sources": [s.name for s in config.sources],
                "column_channel": setting.column("channel"),
                "column_purpose": setting.column("purpose"),
                "column_status": setting.column("status"),
                "column_recorded_at": setting.column("recorded_at"),
            },
        )
        con.execute(
            f"""INSERT INTO {STATEMENTS}
                SELECT ?, coalesce(statement_id, file_name || ':' || _row_number), match_kind, match_source,
                       match_value, channel, purpose, status, recorded_at
                FROM _consent_file_checked WHERE reason IS NULL""",
            [setting.name],
        )
        rejected = con.sql(
            "SELECT ? AS source, _file, _row_number, reason, raw_content, ?::TIMESTAMP AS _ingested_at "
            "FROM _consent_file_checked WHERE reason IS NOT NULL ORDER BY _file, _row_number",
            params=[setting.name, datetime.now(UTC).replace(tzinfo=None)],
        ).pl()
        con.execute("DROP TABLE _consent_file_checked")
    finally:
        con.unregister(view)
    # The file is read whole on every build: a row of an erased person keeps no content here.
    rejected = blank_suppressed(con, rejected, {s.namespace for s in config.sources})
    result.statements = result.rows - rejected.height
    if rejected.height:
        # Per kind of reason, values cut: "unknown status 'pending' (column Status)" -> "unknown status".
        kinds = rejected.select(
            pl.col("reason").str.split("; ").list.first().str.replace(r" '.*$| \(.*$|:.*$", "")
        ).to_series()
        result.quarantined = dict(kinds.value_counts().sort("count", "reason", descending=True).iter_rows())
        log.warning("consent file: %d rows quarantined in %s", rejected.height, quarantine_table(setting))
    return result, rejected


def quarantine_table(setting: ConsentFileConfig) -> str:
    """`quarantine.<name>` of a consent file."""
    return f"quarantine.{setting.name}"


def write_quarantine(
    con: duckdb.DuckDBPyConnection, setting: ConsentFileConfig, rejected: pl.DataFrame
) -> None:
    """Replace the consent file's quarantine table (call inside the build's transaction)."""
    target = quote_table(quarantine_table(setting))
    view = f"_consent_rejected_{uuid.uuid4().hex}"
    con.execute(f"CREATE OR REPLACE TABLE {target} ({QUARANTINE_COLUMNS})")
    if rejected.height == 0:
        return
    con.register(view, rejected.to_arrow())
    try:
        con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {view}")
    finally:
        con.unregister(view)


def _read(file: Path, setting: ConsentFileConfig) -> pl.DataFrame:
    """One file's rows, every value as text, in the shape the checks read (absent columns NULL)."""
    fmt = setting.format or {".csv": "csv", ".parquet": "parquet"}.get(file.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"consent.file: cannot tell the format of {file} from its extension; set consent.file.format"
        )
    try:
        if fmt == "csv":
            frame = pl.read_csv(file, infer_schema=False, separator=setting.delimiter)
        else:
            frame = pl.read_parquet(file)
            frame = frame.with_columns(pl.all().cast(pl.String))
    except (pl.exceptions.PolarsError, OSError) as error:
        raise ConfigError(f"consent.file: {file} cannot be read as {fmt}: {error}") from error
    missing = [setting.column(f) for f in _REQUIRED if setting.column(f) not in frame.columns]
    if missing:
        raise ConfigError(
            f"consent.file: {file} has no column {missing[0]} (columns: {', '.join(frame.columns)}); "
            "map it in consent.file.columns"
        )
    if not any(setting.column(f) in frame.columns for f in _IDENTIFIERS):
        raise ConfigError(
            f"consent.file: {file} has none of the identifier columns "
            f"{', '.join(setting.column(f) for f in _IDENTIFIERS)}; map one in consent.file.columns"
        )
    if setting.column("record_id") in frame.columns and setting.column("source") not in frame.columns:
        raise ConfigError(
            f"consent.file: {file} has record ids ({setting.column('record_id')}) but no "
            f"{setting.column('source')} column naming the source they belong to"
        )
    wanted = ["source", *_IDENTIFIERS, *_REQUIRED, "id"]
    return frame.select(
        pl.lit(str(file)).alias("_file"),
        pl.lit(file.name).alias("file_name"),
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("_row_number"),
        pl.struct(pl.all()).struct.json_encode().alias("raw_content"),
        *[
            (
                pl.col(setting.column(f)).str.strip_chars()
                if setting.column(f) in frame.columns
                else pl.lit(None)
            )
            .cast(pl.String)
            .alias(f)
            for f in wanted
        ],
    )


def _checked_sql(view: str) -> str:
    """Each row typed, with how to find the person and the reason it is rejected (NULL if none)."""
    return f"""
        WITH typed AS (
            SELECT *,
                lower(channel) AS channel_word,
                lower(purpose) AS purpose_word,
                regexp_replace(lower(status), '[ \\-]+', '_', 'g') AS status_word,
                try_cast(recorded_at AS TIMESTAMPTZ)::TIMESTAMP AS parsed_at,
                CASE WHEN record_id IS NOT NULL AND list_contains($sources, source) THEN 'record'
                     WHEN email IS NOT NULL THEN 'email'
                     WHEN phone IS NOT NULL THEN 'phone' END AS match_kind
            FROM {view}
        )
        SELECT _file, file_name, _row_number, raw_content, id AS statement_id, match_kind,
            CASE WHEN match_kind = 'record' THEN source END AS match_source,
            CASE match_kind WHEN 'record' THEN record_id WHEN 'email' THEN email WHEN 'phone' THEN phone END
                AS match_value,
            channel_word AS channel, purpose_word AS purpose,
            CASE WHEN list_contains($opted_in, status_word) THEN '{OPTED_IN}'
                 WHEN list_contains($opted_out, status_word) THEN '{OPTED_OUT}' END AS status,
            CASE WHEN year(parsed_at) BETWEEN 1000 AND 9999 THEN parsed_at END AS recorded_at,
            nullif(concat_ws('; ',
                CASE WHEN match_kind IS NULL THEN
                    CASE WHEN record_id IS NOT NULL
                         THEN 'unknown source ' || coalesce('''' || source || '''', '(empty)') || ' for record ' || record_id
                         ELSE 'no usable identifier (no record id, valid email or phone)' END END,
                CASE WHEN NOT coalesce(list_contains($channels, channel_word), false)
                     THEN 'unknown channel ''' || coalesce(channel, '') || ''' (column ' || $column_channel || ')' END,
                CASE WHEN NOT coalesce(list_contains($purposes, purpose_word), false)
                     THEN 'unknown purpose ''' || coalesce(purpose, '') || ''' (column ' || $column_purpose || ')' END,
                CASE WHEN NOT coalesce(list_contains($opted_in, status_word) OR list_contains($opted_out, status_word), false)
                     THEN 'unknown status ''' || coalesce(status, '') || ''' (column ' || $column_status || ')' END,
                CASE WHEN recorded_at IS NULL THEN 'missing recorded_at (column ' || $column_recorded_at || ')'
                     WHEN parsed_at IS NULL OR NOT year(parsed_at) BETWEEN 1000 AND 9999
                     THEN 'unparseable recorded_at (column ' || $column_recorded_at || '): ' || left(recorded_at, 40) END
            ), '') AS reason
        FROM typed
    """
