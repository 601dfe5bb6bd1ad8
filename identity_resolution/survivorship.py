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

The choosing runs as DuckDB SQL over the staging rows read once (`survivorship_sql`): each rule
chain is one integer key per row (`survivorship_keys`), pairs whose records agree are settled in
one grouped pass, and only the contested ones go through the whole chain
(`warehouse/sql/profiles/surviving_values.sql`). It scales with the warehouse, not with Python
loops; BENCHMARKS.md ("Survivorship at 1M records") has its cost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from identity_resolution import survivorship_sql as sql
from identity_resolution.address_date_id_keys import date_of_birth_expr
from identity_resolution.records import person_rows_sql
from identity_resolution.survivorship_keys import ChainKeys, numbered_source_orders
from warehouse.identity_config import ADDRESS_FIELDS, SURVIVING_ATTRIBUTES, SurvivorshipConfig

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
# The golden-record columns provenance has rows for (address parts each on their own), by name.
PROVENANCE_ATTRIBUTES: tuple[str, ...] = tuple(
    sorted((*(a for a in SURVIVING_ATTRIBUTES if a != "address"), *ADDRESS_FIELDS))
)
EARLIEST_BIRTH_DATE = dt.date(1900, 1, 1)

_RANKING_SQL = Path(__file__).resolve().parents[1] / "warehouse" / "sql" / "profiles" / "surviving_values.sql"


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
    numbered = _numbered(xref)
    profile_ids = numbered.select("pid", "profile_id").unique("pid").sort("pid")["profile_id"]
    con.register(sql.XREF, numbered.to_arrow())
    con.register(sql.CONTACTS_INPUT, contacts.to_arrow())
    try:
        keys = _stage(
            con, settings, day_first=day_first, latest_birth_date=updated_at.date(), records=numbered.height
        )
        con.register(sql.LAYOUT, keys.table(sql.INDEX).to_arrow())
        _choose(con, keys)
        profiles = con.sql(sql.profiles_sql(PROFILE_COLUMNS[1:]), params={"updated_at": updated_at}).pl()
        provenance = con.sql(
            sql.provenance_sql(keys.layouts, PROVENANCE_ATTRIBUTES), params=keys.parameters
        ).pl()
    finally:
        for view in (sql.XREF, sql.CONTACTS_INPUT, sql.DOB, sql.LAYOUT):
            con.unregister(view)
        for table in sql.TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {table}")
    # Every profile has a row, in profile id order: the ids are the sorted ids.
    profiles = profiles.select(profile_ids.alias("profile_id"), pl.all())
    return GoldenRecords(profiles, _with_ids(provenance, numbered, profile_ids))


def _stage(
    con: duckdb.DuckDBPyConnection,
    settings: SurvivorshipConfig,
    *,
    day_first: bool,
    latest_birth_date: dt.date,
    records: int,
) -> ChainKeys:
    """Read the staging rows and contact values once, cleaned and numbered, and fit the keys."""
    placeholders = sorted({p.strip().lower() for p in settings.placeholders if p.strip()})
    person_rows = person_rows_sql(con)
    orders = numbered_source_orders(settings)
    priorities = {f"priority_{n}": list(order) for order, n in orders.items()}
    con.execute(sql.seen_sql())
    con.register(
        sql.DOB, _birth_dates(con, person_rows, day_first, placeholders, latest_birth_date).to_arrow()
    )
    con.execute(
        sql.rows_sql(person_rows, orders),
        {"placeholder_hashes": _placeholder_hashes(con, placeholders), **priorities},
    )
    con.execute(
        sql.contact_rows_sql(orders),
        {
            "placeholders": placeholders,
            "digit_placeholders": [p for p in placeholders if p.isdigit() and len(p) >= 7],
            **priorities,
        },
    )
    largest = con.execute(f"SELECT coalesce(max(n_records), 0) FROM {sql.SEEN}").fetchall()[0][0]
    return ChainKeys.fit(
        settings,
        records=records,
        largest_profile=largest,
        time_span=con.execute(sql.time_span_sql()).fetchall()[0],
        contact_attributes=sql.CONTACT_ATTRIBUTES,
    )


