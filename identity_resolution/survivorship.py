"""Survivorship: one golden record per profile, where each value came from, and every way to
reach the person.

Each attribute of `profiles.unified_profile` is chosen among the values the profile's records
carried by the attribute's rule chain from `identity.survivorship` (most recent, most frequent,
source priority, most complete; each rule breaks the ties the one before it left). Empty,
placeholder and invalid values never survive: an email that does not validate, a phone that does
not parse, a date of birth before 1900 or in the future. The address survives as one unit, every
part from the same source row. `profiles.attribute_provenance` says, for every surviving value,
the source record it came from, when that record carried it and the rule that decided;
`profiles.contact_points` lists every normalised email and phone.

All of it runs as DuckDB SQL over the staging rows (`warehouse/sql/profiles/surviving_values.sql`
ranks the candidates), so it scales with the warehouse, not with Python loops.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from identity_resolution.normalise import date_of_birth_expr
from identity_resolution.records import person_rows_sql
from warehouse.survivorship_config import ADDRESS_FIELDS, SURVIVING_ATTRIBUTES, SurvivorshipConfig

PROFILE_COLUMNS: tuple[str, ...] = (
    "profile_id",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "date_of_birth",
    "gender",
    *ADDRESS_FIELDS,
    "company",
    "job_title",
    "loyalty_id",
    "n_records",
    "n_sources",
    "sources",
    "first_seen",
    "last_seen",
    "updated_at",
)
PROVENANCE_COLUMNS: tuple[str, ...] = (
    "profile_id",
    "attribute",
    "value",
    "source",
    "record_id",
    "observed_at",
    "rule",
)
# Attributes taken as the source wrote them (trimmed); the names must contain a letter.
TEXT_ATTRIBUTES: tuple[str, ...] = (
    "first_name",
    "last_name",
    "full_name",
    "gender",
    "company",
    "job_title",
    "loyalty_id",
)
NAME_ATTRIBUTES: tuple[str, ...] = ("first_name", "last_name", "full_name")
# The address parts that make an address usable for post; `most_complete` counts them.
ADDRESS_KEY_FIELDS: tuple[str, ...] = ("address_line1", "city", "postcode")
EARLIEST_BIRTH_DATE = "1900-01-01"
MAX_RULES = 4

_SQL = Path(__file__).resolve().parents[1] / "warehouse" / "sql" / "profiles" / "surviving_values.sql"
_XREF = "_kindred_sv_xref"
_CONTACTS = "_kindred_sv_contacts"
_ROWS = "_kindred_sv_rows"
_DOB = "_kindred_sv_dob"
_CANDIDATES = "_kindred_sv_candidates"
_CHAIN = "_kindred_sv_chain"
_WINNERS = "_kindred_sv_winners"
_PARTS_TYPE = "STRUCT(" + ", ".join(f"{p} VARCHAR" for p in ADDRESS_FIELDS) + ")"
_PLACEHOLDERS = "$placeholders::VARCHAR[]"


@dataclass
class GoldenRecords:
    """The outputs of survivorship."""

    profiles: pl.DataFrame
    """`profiles.unified_profile`: one row per profile (`PROFILE_COLUMNS`)."""
    provenance: pl.DataFrame
    """`profiles.attribute_provenance`: one row per surviving value (`PROVENANCE_COLUMNS`)."""


def golden_records(
    con: duckdb.DuckDBPyConnection,
    xref: pl.DataFrame,
    contacts: pl.DataFrame,
    *,
    updated_at: dt.datetime,
    settings: SurvivorshipConfig | None = None,
    day_first: bool = False,
) -> GoldenRecords:
    """The golden record of every profile and the provenance of each of its values.

    Args:
        con: warehouse connection with the staging tables.
        xref: `source, record_id, profile_id` for every record.
        contacts: normalised contact values from `records.collect_contact_values`.
        updated_at: the resolution time, written to `updated_at`; its date is the latest
            plausible date of birth.
        settings: the rule chain of each attribute, source priorities and placeholders
            (`identity.survivorship`; defaults when None).
        day_first: read ambiguous slashed dates of birth as day/month/year.

    Returns:
        The unified profiles (`sources` is a sorted list of source names; `date_of_birth` is
        ISO `YYYY-MM-DD`; email and phone are normalised) and their provenance.

    Example:
        >>> golden = golden_records(con, xref, contacts, updated_at=now)  # doctest: +SKIP
        >>> golden.provenance.filter(pl.col("attribute") == "email")  # doctest: +SKIP
    """
    settings = settings or SurvivorshipConfig()
    placeholders = sorted({p.strip().lower() for p in settings.placeholders if p.strip()})
    digit_placeholders = [p for p in placeholders if p.isdigit() and len(p) >= 7]
    con.register(_XREF, _numbered(xref).to_arrow())
    con.register(_CONTACTS, contacts.to_arrow())
    con.register(_CHAIN, rule_chains(settings).to_arrow())
    try:
        con.execute(_rows_sql(con))
        con.register(_DOB, _birth_dates(con, day_first))
        con.execute(
            _candidates_sql(),
            {
                "placeholders": placeholders,
                "digit_placeholders": digit_placeholders,
                "earliest": EARLIEST_BIRTH_DATE,
                "latest": updated_at.date().isoformat(),
            },
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE {_WINNERS} AS {_SQL.read_text(encoding='utf-8')}")
        profiles = con.sql(_profiles_sql(), params=[updated_at]).pl()
        provenance = con.sql(_provenance_sql()).pl()
    finally:
        for view in (_XREF, _CONTACTS, _CHAIN, _DOB):
            con.unregister(view)
        for table in (_ROWS, _CANDIDATES, _WINNERS):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return GoldenRecords(profiles.select(PROFILE_COLUMNS), provenance.select(PROVENANCE_COLUMNS))


def rule_chains(settings: SurvivorshipConfig) -> pl.DataFrame:
    """Each surviving attribute's rules as the columns the ranking SQL reads.

    Args:
        settings: `identity.survivorship`.

    Returns:
        `attribute, rule_1 .. rule_4` (null past the chain's end) and `priority` (the source
        order for `source_priority`), one row per attribute.
    """
    rows = []
    for attribute in SURVIVING_ATTRIBUTES:
        rules = list(settings.rules_of(attribute))
        padded = rules + [None] * (MAX_RULES - len(rules))
        rows.append(
            {
                "attribute": attribute,
                **{f"rule_{i + 1}": rule for i, rule in enumerate(padded)},
                "priority": list(settings.priority_of(attribute)),
            }
        )
    schema = {"attribute": pl.Utf8, **{f"rule_{i}": pl.Utf8 for i in range(1, MAX_RULES + 1)}}
    return pl.DataFrame(rows, schema={**schema, "priority": pl.List(pl.Utf8)})


def _numbered(xref: pl.DataFrame) -> pl.DataFrame:
    """The cross-reference with integer keys: `pid` per profile, `rid` per record in (source,
    record_id) order. Ranking sorts on them instead of on text ids, several times faster."""
    return (
        xref.select("source", "record_id", "profile_id")
        .sort("source", "record_id")
        .with_row_index("rid")
        .with_columns(
            pl.col("profile_id").rank("dense").cast(pl.Int64).alias("pid"), pl.col("rid").cast(pl.Int64)
        )
    )


def _rows_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Every staging row of a resolved record, with its profile: read from staging once."""
    columns = ", ".join(f"r.{a}" for a in (*TEXT_ATTRIBUTES, "date_of_birth", *ADDRESS_FIELDS))
    return f"""
        CREATE OR REPLACE TEMP TABLE {_ROWS} AS
        SELECT x.pid, x.rid, r.source, r._order.t AS observed_at, r._first, r._last, {columns}
        FROM ({person_rows_sql(con)}) AS r JOIN {_XREF} AS x USING (source, record_id)
    """


