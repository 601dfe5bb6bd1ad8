"""Links -> clusters -> stable profile ids.

Clusters are the connected components of the link graph over every record (a record without
links is a cluster of one), with two guards: a cluster never holds two records that conflict
(links are only checked pair by pair, so a record without a date of birth could otherwise chain
a father to his daughter), and never more than the maximum cluster size. A cluster that breaks
either is rebuilt from its links strongest first, leaving out each link that would join a
conflict or pass the size (`guarded_clusters`); the links left out are reported.

Profile ids outlive re-runs: a cluster keeps the id most of its records had last time, so CRM
syncs and scores keyed on `profile_id` do not churn when a new record arrives; only genuinely
new people get new ids.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

import duckdb
import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

log = logging.getLogger(__name__)

PROFILE_ID_PREFIX = "p_"


def cluster_records(records: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    """Connected components of the link graph.

    Args:
        records: every record, columns `source`, `record_id` (one row each).
        links: pairs `source_l, record_id_l, source_r, record_id_r`; links naming a record not
            in `records` are ignored.

    Returns:
        `source, record_id, cluster` where `cluster` is an integer component number.
    """
    nodes = records.select("source", "record_id").unique().sort("source", "record_id").with_row_index("node")
    n = nodes.height
    if n == 0:
        return nodes.select("source", "record_id", pl.lit(0, dtype=pl.UInt32).alias("cluster")).clear()
    edges = (
        links.select("source_l", "record_id_l", "source_r", "record_id_r")
        .join(
            nodes.rename({"source": "source_l", "record_id": "record_id_l", "node": "a"}),
            on=["source_l", "record_id_l"],
        )
        .join(
            nodes.rename({"source": "source_r", "record_id": "record_id_r", "node": "b"}),
            on=["source_r", "record_id_r"],
        )
    )
    a = edges["a"].to_numpy().astype(np.int64)
    b = edges["b"].to_numpy().astype(np.int64)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return nodes.select("source", "record_id").with_columns(pl.Series("cluster", labels, dtype=pl.UInt32))


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


class _Groups:
    """Union-find over a cluster's records that refuses unions breaking a conflict or the size."""

    def __init__(self, nodes: list[int], conflicts: dict[int, set[int]], max_size: int):
        self.parent = {v: v for v in nodes}
        self.members = {v: {v} for v in nodes}
        self.conflicts = conflicts
        self.max_size = max_size

    def find(self, v: int) -> int:
        while self.parent[v] != v:
            self.parent[v] = self.parent[self.parent[v]]
            v = self.parent[v]
        return v

    def union(self, a: int, b: int) -> str | None:
        """Join the groups of a and b, or say why not (None when joined or already together)."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        small, large = sorted((ra, rb), key=lambda r: len(self.members[r]))
        if len(self.members[small]) + len(self.members[large]) > self.max_size:
            return f"cluster would pass the maximum size of {self.max_size}"
        if any(
            other in self.members[large] for v in self.members[small] for other in self.conflicts.get(v, ())
        ):
            return "would join records that conflict"
        self.parent[small] = large
        self.members[large] |= self.members.pop(small)
        return None


ConflictCheck = Callable[[pl.DataFrame], pl.Series]


def guarded_clusters(
    records: pl.DataFrame,
    links: pl.DataFrame,
    conflicts: ConflictCheck,
    *,
    max_cluster_size: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Connected components that hold no conflicting records and no more than the maximum size.

    Args:
        records: every record, `source, record_id` in row order (row number = `_l`/`_r` in links).
        links: `_l, _r, _strength` per link (row numbers; stronger links are kept first).
        conflicts: given pairs `_l, _r`, the conflict each breaks or null (`guards.pair_conflicts`).
        max_cluster_size: the most records one profile may hold.

    Returns:
        `source, record_id, cluster` per record, and the links left out: `_l, _r, reason`.
    """
    n = records.height
    rejected_schema = {"_l": pl.UInt32, "_r": pl.UInt32, "reason": pl.Utf8}
    if n == 0:
        return records.select(
            "source", "record_id", pl.lit(0, dtype=pl.UInt32).alias("cluster")
        ), pl.DataFrame(schema=rejected_schema)
    a, b = links["_l"].to_numpy().astype(np.int64), links["_r"].to_numpy().astype(np.int64)
    labels = _components(n, a, b)
    rows = pl.DataFrame({"_row": np.arange(n, dtype=np.uint32), "_c": labels.astype(np.uint32)})
    sizes = rows.group_by("_c").len("_size")
    rows = rows.join(sizes, on="_c")
    # Every pair inside a cluster of three or more is checked: a pair of two is one link, already checked.
    inside = rows.filter(pl.col("_size").is_between(3, max_cluster_size))
    pairs = (
        inside.join(inside, on="_c", suffix="_r")
        .filter(pl.col("_row") < pl.col("_row_r"))
        .select(pl.col("_row").alias("_l"), pl.col("_row_r").alias("_r"), "_c")
    )
    bad = pairs.with_columns(conflicts(pairs.select("_l", "_r"))).filter(pl.col("conflict").is_not_null())
    suspect = set(bad["_c"].to_list()) | set(sizes.filter(pl.col("_size") > max_cluster_size)["_c"].to_list())
    if not suspect:
        return _with_keys(records, labels), pl.DataFrame(schema=rejected_schema)
    conflict_map: dict[int, set[int]] = {}
    for left, right in bad.select("_l", "_r").iter_rows():
        conflict_map.setdefault(left, set()).add(right)
        conflict_map.setdefault(right, set()).add(left)
    edges = (
        links.select(pl.col("_l").cast(pl.UInt32), pl.col("_r").cast(pl.UInt32), "_strength")
        .with_columns(pl.Series("_c", labels[a].astype(np.uint32)))
        .filter(pl.col("_c").is_in(sorted(suspect)))
        .sort(["_strength", "_l", "_r"], descending=[True, False, False])
    )
    members = rows.filter(pl.col("_c").is_in(sorted(suspect))).group_by("_c").agg("_row")
    groups = _Groups([v for vs in members["_row"].to_list() for v in vs], conflict_map, max_cluster_size)
    refused = []
    for left, right, _, _ in edges.iter_rows():
        reason = groups.union(left, right)
        if reason:
            refused.append((left, right, reason))
    # Each suspect cluster becomes its groups: a new label per group, after the existing ones.
    new_labels = labels.copy()
    next_label = int(labels.max()) + 1
    roots: dict[int, int] = {}
    for v in groups.parent:
        root = groups.find(v)
        if root not in roots:
            roots[root] = next_label
            next_label += 1
        new_labels[v] = roots[root]
    # Refused links inside what is still one group (joined by a stronger path) are not reported.
    reported = [
        (left, right, reason) for left, right, reason in refused if groups.find(left) != groups.find(right)
    ]
    log.info(
        "clusters: %d clusters split (conflicting records or above %d records), %d links left out",
        len(suspect),
        max_cluster_size,
        len(reported),
    )
    rejected = pl.DataFrame(reported, schema=rejected_schema, orient="row")
    return _with_keys(records, new_labels), rejected


