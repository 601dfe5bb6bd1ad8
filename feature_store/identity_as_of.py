"""Who was who at a cut-off: identity built only from the links known before it.

Today's `identity.record_xref` knows more than anyone knew at a past cut-off: anonymous browsing
linked to a lead by a login a month later belongs to the lead today, but at a cut-off before the
login it was someone else's, as far as anyone could tell. Training rows at cut-off T therefore
see people as T saw them: the connected components of the links whose `evidence_at` is before T
(a link without a time counts as always known). These as-of clusters are parts of today's
profiles, and a model learns at T from the parts: population, labels and features of a training
row all come from one part.

Keys: the part holding the profile's first record (earliest `first_seen`, then source and
record id) keeps the profile id, so a person is one key at every cut-off from their first record
on; the profile's other parts at T are keyed `<profile_id>#<8 hex digits>` (a hash of the part's
own first record). Only parts that differ from today's profile get a row here (`as_of_keys`):
a profile with no link made on or after the earliest cut-off is whole at every cut-off and costs
nothing, so the work scales with the late-linked profiles, not with the warehouse.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

log = logging.getLogger(__name__)

PART_SEPARATOR = "#"
OVERRIDE_SCHEMA = {
    "source": pl.String,
    "record_id": pl.String,
    "as_of": pl.Datetime("us"),
    "profile_id": pl.String,
}


def as_datetime(value: date | datetime) -> datetime:
    """A date as midnight of that day; a datetime unchanged.

    Args:
        value: a date or datetime.

    Returns:
        A naive datetime.
    """
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day)


def person_sql(key: str) -> str:
    """SQL giving today's profile id of an as-of key (the key itself for a whole profile).

    Args:
        key: a SQL expression holding an as-of profile key.

    Returns:
        A SQL expression.
    """
    return f"split_part({key}, '{PART_SEPARATOR}', 1)"


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        params=[schema, table],
    ).fetchall()
    return {row[0] for row in rows}


_NODE_SCHEMA = {
    "node": pl.Int64,
    "source": pl.String,
    "record_id": pl.String,
    "anchor": pl.Int64,
    "part_key": pl.String,
}
_EDGE_SCHEMA = {"a": pl.Int64, "b": pl.Int64, "evidence_at": pl.Datetime("us")}


def _late_graph(con: duckdb.DuckDBPyConnection, earliest: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The records of profiles with a link made on or after `earliest`, numbered, and their links.

    Records are numbered in (profile, first seen, source, record id) order, so each profile's
    first record has its smallest number (`anchor`); `part_key` is the key a part headed by the
    record would have. Links come as pairs of numbers with their `evidence_at`.
    """
    empty = pl.DataFrame(schema=_NODE_SCHEMA), pl.DataFrame(schema=_EDGE_SCHEMA)
    if "evidence_at" not in _columns(con, "identity", "links") or not _columns(
        con, "identity", "record_xref"
    ):
        return empty
    has_seen = "first_seen" in _columns(con, "identity", "person_records")
    seen = "r.first_seen" if has_seen else "NULL::TIMESTAMP"
    person_records = (
        "LEFT JOIN identity.person_records r ON r.source = x.source AND r.record_id = x.record_id"
        if has_seen
        else ""
    )
    # A part's key hashes its first record (DuckDB's md5: vectorised, and stable across versions).
    nodes = con.sql(
        f"""
        WITH late AS (
            SELECT DISTINCT x.profile_id FROM identity.links l
            JOIN identity.record_xref x ON x.source = l.source_l AND x.record_id = l.record_id_l
            WHERE l.evidence_at >= ?
        ), numbered AS (
            SELECT x.source, x.record_id, x.profile_id,
                   row_number() OVER (ORDER BY x.profile_id, CAST({seen} AS TIMESTAMP) NULLS FIRST,
                                               x.source, x.record_id) - 1 AS node
            FROM identity.record_xref x {person_records} SEMI JOIN late ON late.profile_id = x.profile_id
        )
        SELECT node, source, record_id, min(node) OVER (PARTITION BY profile_id) AS anchor,
               profile_id || '{PART_SEPARATOR}' || left(md5(source || chr(31) || record_id), 8) AS part_key
        FROM numbered ORDER BY node
        """,
        params=[earliest],
    ).pl()
    if nodes.height == 0:
        return empty
    view = f"_late_nodes_{uuid.uuid4().hex}"
    con.register(view, nodes.select("node", "source", "record_id").to_arrow())
    try:
        edges = con.sql(
            f"""
            SELECT nl.node AS a, nr.node AS b, CAST(l.evidence_at AS TIMESTAMP) AS evidence_at
            FROM identity.links l
            JOIN {view} nl ON nl.source = l.source_l AND nl.record_id = l.record_id_l
            JOIN {view} nr ON nr.source = l.source_r AND nr.record_id = l.record_id_r
            """
        ).pl()
    finally:
        con.unregister(view)
    return nodes.cast(_NODE_SCHEMA), edges.cast(_EDGE_SCHEMA)


