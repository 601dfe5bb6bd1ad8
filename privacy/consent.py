"""Reading consent: may a profile be used for a purpose, and contacted over a channel?

`profiles.consent` holds one row per profile, channel and purpose with the current status
(`opted_in` or `opted_out`), the source record that said so and when. A row whose channel or
purpose is `any` covers every channel or purpose: an objection to profiling is
`(any, profiling, opted_out)`, a CRM "do not contact" flag `(any, any, opted_out)`.

What applies to one channel and purpose is the most recent of the rows that cover it, so an
opt-out from email marketing followed by a later opt-in to all marketing leaves the person
reachable by email, and the reverse leaves them opted out. A profile with no covering row takes
the default: permitted (`opted_in`) unless the purpose requires an explicit opt-in.
"""

from __future__ import annotations

import re

import duckdb

from warehouse.connection import table_exists

CONSENT = "profiles.consent"
ANY = "any"
OPTED_IN = "opted_in"
OPTED_OUT = "opted_out"
STATUSES = (OPTED_IN, OPTED_OUT)
CONSENT_COLUMNS = {
    "profile_id": "VARCHAR",
    "channel": "VARCHAR",
    "purpose": "VARCHAR",
    "status": "VARCHAR",
    "source": "VARCHAR",
    "record_id": "VARCHAR",
    "recorded_at": "TIMESTAMP",
}
# Channels and purposes are lower-case words: they come from config and are bound as parameters.
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _checked(kind: str, value: str) -> str:
    if not NAME.match(value):
        raise ValueError(f"consent {kind} {value!r}: expected a lower-case word such as email or marketing")
    return value


def status_sql(con: duckdb.DuckDBPyConnection, *, purpose: str, channel: str | None) -> tuple[str, list]:
    """A query of each profile's consent status for one purpose over one channel.

    Args:
        con: warehouse connection (only used to see whether `profiles.consent` exists).
        purpose: what the data is used for, e.g. `marketing` or `profiling`.
        channel: how the person would be contacted (`email`, `sms`, `phone`, ...); None when no
            contact is involved (profiling), in which case only rows for `any` channel apply.

    Returns:
        SQL text and its parameters, selecting `profile_id, status, source, record_id,
        recorded_at`: one row per profile that has a covering consent row (the most recent one),
        no row for profiles without one. No rows at all when `profiles.consent` does not exist.
    """
    _checked("purpose", purpose)
    channels = [ANY] if channel is None else [_checked("channel", channel), ANY]
    if not table_exists(con, CONSENT):
        columns = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in CONSENT_COLUMNS.items())
        return f"SELECT {columns} WHERE false", []
    sql = (
        "SELECT profile_id, arg_max(status, recorded_at) AS status, arg_max(source, recorded_at) AS source, "
        "arg_max(record_id, recorded_at) AS record_id, max(recorded_at) AS recorded_at "
        "FROM profiles.consent "
        "WHERE profile_id IS NOT NULL AND list_contains(?, channel) AND purpose IN (?, ?) "
        "GROUP BY profile_id"
    )
    return sql, [channels, purpose, ANY]


def permitted_condition(
    con: duckdb.DuckDBPyConnection,
    profile_column: str,
    *,
    purpose: str,
    channel: str | None,
    opt_in_required: bool = False,
) -> tuple[str, list]:
    """A SQL condition, true for the profiles that may be used for `purpose` over `channel`.

    Args:
        con: warehouse connection.
        profile_column: the (already quoted or trusted) column expression holding the profile id,
            e.g. `m.profile_id`. Never user input.
        purpose: e.g. `marketing`.
        channel: e.g. `email`; None for uses without contact (profiling).
        opt_in_required: when true, only profiles with a recorded opt-in are permitted; when
            false (the default), everyone is permitted unless they opted out.

    Returns:
        The condition text and its parameters, to AND into a WHERE clause.
    """
    status, params = status_sql(con, purpose=purpose, channel=channel)
    if opt_in_required:
        return f"{profile_column} IN (SELECT profile_id FROM ({status}) WHERE status = '{OPTED_IN}')", params
    return f"{profile_column} NOT IN (SELECT profile_id FROM ({status}) WHERE status = '{OPTED_OUT}')", params


def is_permitted(
    con: duckdb.DuckDBPyConnection,
    profile_id: str,
    *,
    purpose: str,
    channel: str | None,
    opt_in_required: bool = False,
) -> bool:
    """Whether one profile may be used for `purpose` over `channel` (see `permitted_condition`)."""
    condition, params = permitted_condition(
        con, "candidate.profile_id", purpose=purpose, channel=channel, opt_in_required=opt_in_required
    )
    rows = con.sql(
        f"SELECT count(*) FROM (SELECT CAST(? AS VARCHAR) AS profile_id) AS candidate WHERE {condition}",
        params=[profile_id, *params],
    ).fetchall()
    return rows[0][0] == 1
