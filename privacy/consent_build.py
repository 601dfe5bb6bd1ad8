"""Building `profiles.consent`: every statement the data makes, mapped to profiles, the latest kept.

Statements come from three places, all configured in the `consent:` section of kindred.yaml:
people-source fields (`HasOptedOutOfEmail`, `DoNotCall`, ...), track events (`Unsubscribed`,
...) and an optional consent file (see `privacy.consent_sources` and `privacy.consent_file`).
Each is mapped to the profile of the record that made it through `identity.record_xref`, or,
for a file row identified by an email or phone, to the profiles holding that contact point.
An opt-out by a contact point shared by several profiles applies to all of them (the address
is theirs alike); an opt-in by such a contact point applies to none, because it cannot tell
whose consent it is.

Per profile, channel and purpose the latest statement wins, across sources: someone who
unsubscribed and later opted in again is opted in. At equal times the opt-out wins. The table
is rebuilt whole on every run, in one transaction with the consent file's quarantine.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from privacy.consent import CONSENT, CONSENT_COLUMNS, OPTED_OUT
from privacy.consent_file import FileStatements, add_file_statements, check_consent_files, write_quarantine
from privacy.consent_sources import (
    STATEMENTS,
    add_event_statements,
    add_field_statements,
    create_statements,
    sources_having,
)
from warehouse.config import KindredConfig
from warehouse.connection import quote_table, table_exists
from warehouse.landing import FileShape
from warehouse.manifest import loaded_files

log = logging.getLogger(__name__)


@dataclass
class ConsentBuild:
    """What a build of `profiles.consent` found and wrote.

    Attributes:
        rows: rows written (one per profile, channel and purpose with a statement).
        profiles: profiles with at least one row.
        statements: statements found per origin (`fields`, `events`, `file`).
        unmatched: statements whose record or contact point belongs to no profile.
        ambiguous_opt_ins: opt-ins by a contact point several profiles share (applied to none).
        opted_out: current opt-outs per `channel/purpose`.
        opted_in: current opt-ins per `channel/purpose`.
        ignored_values: people-source values that were neither true nor false, per `source.column`.
        file: the consent file's rows, statements and quarantined rows (None without a file).
        seconds: build time.
    """

    rows: int = 0
    profiles: int = 0
    statements: dict[str, int] = field(default_factory=dict)
    unmatched: int = 0
    ambiguous_opt_ins: int = 0
    opted_out: dict[str, int] = field(default_factory=dict)
    opted_in: dict[str, int] = field(default_factory=dict)
    ignored_values: dict[str, int] = field(default_factory=dict)
    file: FileStatements | None = None
    seconds: float = 0.0


def build_consent(con: duckdb.DuckDBPyConnection, config: KindredConfig) -> ConsentBuild:
    """Rebuild `profiles.consent` from the configured fields, events and consent file.

    Args:
        con: warehouse connection holding staging, `raw.<source>`, `identity.record_xref` and
            `profiles.contact_points`.
        config: the loaded kindred.yaml; its `consent:` section says what to read (nothing
            configured gives an empty table: everyone keeps the default).

    Returns:
        What was found and written.

    Raises:
        ConfigError: a consent setting names a column no people source has, or the consent file
            is missing, unreadable or lacks a column; nothing is written.
    """
    started = time.perf_counter()
    build = ConsentBuild()
    create_statements(con)
    try:
        for index, setting in enumerate(config.consent.fields):
            for key, n in add_field_statements(con, config, setting, index).items():
                build.ignored_values[key] = build.ignored_values.get(key, 0) + n
        build.statements["fields"] = _statement_count(con)
        build.statements["events"] = add_event_statements(con, config)
        rejected = None
        if config.consent.file is not None:
            build.file, rejected = add_file_statements(
                con, config, phone_region=config.identity.default_phone_region
            )
            build.statements["file"] = build.file.statements
        build.unmatched, build.ambiguous_opt_ins = _map_to_profiles(con)
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"CREATE OR REPLACE TABLE {quote_table(CONSENT)} AS {_LATEST}")
            index_consent(con)
            if config.consent.file is not None:
                write_quarantine(con, config.consent.file, rejected)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    finally:
        con.execute(f"DROP TABLE IF EXISTS {STATEMENTS}")
        con.execute("DROP TABLE IF EXISTS _consent_mapped")
    _count_rows(con, build)
    build.seconds = round(time.perf_counter() - started, 2)
    log.info(
        "profiles.consent: %d rows for %d profiles from %s statements (%d unmatched) in %.1f s",
        build.rows,
        build.profiles,
        build.statements,
        build.unmatched,
        build.seconds,
    )
    return build


def index_consent(con: duckdb.DuckDBPyConnection) -> None:
    """Index `profiles.consent` by profile: one person's consent (an API request) is then a lookup.

    Args:
        con: warehouse connection holding the freshly written table.
    """
    con.execute(f"CREATE INDEX consent_profile_id ON {quote_table(CONSENT)} (profile_id)")


def consent_summary(build: ConsentBuild) -> dict[str, object]:
    """The figures a user wants beside the table (Dagster metadata, the CLI).

    Args:
        build: a finished build.

    Returns:
        Plain values keyed by name.
    """
    summary: dict[str, object] = {
        "dagster/row_count": build.rows,
        "profiles_with_consent": build.profiles,
        "statements": dict(build.statements),
        "statements_unmatched": build.unmatched,
        "ambiguous_opt_ins_ignored": build.ambiguous_opt_ins,
        "opted_out": dict(build.opted_out),
        "opted_in": dict(build.opted_in),
        "ignored_values": dict(build.ignored_values),
        "ignored_values_total": sum(build.ignored_values.values()),
    }
    if build.file is not None:
        summary["file_rows"] = build.file.rows
        summary["file_rows_quarantined"] = sum(build.file.quarantined.values())
        summary["file_quarantine_reasons"] = dict(build.file.quarantined)
    return summary


def _statement_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(f"SELECT count(*) FROM {STATEMENTS}").fetchall()[0][0]


def _map_to_profiles(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Map statements to profiles into `_consent_mapped`; returns (unmatched, ambiguous opt-ins)."""
    xref = "identity.record_xref" if table_exists(con, "identity.record_xref") else None
    points = "profiles.contact_points" if table_exists(con, "profiles.contact_points") else None
    empty = "(SELECT NULL::VARCHAR AS source, NULL::VARCHAR AS record_id, NULL::VARCHAR AS profile_id WHERE false)"
    no_points = (
        "(SELECT NULL::VARCHAR AS kind, NULL::VARCHAR AS value, NULL::VARCHAR AS profile_id WHERE false)"
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _consent_mapped AS
        WITH holders AS (
            SELECT kind, value, list(DISTINCT profile_id) AS profiles
            FROM {points or no_points}
            WHERE profile_id IS NOT NULL AND value IS NOT NULL
            GROUP BY kind, value
        ),
        by_record AS (
            SELECT s.*, [x.profile_id] AS profiles
            FROM {STATEMENTS} AS s
            JOIN (SELECT source, record_id, min(profile_id) AS profile_id FROM {xref or empty} GROUP BY ALL) AS x
              ON s.match_kind = 'record' AND x.source = s.match_source AND x.record_id = s.match_value
        ),
        by_contact AS (
            SELECT s.*, h.profiles
            FROM {STATEMENTS} AS s
            JOIN holders AS h ON s.match_kind = h.kind AND s.match_value = h.value
        )
        SELECT *, len(profiles) > 1 AND status <> '{OPTED_OUT}' AS ambiguous
        FROM (SELECT * FROM by_record UNION ALL SELECT * FROM by_contact)
    """)
    total = _statement_count(con)
    matched, ambiguous = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE ambiguous) FROM _consent_mapped"
    ).fetchall()[0]
    return total - matched, ambiguous


# The latest statement per profile, channel and purpose; at equal times the opt-out, then a
# fixed order so a rebuild of the same data gives the same rows.
_LATEST = f"""
    SELECT {", ".join(CONSENT_COLUMNS)}
    FROM (
        SELECT *, row_number() OVER (
            PARTITION BY profile_id, channel, purpose
            ORDER BY recorded_at DESC NULLS LAST, status = '{OPTED_OUT}' DESC, source, record_id
        ) AS position
        FROM (
            SELECT unnest(profiles) AS profile_id, channel, purpose, status, source, record_id, recorded_at
            FROM _consent_mapped
            WHERE NOT ambiguous
        )
    )
    WHERE position = 1
    ORDER BY profile_id, channel, purpose
"""


def _count_rows(con: duckdb.DuckDBPyConnection, build: ConsentBuild) -> None:
    build.rows, build.profiles = con.execute(
        f"SELECT count(*), count(DISTINCT profile_id) FROM {quote_table(CONSENT)}"
    ).fetchall()[0]
    counts = pl.DataFrame(
        con.execute(
            f"SELECT channel || '/' || purpose, status, count(*) FROM {quote_table(CONSENT)} GROUP BY ALL ORDER BY 1, 2"
        ).fetchall(),
        schema=["key", "status", "n"],
        orient="row",
    )
    for key, status, n in counts.iter_rows():
        (build.opted_out if status == OPTED_OUT else build.opted_in)[key] = n


def check_consent_settings(
    con: duckdb.DuckDBPyConnection, config: KindredConfig, shapes: dict[str, dict[str, FileShape]]
) -> None:
    """Check the consent settings against the landing files before a run writes anything.

    Field columns are looked for in the headers of the people sources' files (the new ones read
    by `check_sources`, the loaded ones as the manifest recorded them); JSON lines sources are
    checked when the consent table is built, since their fields are paths into each line. The
    consent file must exist and have the columns the statements need.

    Args:
        con: warehouse connection (reads the manifest).
        config: the loaded kindred.yaml.
        shapes: what `warehouse.source_checks.check_sources` read: source -> file -> shape.

    Raises:
        ConfigError: naming the consent setting, as `build_consent` would.
    """
    columns: dict[str, set[str] | None] = {}
    for source in config.sources_of("people"):
        loaded = loaded_files(con, source.name)
        if any(entry.format == "jsonl" for entry in loaded.values()) or any(
            config.format_of(source, Path(file)) == "jsonl" for file in shapes.get(source.name, {})
        ):
            columns[source.name] = None
            continue
        found = {c for shape in shapes.get(source.name, {}).values() for c in shape.columns}
        columns[source.name] = found | {c for entry in loaded.values() for c in entry.columns}
    for index, setting in enumerate(config.consent.fields):
        sources_having(
            config,
            setting,
            index,
            lambda s, column=setting.column: columns[s.name] is None or column in columns[s.name],
        )
    if config.consent.file is not None:
        check_consent_files(config)
