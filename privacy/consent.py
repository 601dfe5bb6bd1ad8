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
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence

import duckdb
import pyarrow as pa

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
    # One arg_max over the whole row, so status, source and record come from the same statement.
    # Equal times: the opt-out wins (the stricter reading); a row without a time is the oldest.
    sql = (
        "SELECT profile_id, latest.status AS status, latest.source AS source, latest.record_id AS record_id, "
        "latest.recorded_at AS recorded_at FROM ("
        "SELECT profile_id, arg_max(struct_pack(status, source, record_id, recorded_at), "
        "struct_pack(at := coalesce(recorded_at, '-infinity'::TIMESTAMP), strict := status = ?)) AS latest "
        "FROM profiles.consent "
        "WHERE profile_id IS NOT NULL AND list_contains(?, channel) AND purpose IN (?, ?) "
        "GROUP BY profile_id)"
    )
    return sql, [OPTED_OUT, channels, purpose, ANY]


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


def reachable_condition(
    con: duckdb.DuckDBPyConnection,
    profile_column: str,
    *,
    purpose: str,
    channels: Sequence[str],
    opt_in_channels: Collection[str] = (),
) -> tuple[str, list]:
    """A SQL condition, true for the profiles that may be reached for `purpose` on at least one channel.

    The rule for anything delivered over a choice of channels (an offer, a campaign): a person
    is reachable when one of its channels is permitted for them.

    Args:
        con: warehouse connection.
        profile_column: the (trusted) column expression holding the profile id.
        purpose: e.g. `marketing`.
        channels: the channels the thing can go out on, e.g. `["email", "sms"]`.
        opt_in_channels: those of `channels` that need a recorded opt-in for `purpose`.

    Returns:
        The condition text and its parameters; false for everyone when `channels` is empty.
    """
    if not channels:
        return "false", []
    parts, params = [], []
    for channel in dict.fromkeys(channels):
        condition, more = permitted_condition(
            con, profile_column, purpose=purpose, channel=channel, opt_in_required=channel in opt_in_channels
        )
        parts.append(f"({condition})")
        params += more
    return "(" + " OR ".join(parts) + ")", params


def permitted_profiles(
    con: duckdb.DuckDBPyConnection, profile_ids: Iterable[str | None], checks: Mapping[str, tuple[str, list]]
) -> dict[str | None, dict[str, bool]]:
    """Evaluate named consent conditions for a set of profiles in one query.

    Args:
        con: warehouse connection.
        profile_ids: the profiles (None stands for a record no profile holds yet: it gets the
            defaults, as a profile without consent rows does).
        checks: name -> a condition on `candidate.profile_id` with its parameters, as made by
            `permitted_condition` or `reachable_condition`.

    Returns:
        profile id -> check name -> whether the condition holds.
    """
    wanted = list(dict.fromkeys(profile_ids))
    if not wanted:
        return {}
    names = list(checks)
    # '' is never a profile id: it stands for "no profile" and takes the defaults.
    frame = pa.table({"profile_id": pa.array(["" if p is None else p for p in wanted], pa.string())})
    view = f"_consent_candidates_{uuid.uuid4().hex}"
    columns, params = [], []
    for n, name in enumerate(names):
        condition, more = checks[name]
        columns.append(f"coalesce({condition}, false) AS c{n}")
        params += more
    con.register(view, frame)
    try:
        rows = con.sql(
            f"SELECT candidate.profile_id, {', '.join(columns) or 'true'} FROM {view} AS candidate",
            params=params,
        ).fetchall()
    finally:
        con.unregister(view)
    by_id = {row[0]: dict(zip(names, row[1:], strict=False)) for row in rows}
    return {p: by_id["" if p is None else p] for p in wanted}