def as_of_keys(con: duckdb.DuckDBPyConnection, cutoffs: Sequence[datetime]) -> pl.DataFrame:
    """The records whose as-of key at a cut-off is not today's profile id, and that key.

    Args:
        con: warehouse connection with `identity.record_xref`, `identity.links` (with
            `evidence_at`) and `identity.person_records`; without `evidence_at` (a warehouse
            resolved before links carried it) today's identity is used at every cut-off.
        cutoffs: the cut-offs.

    Returns:
        `source, record_id, as_of, profile_id` (the as-of key), one row per record and cut-off
        where the record's part is not its whole profile's key.
    """
    started = time.perf_counter()
    cutoffs = sorted({c for c in cutoffs if c is not None})
    if not cutoffs:
        return pl.DataFrame(schema=OVERRIDE_SCHEMA)
    nodes, edges = _late_graph(con, cutoffs[0])
    n = nodes.height
    if n == 0:
        return pl.DataFrame(schema=OVERRIDE_SCHEMA)
    anchor = nodes["anchor"].to_numpy()
    a, b = edges["a"].to_numpy(), edges["b"].to_numpy()
    known_at = edges["evidence_at"].fill_null(datetime.min).to_numpy()
    order = np.arange(n)
    members, heads, at = [], [], []
    for index, cutoff in enumerate(cutoffs):
        known = known_at < np.datetime64(cutoff)
        graph = coo_matrix((np.ones(int(known.sum()), dtype=np.int8), (a[known], b[known])), shape=(n, n))
        labels = connected_components(graph, directed=False)[1]
        split = np.flatnonzero(labels != labels[anchor])
        if split.size == 0:
            continue
        # A part's first record has its smallest number: records are numbered in that order.
        head = np.full(labels.max() + 1, n, dtype=np.int64)
        np.minimum.at(head, labels, order)
        members.append(split)
        heads.append(head[labels[split]])
        at.append(np.full(split.size, index))
    if not members:
        return pl.DataFrame(schema=OVERRIDE_SCHEMA)
    member, head, cutoff_index = (np.concatenate(parts) for parts in (members, heads, at))
    result = pl.DataFrame(
        {
            "source": nodes["source"].gather(member),
            "record_id": nodes["record_id"].gather(member),
            "as_of": pl.Series(cutoffs, dtype=pl.Datetime("us")).gather(cutoff_index),
            "profile_id": nodes["part_key"].gather(head),
        }
    )
    log.info(
        "identity as of %d cut-offs: %d records of late-linked profiles, %d record-cut-offs in parts, %.2f s",
        len(cutoffs),
        n,
        result.height,
        time.perf_counter() - started,
    )
    return result


@dataclass(frozen=True)
class IdentityAsOf:
    """SQL names of the as-of identity registered for a query.

    Attributes:
        cutoffs: a relation with one column `as_of`, one row per cut-off.
        overrides: the relation of `as_of_keys` (`source, record_id, as_of, profile_id`).
    """

    cutoffs: str
    overrides: str


@contextmanager
def identity_as_of(con: duckdb.DuckDBPyConnection, cutoffs: Sequence[datetime]) -> Iterator[IdentityAsOf]:
    """Register the cut-offs and their as-of keys for the queries inside the block.

    Args:
        con: warehouse connection.
        cutoffs: the cut-offs (dates or datetimes).

    Yields:
        The names to use in SQL (`feature_store.sources.source_sql(..., at=...)`, `profile_at_sql`).
    """
    values = sorted({as_datetime(c) for c in cutoffs if c is not None})
    suffix = uuid.uuid4().hex
    names = IdentityAsOf(f"_cutoffs_{suffix}", f"_as_of_keys_{suffix}")
    con.register(
        names.cutoffs, pl.DataFrame({"as_of": values}, schema={"as_of": pl.Datetime("us")}).to_arrow()
    )
    con.register(names.overrides, as_of_keys(con, values).to_arrow())
    try:
        yield names
    finally:
        con.unregister(names.cutoffs)
        con.unregister(names.overrides)


def profile_at_sql(at: IdentityAsOf, record: str, xref: str, cutoff: str) -> tuple[str, str]:
    """The join and expression giving a record's as-of key at a cut-off.

    Args:
        at: the registered as-of identity.
        record: alias of the row carrying `source, record_id`.
        xref: alias of the row of `identity.record_xref` joined to it.
        cutoff: SQL expression of the cut-off.

    Returns:
        (a LEFT JOIN clause to add after the xref join, the key expression).
    """
    alias = f"o_{record}"
    join = (
        f"LEFT JOIN {at.overrides} {alias} ON {alias}.source = {record}.source "
        f"AND {alias}.record_id = {record}.record_id AND {alias}.as_of = {cutoff}"
    )
    return join, f"coalesce({alias}.profile_id, {xref}.profile_id)"