def _birth_dates(con: duckdb.DuckDBPyConnection, day_first: bool) -> pl.DataFrame:
    """Each distinct date of birth as written -> ISO date, parsed by the matcher's own rules."""
    raw = con.sql(f"SELECT DISTINCT date_of_birth AS raw FROM {_ROWS} WHERE date_of_birth IS NOT NULL").pl()
    return raw.with_columns(date_of_birth_expr("raw", day_first=day_first).alias("iso"))


def _clean(column: str) -> str:
    """A value, or NULL when it is a placeholder."""
    return f"CASE WHEN list_contains({_PLACEHOLDERS}, lower({column})) THEN NULL ELSE {column} END"


def _candidates_sql() -> str:
    """One row per (record, distinct valid value) of every surviving attribute."""
    text = ", ".join(TEXT_ATTRIBUTES)
    names = ", ".join(f"'{a}'" for a in NAME_ATTRIBUTES)
    parts = ", ".join(f"{_clean(p)} AS {p}" for p in ADDRESS_FIELDS)
    packed = ", ".join(ADDRESS_FIELDS)
    filled = " OR ".join(f"{p} IS NOT NULL" for p in ADDRESS_FIELDS)
    key_parts = " + ".join(f"({p} IS NOT NULL)::BIGINT" for p in ADDRESS_KEY_FIELDS)
    address_key = ", ".join(f"coalesce(lower(trim({p})), '')" for p in ADDRESS_FIELDS)
    return f"""
        CREATE OR REPLACE TEMP TABLE {_CANDIDATES} AS
        WITH text_values AS (
            SELECT pid, attribute, source, rid, observed_at, value,
                   lower(regexp_replace(value, '\\s+', ' ', 'g')) AS value_key
            FROM (UNPIVOT (SELECT pid, source, rid, observed_at, {text} FROM {_ROWS})
                  ON {text} INTO NAME attribute VALUE value)
            WHERE NOT list_contains({_PLACEHOLDERS}, lower(value))
              AND (attribute NOT IN ({names}) OR regexp_matches(value, '\\pL'))
        ),
        address_rows AS (
            SELECT pid, source, rid, observed_at, {parts} FROM {_ROWS}
        )
        SELECT pid, attribute, source, rid, arg_max(value, observed_at) AS value,
               NULL::{_PARTS_TYPE} AS parts, value_key, length(value_key) AS completeness,
               max(observed_at) AS observed_at
        FROM text_values GROUP BY pid, attribute, source, rid, value_key
        UNION ALL
        SELECT pid, 'date_of_birth', source, rid, d.iso, NULL::{_PARTS_TYPE}, d.iso,
               length(d.iso), max(observed_at)
        FROM {_ROWS} AS r JOIN {_DOB} AS d ON d.raw = r.date_of_birth
        WHERE d.iso BETWEEN $earliest AND $latest AND NOT list_contains({_PLACEHOLDERS}, d.iso)
        GROUP BY ALL
        UNION ALL
        SELECT pid, 'address', source, rid, NULL, struct_pack({packed}),
               concat_ws('|', {address_key}), {key_parts}, max(observed_at)
        FROM address_rows WHERE {filled}
        GROUP BY ALL
        UNION ALL
        SELECT x.pid, c.kind, c.source, x.rid, c.value, NULL::{_PARTS_TYPE}, c.value,
               length(c.value), max(coalesce(c.last_seen, TIMESTAMP '0001-01-01'))
        FROM (
            SELECT *, CASE WHEN kind = 'phone' THEN regexp_replace(value, '[^0-9]', '', 'g') END AS digits
            FROM {_CONTACTS}
        ) AS c
        JOIN {_XREF} AS x USING (source, record_id)
        WHERE NOT list_contains({_PLACEHOLDERS}, c.value)
          -- a placeholder number, with or without a country code of up to three digits
          AND NOT (c.kind = 'phone' AND list_has_any(
                $digit_placeholders::VARCHAR[], [c.digits, c.digits[2:], c.digits[3:], c.digits[4:]]
          ))
        GROUP BY x.pid, c.kind, c.source, x.rid, c.value
    """


