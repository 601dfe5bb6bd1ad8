"""CRM sync to a local PostgreSQL: 1M changed rows, and an unchanged run, next to a plain COPY.

Synthetic `crm` tables are generated in a DuckDB warehouse: `crm.record_scores` (with its change
feed) and `crm.grounding` (JSON documents of about the demo's size, ~2.5 KB) with N CRM records
each. A PostgreSQL server is started from Debian's binaries in a temporary folder with its default
durability settings (fsync on). Each round, on a fresh database:

- baseline: a plain `COPY` of the same rows (same columns and types) into empty tables, the
  cheapest way to move them into PostgreSQL;
- first sync: every row inserted;
- changed run: every record's scores change (the feed logs N updates) and every document says
  something new; the sync updates N rows in each table;
- unchanged run: the pipeline ran again, nothing changed (the documents were rebuilt with a new
  `generated_at` only); the sync finds nothing to send.

Figures are medians over the rounds, each sync timed as the `sync_crm` call (connecting to
PostgreSQL included, Python start-up not); the unchanged run is also timed as the whole
`kindred crm sync` command.

Run: `flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.crm_sync [--rows N] [--rounds 3] [--write]`.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import psycopg
from psycopg import sql

from activation.crm_sync import GROUNDING, RECORD_SCORES, MirrorTable, sync_crm
from benchmarks.report import BENCHMARKS_MD, machine, write_section
from tests.postgres_server import PostgresServer
from warehouse.connection import connect

log = logging.getLogger("benchmarks.crm_sync")

SECTION = "CRM sync to PostgreSQL"
ROLE = "kindred_sync"
PASSWORD = "bench-only-password"
FIRST_BUILD = datetime(2026, 6, 30, 2, 0)

_REASONS = [
    "Opened 7 emails in 90 days (+)",
    "Last order 12 days ago (-)",
    "Placed 3 orders in 365 days (+)",
    "Spent 1,234.50 in 365 days (-)",
    "Viewed 12 pages in 30 days (+)",
    "No order on record (+)",
]


def build_warehouse(path: Path, rows: int) -> None:
    """Write `rows` CRM records' `crm.record_scores`, its feed and `crm.grounding` as a first build would."""
    with connect(path) as con:
        con.execute(
            f"CREATE TABLE crm.record_scores AS {_record_scores_sql(version=1)}",
            [rows, FIRST_BUILD, _REASONS],
        )
        con.execute(
            "CREATE TABLE crm.record_scores_changes AS SELECT *, 'insert' AS change, updated_at AS changed_at "
            "FROM crm.record_scores"
        )
        con.execute(f"CREATE TABLE crm.grounding AS {_grounding_sql()}", [1, FIRST_BUILD, rows])


def _record_scores_sql(version: int) -> str:
    """Rows shaped like crm.record_scores': $1 rows, $2 build time, $3 reason texts.

    Values are deterministic functions of (record, version): version 2 changes every score.
    """
    return f"""
        SELECT
            CASE WHEN i % 3 = 0 THEN 'Lead' ELSE 'Contact' END AS crm_object,
            printf('00Q%015d', i) AS crm_record_id,
            'p_' || substr(md5(i::VARCHAR), 1, 16) AS profile_id,
            CASE WHEN i % 3 = 0 THEN (hash(i, {version}) % 10000) / 10000.0 END AS lead_score,
            CASE WHEN i % 3 = 0 THEN CAST(1 + hash(i, {version}) % 99 AS INTEGER) END AS lead_score_1_99,
            CASE WHEN i % 3 = 0 THEN array_to_string(list_slice($3::VARCHAR[], 1 + i % 4, 3 + i % 4), '; ') END
                AS lead_score_reasons,
            (hash(i, {version}, 'churn') % 10000) / 10000.0 AS churn_risk,
            CAST(1 + hash(i, {version}, 'churn') % 99 AS INTEGER) AS churn_risk_1_99,
            array_to_string(list_slice($3::VARCHAR[], 1 + (i + 2) % 4, 3 + (i + 2) % 4), '; ') AS churn_risk_reasons,
            'Category ' || (hash(i, {version}, 'offer') % 20) AS best_offer,
            (hash(i, {version}, 'offer') % 1000) / 1000.0 AS best_offer_score,
            '{version}' AS lead_score_model_version,
            '{version}' AS churn_risk_model_version,
            '{version}' AS next_best_offer_model_version,
            $2::TIMESTAMP AS updated_at,
            CASE WHEN i % 3 = 0 THEN 'crm_leads' ELSE 'crm_contacts' END AS source
        FROM range($1::BIGINT) AS t(i)
    """


