"""Deterministic match rules: pairs of records that are the same person by construction.

Every rule returns links in the `identity.links` shape. A group of records sharing a key is
linked as a star (each record to the group's smallest record) rather than all pairs: the
clusters are the same and a key shared by n records costs n-1 links, not n(n-1)/2.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import duckdb
import polars as pl

from identity_resolution.links import LINK_SCHEMA, empty_links
from warehouse.connection import table_exists

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContactGuard:
    """When a shared email or phone stops being evidence of one person.

    A company switchboard, a reception desk or a shared family inbox is typed into the records
    of many different people. Linking on it would merge them all into one profile, and one such
    number can chain thousands of people together. So a value is not used as a key when the
    records carrying it show more than `max_first_names` different first names (nicknames
    counted as their canonical name, so Bob and Robert are one), or when more than
    `max_records` records carry it at all (no single person has that many records). Below that,
    records are linked only to those with the same first name (or to all of them when a record
    has no first name and the key's records agree on a single one), so a couple sharing a
    landline stays two people. Guarded values are blanked for the probabilistic model too
    (`without_guarded_values`).
    """

    max_first_names: int = 3
    max_records: int = 50


def _json_with_count(fixed: dict, count_name: str, count: pl.Expr) -> pl.Expr:
    """A JSON object of fixed fields plus one integer column, built without a Python loop."""
    head = json.dumps(fixed)[:-1] + f", {json.dumps(count_name)}: "
    return pl.concat_str(pl.lit(head), count.cast(pl.Utf8), pl.lit("}"))


def _star_links(keyed: pl.DataFrame, key: list[str], rule: str, explain: dict) -> pl.DataFrame:
    """Link every record of each key group to the group's smallest (source, record_id)."""
    ordered = keyed.unique(["source", "record_id", *key]).sort(["source", "record_id"])
    grouped = ordered.with_columns(
        pl.col("source").first().over(key).alias("source_l"),
        pl.col("record_id").first().over(key).alias("record_id_l"),
        pl.len().over(key).alias("_group_size"),
    )
    links = grouped.filter(
        (pl.col("source") != pl.col("source_l")) | (pl.col("record_id") != pl.col("record_id_l"))
    )
    return (
        links.select(
            "source_l",
            "record_id_l",
            pl.col("source").alias("source_r"),
            pl.col("record_id").alias("record_id_r"),
            pl.lit(rule).alias("rule"),
            pl.lit(1.0).alias("match_probability"),
            _json_with_count(explain, "records_sharing_key", pl.col("_group_size")).alias("explanation"),
        )
        .unique(["source_l", "record_id_l", "source_r", "record_id_r"])
        .sort("source_l", "record_id_l", "source_r", "record_id_r")
    )


def identify_call_links(
    con: duckdb.DuckDBPyConnection, records: pl.DataFrame, *, max_users_per_device: int = 1
) -> pl.DataFrame:
    """Rule `identify_call`: an event carrying both ids ties the anonymous visitor to the user.

    An anonymous id that was identified as more than `max_users_per_device` different users is a
    shared device (a family laptop, a shop kiosk), so it is left unlinked rather than merging
    everyone who logged in on it.

    Args:
        con: warehouse connection with `staging.events`.
        records: `identity.person_records` (only pairs whose anonymous record exists are linked).
        max_users_per_device: the most user ids one anonymous id may be identified as.

    Returns:
        Links from (source, anonymous_id) to (source, user_id).
    """
    if not table_exists(con, "staging.events"):
        return empty_links()
    pairs = con.sql("""
        SELECT source, anonymous_id, user_id, count(*) AS n_events,
               count(DISTINCT user_id) OVER (PARTITION BY source, anonymous_id) AS n_users
        FROM staging.events
        WHERE anonymous_id IS NOT NULL AND user_id IS NOT NULL AND anonymous_id <> user_id
        GROUP BY source, anonymous_id, user_id
    """).pl()
    shared = pairs.filter(pl.col("n_users") > max_users_per_device)
    if shared.height:
        log.info(
            "identify_call: %d anonymous ids seen with several users left unlinked",
            shared["anonymous_id"].n_unique(),
        )
    known = records.select("source", "record_id")
    pairs = pairs.filter(pl.col("n_users") <= max_users_per_device).join(
        known, left_on=["source", "anonymous_id"], right_on=["source", "record_id"], how="semi"
    )
    # Ordered so that the left side is the smaller (source, record_id), as in every link.
    left_is_anon = pairs["anonymous_id"] < pairs["user_id"]
    return pairs.select(
        pl.col("source").alias("source_l"),
        pl.when(left_is_anon).then(pl.col("anonymous_id")).otherwise(pl.col("user_id")).alias("record_id_l"),
        pl.col("source").alias("source_r"),
        pl.when(left_is_anon).then(pl.col("user_id")).otherwise(pl.col("anonymous_id")).alias("record_id_r"),
        pl.lit("identify_call").alias("rule"),
        pl.lit(1.0).alias("match_probability"),
        _json_with_count({"field": "anonymous_id"}, "identify_events", pl.col("n_events")).alias(
            "explanation"
        ),
    ).sort("source_l", "record_id_l", "source_r", "record_id_r")


def same_id_namespace_links(records: pl.DataFrame) -> pl.DataFrame:
    """Rule `same_id_namespace`: sources sharing an id namespace (a CRM id used by the shop and
    the help desk alike) have the same person under the same record_id.

    Args:
        records: `identity.person_records`.

    Returns:
        Links between records of different sources with equal (id_namespace, record_id).
    """
    keyed = records.filter(pl.col("id_namespace").is_not_null()).select(
        "source", "record_id", "id_namespace", pl.col("record_id").alias("_key")
    )
    multi = keyed.filter(pl.col("source").n_unique().over(["id_namespace", "_key"]) > 1)
    return _star_links(multi, ["id_namespace", "_key"], "same_id_namespace", {"field": "id_namespace"})


def loyalty_id_links(records: pl.DataFrame, *, max_records: int = ContactGuard.max_records) -> pl.DataFrame:
    """Rule `loyalty_id`: the same normalised loyalty number.

    Args:
        records: `identity.person_records` with `loyalty_id_norm`.
        max_records: a loyalty number on more records than this is a placeholder (`0000`), not a person.

    Returns:
        Links between records sharing a loyalty number.
    """
    keyed = records.filter(pl.col("loyalty_id_norm").is_not_null()).select(
        "source", "record_id", "loyalty_id_norm"
    )
    sizes = pl.len().over("loyalty_id_norm")
    keyed = keyed.filter((sizes > 1) & (sizes <= max_records))
    return _star_links(keyed, ["loyalty_id_norm"], "loyalty_id", {"field": "loyalty_id"})


def guarded_values(records: pl.DataFrame, key: str, guard: ContactGuard) -> pl.DataFrame:
    """The values of a contact key (email or phone) that the guard rules out, and why.

    Args:
        records: `identity.person_records`.
        key: `email_norm` or `phone_norm`.
        guard: the thresholds.

    Returns:
        Columns value, n_records, n_first_names for every guarded value.
    """
    stats = (
        records.filter(pl.col(key).is_not_null())
        .group_by(key)
        .agg(
            pl.len().alias("n_records"),
            pl.col("first_name_canonical").drop_nulls().n_unique().alias("n_first_names"),
        )
    )
    return (
        stats.filter(
            (pl.col("n_first_names") > guard.max_first_names) | (pl.col("n_records") > guard.max_records)
        )
        .rename({key: "value"})
        .sort("value")
    )


def without_guarded_values(records: pl.DataFrame, guard: ContactGuard) -> pl.DataFrame:
    """The records with guarded emails and phones blanked, for the probabilistic model: a
    switchboard number shared by a whole company says nothing about which employee is which,
    and even down-weighted it would still push colleagues together.

    Args:
        records: `identity.person_records`.
        guard: the switchboard guard.

    Returns:
        The records, `email_norm`, `email_local` and `phone_norm` nulled where guarded.
    """
    emails = guarded_values(records, "email_norm", guard)["value"]
    phones = guarded_values(records, "phone_norm", guard)["value"]
    shared_email = pl.col("email_norm").is_in(emails.implode())
    return records.with_columns(
        pl.when(shared_email).then(None).otherwise(pl.col("email_norm")).alias("email_norm"),
        pl.when(shared_email).then(None).otherwise(pl.col("email_local")).alias("email_local"),
        pl.when(pl.col("phone_norm").is_in(phones.implode()))
        .then(None)
        .otherwise(pl.col("phone_norm"))
        .alias("phone_norm"),
    )


def contact_links(records: pl.DataFrame, key: str, rule: str, guard: ContactGuard) -> pl.DataFrame:
    """Rule `email` or `phone`: the same normalised value, within the limits of `ContactGuard`.

    Args:
        records: `identity.person_records`.
        key: `email_norm` or `phone_norm`.
        rule: the rule name written to the links (`email`, `phone`).
        guard: the switchboard guard.

    Returns:
        Links between records sharing the value and a first name.
    """
    blocked = guarded_values(records, key, guard)
    if blocked.height:
        log.info(
            "%s rule: %d shared values ignored by the guard (largest: %d records, %d first names)",
            rule,
            blocked.height,
            blocked["n_records"].max(),
            blocked["n_first_names"].max(),
        )
    keyed = (
        records.filter(pl.col(key).is_not_null())
        .select(
            "source", "record_id", pl.col(key).alias("_key"), pl.col("first_name_canonical").alias("_first")
        )
        .join(blocked.select(pl.col("value").alias("_key")), on="_key", how="anti")
    )
    names = keyed.group_by("_key").agg(pl.col("_first").drop_nulls().unique().alias("_names"))
    # A record without a first name joins the key's only first name; with several, it stays out.
    keyed = (
        keyed.join(names, on="_key")
        .with_columns(
            pl.when(pl.col("_first").is_not_null())
            .then(pl.col("_first"))
            .when(pl.col("_names").list.len() <= 1)
            .then(pl.col("_names").list.first().fill_null(""))
            .alias("_person")
        )
        .filter(pl.col("_person").is_not_null())
    )
    keyed = keyed.filter(pl.len().over(["_key", "_person"]) > 1)
    return _star_links(keyed, ["_key", "_person"], rule, {"field": rule})


def deterministic_links(
    con: duckdb.DuckDBPyConnection,
    records: pl.DataFrame,
    *,
    guard: ContactGuard | None = None,
    max_users_per_device: int = 1,
) -> pl.DataFrame:
    """All deterministic links: identify calls, shared id namespaces, email, phone, loyalty id.

    Args:
        con: warehouse connection (for `staging.events`).
        records: `identity.person_records`.
        guard: the switchboard guard for email and phone (default `ContactGuard()`).
        max_users_per_device: see `identify_call_links`.

    Returns:
        The links of every rule, in the `identity.links` shape.
    """
    guard = guard or ContactGuard()
    parts = [
        identify_call_links(con, records, max_users_per_device=max_users_per_device),
        same_id_namespace_links(records),
        contact_links(records, "email_norm", "email", guard),
        contact_links(records, "phone_norm", "phone", guard),
        loyalty_id_links(records, max_records=guard.max_records),
    ]
    return pl.concat([p.select(list(LINK_SCHEMA)).cast(LINK_SCHEMA) for p in parts])