def _profiles_sql() -> str:
    single = [a for a in SURVIVING_ATTRIBUTES if a != "address"]
    values = ",\n".join(f"max(value) FILTER (WHERE attribute = '{a}') AS {a}" for a in single)
    parts = ",\n".join(f"max(parts.{p}) FILTER (WHERE attribute = 'address') AS {p}" for p in ADDRESS_FIELDS)
    return f"""
        WITH golden AS (SELECT pid, {values}, {parts} FROM {_WINNERS} GROUP BY pid),
        seen AS (
            SELECT x.pid, any_value(x.profile_id) AS profile_id, count(*) AS n_records,
                   count(DISTINCT x.source) AS n_sources, list_sort(list(DISTINCT x.source)) AS sources,
                   min(r._first) AS first_seen, max(r._last) AS last_seen
            FROM {_XREF} AS x LEFT JOIN (
                SELECT rid, min(_first) AS _first, max(_last) AS _last FROM {_ROWS} GROUP BY rid
            ) AS r USING (rid)
            GROUP BY x.pid
        )
        SELECT s.profile_id, g.* EXCLUDE (pid), s.n_records, s.n_sources, s.sources,
               s.first_seen, s.last_seen, ?::TIMESTAMP AS updated_at
        FROM seen AS s LEFT JOIN golden AS g USING (pid)
        ORDER BY s.profile_id
    """


