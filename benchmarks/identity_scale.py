"""A million person records: `kindred resolve` end to end next to bare Splink, same run.

The data: `identity_data.scale_sources`, one population over three source files (CRM, shop,
support desk; Parquet), 30% of the records repeating a person with realistic errors. Each side
runs in its own process, timed from start to exit with its peak resident memory (the child's
maximum RSS from `wait4`):
- Kindred: `kindred resolve crm.parquet shop.parquet support.parquet --id id --out ...`, which
  reads the files once, normalises (vectorised emails and phones), applies the rules, chooses
  and trains the Splink model, scores, guards, clusters and writes one row per record;
- bare Splink: reads the same files, lower-cases and trims the text and keeps the phone's
  digits, then Splink with equivalent settings (its comparison library on the same attributes,
  blocking on names, email, phone and date of birth, u from 2e6 sampled pairs, m by EM on two
  rules), predicts, clusters at 0.9 and writes the same output.

Usage: `flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.identity_scale [--records N] [--rounds R]`.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import polars as pl

from benchmarks.identity_data import scale_sources
from identity_resolution.metrics import pairwise_metrics

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def write_sources(folder: Path, n_records: int, seed: int = 1) -> pl.DataFrame:
    """Write the source files; return the truth (`source, record_id, person_id`)."""
    truth = []
    for name, frame in scale_sources(n_records, 0.3, seed=seed).items():
        frame.drop("person_id").write_parquet(folder / f"{name}.parquet")
        truth.append(frame.select(pl.lit(name).alias("source"), pl.col("id").alias("record_id"), "person_id"))
    return pl.concat(truth)


def timed(command: list[str], env: dict | None = None) -> tuple[float, float]:
    """Run a command; return its wall seconds and peak resident memory in MB."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {error[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def bare_splink(folder: Path, out: Path) -> None:
    """The bare Splink side (runs in its own process)."""
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    frames = []
    for name in ("crm", "shop", "support"):
        frame = pl.read_parquet(folder / f"{name}.parquet")
        frames.append(frame.with_columns(pl.concat_str(pl.lit(name), pl.lit(":"), "id").alias("unique_id")))
    data = pl.concat(frames, how="diagonal").drop("id")
    text = [c for c in data.columns if c not in ("unique_id", "phone")]
    data = data.with_columns(
        *(pl.col(c).str.strip_chars().str.to_lowercase() for c in text),
        pl.col("phone").str.replace_all(r"[^0-9]", "").str.slice(-10),
    )
    con = duckdb.connect()
    sdf = DuckDBAPI(connection=con).register(data.to_arrow())
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("street", [0.9]),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "last_name"),
            block_on("email"),
            block_on("phone"),
            block_on("date_of_birth", "last_name"),
            block_on("postcode", "last_name"),
        ],
    )
    linker = Linker(sdf, settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "date_of_birth"), block_on("email")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "last_name"), estimate_without_term_frequencies=True, max_pairs=1e6
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("email"), estimate_without_term_frequencies=True, max_pairs=1e6
    )
    predictions = linker.inference.predict(threshold_match_probability=0.9)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.9)
    result = con.sql(f"SELECT unique_id, cluster_id FROM {clusters.physical_name}").pl()
    result.select(
        pl.col("unique_id").str.split(":").list.first().alias("source"),
        pl.col("unique_id").str.split(":").list.last().alias("record_id"),
        pl.col("cluster_id").alias("profile_id"),
    ).write_parquet(out)


def run(n_records: int = 1_000_000, rounds: int = 1) -> dict:
    """Generate the data, run both sides `rounds` times, return the medians and accuracy."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        truth = write_sources(folder, n_records)
        sides = {
            "kindred": [
                str(ROOT / ".venv/bin/kindred"),
                "resolve",
                *(str(folder / f"{s}.parquet") for s in ("crm", "shop", "support")),
                "--id",
                "id",
                "--out",
                str(folder / "kindred.parquet"),
            ],
            "splink": [
                PYTHON,
                "-m",
                "benchmarks.identity_scale",
                "--bare",
                str(folder),
                str(folder / "splink.parquet"),
            ],
        }
        env = {**os.environ, "KINDRED_HOME": str(folder / "home")}
        figures: dict[str, dict] = {side: {"seconds": [], "peak_mb": []} for side in sides}
        for _ in range(rounds):
            for side, command in sides.items():
                seconds, peak = timed(command, env)
                figures[side]["seconds"].append(seconds)
                figures[side]["peak_mb"].append(peak)
        for side in sides:
            out = pl.read_parquet(folder / f"{side}.parquet").join(truth, on=["source", "record_id"])
            metrics = pairwise_metrics(out, "profile_id", "person_id")
            figures[side] |= {
                "precision": metrics.precision,
                "recall": metrics.recall,
                "f1": metrics.f1,
                "records": out.height,
            }
    ratios = [k / s for k, s in zip(figures["kindred"]["seconds"], figures["splink"]["seconds"], strict=True)]
    return {"records": n_records, "rounds": rounds, "ratio": median(ratios), "ratios": ratios, **figures}


def section(r: dict) -> str:
    """The BENCHMARKS.md section."""
    k, s = r["kindred"], r["splink"]
    return "\n".join(
        [
            f"Data: {r['records']:,} generated person records in three Parquet files (CRM 40%, shop 40%, support 20%; "
            "30% of the records repeat a person with typos, nicknames, missing values, changed emails, phones in four "
            "formats). Each side in its own process, one after the other; seconds from start to exit, peak resident "
            f"memory of the process; median of {r['rounds']} round(s) "
            "(`flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.identity_scale`).",
            "",
            "| side | seconds | peak memory (MB) | pairwise precision | recall | F1 |",
            "|---|---:|---:|---:|---:|---:|",
            f"| bare Splink, equivalent settings | {median(s['seconds']):.1f} | {median(s['peak_mb']):.0f} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} |",
            f"| **Kindred `kindred resolve`, end to end** | {median(k['seconds']):.1f} | {median(k['peak_mb']):.0f} | {k['precision']:.3f} | {k['recall']:.3f} | {k['f1']:.3f} |",
            "",
            f"Kindred takes **{r['ratio']:.2f}x** bare Splink's time (median of the rounds' ratios: "
            + ", ".join(f"{x:.2f}" for x in r["ratios"])
            + "); target 1.0x or less and 4 GB or less.",
        ]
    )


def main() -> None:
    """Command line: the benchmark, or (`--bare FOLDER OUT`) the bare Splink side alone."""
    if len(sys.argv) == 4 and sys.argv[1] == "--bare":
        bare_splink(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print(section(run(args.records, args.rounds)))


if __name__ == "__main__":
    main()
