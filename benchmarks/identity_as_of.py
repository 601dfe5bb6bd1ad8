"""Identity as of each cut-off: what it costs a training run, at a million records and on the demo.

A model run asks for the people as known at its cut-offs (12 monthly training cut-offs and the
holdout) several times: population, labels and each feature service. `as_of_keys` builds them
from the links with `evidence_at` before each cut-off, but only for the profiles that have a link
made on or after the earliest cut-off; every other profile is whole at every cut-off.

Measured on one connection, in alternating rounds:

- all components: the plain approach, connected components over every record and every link
  known at each cut-off (scipy), as a whole-warehouse union-find would do, tables already in
  memory and no keys made (a floor for that approach, not a full implementation);
- `as_of_keys`: Kindred's, reading `identity.*` and returning the records whose key differs,
  with their keys.

Data: a generated `identity.record_xref` of N records of 0.7 N people (the other 0.3 N are extra
records of the same people), `identity.links` as a star per profile with evidence times spread
over two years, `identity.person_records.first_seen` before each record's links. With
`--demo PATH`, the same measurement on the demo warehouse (`make run`) at its run's cut-offs.

Run: `flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.identity_as_of [--records N]
[--rounds 5] [--demo .kindred/warehouse.duckdb] [--write]`. From `make bench`, the demo is the
warehouse of `$KINDRED_HOME` when `make run` has built it.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from benchmarks.report import write_section
from feature_store.identity_as_of import as_of_keys
from feature_store.sources import default_as_of
from models.timeline import holdout_cutoff, training_cutoffs
from warehouse.connection import connect
from warehouse.home import warehouse_path

SECTION = "Identity as of the cut-off"
HORIZON_DAYS = 90
_START = datetime(2023, 1, 1)
_SPAN_SECONDS = 2 * 365 * 86400


def generate(con: duckdb.DuckDBPyConnection, records: int, seed: int = 7) -> int:
    """Write `identity.record_xref`, `identity.links` and `identity.person_records`.

    Returns:
        The number of links.
    """
    rng = np.random.default_rng(seed)
    people = int(records * 0.7)
    owner = np.concatenate([np.arange(people), rng.integers(0, people, records - people)])
    first_seen = rng.integers(0, _SPAN_SECONDS, records)
    ids = np.char.add("r", np.arange(records).astype(str))
    frame = pl.DataFrame({"record_id": ids, "person": owner, "seconds": first_seen}).with_columns(
        source=pl.lit("shop"),
        profile_id=pl.format("p_{}", "person"),
        first_seen=pl.lit(_START) + pl.duration(seconds="seconds"),
    )
    # A star per person from their first record; a link is known once both records have appeared,
    # plus a delay (a later login, an email typed later).
    heads = frame.group_by("person").agg(
        pl.col("record_id").first().alias("head"), pl.col("first_seen").first().alias("head_seen")
    )
    links = frame.join(heads, on="person").filter(pl.col("record_id") != pl.col("head"))
    delays = rng.integers(0, 120 * 86400, links.height)
    links = links.select(
        pl.lit("shop").alias("source_l"),
        pl.col("head").alias("record_id_l"),
        pl.lit("shop").alias("source_r"),
        pl.col("record_id").alias("record_id_r"),
        (pl.max_horizontal("first_seen", "head_seen") + pl.duration(seconds=pl.Series(delays))).alias(
            "evidence_at"
        ),
    )
    con.execute("CREATE SCHEMA IF NOT EXISTS identity")
    for name, table in (
        ("record_xref", frame.select("source", "record_id", "profile_id")),
        ("person_records", frame.select("source", "record_id", "first_seen")),
        ("links", links),
    ):
        con.register("_bench_rows", table.to_arrow())
        con.execute(f"CREATE OR REPLACE TABLE identity.{name} AS SELECT * FROM _bench_rows")
        con.unregister("_bench_rows")
    return links.height


def all_components(con: duckdb.DuckDBPyConnection, cutoffs: list[datetime]) -> int:
    """The plain approach: components of the whole graph at every cut-off. Returns the parts found."""
    nodes = con.sql("SELECT source, record_id FROM identity.record_xref").pl().with_row_index("node")
    links = con.sql(
        "SELECT source_l, record_id_l, source_r, record_id_r, evidence_at FROM identity.links"
    ).pl()
    edges = links.join(
        nodes.rename({"source": "source_l", "record_id": "record_id_l", "node": "a"}),
        on=["source_l", "record_id_l"],
    ).join(
        nodes.rename({"source": "source_r", "record_id": "record_id_r", "node": "b"}),
        on=["source_r", "record_id_r"],
    )
    a, b, n = edges["a"].to_numpy(), edges["b"].to_numpy(), nodes.height
    total = 0
    for cutoff in cutoffs:
        known = (edges["evidence_at"].is_null() | (edges["evidence_at"] < cutoff)).to_numpy()
        graph = coo_matrix((np.ones(int(known.sum()), dtype=np.int8), (a[known], b[known])), shape=(n, n))
        total += connected_components(graph, directed=False)[0]
    return total


def run_cutoffs(con: duckdb.DuckDBPyConnection) -> list[datetime]:
    """A model run's cut-offs on this warehouse: 12 monthly training cut-offs and the holdout."""
    as_of = (
        default_as_of(con)
        if con.sql("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'staging'").fetchall()[0][0]
        else None
    )
    if as_of is None:
        as_of = con.sql("SELECT max(evidence_at) FROM identity.links").fetchall()[0][0]
    history = con.sql("SELECT min(evidence_at) FROM identity.links").fetchall()[0][0]
    return [
        *training_cutoffs(as_of, HORIZON_DAYS, history_start=history),
        holdout_cutoff(as_of, HORIZON_DAYS),
    ]