def _with_keys(records: pl.DataFrame, labels: np.ndarray) -> pl.DataFrame:
    # Renumbered densely in order of first record, so equal inputs give equal numbers.
    frame = records.select("source", "record_id").with_columns(pl.Series("_label", labels))
    return frame.with_columns(pl.col("_label").rank("dense").cast(pl.UInt32).alias("cluster")).drop("_label")


def new_profile_id(source: str, record_id: str, attempt: int = 0) -> str:
    """The deterministic id of a new cluster: a hash of its smallest (source, record_id).

    Args:
        source: source of the cluster's smallest record.
        record_id: that record's id.
        attempt: bumped only when the id is already taken by another cluster.

    Returns:
        `p_` followed by 16 hex digits.
    """
    key = f"{source}\x1f{record_id}" + (f"\x1f{attempt}" if attempt else "")
    return PROFILE_ID_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _first_profile_ids(anchors: pl.DataFrame) -> pl.Series:
    """`new_profile_id(source, record_id)` (first attempt) for every row, computed by DuckDB."""
    con = duckdb.connect()
    try:
        con.register("_kindred_anchors", anchors.select("source", "record_id").to_arrow())
        ids = con.sql(
            "SELECT ? || substr(sha256(source || chr(31) || record_id), 1, 16) AS profile_id FROM _kindred_anchors",
            params=[PROFILE_ID_PREFIX],
        ).pl()
    finally:
        con.close()
    return ids.get_column("profile_id")


