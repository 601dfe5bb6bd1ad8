"""Links -> clusters -> stable profile ids.

Clusters are the connected components of the link graph over every record (a record without
links is a cluster of one). Profile ids outlive re-runs: a cluster keeps the id most of its
records had last time, so CRM syncs and scores keyed on `profile_id` do not churn when a new
record arrives; only genuinely new people get new ids.
"""

from __future__ import annotations

import hashlib
import logging

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
    )
    for cluster, source, record_id in anchors.iter_rows():
        if cluster in assigned:
            continue
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
