"""Survivorship at a million records: the rule chains and provenance next to most-recent-only.

A generated `staging.people` of 1,000,000 records of 700,000 people (300,000 extra records of
the same people in three sources, with changed emails and job titles, last-name typos, moves
that leave the postcode out, placeholders and invalid values) and its true clusters as
`identity.record_xref` are written to one DuckDB file. Then, on that one connection, in
alternating rounds:

- most recent only: the golden-record query Kindred ran before survivorship rules (kept here as
  it was): every attribute the newest non-empty value, email and phone the newest valid one;
- rules: `golden_records` with the default chains (most frequent for names and dates of birth,
  most complete then most recent for the address, ...), invalid and placeholder values left out,
  and `profiles.attribute_provenance` built too.

Both get the same normalised contacts (collected once, outside the timing) and return polars
frames. The figures are medians over the rounds and the median of the per-round ratios.

Run: `flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.survivorship_scale [--records N]
[--rounds 7] [--write]` (`--write` puts the section into BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl

from benchmarks.report import write_section
from identity_resolution.records import collect_contact_values, person_rows_sql
from identity_resolution.survivorship import golden_records
from warehouse.canonical import PERSON_ATTRIBUTES
from warehouse.connection import connect

log = logging.getLogger("benchmarks.survivorship_scale")

SECTION = "Survivorship at 1M records"
_FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
          "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Chris", "Karen"]  # fmt: skip
_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
         "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin"]  # fmt: skip
_CITIES = [
    "Boston",
    "Chicago",
    "Denver",
    "Austin",
    "Seattle",
    "Portland",
    "Atlanta",
    "Miami",
    "Phoenix",
    "Dallas",
]
_TITLES = ["Analyst", "Engineer", "Manager", "Director", "Buyer", "Designer", "Consultant", "Nurse"]


def generate(con: duckdb.DuckDBPyConnection, records: int, seed: int = 7) -> tuple[int, int]:
    """Write `staging.people` and `identity.record_xref` (the true clusters).

    Args:
        con: an empty warehouse.
        records: how many records; 70% are people's first records, 30% more records of them.
        seed: fixes every random choice.

    Returns:
        (records, people).
    """
    people = int(records * 0.7)
    con.execute("SELECT setseed(?)", [seed / 100])
    con.execute(
        """
        CREATE OR REPLACE TABLE staging.people AS
        WITH base AS (
            SELECT i AS person, 0 AS copy FROM range($people) t(i)
            UNION ALL
            SELECT (hash(i, $seed) % $people)::BIGINT, 1 + i FROM range($records - $people) t(i)
        ),
        drawn AS (
            SELECT *, random() AS r1, random() AS r2, random() AS r3, random() AS r4,
                   (hash(person, $seed) % 1000000007)::BIGINT AS h
            FROM base
        )
        SELECT
            ['crm', 'shop', 'web'][1 + copy % 3] AS source,
            'R' || lpad(row_number() OVER (ORDER BY person, copy)::VARCHAR, 8, '0') AS record_id,
            $first[1 + h % 20] AS first_name,
            CASE WHEN copy > 0 AND r1 < 0.05 THEN $last[1 + (h // 20) % 20] || 'x'
                 WHEN r1 > 0.98 THEN 'N/A' ELSE $last[1 + (h // 20) % 20] END AS last_name,
            CASE WHEN copy > 0 AND r2 < 0.2 THEN 'p' || person || '.new@example.org'
                 WHEN r2 > 0.99 THEN 'test@example.com'
                 WHEN r2 > 0.97 THEN 'p' || person || '@' ELSE 'p' || person || '@example.com' END AS email,
            CASE WHEN r3 < 0.6 THEN '(212) 55' || lpad((person % 100000)::VARCHAR, 5, '0')
                 WHEN r3 > 0.98 THEN '000-000-0000' END AS phone,
            CASE WHEN r4 > 0.97 THEN '2999-01-01'
                 WHEN r4 > 0.5 THEN strftime(DATE '1940-01-01' + (person % 25000)::INTEGER, '%m/%d/%Y')
                 ELSE strftime(DATE '1940-01-01' + (person % 25000)::INTEGER, '%Y-%m-%d') END AS date_of_birth,
            -- One extra record in ten is a move: a new street and city, the postcode not given.
            CASE WHEN copy > 0 AND r1 BETWEEN 0.5 AND 0.6 THEN (1 + person % 97)::VARCHAR || ' Oak Ave'
                 ELSE (1 + person % 999)::VARCHAR || ' Main St' END AS address_line1,
            CASE WHEN copy > 0 AND r1 BETWEEN 0.5 AND 0.6 THEN $cities[1 + (h // 400 + 1) % 10]
                 WHEN r1 BETWEEN 0.4 AND 0.5 THEN NULL ELSE $cities[1 + (h // 400) % 10] END AS city,
            CASE WHEN copy > 0 AND r1 BETWEEN 0.5 AND 0.6 THEN NULL
                 ELSE lpad((h % 99999)::VARCHAR, 5, '0') END AS postcode,
            $titles[1 + ((h // 4000) + copy) % 8] AS job_title,
            'people' AS id_namespace,
            TIMESTAMP '2020-01-01' + to_seconds((random() * 5 * 365 * 86400)::BIGINT) AS updated_at,
            'people.csv' AS _file,
            row_number() OVER (ORDER BY person, copy) AS _row_number,
            person
        FROM drawn
        """,
        {
            "people": people,
            "records": records,
            "seed": seed,
            "first": _FIRST,
            "last": _LAST,
            "cities": _CITIES,
            "titles": _TITLES,
        },
    )
    con.execute(
        "CREATE OR REPLACE TABLE identity.record_xref AS "
        "SELECT source, record_id, 'P' || lpad(person::VARCHAR, 8, '0') AS profile_id FROM staging.people"
    )
    con.execute("ALTER TABLE staging.people DROP COLUMN person")
    return records, people


def most_recent_only(
    con: duckdb.DuckDBPyConnection, xref: pl.DataFrame, contacts: pl.DataFrame, updated_at: dt.datetime
) -> pl.DataFrame:
    """The golden records exactly as Kindred built them before survivorship rules (the baseline):
    every attribute the newest non-empty value of any staging row, email and phone the newest
    valid one, with the same record counts, sources and first/last seen, in profile id order."""
    attributes = tuple(a for a in PERSON_ATTRIBUTES if a not in ("email", "phone", "national_id"))
    latest = ",\n".join(
        f"arg_max(r.{a}, r._order) FILTER (WHERE r.{a} IS NOT NULL) AS {a}" for a in attributes
    )
    con.register("_bench_xref", xref.select("source", "record_id", "profile_id").to_arrow())
    con.register("_bench_contacts", contacts.to_arrow())
    try:
        return con.sql(
            f"""
            WITH rows AS ({person_rows_sql(con)}),
            attributes AS (
                SELECT x.profile_id, {latest}
                FROM rows r JOIN _bench_xref x USING (source, record_id)
                GROUP BY x.profile_id
            ),
            seen AS (
                SELECT x.profile_id, count(*) AS n_records,
                       count(DISTINCT x.source) AS n_sources, list_sort(list(DISTINCT x.source)) AS sources,
                       min(r._first) AS first_seen, max(r._last) AS last_seen
                FROM _bench_xref x LEFT JOIN (
                    SELECT source, record_id, min(_first) AS _first, max(_last) AS _last FROM rows GROUP BY ALL
                ) r USING (source, record_id)
                GROUP BY x.profile_id
            ),
            contact AS (
                SELECT x.profile_id,
                       arg_max(c.value, {{'t': coalesce(c.last_seen, TIMESTAMP '0001-01-01'), 's': c.source, 'r': c.record_id}}) FILTER (WHERE c.kind = 'email') AS email,
                       arg_max(c.value, {{'t': coalesce(c.last_seen, TIMESTAMP '0001-01-01'), 's': c.source, 'r': c.record_id}}) FILTER (WHERE c.kind = 'phone') AS phone
                FROM _bench_contacts c JOIN _bench_xref x USING (source, record_id)
                GROUP BY x.profile_id
            )
            SELECT s.profile_id, a.* EXCLUDE (profile_id), c.email, c.phone,
                   s.n_records, s.n_sources, s.sources, s.first_seen, s.last_seen,
                   ?::TIMESTAMP AS updated_at
            FROM seen s
            LEFT JOIN attributes a USING (profile_id)
            LEFT JOIN contact c USING (profile_id)
            ORDER BY s.profile_id
            """,
            params=[updated_at],
        ).pl()
    finally:
        con.unregister("_bench_xref")
        con.unregister("_bench_contacts")


def _mixed_addresses(con: duckdb.DuckDBPyConnection, profiles: pl.DataFrame) -> int:
    """Golden addresses (street, city, postcode) that no single record of the profile had."""
    con.register(
        "_bench_golden", profiles.select("profile_id", "address_line1", "city", "postcode").to_arrow()
    )
    try:
        return con.sql("""
            SELECT count(*) FROM _bench_golden g WHERE NOT EXISTS (
                SELECT 1 FROM staging.people p JOIN identity.record_xref x USING (source, record_id)
                WHERE x.profile_id = g.profile_id AND p.address_line1 IS NOT DISTINCT FROM g.address_line1
                  AND p.city IS NOT DISTINCT FROM g.city AND p.postcode IS NOT DISTINCT FROM g.postcode)
        """).fetchall()[0][0]
    finally:
        con.unregister("_bench_golden")


def run(records: int = 1_000_000, rounds: int = 7, workdir: Path | None = None) -> dict:
    """Generate the data, then time both survivorship flavours side by side.

    Args:
        records: generated records.
        rounds: alternating measurements of each (figures are medians).
        workdir: where the DuckDB file goes (a temporary folder when None).

    Returns:
        The figures.
    """
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        con = connect(Path(folder) / "bench.duckdb")
        started = time.perf_counter()
        generate(con, records)
        xref = con.sql("SELECT source, record_id, profile_id FROM identity.record_xref").pl()
        contacts = collect_contact_values(con)
        prepared = time.perf_counter() - started
        updated_at = dt.datetime(2025, 6, 1)
        baseline, ours = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            legacy = most_recent_only(con, xref, contacts, updated_at)
            baseline.append(time.perf_counter() - t)
            t = time.perf_counter()
            golden = golden_records(con, xref, contacts, updated_at=updated_at)
            ours.append(time.perf_counter() - t)
            log.info("round: most recent only %.1f s, rules %.1f s", baseline[-1], ours[-1])
        profiles = golden.profiles
        ratios = [o / b for o, b in zip(ours, baseline, strict=True)]
        invalid_dob = legacy.filter(pl.col("date_of_birth") == "2999-01-01").height
        result = {
            "records": records,
            "profiles": profiles.height,
            "provenance_rows": golden.provenance.height,
            "prepare_seconds": round(prepared, 1),
            "baseline_seconds": round(statistics.median(baseline), 1),
            "rules_seconds": round(statistics.median(ours), 1),
            "ratio": round(statistics.median(ratios), 2),
            "ratio_range": (round(min(ratios), 2), round(max(ratios), 2)),
            "baseline_range": (round(min(baseline), 1), round(max(baseline), 1)),
            "rules_range": (round(min(ours), 1), round(max(ours), 1)),
            "rounds": rounds,
            "contested": _contested(golden.provenance),
            "baseline_mixed_addresses": _mixed_addresses(con, legacy),
            "rules_mixed_addresses": _mixed_addresses(con, profiles),
            "baseline_invalid_dob": invalid_dob,
            "rules_invalid_dob": profiles.filter(pl.col("date_of_birth") == "2999-01-01").height,
            "baseline_placeholder_last_name": legacy.filter(pl.col("last_name") == "N/A").height,
            "rules_placeholder_last_name": profiles.filter(pl.col("last_name") == "N/A").height,
            "baseline_typo_last_name": legacy.filter(pl.col("last_name").str.ends_with("x")).height,
            "rules_typo_last_name": profiles.filter(pl.col("last_name").str.ends_with("x")).height,
        }
        con.close()
    return result


def _contested(provenance: pl.DataFrame) -> int:
    """Golden-record values chosen among different values (not `only_value`)."""
    return provenance.filter(pl.col("rule") != "only_value").height


def section(r: dict) -> str:
    """The BENCHMARKS.md text of one run."""
    return "\n".join(
        [
            f"Data: generated `staging.people`, {r['records']:,} records of {r['profiles']:,} people (30% of the records "
            "are extra records of the same people) in three sources, with changed emails and job titles, last-name "
            "typos, moves without a postcode, placeholders and invalid emails, phones and dates of birth; the true "
            "clusters as `identity.record_xref`. Both sides run on one DuckDB connection in alternating rounds "
            f"({r['rounds']}) and return polars frames; medians (range in brackets). Generating the data and "
            f"normalising contacts once: {r['prepare_seconds']} s (not timed below). "
            "`.venv/bin/python -m benchmarks.survivorship_scale`.",
            "",
            "| golden records | seconds | mixed addresses | future birth dates | `N/A` last names | typo last names |",
            "|---|---|---|---|---|---|",
            f"| most recent only (before: the query Kindred ran) | {r['baseline_seconds']} "
            f"({r['baseline_range'][0]}-{r['baseline_range'][1]}) | {r['baseline_mixed_addresses']:,} | "
            f"{r['baseline_invalid_dob']:,} | {r['baseline_placeholder_last_name']:,} | {r['baseline_typo_last_name']:,} |",
            f"| rule chains + `profiles.attribute_provenance` ({r['provenance_rows']:,} rows) | {r['rules_seconds']} "
            f"({r['rules_range'][0]}-{r['rules_range'][1]}) | {r['rules_mixed_addresses']:,} | {r['rules_invalid_dob']:,} | "
            f"{r['rules_placeholder_last_name']:,} | {r['rules_typo_last_name']:,} |",
            "",
            f"Survivorship rules cost **{r['ratio']}x** the time of most-recent-only (median of the per-round ratios; "
            f"{r['ratio_range'][0]}x to {r['ratio_range'][1]}x across rounds on this shared machine). "
            f"{r['contested']:,} of the {r['provenance_rows']:,} surviving values were chosen among different values "
            "by a rule; the rest had one value (one record, or records that agree). A mixed address is a golden street, "
            "city and postcode that no single record of the person had.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    result = run(args.records, args.rounds)
    print(section(result))
    if args.write:
        write_section(SECTION, section(result))


if __name__ == "__main__":
    main()
