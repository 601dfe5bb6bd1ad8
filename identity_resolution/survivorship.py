"""Survivorship: one golden record per profile, and every way to reach the person.

Each attribute of `profiles.unified_profile` is the most recent non-empty value any of the
profile's staging rows carried (a phone typed into last week's order beats the CRM's from two
years ago). Email and phone are the most recent *valid* ones, normalised; the other attributes
keep the text the source had. `profiles.contact_points` lists every normalised email and phone.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from identity_resolution.records import person_rows_sql
from warehouse.canonical import PERSON_ATTRIBUTES

# Email and phone survive separately (most recent *valid* value); a national id never leaves
# the source records, so it is not part of the golden record.
PROFILE_ATTRIBUTES: tuple[str, ...] = tuple(
    a for a in PERSON_ATTRIBUTES if a not in ("email", "phone", "national_id")
)
PROFILE_COLUMNS: tuple[str, ...] = (
    "profile_id",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "date_of_birth",
    "gender",
    "street_number",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postcode",
    "country",
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
_XREF_VIEW = "_kindred_survivorship_xref"
_CONTACTS_VIEW = "_kindred_survivorship_contacts"


def unified_profiles(
    con: duckdb.DuckDBPyConnection,
    xref: pl.DataFrame,
    contacts: pl.DataFrame,
    *,
    updated_at: dt.datetime,
) -> pl.DataFrame:
    """The golden record of every profile.

    Args:
        con: warehouse connection with the staging tables.
        xref: `source, record_id, profile_id` for every record.
        contacts: normalised contact values from `records.collect_contact_values`.
        updated_at: the resolution time written to `updated_at`.

    Returns:
        One row per profile with the columns of `profiles.unified_profile` (`sources` is a
        sorted list of source names).
    """
    latest = ",\n".join(
        f"arg_max(r.{a}, r._order) FILTER (WHERE r.{a} IS NOT NULL) AS {a}" for a in PROFILE_ATTRIBUTES
    )
    con.register(_XREF_VIEW, xref.select("source", "record_id", "profile_id").to_arrow())
    con.register(_CONTACTS_VIEW, contacts.to_arrow())
    try:
        profiles = con.sql(
            f"""
            WITH rows AS ({person_rows_sql(con)}),
            attributes AS (
                SELECT x.profile_id, {latest}
                FROM rows r JOIN {_XREF_VIEW} x USING (source, record_id)
                GROUP BY x.profile_id
            ),
            seen AS (
                SELECT x.profile_id, count(*) AS n_records,
                       count(DISTINCT x.source) AS n_sources, list_sort(list(DISTINCT x.source)) AS sources,
                       min(r._first) AS first_seen, max(r._last) AS last_seen
                FROM {_XREF_VIEW} x LEFT JOIN (
                    SELECT source, record_id, min(_first) AS _first, max(_last) AS _last FROM rows GROUP BY ALL
                ) r USING (source, record_id)
                GROUP BY x.profile_id
            ),
            contact AS (
                SELECT x.profile_id,
                       arg_max(c.value, {{'t': coalesce(c.last_seen, TIMESTAMP '0001-01-01'), 's': c.source, 'r': c.record_id}}) FILTER (WHERE c.kind = 'email') AS email,
                       arg_max(c.value, {{'t': coalesce(c.last_seen, TIMESTAMP '0001-01-01'), 's': c.source, 'r': c.record_id}}) FILTER (WHERE c.kind = 'phone') AS phone
                FROM {_CONTACTS_VIEW} c JOIN {_XREF_VIEW} x USING (source, record_id)
                GROUP BY x.profile_id
            )
            SELECT s.profile_id, a.* EXCLUDE (profile_id), c.email, c.phone,
                   s.n_records, s.n_sources, s.sources, s.first_seen, s.last_seen,
                   ?::TIMESTAMP AS updated_at
            FROM seen s
            LEFT JOIN attributes a USING (profile_id)
            LEFT JOIN contact c USING (profile_id)
            ORDER BY s.profile_id
        """,
            params=[updated_at],
        ).pl()
    finally:
        con.unregister(_XREF_VIEW)
        con.unregister(_CONTACTS_VIEW)
    for column in PROFILE_ATTRIBUTES:
        if column not in profiles.columns:
            profiles = profiles.with_columns(pl.lit(None, dtype=pl.Utf8).alias(column))
    return profiles.select(PROFILE_COLUMNS)


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
