"""When each link became known: the `evidence_at` of `identity.links`.

A model trained at a past cut-off may use only the links known then, or anonymous activity tied
to a person by a later login would count as known before it. A link is known from the time of
the evidence that made it, and never before both of its records had appeared:

- `identify_call`: the first event carrying both the anonymous id and the user id;
- `email`, `phone`, `loyalty_id`: the first time both records carried the shared value;
- `same_id_namespace`: the later of the two records' first appearances;
- `splink`: the later of the two records' first appearances and of the first time each carried
  the email, phone and loyalty number it has now (the values the model compared). Other
  attributes (names, addresses, dates of birth) count as known from the record's first appearance.

Times are those of what happened (an event's timestamp, an order's date, a lead's creation), not
of loading, so a file loaded today does not make old links look new. A record whose rows carry no
time at all gives no time to its links; `evidence_at` is then the other record's time, or NULL
(known since always) when neither has one.
"""

from __future__ import annotations

import duckdb
import polars as pl

from identity_resolution.address_date_id_keys import identifier_expr
from identity_resolution.email_phone_keys import email_series, phone_series
from identity_resolution.links import SPLINK_RULE
from identity_resolution.records import STAGING_TABLES, table_columns
from warehouse.connection import table_exists

EVIDENCE_COLUMN = "evidence_at"

# When a staging row happened, by kind: the first of these that is set.
_ROW_TIMES: dict[str, tuple[str, ...]] = {
    "people": ("created_at", "updated_at"),
    "events": ("timestamp",),
    "orders": ("ordered_at",),
    "cases": ("opened_at",),
}
# The match key each contact rule links on, and the staging attribute it is normalised from.
_CONTACT_KEYS: dict[str, tuple[str, str]] = {
    "email": ("email_norm", "email"),
    "phone": ("phone_norm", "phone"),
    "loyalty_id": ("loyalty_id_norm", "loyalty_id"),
}
_SIDES = ("l", "r")


def _rows_sql(con: duckdb.DuckDBPyConnection) -> str | None:
    """Every staging row naming a record: source, record_id, when it happened (`_at`) and its
    raw contact values. The identifiers are fixed staging column names, never user input."""
    parts = []
    for kind in STAGING_TABLES:
        if not table_exists(con, f"staging.{kind}"):
            continue
        present = table_columns(con, "staging", kind)
        times = [f'"{c}"::TIMESTAMP' for c in _ROW_TIMES[kind] if c in present]
        at = f"coalesce({', '.join(times)})" if times else "NULL::TIMESTAMP"
        values = ", ".join(
            f'"{raw}"::VARCHAR AS {raw}' if raw in present else f"NULL::VARCHAR AS {raw}"
            for _, raw in _CONTACT_KEYS.values()
        )
        parts.append(
            f"SELECT source, record_id, {at} AS _at, {values} FROM staging.{kind} "
            "WHERE source IS NOT NULL AND record_id IS NOT NULL"
        )
    return "\nUNION ALL\n".join(parts) if parts else None


