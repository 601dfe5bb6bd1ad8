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
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Use:
    """One question to consent: may a profile be used for `purpose` over `channel`?

    Attributes:
        purpose: e.g. `marketing`, `profiling`, or `any` (every purpose: "may we contact at all").
        channel: e.g. `email`; None for uses without contact (profiling).
        opt_in_required: only a recorded opt-in permits (an opt-in regime).
    """

    purpose: str
    channel: str | None
    opt_in_required: bool = False


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
    latest = _latest(CONSENT, purpose=purpose, channel=channel)
    if not table_exists(con, CONSENT):
        columns = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in CONSENT_COLUMNS.items())
        return f"SELECT {columns} WHERE false", []
    return latest


def _latest(rows: str, *, purpose: str, channel: str | None) -> tuple[str, list]:
    """The deciding statement per profile among `rows` (a table name or a parenthesised query, never user input)."""
    _checked("purpose", purpose)
    channels = [ANY] if channel is None else [_checked("channel", channel), ANY]
    # One arg_max over the whole row, so status, source and record come from the same statement.
    # Equal times: the opt-out wins (the stricter reading); a row without a time is the oldest.
    sql = (
        "SELECT profile_id, latest.status AS status, latest.source AS source, latest.record_id AS record_id, "
        "latest.recorded_at AS recorded_at FROM ("
        "SELECT profile_id, arg_max(struct_pack(status, source, record_id, recorded_at), "
        "struct_pack(at := coalesce(recorded_at, '-infinity'::TIMESTAMP), strict := status = ?)) AS latest "
        f"FROM {rows} AS covering "
        "WHERE profile_id IS NOT NULL AND list_contains(?, channel) AND purpose IN (?, ?) "
        "GROUP BY profile_id)"
    )
    return sql, [OPTED_OUT, channels, purpose, ANY]


def _consent_exists(con: duckdb.DuckDBPyConnection) -> bool:
    # duckdb_tables() answers in a third of the time information_schema takes: this runs per request.
    schema, table = CONSENT.split(".")
    return bool(
        con.execute(
            "SELECT 1 FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, table]
        ).fetchall()
    )


def _condition(profile_column: str, status: tuple[str, list], opt_in_required: bool) -> tuple[str, list]:
    sql, params = status
    if opt_in_required:
        return f"{profile_column} IN (SELECT profile_id FROM ({sql}) WHERE status = '{OPTED_IN}')", params
    return f"{profile_column} NOT IN (SELECT profile_id FROM ({sql}) WHERE status = '{OPTED_OUT}')", params


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
    return _condition(profile_column, status_sql(con, purpose=purpose, channel=channel), opt_in_required)


def is_permitted(
    con: duckdb.DuckDBPyConnection,
    profile_id: str,
    *,
    purpose: str,
    channel: str | None,
    opt_in_required: bool = False,
) -> bool:
    """Whether one profile may be used for `purpose` over `channel` (see `permitted_condition`).

    Reads only that profile's rows (an index lookup on the built table), so an API request pays
    milliseconds, not a pass over every profile's consent.
    """
    return permitted_profiles(con, [profile_id], {"use": Use(purpose, channel, opt_in_required)})[profile_id][
        "use"
    ]


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
    con: duckdb.DuckDBPyConnection, profile_ids: Iterable[str | None], uses: Mapping[str, Use]
) -> dict[str | None, dict[str, bool]]:
    """Answer several consent questions for a set of profiles in one query over their rows only.

    Args:
        con: warehouse connection.
        profile_ids: the profiles (None stands for a record no profile holds yet: it gets the
            defaults, as a profile without consent rows does).
        uses: name -> the question (`Use`).

    Returns:
        profile id -> question name -> whether the use is permitted.
    """
    wanted = list(dict.fromkeys(profile_ids))
    if not wanted:
        return {}
    names = list(uses)
    exists = _consent_exists(con)
    # '' is never a profile id: it stands for "no profile" and takes the defaults.
    ids = ["" if p is None else p for p in wanted]
    view = f"_consent_candidates_{uuid.uuid4().hex}"
    # One profile (an API request) needs no registered frame, and its rows come by index.
    # Parameters in the order they appear: the rows' filter, the questions, the candidate.
    if len(ids) == 1:
        candidates, last = "(SELECT CAST(? AS VARCHAR) AS profile_id)", [ids[0]]
        mine = f"SELECT * FROM {CONSENT} WHERE profile_id = ?"
        params = [ids[0]] if exists else []
    else:
        candidates, last, params = view, [], []
        mine = f"SELECT * FROM {CONSENT} WHERE profile_id IN (SELECT profile_id FROM {view})"
    columns = []
    for n, name in enumerate(names):
        use = uses[name]
        status = (
            _latest("mine", purpose=use.purpose, channel=use.channel)
            if exists
            else status_sql(con, purpose=use.purpose, channel=use.channel)
        )
        condition, more = _condition("candidate.profile_id", status, use.opt_in_required)
        columns.append(f"coalesce({condition}, false) AS c{n}")
        params += more
    # The candidates' own rows are read once, not once per question.
    prefix = f"WITH mine AS MATERIALIZED ({mine}) " if exists else ""
    sql = (
        f"{prefix}SELECT candidate.profile_id, {', '.join(columns) or 'true'} FROM {candidates} AS candidate"
    )
    params += last
    if len(ids) == 1:
        rows = con.execute(sql, params).fetchall()
    else:
        con.register(view, pa.table({"profile_id": pa.array(ids, pa.string())}))
        try:
            rows = con.execute(sql, params).fetchall()
        finally:
            con.unregister(view)
    by_id = {row[0]: dict(zip(names, row[1:], strict=False)) for row in rows}
    return {p: by_id["" if p is None else p] for p in wanted}