def _grounding_sql() -> str:
    """Documents shaped like crm.grounding's (~2.5 KB): $1 version of the content, $2 build time, $3 rows."""
    document = """struct_pack(
        record := struct_pack(crm_object, source, status := 'Working', lead_source := 'Webinar',
                              converted := false, converted_at := NULL::VARCHAR, created_at := '2024-01-10'),
        profile := struct_pack(first_name := 'Name' || (i % 997), last_name := chr(CAST(65 + i % 26 AS INTEGER)) || '.',
                               emails := ['j***@example.com'], phones := ['***-***-' || lpad((i % 10000)::VARCHAR, 4, '0')],
                               city := 'City ' || (i % 500), country := 'United States', company := 'Company ' || (i % 5000),
                               job_title := 'Buyer', customer_since := '2023-03-04', first_seen := '2022-11-05',
                               last_seen := '2024-06-29', n_sources := 1 + i % 5),
        scores := struct_pack(
            lead_score := struct_pack(score := (hash(i, $1) % 10000) / 10000.0, score_1_99 := 1 + hash(i, $1) % 99,
                                      reasons := ['Opened 7 emails in 90 days (+)', 'Last order 12 days ago (-)'],
                                      model_version := $1::VARCHAR, as_of := '2024-06-30'),
            churn_risk := struct_pack(score := (hash(i, $1, 'c') % 10000) / 10000.0, score_1_99 := 1 + hash(i, $1, 'c') % 99,
                                      reasons := ['Placed 3 orders in 365 days (+)', 'Spent 1,234.50 in 365 days (-)'],
                                      model_version := $1::VARCHAR, as_of := '2024-06-30')),
        next_best_offers := struct_pack(model_version := $1::VARCHAR, offers := list_transform(range(3),
            lambda r: struct_pack(rank := r + 1, offer := 'Category ' || ((i + r) % 20), score := round(0.9 - r * 0.2, 4)))),
        recent_activity := struct_pack(
            orders := list_transform(range(4), lambda r: struct_pack(ordered_at := '2024-06-' || lpad((28 - r * 6)::VARCHAR, 2, '0') || 'T15:30:00Z',
                order_id := 'R' || lpad((i * 4 + r)::VARCHAR, 9, '0'), category := 'Category ' || ((i + r) % 20),
                amount := round(20 + (hash(i, r) % 20000) / 100.0, 2), quantity := 1.0 + r)),
            cases := list_transform(range(i % 2), lambda r: struct_pack(opened_at := '2024-06-25T10:00:00Z', closed_at := NULL::VARCHAR,
                case_id := 'K' || i, status := 'Open', open := true, subject := 'Question about my order',
                description := 'The customer asks when the parcel arrives and whether the size can still be changed.')),
            events := list_transform(range(10), lambda r: struct_pack(at := '2024-06-' || lpad((29 - r * 2)::VARCHAR, 2, '0') || 'T09:00:00Z',
                channel := 'email', type := 'track', event := CASE WHEN r % 3 = 0 THEN 'Email Opened' ELSE 'Email Delivered' END))),
        counts := struct_pack(orders := 4 + i % 9, total_spent := round((hash(i) % 500000) / 100.0, 2), cases := i % 2,
                              open_cases := i % 2, events := 10 + i % 40, events_last_30_days := i % 11)
    )"""
    return f"""
        SELECT
            CASE WHEN i % 3 = 0 THEN 'Lead' ELSE 'Contact' END AS crm_object,
            printf('00Q%015d', i) AS crm_record_id,
            'p_' || substr(md5(i::VARCHAR), 1, 16) AS profile_id,
            substr(body, 1, length(body) - 1) || ',"generated_at":"' || strftime($2::TIMESTAMP, '%Y-%m-%dT%H:%M:%SZ') || '"}}'
                AS context,
            true AS masked,
            $2::TIMESTAMP AS generated_at,
            CASE WHEN i % 3 = 0 THEN 'crm_leads' ELSE 'crm_contacts' END AS source,
            md5(body) AS content_hash
        FROM (
            SELECT i, CASE WHEN i % 3 = 0 THEN 'Lead' ELSE 'Contact' END AS crm_object,
                   CASE WHEN i % 3 = 0 THEN 'crm_leads' ELSE 'crm_contacts' END AS source
            FROM range($3::BIGINT) AS t(i)
        ) AS base, LATERAL (SELECT CAST(to_json({document}) AS VARCHAR) AS body)
    """