def assign_profile_ids(clusters: pl.DataFrame, previous: pl.DataFrame | None = None) -> pl.DataFrame:
    """Give each cluster a profile id, keeping the ids of the previous run where they still fit.

    A cluster keeps the previous profile id held by most of its records. When a previous
    profile split, the part with most of its records keeps the id and the rest get new ones;
    when profiles merged, the merged cluster keeps the id of the larger one. Ties go to the
    smaller id, so the result does not depend on row order.

    Args:
        clusters: `source, record_id, cluster` from `cluster_records`.
        previous: the previous `identity.record_xref` (`source, record_id, profile_id`), or None.

    Returns:
        `source, record_id, profile_id`, one row per record.
    """
    if previous is not None and previous.height:
        votes = (
            clusters.join(previous.select("source", "record_id", "profile_id"), on=["source", "record_id"])
            .group_by("cluster", "profile_id")
            .len("votes")
            .sort(["votes", "profile_id", "cluster"], descending=[True, False, False])
        )
    else:
        votes = pl.DataFrame(schema={"cluster": pl.UInt32, "profile_id": pl.Utf8, "votes": pl.UInt32})
    assigned: dict[int, str] = {}
    taken: set[str] = set()
    # Greedy, strongest claim first: each cluster takes its best id that no stronger claim took.
    for cluster, profile_id, _ in votes.iter_rows():
        if cluster in assigned or profile_id in taken:
            continue
        assigned[cluster] = profile_id
        taken.add(profile_id)
    kept = len(assigned)
    anchors = (
        clusters.sort("source", "record_id")
        .group_by("cluster", maintain_order=True)
        .agg(pl.col("source").first(), pl.col("record_id").first())
        .sort("cluster")
        .filter(~pl.col("cluster").is_in(list(assigned)))
    )
    # Every new cluster's id at once (`new_profile_id` one record at a time took 18 s for 700,000
    # clusters); the rare id already taken goes through `new_profile_id`'s next attempts.
    fresh = anchors.with_columns(_first_profile_ids(anchors).alias("profile_id"))
    clash = fresh.get_column("profile_id").is_in(list(taken)) | fresh.get_column("profile_id").is_duplicated()
    for cluster, profile_id in fresh.filter(~clash).select("cluster", "profile_id").iter_rows():
        assigned[cluster] = profile_id
        taken.add(profile_id)
    for cluster, source, record_id, _ in fresh.filter(clash).iter_rows():
        attempt = 0
        profile_id = new_profile_id(source, record_id)
        while profile_id in taken:
            attempt += 1
            profile_id = new_profile_id(source, record_id, attempt)
        assigned[cluster] = profile_id
        taken.add(profile_id)
    log.info("profile ids: %d kept from the previous run, %d new", kept, len(assigned) - kept)
    mapping = pl.DataFrame(
        {"cluster": list(assigned.keys()), "profile_id": list(assigned.values())},
        schema={"cluster": pl.UInt32, "profile_id": pl.Utf8},
    )
    return (
        clusters.join(mapping, on="cluster")
        .select("source", "record_id", "profile_id")
        .sort("source", "record_id")
    )
