"""Connected components and profile ids that survive re-runs."""

import re

import polars as pl

from identity_resolution.clustering import assign_profile_ids, cluster_records, new_profile_id


def frame(keys: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"source": [k.split("/")[0] for k in keys], "record_id": [k.split("/")[1] for k in keys]}
    )


def links(pairs: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source_l": [a.split("/")[0] for a, _ in pairs],
            "record_id_l": [a.split("/")[1] for a, _ in pairs],
            "source_r": [b.split("/")[0] for _, b in pairs],
            "record_id_r": [b.split("/")[1] for _, b in pairs],
        },
        schema={c: pl.Utf8 for c in ("source_l", "record_id_l", "source_r", "record_id_r")},
    )


def groups(ids: pl.DataFrame, column: str) -> set[frozenset[str]]:
    keyed = ids.with_columns((pl.col("source") + "/" + pl.col("record_id")).alias("key"))
    return {frozenset(g) for g in keyed.group_by(column).agg("key")["key"].to_list()}


RECORDS = ["a/1", "a/2", "b/1", "b/2", "c/9"]


def test_components_include_singletons_and_transitive_links():
    clusters = cluster_records(frame(RECORDS), links([("a/1", "b/1"), ("b/1", "a/2"), ("x/0", "c/9")]))
    assert clusters.height == 5
    assert groups(clusters, "cluster") == {
        frozenset({"a/1", "a/2", "b/1"}),
        frozenset({"b/2"}),
        frozenset({"c/9"}),
    }


def test_new_ids_are_deterministic_hashes_of_the_smallest_record():
    clusters = cluster_records(frame(RECORDS), links([("b/1", "a/2")]))
    ids = assign_profile_ids(clusters)
    assert all(re.fullmatch(r"p_[0-9a-f]{16}", p) for p in ids["profile_id"])
    by_record = dict(zip(ids["record_id"] + "@" + ids["source"], ids["profile_id"], strict=True))
    assert by_record["2@a"] == by_record["1@b"] == new_profile_id("a", "2")
    assert assign_profile_ids(clusters).equals(ids)


def test_rerun_with_a_new_record_keeps_every_existing_id():
    first = assign_profile_ids(cluster_records(frame(RECORDS), links([("a/1", "b/1")])))
    # A new record joins the a/1 cluster, and its key sorts before all others.
    second_records = frame(["0/0", *RECORDS])
    second = assign_profile_ids(
        cluster_records(second_records, links([("a/1", "b/1"), ("0/0", "b/1")])), previous=first
    )
    old = dict(zip(first["source"] + "/" + first["record_id"], first["profile_id"], strict=True))
    new = dict(zip(second["source"] + "/" + second["record_id"], second["profile_id"], strict=True))
    assert all(new[k] == v for k, v in old.items())
    assert new["0/0"] == old["a/1"]


def test_a_split_keeps_the_id_with_the_larger_part_and_a_merge_keeps_the_larger_id():
    first = assign_profile_ids(cluster_records(frame(RECORDS), links([("a/1", "b/1"), ("a/1", "a/2")])))
    big = first.filter(pl.col("record_id") == "1", pl.col("source") == "a")["profile_id"][0]
    small = first.filter(pl.col("source") == "b", pl.col("record_id") == "2")["profile_id"][0]
    # Split a/2 off the big cluster, and merge b/2 into what remains.
    second = assign_profile_ids(
        cluster_records(frame(RECORDS), links([("a/1", "b/1"), ("b/1", "b/2")])), previous=first
    )
    ids = dict(zip(second["source"] + "/" + second["record_id"], second["profile_id"], strict=True))
    assert ids["a/1"] == ids["b/1"] == ids["b/2"] == big
    assert ids["a/2"] not in (big, small)
    assert second["profile_id"].n_unique() == 3
