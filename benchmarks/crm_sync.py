"""CRM sync to a local PostgreSQL: 1M changed rows, and an unchanged run, next to a plain COPY.

Synthetic `crm` tables are generated in DuckDB warehouses and synced to a PostgreSQL server started
from Debian's binaries in a temporary folder, with its default durability settings (fsync on).
Each round, on fresh databases:

- record scores: `crm.record_scores` with `--rows` CRM records (1M) and its change feed. Baseline:
  a plain `COPY` of the same rows (same columns and types) into an empty table. Then the first
  sync (every row inserted) and the changed run: every record's scores change, the feed logs one
  update per record, and the sync updates every row.
- grounding documents: `crm.grounding` with `--documents` documents shaped like the demo's
  (~2.6 KB of JSON each). Baseline, first sync and changed run (every document says something new)
  the same way.
- unchanged run: the record-score mirror of the first part plus `--rows` grounding documents
  (small ones: this path reads only keys and content hashes), the pipeline rebuilt them with a new
  `generated_at` and nothing else changed; the sync finds nothing to send. Timed as the `sync_crm`
  call and as the whole `kindred crm sync` command (Python start-up included).

Syncs are timed as the `sync_crm` call, connecting to PostgreSQL included. Figures are medians over
the rounds; ratios are each round's sync over its own baseline, then the median.

Run: `flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.crm_sync [--rows N] [--documents N] [--rounds 3] [--write]`.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import signal
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


def build_scores(path: Path, rows: int) -> None:
    """`crm.record_scores` of `rows` CRM records and its feed, as a first build writes them."""
    with connect(path) as con:
        con.execute(
            f"CREATE TABLE crm.record_scores AS {_record_scores_sql(version=1)}",
            [rows, FIRST_BUILD, _REASONS],
        )
        con.execute(
            "CREATE TABLE crm.record_scores_changes AS SELECT *, 'insert' AS change, updated_at AS changed_at "
            "FROM crm.record_scores"
        )


def change_scores(path: Path, rows: int, built_at: datetime) -> None:
    """The next build: every record's scores change; the feed logs one update per record."""
    with connect(path) as con:
        con.execute(
            f"CREATE OR REPLACE TABLE crm.record_scores AS {_record_scores_sql(version=2)}",
            [rows, built_at, _REASONS],
        )
        con.execute(
            "INSERT INTO crm.record_scores_changes SELECT *, 'update' AS change, updated_at AS changed_at FROM crm.record_scores"
        )


def build_documents(
    path: Path, documents: int, *, version: int, built_at: datetime, compact: bool = False
) -> None:
    """`crm.grounding` of `documents` records; another `version` changes what every document says."""
    with connect(path) as con:
        con.execute(
            f"CREATE OR REPLACE TABLE crm.grounding AS {_grounding_sql(compact)}",
            [version, built_at, documents],
        )


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