def measure(con: duckdb.DuckDBPyConnection, rounds: int) -> dict:
    """Median seconds of both approaches over alternating rounds on one warehouse."""
    cutoffs = run_cutoffs(con)
    plain, ours, rows = [], [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        all_components(con, cutoffs)
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        rows = as_of_keys(con, cutoffs).height
        ours.append(time.perf_counter() - started)
    counts = con.sql(
        "SELECT (SELECT count(*) FROM identity.record_xref), (SELECT count(*) FROM identity.links), "
        "(SELECT count(*) FROM identity.links WHERE evidence_at >= ?)",
        params=[min(cutoffs)],
    ).fetchall()[0]
    return {
        "records": counts[0],
        "links": counts[1],
        "late_links": counts[2],
        "cutoffs": len(cutoffs),
        "override_rows": rows,
        "plain_seconds": round(statistics.median(plain), 2),
        "ours_seconds": round(statistics.median(ours), 2),
        "ours_range": (round(min(ours), 2), round(max(ours), 2)),
        "ratio": round(statistics.median(p / o for p, o in zip(plain, ours, strict=True)), 1),
    }


def run(records: int = 1_000_000, rounds: int = 5, demo: Path | None = None) -> dict:
    """Both measurements: generated data, and the demo warehouse when given."""
    con = connect(":memory:")
    generate(con, records)
    result = {"generated": measure(con, rounds), "rounds": rounds}
    con.close()
    if demo is not None:
        with duckdb.connect(str(demo), read_only=True) as warehouse:
            result["demo"] = measure(warehouse, rounds)
    return result


def demo_warehouse() -> Path | None:
    """The warehouse `make run` built (`$KINDRED_HOME/warehouse.duckdb`), if it has resolved identity."""
    path = warehouse_path()
    if not path.exists():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        found = con.sql(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = 'identity' AND table_name = 'links' AND column_name = 'evidence_at'"
        ).fetchall()[0][0]
    return path if found else None


def _row(name: str, r: dict) -> str:
    return (
        f"| {name} | {r['records']:,} | {r['links']:,} ({r['late_links']:,}) | {r['cutoffs']} | {r['plain_seconds']} | "
        f"**{r['ours_seconds']}** ({r['ours_range'][0]}-{r['ours_range'][1]}) | {r['ratio']}x | {r['override_rows']:,} |"
    )


def section(r: dict) -> str:
    """The BENCHMARKS.md section."""
    rows = [_row("generated (0.7 people per record, evidence over two years)", r["generated"])]
    if "demo" in r:
        rows.append(_row("demo (`make run`)", r["demo"]))
    return "\n".join(
        [
            "Who was who at each of a run's cut-offs (12 monthly training cut-offs and the holdout, horizon "
            f"{HORIZON_DAYS} days): `feature_store.identity_as_of.as_of_keys` next to connected components of the "
            f"whole link graph at every cut-off (links already in memory, no keys made: a floor for that approach), "
            f"alternating on one connection, medians of {r['rounds']} rounds (range in brackets). A run asks for "
            "it once per population, label and feature-service query; at a run's own as_of (scoring) only "
            "links made after it count, so scoring pays next to nothing.",
            "",
            "| data | records | links (made after the earliest cut-off) | cut-offs | all components (s) | `as_of_keys` (s) | components / `as_of_keys` | record-cut-offs in parts |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "`as_of_keys` works only on the profiles with a link made on or after the earliest cut-off (in "
            "brackets under links), so it costs least where identity settled long ago; the generated data, with "
            "links made all through the two years, is the harder case. "
            "`.venv/bin/python -m benchmarks.identity_as_of --demo .kindred/warehouse.duckdb` after `make run`.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--demo", type=Path, default=None, help="a warehouse built by `make run`")
    parser.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    result = run(args.records, args.rounds, args.demo)
    print(section(result))
    if args.write:
        write_section(SECTION, section(result))


if __name__ == "__main__":
    main()