def record_arrivals(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """When each record first appeared in what happened (not when it was loaded).

    Args:
        con: warehouse connection with any of the staging tables.

    Returns:
        `source, record_id, arrived_at` (NULL when none of the record's rows carries a time).
    """
    rows = _rows_sql(con)
    if rows is None:
        return pl.DataFrame(schema={"source": pl.Utf8, "record_id": pl.Utf8, "arrived_at": pl.Datetime("us")})
    return con.sql(f"SELECT source, record_id, min(_at) AS arrived_at FROM ({rows}) GROUP BY ALL").pl()


def _first_carried(
    con: duckdb.DuckDBPyConnection, rows: str, raw: str, key: str, region: str
) -> pl.DataFrame:
    """The first time each record carried each normalised value of one contact attribute."""
    raw_values = con.sql(
        f"SELECT source, record_id, {raw} AS raw, min(_at) AS since FROM ({rows}) "
        f"WHERE nullif(trim({raw}), '') IS NOT NULL GROUP BY ALL"
    ).pl()
    if key == "email_norm":
        normalised = email_series(raw_values["raw"])
    elif key == "phone_norm":
        normalised = phone_series(raw_values["raw"], region)
    else:
        normalised = raw_values.select(identifier_expr("raw")).to_series()
    return (
        raw_values.with_columns(normalised.alias("value"))
        .drop_nulls("value")
        .group_by("source", "record_id", "value")
        .agg(pl.col("since").min())
    )


def _identify_times(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The first event tying each anonymous id to a user id, keyed like the link's two sides."""
    schema = {"source": pl.Utf8, "a": pl.Utf8, "b": pl.Utf8, "since": pl.Datetime("us")}
    if not table_exists(con, "staging.events"):
        return pl.DataFrame(schema=schema)
    return con.sql("""
        SELECT source, least(anonymous_id, user_id) AS a, greatest(anonymous_id, user_id) AS b,
               min("timestamp"::TIMESTAMP) AS since
        FROM staging.events
        WHERE anonymous_id IS NOT NULL AND user_id IS NOT NULL AND anonymous_id <> user_id
        GROUP BY ALL
    """).pl()


def _latest(columns: list[str]) -> pl.Expr:
    # The later of the known times; NULL only when none is known.
    return pl.max_horizontal(*(pl.col(c) for c in columns))


def with_evidence_times(
    con: duckdb.DuckDBPyConnection,
    records: pl.DataFrame,
    links: pl.DataFrame,
    *,
    default_phone_region: str = "US",
) -> pl.DataFrame:
    """Add `evidence_at`, when each link became known, to links in the `identity.links` shape.

    Args:
        con: warehouse connection with the staging tables the links were made from.
        records: the person records the links were made on (blocked values already removed),
            with `source, record_id` and the match keys `email_norm`, `phone_norm`, `loyalty_id_norm`.
        links: the links (`source_l, record_id_l, source_r, record_id_r, rule, ...`).
        default_phone_region: region for phone numbers written without a country code (as matched).

    Returns:
        The links, in their order, with `evidence_at` (timestamp) appended.
    """
    arrivals = record_arrivals(con)
    frame = links.with_row_index("_link")
    for side in _SIDES:
        frame = frame.join(
            arrivals.rename(
                {
                    "source": f"source_{side}",
                    "record_id": f"record_id_{side}",
                    "arrived_at": f"_arrived_{side}",
                }
            ),
            on=[f"source_{side}", f"record_id_{side}"],
            how="left",
        )
    times = [frame.select("_link", _latest(["_arrived_l", "_arrived_r"]).alias("_evidence"))]

    identify = frame.filter(pl.col("rule") == "identify_call").join(
        _identify_times(con),
        left_on=["source_l", "record_id_l", "record_id_r"],
        right_on=["source", "a", "b"],
        how="left",
    )
    times.append(identify.select("_link", _latest(["since", "_arrived_l", "_arrived_r"]).alias("_evidence")))

    rows = _rows_sql(con)
    keys = records.select("source", "record_id", *(key for key, _ in _CONTACT_KEYS.values()))
    current = [arrivals.select("source", "record_id", pl.col("arrived_at").alias("since"))]
    for rule, (key, raw) in _CONTACT_KEYS.items():
        if rows is None:
            continue
        first = _first_carried(con, rows, raw, key, default_phone_region)
        current.append(
            keys.join(first.rename({"value": key}), on=["source", "record_id", key]).select(
                "source", "record_id", "since"
            )
        )
        shared = frame.filter(pl.col("rule") == rule)
        if shared.height == 0:
            continue
        shared = shared.join(
            keys.select(pl.col("source").alias("source_l"), pl.col("record_id").alias("record_id_l"), key),
            on=["source_l", "record_id_l"],
            how="left",
        )
        for side in _SIDES:
            shared = shared.join(
                first.rename(
                    {
                        "source": f"source_{side}",
                        "record_id": f"record_id_{side}",
                        "value": key,
                        "since": f"_since_{side}",
                    }
                ),
                on=[f"source_{side}", f"record_id_{side}", key],
                how="left",
            )
        times.append(
            shared.select(
                "_link", _latest(["_since_l", "_since_r", "_arrived_l", "_arrived_r"]).alias("_evidence")
            )
        )
    # Splink compared the records' current values: known once both carried their current
    # email, phone and loyalty number (other attributes are taken as known from arrival).
    since = pl.concat(current).group_by("source", "record_id").agg(pl.col("since").max())
    compared = frame.filter(pl.col("rule") == SPLINK_RULE)
    for side in _SIDES:
        compared = compared.join(
            since.rename(
                {"source": f"source_{side}", "record_id": f"record_id_{side}", "since": f"_current_{side}"}
            ),
            on=[f"source_{side}", f"record_id_{side}"],
            how="left",
        )
    times.append(compared.select("_link", _latest(["_current_l", "_current_r"]).alias("_evidence")))
    # Rule-specific times come after the generic one, so they win.
    evidence = pl.concat(times).group_by("_link").agg(pl.col("_evidence").last())
    return (
        links.with_row_index("_link")
        .join(evidence, on="_link", how="left", maintain_order="left")
        .drop("_link")
        .rename({"_evidence": EVIDENCE_COLUMN})
        .with_columns(pl.col(EVIDENCE_COLUMN).cast(pl.Datetime("us")))
    )