def _provenance_sql() -> str:
    parts = ", ".join(ADDRESS_FIELDS)
    return f"""
        WITH chosen AS (
            SELECT x.profile_id, w.attribute, w.value, w.parts, x.source, x.record_id, w.observed_at, w.rule
            FROM {_WINNERS} AS w JOIN {_XREF} AS x USING (rid)
        )
        SELECT profile_id, attribute, value, source, record_id, observed_at, rule
        FROM chosen WHERE attribute <> 'address'
        UNION ALL
        SELECT profile_id, attribute, value, source, record_id, observed_at, rule
        FROM (UNPIVOT (SELECT profile_id, source, record_id, observed_at, rule, unnest(parts)
                       FROM chosen WHERE attribute = 'address')
              ON {parts} INTO NAME attribute VALUE value)
        ORDER BY profile_id, attribute
    """


def contact_points(xref: pl.DataFrame, contacts: pl.DataFrame, profiles: pl.DataFrame) -> pl.DataFrame:
    """Every normalised email and phone of every profile, with where it came from.

    Args:
        xref: `source, record_id, profile_id`.
        contacts: normalised contact values from `records.collect_contact_values`.
        profiles: the unified profiles (their email and phone are the primary ones).

    Returns:
        `profile_id, kind, value, source, record_id, last_seen, is_primary`.
    """
    primary = (
        pl.concat(
            [
                profiles.select("profile_id", pl.lit("email").alias("kind"), pl.col("email").alias("value")),
                profiles.select("profile_id", pl.lit("phone").alias("kind"), pl.col("phone").alias("value")),
            ]
        )
        .drop_nulls("value")
        .with_columns(pl.lit(True).alias("is_primary"))
    )
    return (
        contacts.join(xref.select("source", "record_id", "profile_id"), on=["source", "record_id"])
        .join(primary, on=["profile_id", "kind", "value"], how="left")
        .select(
            "profile_id",
            "kind",
            "value",
            "source",
            "record_id",
            "last_seen",
            pl.col("is_primary").fill_null(False),
        )
        .sort("profile_id", "kind", "value", "source", "record_id")
    )