def change_everything(path: Path, rows: int, built_at: datetime) -> None:
    """The next run: every record's scores change (feed: N updates), every document says something new."""
    with connect(path) as con:
        con.execute(
            f"CREATE OR REPLACE TABLE crm.record_scores AS {_record_scores_sql(version=2)}",
            [rows, built_at, _REASONS],
        )
        con.execute(
            "INSERT INTO crm.record_scores_changes SELECT *, 'update' AS change, updated_at AS changed_at FROM crm.record_scores"
        )
        con.execute(f"CREATE OR REPLACE TABLE crm.grounding AS {_grounding_sql()}", [2, built_at, rows])


def restamp(path: Path, rows: int, built_at: datetime) -> None:
    """The run after: nothing changed, but the documents were rebuilt with a new generated_at."""
    with connect(path) as con:
        con.execute(f"CREATE OR REPLACE TABLE crm.grounding AS {_grounding_sql()}", [2, built_at, rows])


def plain_copy(url: str, warehouse: Path, table: MirrorTable) -> float:
    """The baseline: COPY the table's rows into an empty PostgreSQL table with the same columns."""
    columns = list(table.columns)
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as pg, duckdb.connect(str(warehouse), read_only=True) as con:
        # The same compression as the sync's session, so the ratio shows the sync's own work.
        pg.execute("SET default_toast_compression = 'lz4'")
        name = sql.Identifier("baseline", table.name)
        pg.execute("CREATE SCHEMA IF NOT EXISTS baseline")
        pg.execute(
            sql.SQL("CREATE TABLE {} ({})").format(
                name,
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(k)) for c, k in table.columns.items()
                ),
            )
        )
        select = ", ".join(f'"{c}"' for c in columns)
        reader = con.sql(f"SELECT {select} FROM {table.warehouse_table}").to_arrow_reader(20_000)
        statement = sql.SQL("COPY {} FROM STDIN (FORMAT csv)").format(name)
        with pg.cursor() as cursor, cursor.copy(statement) as copy:
            for batch in reader:
                buffer = io.BytesIO()
                pl.from_arrow(batch).write_csv(buffer, include_header=False)
                copy.write(buffer.getvalue())
    return time.perf_counter() - started


def _timed_sync(url: str, warehouse: Path) -> dict:
    started = time.perf_counter()
    with connect(warehouse) as con:
        result = sync_crm(con, url)
    total = time.perf_counter() - started
    per_table = {t.mirror_table: t for t in result.tables}
    return {
        "seconds": total,
        **{f"{name}_seconds": t.seconds for name, t in per_table.items()},
        "counts": {name: (t.method, t.inserted, t.updated, t.deleted) for name, t in per_table.items()},
    }


def _command_seconds(url: str, home: Path) -> float:
    env = {**os.environ, "KINDRED_HOME": str(home), "PGPASSWORD": PASSWORD}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "crm", "sync", "--target", url],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0 or done.stdout.count("unchanged") != 2:
        raise RuntimeError(f"kindred crm sync did not find the mirror unchanged: {done.stdout}{done.stderr}")
    return seconds


def run(rows: int = 1_000_000, rounds: int = 3, workdir: Path | None = None) -> dict:
    """Measure syncs of `rows` CRM records per table next to a plain COPY, on a local PostgreSQL.

    Args:
        rows: CRM records per table.
        rounds: measurements of each (figures are medians).
        workdir: where the warehouses are written (default: a temporary folder).

    Returns:
        The figures per step: seconds (medians), rows, ratios to the baseline, and the counts seen.
    """
    os.environ["PGPASSWORD"] = PASSWORD
    server = PostgresServer().start()
    measured: list[dict] = []
    try:
        for round_number in range(rounds):
            with tempfile.TemporaryDirectory(dir=workdir) as folder:
                home = Path(folder)
                warehouse = home / "warehouse.duckdb"
                started = time.perf_counter()
                build_warehouse(warehouse, rows)
                log.info(
                    "round %d: warehouse of %d records in %.0f s",
                    round_number + 1,
                    rows,
                    time.perf_counter() - started,
                )
                database = server.create_database()
                server.create_role(f"{ROLE}_{round_number}", PASSWORD, database=database)
                url = server.url(f"{ROLE}_{round_number}", database)
                figures = {
                    "copy_record_scores": plain_copy(url, warehouse, RECORD_SCORES),
                    "copy_grounding": plain_copy(url, warehouse, GROUNDING),
                }
                figures["first"] = _timed_sync(url, warehouse)
                change_everything(warehouse, rows, FIRST_BUILD + timedelta(days=1))
                figures["changed"] = _timed_sync(url, warehouse)
                restamp(warehouse, rows, FIRST_BUILD + timedelta(days=2))
                figures["unchanged"] = _timed_sync(url, warehouse)
                figures["unchanged_command"] = _command_seconds(url, home)
                figures["mirror_mb"] = (
                    server.admin(database)
                    .execute(
                        "SELECT pg_total_relation_size('kindred.record_scores') + pg_total_relation_size('kindred.grounding')"
                    )
                    .fetchone()[0]
                    / 2**20
                )
                log.info("round %d: %s", round_number + 1, figures)
                measured.append(figures)
    finally:
        server.stop()
    return _summary(measured, rows)


