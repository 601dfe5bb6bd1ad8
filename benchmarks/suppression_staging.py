"""Staging throughput with the suppression check: no check, an empty list, thousands of erased people.

The same generated Segment-spec events as "Ingestion throughput" are ingested once; then
`build_staging` of the events is timed, round after round, in four settings, in rotating order
within each round so the machine's state favours none of them:

- **no check**: the check replaced by a no-op, i.e. staging as it was before erasure existed;
- **empty list**: `privacy.suppression` exists and holds nothing (every warehouse until the first
  `kindred forget`);
- **5,000 erased people, none in the data**: the usual case after erasures: every distinct record id,
  anonymous id, email and phone of the batch is hashed once and looked up;
- **5,000 erased people, 10 of them in the data**: measured once on a fresh copy: their rows are
  set aside and quarantined, and the raw parts holding them are written again with those rows
  blanked.

Figures are medians over the rounds, each setting next to "no check" from the same round.

Run: `flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.suppression_staging
[--events N | --quick] [--rounds 3] [--write]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.ingest_throughput import QUICK_EVENTS, generate_events
from benchmarks.report import BENCHMARKS_MD, machine, write_section

log = logging.getLogger("benchmarks.suppression_staging")

SECTION = "Staging with the suppression list"
ERASED = 5_000
PRESENT = 10


def _fill(con, salt: str, present: list[str]) -> None:
    """5,000 suppressed identifiers: random ones, and the record keys of `present` accounts."""
    from privacy.suppression import SUPPRESSION, ensure_suppression, identifier_hash, record_key

    ensure_suppression(con)
    con.execute(f"DELETE FROM {SUPPRESSION}")
    rows = [["record", identifier_hash(salt, "record", record_key("web", account))] for account in present]
    kinds = ("email", "phone", "record", "crm")
    rows += [[kinds[i % 4], secrets.token_hex(32)] for i in range(ERASED - len(present))]
    con.executemany(f"INSERT INTO {SUPPRESSION} VALUES (?, ?, 'er-bench', now())", [[h, k] for k, h in rows])


def _stage(con, config, check: bool) -> float:
    import warehouse.staging as staging

    original = staging.set_aside_suppressed
    if not check:
        staging.set_aside_suppressed = lambda *args, **kwargs: 0
    try:
        started = time.perf_counter()
        staging.build_staging(con, config, kinds=["events"])
        con.execute("CHECKPOINT")
        return time.perf_counter() - started
    finally:
        staging.set_aside_suppressed = original


def run(events: int = 10_000_000, rounds: int = 3, workdir: Path | None = None) -> dict:
    """Time staging of `events` generated events in the four settings.

    Returns:
        Seconds per setting (medians), ratios to "no check" (medians of each round's ratio), rows.
    """
    from privacy.suppression import SALT_ENV, SUPPRESSION, checked_salt
    from warehouse.config import load_config
    from warehouse.connection import connect
    from warehouse.ingest import ingest_sources

    workdir = Path(workdir or Path(tempfile.gettempdir()) / "kindred_bench")
    events_file = workdir / f"segment_events_{events}.jsonl"
    if not events_file.is_file():
        generate_events(events_file.with_suffix(".partial"), events).replace(events_file)
    os.environ[SALT_ENV] = secrets.token_hex(32)
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        config_file = Path(folder) / "kindred.yaml"
        config_file.write_text(
            f"sources:\n  - {{name: web, kind: events, path: '{events_file}', format: jsonl}}\n"
        )
        config = load_config(config_file)
        database = Path(folder) / "warehouse.duckdb"
        con = connect(database)
        ingest_sources(con, config)
        salt = checked_salt(con, create=True)
        present = [r[0] for r in con.execute(
            "SELECT DISTINCT json_extract_string(_raw, '$.userId') FROM raw.web "
            "WHERE json_extract_string(_raw, '$.userId') IS NOT NULL ORDER BY 1 LIMIT ?", [PRESENT]
        ).fetchall()]  # fmt: skip
        settings = {
            "no check": lambda: (
                con.execute(f"DROP TABLE IF EXISTS {SUPPRESSION}"),
                _stage(con, config, False),
            )[1],
            "empty list": lambda: (con.execute(f"DELETE FROM {SUPPRESSION}"), _stage(con, config, True))[1],
            "5,000 erased, none in the data": lambda: (_fill(con, salt, []), _stage(con, config, True))[1],
        }
        timings: dict[str, list[float]] = {name: [] for name in settings}
        names = list(settings)
        for round_number in range(rounds):
            order = names[round_number % len(names) :] + names[: round_number % len(names)]
            for name in order:
                if name != "no check":
                    con.execute(
                        f"CREATE TABLE IF NOT EXISTS {SUPPRESSION} (identifier_hash VARCHAR, kind VARCHAR, receipt_id VARCHAR, added_at TIMESTAMP)"
                    )
                timings[name].append(settings[name]())
            log.info("round %d: %s", round_number + 1, {n: round(t[-1], 1) for n, t in timings.items()})
        staged = con.execute("SELECT count(*) FROM staging.events").fetchall()[0][0]
        con.close()
        # Erased people whose rows arrive: once, on a copy (their raw rows are blanked afterwards).
        copy = Path(folder) / "copy"
        copy.mkdir()
        shutil.copy(database, copy / "warehouse.duckdb")
        shutil.copytree(Path(folder) / "warehouse.raw", copy / "warehouse.raw")
        from warehouse.raw_store import replace_view

        con = connect(copy / "warehouse.duckdb")
        replace_view(con, "web")
        _fill(con, salt, present)
        with_rows = _stage(con, config, True)
        set_aside = con.execute(
            "SELECT count(*) FROM quarantine.web WHERE reason = 'erased on request'"
        ).fetchall()[0][0]
        con.close()
    base = timings["no check"]
    return {
        "events": events,
        "file_mb": round(events_file.stat().st_size / 2**20),
        "rounds": rounds,
        "seconds": {name: round(statistics.median(t), 2) for name, t in timings.items()},
        "ratios": {
            name: round(statistics.median(x / b for x, b in zip(t, base, strict=True)), 3)
            for name, t in timings.items()
        },
        "arrivals_seconds": round(with_rows, 2),
        "arrivals_ratio": round(with_rows / statistics.median(base), 3),
        "arrivals_rows": set_aside,
        "staged_rows": staged,
        "machine": machine(),
    }


def section(result: dict) -> str:
    """The BENCHMARKS.md section, without its heading and machine line."""
    lines = [
        f"Data: {result['events']:,} generated Segment-spec events ({result['file_mb']:,} MB, the file of "
        f'"Ingestion throughput"), ingested once; `build_staging` of the events timed in each setting, '
        f"median of {result['rounds']} rounds, settings in rotating order within a round "
        "(`flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.suppression_staging --rounds 3 --write`).",
        "",
        "| setting | staging seconds | vs no check (same round) |",
        "|---|---:|---:|",
    ]
    for name, seconds in result["seconds"].items():
        lines.append(f"| {name} | {seconds} | {result['ratios'][name]:.3f}x |")
    lines.append(
        f"| 5,000 erased, {PRESENT} in the data ({result['arrivals_rows']:,} rows set aside; once) | "
        f"{result['arrivals_seconds']} | {result['arrivals_ratio']:.3f}x |"
    )
    lines += [
        "",
        "An empty list costs one query. With entries, each distinct record id, anonymous id, email and "
        "phone of the batch is hashed once (SHA-256 with the salt) and looked up; only when some are on the "
        "list are rows matched, set aside and quarantined, and the raw parts holding them written again with "
        f"those rows blanked (here the whole file's parts). {result['staged_rows']:,} events staged.",
    ]
    return "\n".join(lines)


def main() -> None:
    """Command line: run, print, optionally write BENCHMARKS.md."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--write", action="store_true", help="write the figures into BENCHMARKS.md")
    args = parser.parse_args()
    result = run(QUICK_EVENTS if args.quick else args.events, rounds=args.rounds, workdir=args.workdir)
    print(section(result))
    print(json.dumps(result, default=str))
    if args.write:
        write_section(SECTION, section(result))
        print(f"written to {BENCHMARKS_MD}")


if __name__ == "__main__":
    main()