def _choose(con: duckdb.DuckDBPyConnection, keys: ChainKeys) -> None:
    """Settle every (profile, attribute): one grouped pass where the records agree, the whole
    chain (`surviving_values.sql`) where they do not."""
    parameters = keys.parameters
    key_of = {a: keys.column_of(a) for a in SURVIVING_ATTRIBUTES}
    con.execute(sql.single_sql(keys.columns_of(sql.ROW_ATTRIBUTES), key_of), parameters)
    con.execute(sql.contact_single_sql(keys.columns_of(sql.CONTACT_ATTRIBUTES), key_of), parameters)
    con.execute(sql.candidates_sql(keys.row_sql), parameters)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {sql.WINNERS} AS {_RANKING_SQL.read_text(encoding='utf-8')}")
    con.execute(sql.contested_values_sql())
    for (index,) in con.execute(f"SELECT DISTINCT a FROM {sql.CONTESTED_VALUES}").fetchall():
        con.execute(sql.contested_update_sql(SURVIVING_ATTRIBUTES[index]))


def _numbered(xref: pl.DataFrame) -> pl.DataFrame:
    """The cross-reference in (source, record_id) order with integer keys: `rid`, a record's
    position in that order, and `pid`, its profile's position in profile id order. Ranking
    compares them instead of text ids, and ids are gathered back by position."""
    return (
        xref.select("source", "record_id", "profile_id")
        .sort("source", "record_id")
        .with_row_index("rid")
        .with_columns(
            pl.col("rid").cast(pl.Int64), (pl.col("profile_id").rank("dense") - 1).cast(pl.Int64).alias("pid")
        )
    )


def _with_ids(provenance: pl.DataFrame, numbered: pl.DataFrame, profile_ids: pl.Series) -> pl.DataFrame:
    """Provenance rows with text ids and attribute names gathered back by position."""
    return provenance.select(
        profile_ids.gather(provenance["pid"]).alias("profile_id"),
        pl.Series(PROVENANCE_ATTRIBUTES).gather(provenance["a"]).alias("attribute"),
        "value",
        numbered["source"].gather(provenance["rid"]).alias("source"),
        numbered["record_id"].gather(provenance["rid"]).alias("record_id"),
        "observed_at",
        "rule",
    )


def _placeholder_hashes(con: duckdb.DuckDBPyConnection, placeholders: list[str]) -> list[int]:
    """The hashes of the placeholders compared as values are (lower case, single spaces)."""
    rows = con.execute(
        "SELECT hash(lower(regexp_replace(p, '\\s+', ' ', 'g'))) FROM unnest($p::VARCHAR[]) AS t(p)",
        {"p": placeholders},
    ).fetchall()
    return [r[0] for r in rows]


def _birth_dates(
    con: duckdb.DuckDBPyConnection,
    person_rows: str,
    day_first: bool,
    placeholders: list[str],
    latest: dt.date,
) -> pl.DataFrame:
    """Each distinct date of birth as written -> its ISO form, or null when it cannot be read,
    is a placeholder or is not a plausible birth date: checked once per value, not per row."""
    raw = con.sql(sql.written_birth_dates_sql(person_rows)).pl()
    # ISO dates, the usual form, read the same by any reader: only the others go through the
    # matcher's, which tries many formats. It keeps a year-first non-date (1816-17-30) as text
    # for typo matching: only real calendar dates survive.
    written_iso = pl.col("raw").str.contains(r"^\d{4}-\d{2}-\d{2}$")
    dates = pl.concat(
        [
            raw.filter(written_iso).with_columns(
                pl.col("raw").str.strptime(pl.Date, "%Y-%m-%d", strict=False).alias("date")
            ),
            raw.filter(~written_iso).with_columns(
                date_of_birth_expr("raw", day_first=day_first)
                .str.strptime(pl.Date, "%Y-%m-%d", strict=False)
                .alias("date")
            ),
        ]
    )
    keep = (
        pl.col("date").is_between(pl.lit(EARLIEST_BIRTH_DATE), pl.lit(latest))
        & ~pl.col("date").dt.strftime("%Y-%m-%d").is_in(placeholders)
        & ~pl.col("raw").str.to_lowercase().is_in(placeholders)
    )
    return dates.select("raw", pl.when(keep).then(pl.col("date").dt.strftime("%Y-%m-%d")).alias("iso"))


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