def _summary(measured: list[dict], rows: int) -> dict:
    def median(pick) -> float:
        return round(statistics.median(pick(m) for m in measured), 2)

    baseline = lambda m: m["copy_record_scores"] + m["copy_grounding"]  # noqa: E731
    return {
        "rows": rows,
        "rounds": len(measured),
        "copy_record_scores": median(lambda m: m["copy_record_scores"]),
        "copy_grounding": median(lambda m: m["copy_grounding"]),
        "copy_both": median(baseline),
        **{
            f"{step}_{part}": median(
                lambda m, s=step, p=part: m[s][f"{p}_seconds"] if p != "total" else m[s]["seconds"]
            )
            for step in ("first", "changed", "unchanged")
            for part in ("total", "record_scores", "grounding")
        },
        "changed_ratio": median(lambda m: m["changed"]["seconds"] / baseline(m)),
        "first_ratio": median(lambda m: m["first"]["seconds"] / baseline(m)),
        "unchanged_command": median(lambda m: m["unchanged_command"]),
        "mirror_mb": round(statistics.median(m["mirror_mb"] for m in measured)),
        "counts": {step: measured[-1][step]["counts"] for step in ("first", "changed", "unchanged")},
        "machine": machine(),
    }


def section(result: dict) -> str:
    """The "CRM sync to PostgreSQL" section of BENCHMARKS.md (without heading and machine line)."""
    n = result["rows"]
    rows = [
        (
            "plain `COPY` into empty tables (baseline)",
            result["copy_record_scores"],
            result["copy_grounding"],
            result["copy_both"],
            "",
        ),
        (
            "first sync (every row inserted)",
            result["first_record_scores"],
            result["first_grounding"],
            result["first_total"],
            f"{result['first_ratio']:.1f}x",
        ),
        (
            "**changed run (every row updated)**",
            result["changed_record_scores"],
            result["changed_grounding"],
            result["changed_total"],
            f"{result['changed_ratio']:.1f}x",
        ),
        (
            "**unchanged run**",
            result["unchanged_record_scores"],
            result["unchanged_grounding"],
            result["unchanged_total"],
            "",
        ),
        ("unchanged run, whole `kindred crm sync` command", "", "", result["unchanged_command"], ""),
    ]
    lines = [
        f"Data: {n:,} synthetic CRM records per table: `crm.record_scores` (16 columns, with its change feed) and "
        f"`crm.grounding` (JSON documents of ~2.5 KB, as on the demo), {2 * n:,} rows in all; "
        f"local PostgreSQL 15 with its default settings (fsync on), mirror {result['mirror_mb']:,} MB on disk. "
        f"Median of {result['rounds']} round(s), each on a fresh database "
        "(`flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.crm_sync --rounds 3 --write`).",
        "",
        "| step | record_scores (s) | grounding (s) | both tables (s) | vs plain COPY |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {name} | {a} | {b} | {c} | {ratio} |" for name, a, b, c, ratio in rows]
    changed = result["changed_total"]
    unchanged = result["unchanged_total"]
    lines += [
        "",
        f"A sync of {2 * n:,} changed rows ({n:,} per table) takes **{changed:.1f} s** "
        f"({'meeting' if changed <= 60 else 'missing'} the 60 s target), {result['changed_ratio']:.1f}x a plain COPY of the "
        "same rows into empty tables; an unchanged run takes "
        f"**{unchanged:.2f} s** ({'meeting' if unchanged <= 2 else 'missing'} the 2 s target). "
        "The sync does more than the COPY: it reads the changed keys from the feed (or compares digests), "
        "stages the rows by COPY into temporary tables, then upserts them by key with the row comparison that keeps "
        "unchanged rows untouched, keeps ownership and digest columns, and commits it all in one transaction with the "
        "cursor; updating a row in PostgreSQL also writes a new row version and its index entry. "
        f"Counts seen in the last round: {result['counts']}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help=f"write the figures into {BENCHMARKS_MD.name}")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("activation.crm_sync").setLevel(logging.INFO)
    result = run(rows=arguments.rows, rounds=arguments.rounds)
    text = section(result)
    print(text)
    if arguments.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
