"""Deterministic match rules: pairs of records that are the same person by construction.

Every rule returns links in the `identity.links` shape. Ids (identify calls, shared id
namespaces) link a group as a star (each record to the group's smallest): the clusters are the
same and a key shared by n records costs n-1 links. Contact points and cards (email, phone,
loyalty number) are shared by households and offices, so they link only the pairs of records
that agree on the person (compatible given names, no conflict of `guards`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace

import duckdb
import polars as pl

from identity_resolution.guards import Guardrails, pair_conflicts
from identity_resolution.links import LINK_SCHEMA, empty_links
from warehouse.connection import table_exists

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContactGuard:
    """When a shared email or phone stops being evidence of one person.

    A company switchboard, a reception desk or a shared family inbox is typed into the records
    of many different people. Linking on it would merge them all into one profile, and one such
    number can chain thousands of people together. So a value is not used as a key when the
    records carrying it show more than `max_first_names` different first names (a nickname
    counted with the long name it stands for, so Bob and Robert are one), or when more than
    `max_records` records carry it at all (no single person has that many records). Below that,
    records are linked only to those that agree on the person (`contact_links`), so a couple
    sharing a landline stays two people. Guarded values are blanked for the probabilistic model
    too (`without_guarded_values`).
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


def guarded_values(records: pl.DataFrame, key: str, guard: ContactGuard) -> pl.DataFrame:
    """The values of a contact key (email or phone) that the guard rules out, and why.

    Args:
        records: `identity.person_records`.
        key: `email_norm` or `phone_norm`.
        guard: the thresholds.

    Returns:
        Columns value, n_records, n_first_names for every guarded value.
    """
    # Only a value on more records than either limit can break one: count first, then look at the
    # names of those few (a million records hold hundreds of thousands of emails, nearly all on
    # one to three records).
    counts = records.select(key).drop_nulls().group_by(key).len("n_records")
    shared = counts.filter(pl.col("n_records") > min(guard.max_first_names, guard.max_records))
    stats = (
        records.select(key, "first_name_aliases")
        .join(shared.select(key), on=key, how="semi")
        .group_by(key)
        .agg(
            pl.len().alias("n_records"),
            _name_group(pl.col("first_name_aliases")).drop_nulls().n_unique().alias("n_first_names"),
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


def _name_group(aliases: pl.Expr) -> pl.Expr:
    """A given name's group for counting distinct people: the long name a nickname stands for
    (its first listed), else the name itself."""
    return pl.coalesce(aliases.list.get(1, null_on_oob=True), aliases.list.first())


def contact_links(
    records: pl.DataFrame, key: str, rule: str, guard: ContactGuard, guards: Guardrails | None = None
) -> pl.DataFrame:
    """Rule `email`, `phone` or `loyalty_id`: records sharing the value that agree on the person.

    A value shared by a household (a family inbox, a landline, a loyalty card) links only the
    pairs with compatible given names and no conflicting date of birth, suffix or national id
    (`guards.pair_conflicts`, given names always checked); a phone or card, often an office's or
    a family's, also needs compatible surnames (an email is kept after a change of name). A
    record without a given name joins the others only when they all agree on one person.

    Args:
        records: `identity.person_records`, in row order (the row number identifies a record).
        key: `email_norm`, `phone_norm` or `loyalty_id_norm`.
        rule: the rule name written to the links (`email`, `phone`, `loyalty_id`).
        guard: the switchboard guard.
        guards: the conflict rules (default `Guardrails()`).

    Returns:
        Links between records sharing the value that agree on the person.
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
        records.with_row_index("_row")
        .filter(pl.col(key).is_not_null())
        .select("_row", pl.col(key).alias("_key"), pl.col("first_name_norm").is_not_null().alias("_named"))
        .join(blocked.select(pl.col("value").alias("_key")), on="_key", how="anti")
    )
    pairs = (
        keyed.join(keyed, on="_key", suffix="_r")
        .filter(pl.col("_row") < pl.col("_row_r"))
        .select(
            pl.col("_row").alias("_l"),
            pl.col("_row_r").alias("_r"),
            "_key",
            pl.col("_named").alias("_named_l"),
            "_named_r",
        )
        .sort("_l", "_r")
    )
    if pairs.height == 0:
        return empty_links()
    rule_guards = replace(guards or Guardrails(), given_names=True, surnames=rule != "email")
    pairs = pairs.with_columns(pair_conflicts(pairs, records, rule_guards))
    both_named = pl.col("_named_l") & pl.col("_named_r")
    ambiguous = pairs.filter(both_named & pl.col("conflict").is_not_null()).get_column("_key").unique()
    agreed = pairs.filter(
        pl.col("conflict").is_null() & (both_named | ~pl.col("_key").is_in(ambiguous.implode()))
    )
    sizes = keyed.group_by("_key").len("_group_size")
    return _row_links(agreed.join(sizes, on="_key"), records, rule)


def _row_links(pairs: pl.DataFrame, records: pl.DataFrame, rule: str) -> pl.DataFrame:
    """Pairs of row numbers (left row smaller, so the left record is the smaller key) as links."""
    keys = records.select("source", "record_id").with_row_index("_row")
    return (
        pairs.join(keys.rename({"_row": "_l", "source": "source_l", "record_id": "record_id_l"}), on="_l")
        .join(keys.rename({"_row": "_r", "source": "source_r", "record_id": "record_id_r"}), on="_r")
        .select(
            "source_l",
            "record_id_l",
            "source_r",
            "record_id_r",
            pl.lit(rule).alias("rule"),
            pl.lit(1.0).alias("match_probability"),
            _json_with_count({"field": rule}, "records_sharing_key", pl.col("_group_size")).alias(
                "explanation"
            ),
        )
        .sort("source_l", "record_id_l", "source_r", "record_id_r")
    )


def deterministic_links(
    con: duckdb.DuckDBPyConnection,
    records: pl.DataFrame,
    *,
    guard: ContactGuard | None = None,
    guards: Guardrails | None = None,
    max_users_per_device: int = 1,
) -> pl.DataFrame:
    """All deterministic links: identify calls, shared id namespaces, email, phone, loyalty id.

    Args:
        con: warehouse connection (for `staging.events`).
        records: `identity.person_records`, sorted by (source, record_id).
        guard: the switchboard guard for email, phone and loyalty id (default `ContactGuard()`).
        guards: the conflict rules the contact rules check (default `Guardrails()`).
        max_users_per_device: see `identify_call_links`.

    Returns:
        The links of every rule, in the `identity.links` shape.
    """
    guard = guard or ContactGuard()
    parts = [
        identify_call_links(con, records, max_users_per_device=max_users_per_device),
        same_id_namespace_links(records),
        contact_links(records, "email_norm", "email", guard, guards),
        contact_links(records, "phone_norm", "phone", guard, guards),
        contact_links(records, "loyalty_id_norm", "loyalty_id", guard, guards),
    ]
    return pl.concat([p.select(list(LINK_SCHEMA)).cast(LINK_SCHEMA) for p in parts])
