"""Consent at a million profiles: what reading it costs the places that enforce it.

A warehouse file holds 1,000,000 profiles in a membership-like table (profile id, an email, a
score) and a `profiles.consent` with the mix a real company has (about 360,000 rows: newsletter
opt-ins, email and SMS opt-outs, do-not-call, objections to profiling, a few do-not-contact).
Each round, in the same process and on the same file:

- export: the profiles written to Parquet with DuckDB's `COPY (SELECT ...) TO` (the baseline), then
  the same with `permitted_condition` for email marketing, with the opt-in regime, and with
  `reachable_condition` over email and SMS (what segment exports and offers add);
- lookup: `is_permitted` for one profile at a time (what the API asks per request);
- grounding: `permitted_profiles` with the eleven checks of a grounding document's consent section
  for 50,000 profiles (one part of `build_grounding`).

Figures are medians over the rounds; the export's cost is the median of each round's ratio.

Run: `flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.consent_read [--profiles N] [--rounds 5] [--write]`
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from benchmarks.report import write_section
from privacy.consent import Use, is_permitted, permitted_condition, permitted_profiles, reachable_condition
from privacy.consent_build import index_consent
from warehouse.connection import connect
from warehouse.consent_config import ConsentConfig

log = logging.getLogger("benchmarks.consent_read")

SECTION = "Consent at a million profiles"
LOOKUPS = 200
GROUNDING_PART = 50_000

# Share of profiles with each statement; a profile can have several.
_MIX = (
    ("email", "marketing", "opted_in", 0.22),
    ("email", "marketing", "opted_out", 0.06),
    ("sms", "marketing", "opted_out", 0.03),
    ("phone", "any", "opted_out", 0.03),
    ("any", "profiling", "opted_out", 0.02),
    ("any", "profiling", "opted_in", 0.005),
    ("any", "any", "opted_out", 0.002),
)


def build(path: Path, profiles: int) -> int:
    """Write the benchmark warehouse; returns the number of consent rows.

    Draws come from hashes of the row number, not `random()`, so every run builds the same data.
    """
    with connect(path) as con:
        con.execute(
            "CREATE TABLE segments.members AS SELECT 'p_' || lpad(CAST(i AS VARCHAR), 8, '0') AS profile_id, "
            "'person' || i || '@example.com' AS email, (hash(i) % 10000) / 10000 AS churn_risk FROM range(?) t(i)",
            [profiles],
        )
        draw = "(hash(profile_id || ?) % 1000000) / 1000000.0"
        parts, params = [], []
        for k, (channel, purpose, status, share) in enumerate(_MIX):
            parts.append(
                f"SELECT profile_id, '{channel}' AS channel, '{purpose}' AS purpose, '{status}' AS status, "
                "'bench' AS source, profile_id AS record_id, "
                f"TIMESTAMP '2024-01-01' + to_seconds(CAST({draw} * 60000000 AS BIGINT)) AS recorded_at "
                f"FROM segments.members WHERE {draw} < ?"
            )
            params += [f"t{k}", f"s{k}", share]
        # As the build writes it: one row per key (the latest), ordered by profile, indexed.
        con.execute(
            f"CREATE TABLE profiles.consent AS SELECT * EXCLUDE (n) FROM ("
            f"SELECT *, row_number() OVER (PARTITION BY profile_id, channel, purpose ORDER BY recorded_at DESC) AS n "
            f"FROM ({' UNION ALL '.join(parts)})) WHERE n = 1 ORDER BY profile_id, channel, purpose",
            params,
        )
        index_consent(con)
        return con.sql("SELECT count(*) FROM profiles.consent").fetchall()[0][0]


def _timed(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> float:
    started = time.perf_counter()
    con.execute(sql, params)
    return time.perf_counter() - started


def _export_round(con: duckdb.DuckDBPyConnection, out: Path) -> dict[str, float]:
    select = "SELECT m.profile_id, m.email, m.churn_risk FROM segments.members m"
    email, email_params = permitted_condition(con, "m.profile_id", purpose="marketing", channel="email")
    opt_in, opt_in_params = permitted_condition(
        con, "m.profile_id", purpose="marketing", channel="email", opt_in_required=True
    )
    either, either_params = reachable_condition(
        con, "m.profile_id", purpose="marketing", channels=["email", "sms"]
    )
    cases = {
        "baseline": (select, []),
        "email": (f"{select} WHERE {email}", email_params),
        "opt_in": (f"{select} WHERE {opt_in}", opt_in_params),
        "email_or_sms": (f"{select} WHERE {either}", either_params),
    }
    seconds = {}
    for name, (sql, params) in cases.items():
        target = out / f"{name}.parquet"
        seconds[name] = _timed(con, f"COPY ({sql}) TO '{target}' (FORMAT parquet)", params)
    return seconds


def _grounding_uses() -> dict[str, Use]:
    uses = {"profiling": Use("profiling", None)}
    for channel in ConsentConfig().channels:
        uses[f"{channel}/marketing"] = Use("marketing", channel)
        uses[f"{channel}/contact"] = Use("any", channel)
    return uses


def run(profiles: int = 1_000_000, rounds: int = 5) -> dict:
    """Build the warehouse and time every reader over `rounds` rounds.

    Returns:
        Counts, median seconds per reader, per-round export ratios and lookup latencies.
    """
    with tempfile.TemporaryDirectory(prefix="kindred-consent-bench-") as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        consent_rows = build(folder / "warehouse.duckdb", profiles)
        log.info(
            "built %d profiles, %d consent rows in %.1f s",
            profiles,
            consent_rows,
            time.perf_counter() - started,
        )
        with connect(folder / "warehouse.duckdb") as con:
            ids = [f"p_{i:08d}" for i in range(0, profiles, max(profiles // LOOKUPS, 1))][:LOOKUPS]
            part = [
                r[0]
                for r in con.sql(f"SELECT profile_id FROM segments.members LIMIT {GROUNDING_PART}").fetchall()
            ]
            kept = {}
            for name, condition in (
                ("email", permitted_condition(con, "m.profile_id", purpose="marketing", channel="email")),
                (
                    "opt_in",
                    permitted_condition(
                        con, "m.profile_id", purpose="marketing", channel="email", opt_in_required=True
                    ),
                ),
                (
                    "email_or_sms",
                    reachable_condition(con, "m.profile_id", purpose="marketing", channels=["email", "sms"]),
                ),
            ):
                kept[name] = con.sql(
                    f"SELECT count(*) FROM segments.members m WHERE {condition[0]}", params=condition[1]
                ).fetchall()[0][0]
            exports, lookups, grounding = [], [], []
            for _ in range(rounds):
                exports.append(_export_round(con, folder))
                for profile in ids:
                    t = time.perf_counter()
                    is_permitted(con, profile, purpose="marketing", channel="email")
                    lookups.append(time.perf_counter() - t)
                t = time.perf_counter()
                permitted_profiles(con, part, _grounding_uses())
                grounding.append(time.perf_counter() - t)
    medians = {name: statistics.median(r[name] for r in exports) for name in exports[0]}
    ratios = {
        name: statistics.median(r[name] / r["baseline"] for r in exports)
        for name in exports[0]
        if name != "baseline"
    }
    return {
        "load_average": os.getloadavg()[1],
        "profiles": profiles,
        "consent_rows": consent_rows,
        "rounds": rounds,
        "kept": kept,
        "export_seconds": medians,
        "export_ratio": ratios,
        "round_ratios": [round(r["email"] / r["baseline"], 2) for r in exports],
        "lookup_ms_median": statistics.median(lookups) * 1000,
        "lookup_ms_p95": sorted(lookups)[int(0.95 * len(lookups))] * 1000,
        "grounding_part_seconds": statistics.median(grounding),
    }


def section(r: dict) -> str:
    """The BENCHMARKS.md text of one run."""
    s, ratio = r["export_seconds"], r["export_ratio"]
    lines = [
        f"Data: {r['profiles']:,} generated profiles (id, email, a score) and {r['consent_rows']:,} rows of "
        "`profiles.consent` (newsletter opt-ins 22% of profiles, email opt-outs 6%, SMS opt-outs 3%, do-not-call "
        "3%, objections to profiling 2%, do-not-contact 0.2%), in a DuckDB file. "
        f"Median of {r['rounds']} rounds in one process, each reader right after the baseline "
        "(`flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.consent_read --write`).",
        "",
        "| reader | seconds | vs plain export | profiles kept |",
        "|---|---:|---:|---:|",
        f"| `COPY (SELECT ...) TO` Parquet, no consent (baseline) | {s['baseline']:.2f} | 1.00x | {r['profiles']:,} |",
        f"| the same with `permitted_condition` (email marketing) | {s['email']:.2f} | {ratio['email']:.2f}x | {r['kept']['email']:,} |",
        f"| the same, email marketing needing an opt-in | {s['opt_in']:.2f} | {ratio['opt_in']:.2f}x | {r['kept']['opt_in']:,} |",
        f"| the same with `reachable_condition` (email or SMS) | {s['email_or_sms']:.2f} | {ratio['email_or_sms']:.2f}x | {r['kept']['email_or_sms']:,} |",
        "",
        f"Consent adds {s['email'] - s['baseline']:.2f} s to an export of a million profiles "
        f"(ratio per round: {', '.join(f'{x:.2f}' for x in r['round_ratios'])}). "
        f"`is_permitted` for one profile (an API request): median {r['lookup_ms_median']:.1f} ms, "
        f"95th percentile {r['lookup_ms_p95']:.1f} ms over {LOOKUPS * r['rounds']} lookups. "
        f"The consent section of {GROUNDING_PART:,} grounding documents (eleven checks, `permitted_profiles`): "
        f"{r['grounding_part_seconds']:.2f} s. The machine was shared while this ran (load average "
        f"{r['load_average']:.1f} on its cores over the last 5 minutes), which widens the spread between rounds.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    result = run(args.profiles, args.rounds)
    text = section(result)
    print(text)
    if args.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