def _grounding_sql(compact: bool = False) -> str:
    """Documents shaped like crm.grounding's (~2.6 KB, or ~0.2 KB `compact`): $1 version, $2 build time, $3 rows."""
    small = """struct_pack(record := struct_pack(crm_object, source),
        scores := struct_pack(churn_risk := (hash(i, $1, 'c') % 10000) / 10000.0, model_version := $1::VARCHAR))"""
    document = (
        small
        if compact
        else """struct_pack(
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
    )
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


def _timed_sync(url: str, warehouse: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    with connect(warehouse) as con:
        result = sync_crm(con, url)
    seconds = time.perf_counter() - started
    return seconds, {t.mirror_table: (t.method, t.inserted, t.updated, t.deleted) for t in result.tables}


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


def _expect(counts: dict, table: str, expected: tuple) -> None:
    if counts.get(table) != expected:
        raise RuntimeError(f"{table}: expected {expected}, the sync reported {counts.get(table)}")


def _round(server: PostgresServer, home: Path, rows: int, documents: int, number: int) -> dict:
    def target() -> str:
        database = server.create_database()
        role = f"{ROLE}_{database}"
        server.create_role(role, PASSWORD, database=database)
        return server.url(role, database)

    figures: dict = {}
    # Record scores: 1M rows, first sync then every row changed through the feed.
    scores_home = home / "scores"
    scores_home.mkdir()
    warehouse = scores_home / "warehouse.duckdb"
    build_scores(warehouse, rows)
    scores_url = target()
    figures["scores_copy"] = plain_copy(target(), warehouse, RECORD_SCORES)
    figures["scores_first"], counts = _timed_sync(scores_url, warehouse)
    _expect(counts, "record_scores", ("compared with mirror", rows, 0, 0))
    change_scores(warehouse, rows, FIRST_BUILD + timedelta(days=1))
    figures["scores_changed"], counts = _timed_sync(scores_url, warehouse)
    _expect(counts, "record_scores", ("change feed", 0, rows, 0))

    # Grounding documents of the demo's size.
    documents_warehouse = home / "documents.duckdb"
    build_documents(documents_warehouse, documents, version=1, built_at=FIRST_BUILD)
    with connect(documents_warehouse) as con:
        figures["document_bytes"] = con.sql("SELECT avg(length(context)) FROM crm.grounding").fetchall()[0][0]
    documents_url = target()
    figures["documents_copy"] = plain_copy(target(), documents_warehouse, GROUNDING)
    figures["documents_first"], counts = _timed_sync(documents_url, documents_warehouse)
    _expect(counts, "grounding", ("compared with mirror", documents, 0, 0))
    build_documents(documents_warehouse, documents, version=2, built_at=FIRST_BUILD + timedelta(days=1))
    figures["documents_changed"], counts = _timed_sync(documents_url, documents_warehouse)
    _expect(counts, "grounding", ("compared with mirror", 0, documents, 0))

    # Unchanged run: both tables at `rows` records, the documents rebuilt with a new stamp only.
    build_documents(warehouse, rows, version=1, built_at=FIRST_BUILD, compact=True)
    _timed_sync(scores_url, warehouse)
    build_documents(warehouse, rows, version=1, built_at=FIRST_BUILD + timedelta(days=2), compact=True)
    figures["unchanged"], counts = _timed_sync(scores_url, warehouse)
    _expect(counts, "record_scores", ("unchanged", 0, 0, 0))
    _expect(counts, "grounding", ("unchanged", 0, 0, 0))
    figures["unchanged_command"] = _command_seconds(scores_url, scores_home)
    log.info("round %d: %s", number, {k: round(v, 2) for k, v in figures.items()})
    return figures


def run(
    rows: int = 1_000_000, documents: int = 100_000, rounds: int = 3, workdir: Path | None = None
) -> dict:
    """Measure CRM syncs next to a plain COPY of the same rows, on a local PostgreSQL.

    Args:
        rows: CRM records in `crm.record_scores` (and in the unchanged run's grounding).
        documents: full-size grounding documents.
        rounds: measurements of each (figures are medians).
        workdir: where the warehouses are written (default: a temporary folder).

    Returns:
        The figures: seconds (medians) per step, ratios to the baselines, sizes.
    """
    os.environ["PGPASSWORD"] = PASSWORD
    server = PostgresServer().start()
    measured = []
    try:
        for number in range(1, rounds + 1):
            with tempfile.TemporaryDirectory(dir=workdir) as folder:
                measured.append(_round(server, Path(folder), rows, documents, number))
    finally:
        server.stop()

    def median(pick) -> float:
        return statistics.median(pick(m) for m in measured)

    return {
        "rows": rows,
        "documents": documents,
        "rounds": rounds,
        "document_bytes": round(median(lambda m: m["document_bytes"])),
        **{key: round(median(lambda m, k=key: m[k]), 2) for key in measured[0] if key != "document_bytes"},
        "scores_changed_ratio": round(median(lambda m: m["scores_changed"] / m["scores_copy"]), 2),
        "scores_first_ratio": round(median(lambda m: m["scores_first"] / m["scores_copy"]), 2),
        "documents_changed_ratio": round(median(lambda m: m["documents_changed"] / m["documents_copy"]), 2),
        "documents_first_ratio": round(median(lambda m: m["documents_first"] / m["documents_copy"]), 2),
        "round_scores_changed": [round(m["scores_changed"], 1) for m in measured],
        "round_unchanged": [round(m["unchanged"], 2) for m in measured],
        "machine": machine(),
    }


def section(result: dict) -> str:
    """The "CRM sync to PostgreSQL" section of BENCHMARKS.md (without heading and machine line)."""
    rows, documents = result["rows"], result["documents"]
    mb = documents * result["document_bytes"] / 2**20
    changed, unchanged = result["scores_changed"], result["unchanged"]
    lines = [
        f"Data: synthetic `crm` tables; local PostgreSQL 15 with its default settings (fsync on); median of "
        f"{result['rounds']} round(s), each on fresh databases "
        "(`flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.crm_sync --rounds 3 --write`). "
        "Sync times are the `sync_crm` call, connecting included; the ratio is each round's sync over its own "
        "plain `COPY` of the same rows into an empty table (same columns and types, same LZ4 compression).",
        "",
        "| step | rows | seconds | vs plain COPY |",
        "|---|---:|---:|---:|",
        f"| plain `COPY` of `crm.record_scores` (baseline) | {rows:,} | {result['scores_copy']} | 1.0x |",
        f"| first sync of `crm.record_scores` (every row inserted) | {rows:,} | {result['scores_first']} | "
        f"{result['scores_first_ratio']}x |",
        f"| **changed run: every record's scores changed (feed)** | {rows:,} | **{changed}** | "
        f"{result['scores_changed_ratio']}x |",
        f"| plain `COPY` of `crm.grounding` (baseline, {mb:,.0f} MB of JSON) | {documents:,} | {result['documents_copy']} | 1.0x |",
        f"| first sync of `crm.grounding` | {documents:,} | {result['documents_first']} | {result['documents_first_ratio']}x |",
        f"| changed run: every document changed | {documents:,} | {result['documents_changed']} | "
        f"{result['documents_changed_ratio']}x |",
        f"| **unchanged run** (both tables) | {rows:,} + {rows:,} | **{unchanged}** | |",
        f"| unchanged run, the whole `kindred crm sync` command | {rows:,} + {rows:,} | {result['unchanged_command']} | |",
        "",
        f"A sync of {rows:,} changed rows takes **{changed:.1f} s** ({'meeting' if changed <= 60 else 'missing'} the "
        f"60 s target; rounds: {', '.join(map(str, result['round_scores_changed']))}), "
        f"{result['scores_changed_ratio']}x a plain COPY of the same rows into an empty table. An unchanged run takes "
        f"**{unchanged:.2f} s** ({'meeting' if unchanged <= 2 else 'missing'} the 2 s target; rounds: "
        f"{', '.join(map(str, result['round_unchanged']))}): the feed shows nothing after the cursor, and the "
        "grounding fingerprint (DuckDB `hash` over keys and content hashes) equals the stored one, so nothing is "
        "read from or written to the mirror. The changed run does more than the COPY: it reads the changed keys "
        "from the feed, stages the rows by COPY into a temporary table, then updates them by key with the row "
        "comparison that leaves equal rows untouched (every update writes a new row version, in place when the "
        "page has room: the mirror tables leave 40% of each page free), and commits with the cursor in one "
        "transaction. Grounding documents cost what PostgreSQL needs to parse "
        f"JSON into `jsonb`: the changed run moved {mb / max(result['documents_changed'], 1e-9):.0f} MB/s here, the "
        f"plain COPY {mb / max(result['documents_copy'], 1e-9):.0f} MB/s. At that rate {rows:,} documents that all "
        f"change at once ({rows * result['document_bytes'] / 2**30:.1f} GB) would take about "
        f"{rows / documents * result['documents_changed']:.0f} s on this machine (an estimate from the rate, not "
        "measured); in an ordinary run only the documents whose content changed are sent.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="CRM records in crm.record_scores")
    parser.add_argument("--documents", type=int, default=100_000, help="full-size grounding documents")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help=f"write the figures into {BENCHMARKS_MD.name}")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("activation.crm_sync").setLevel(logging.INFO)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so the server is stopped on the way out
    result = run(rows=arguments.rows, documents=arguments.documents, rounds=arguments.rounds)
    text = section(result)
    print(text)
    if arguments.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
