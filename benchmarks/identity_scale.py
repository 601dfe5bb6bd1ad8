"""A million person records: `kindred resolve` end to end next to bare Splink, same run.

The data: `identity_data.scale_sources`, one population over three source files (CRM, shop,
support desk; Parquet), 30% of the records repeating a person with realistic errors. Each side
runs in its own process, timed from start to exit, with its CPU seconds and its peak resident
memory (the child's rusage from `wait4`):
- Kindred: `kindred resolve crm.parquet shop.parquet support.parquet --id id --out ...
  --model-out model.json`, which reads the files once, normalises (vectorised emails and
  phones), applies the rules, chooses the blocking rules and comparisons, trains the Splink
  model, scores, guards, clusters and writes one row per record, and the Splink settings it used;
- bare Splink with equivalent settings: reads the same files once, prepares the same columns
  with the same vectorised normalisers, takes Kindred's comparisons, term-frequency columns and
  blocking rules from that settings file with every trained value removed, and trains them as
  Splink's documentation does (prior from deterministic rules, u by random sampling at Splink's
  default of a million pairs, m by EM on a names pass and a date-of-birth pass over all their
  pairs), predicts at 0.9, clusters at 0.9 and writes the same output.

Both are scored on the generated truth (pairwise precision, recall, F1).

Usage: `flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.identity_scale [--records N] [--rounds R] [--write]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import polars as pl

from benchmarks.identity_data import scale_sources
from benchmarks.report import write_section
from identity_resolution.metrics import pairwise_metrics

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SOURCES = ("crm", "shop", "support")
HEADING = "Identity resolution at a million records"
# Kindred's match threshold on customer data (`probabilistic.DEFAULT_MATCH_THRESHOLD`); bare Splink uses the same.
THRESHOLD = 0.9


def write_sources(folder: Path, n_records: int, seed: int = 1) -> pl.DataFrame:
    """Write the source files; return the truth (`source, record_id, person_id`)."""
    truth = []
    for name, frame in scale_sources(n_records, 0.3, seed=seed).items():
        frame.drop("person_id").write_parquet(folder / f"{name}.parquet")
        truth.append(frame.select(pl.lit(name).alias("source"), pl.col("id").alias("record_id"), "person_id"))
    return pl.concat(truth)


def timed(command: list[str], env: dict | None = None) -> tuple[float, float, float]:
    """Run a command; return its wall seconds, CPU seconds and peak resident memory in MB."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {error[-2000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def untrained(settings: dict) -> dict:
    """Kindred's saved Splink settings with everything learnt removed: the same comparisons,
    levels, term-frequency columns and blocking rules, for bare Splink to train itself."""
    bare = {k: v for k, v in settings.items() if k != "probability_two_random_records_match"}
    bare["comparisons"] = [
        {
            **comparison,
            "comparison_levels": [
                {k: v for k, v in level.items() if k not in ("m_probability", "u_probability")}
                for level in comparison["comparison_levels"]
            ],
        }
        for comparison in settings["comparisons"]
    ]
    bare["retain_matching_columns"] = False
    bare["retain_intermediate_calculation_columns"] = False
    return bare


def bare_splink(folder: Path, settings_file: Path, out: Path) -> None:
    """The bare Splink side (runs in its own process): Kindred's comparisons and blocking rules,
    trained the way Splink's documentation does it, predict, cluster."""
    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    from identity_resolution.attributes import with_blocking_keys
    from identity_resolution.normalise import normalise_people

    frames = [
        pl.read_parquet(folder / f"{name}.parquet").with_columns(
            pl.all().cast(pl.String), pl.lit(name).alias("source")
        )
        for name in SOURCES
    ]
    # The same columns Kindred compares, prepared by the same vectorised normalisers (timed here).
    data = with_blocking_keys(normalise_people(pl.concat(frames, how="diagonal")))
    settings = untrained(json.loads(settings_file.read_text(encoding="utf-8")))
    text = json.dumps(settings)
    used = [c for c in data.columns if c not in ("id", "source") and re.search(rf"\b{c}(_l|_r)?\b", text)]
    data = data.select(pl.concat_str("source", pl.lit(":"), "id").alias("unique_id"), *used)
    con = duckdb.connect()
    linker = Linker(DuckDBAPI(connection=con).register(data.to_arrow()), settings, log_level=logging.WARNING)
    del frames, data
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name_norm", "last_name_norm", "date_of_birth_norm"), block_on("email_norm")],
        recall=0.7,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    # Splink's documented EM: a pass that blocks on the names (training everything else) and one
    # that blocks on the date of birth (training the names), over all their pairs.
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name_norm", "last_name_norm")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth_norm"))
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, THRESHOLD)
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
                "--model-out",
                str(folder / "kindred_model.json"),
            ],
            "splink": [
                PYTHON,
                "-m",
                "benchmarks.identity_scale",
                "--bare",
                str(folder),
                str(folder / "kindred_model.json"),
                str(folder / "splink.parquet"),
            ],
        }
        env = {**os.environ, "KINDRED_HOME": str(folder / "home")}
        figures: dict[str, dict] = {side: {"seconds": [], "cpu": [], "peak_mb": []} for side in sides}
        for _ in range(rounds):
            for side, command in sides.items():
                seconds, cpu, peak = timed(command, env)
                figures[side]["seconds"].append(seconds)
                figures[side]["cpu"].append(cpu)
                figures[side]["peak_mb"].append(peak)
        settings = json.loads((folder / "kindred_model.json").read_text(encoding="utf-8"))
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
    cpu_ratios = [k / s for k, s in zip(figures["kindred"]["cpu"], figures["splink"]["cpu"], strict=True)]
    return {
        "records": n_records,
        "rounds": rounds,
        "ratio": median(ratios),
        "ratios": ratios,
        "cpu_ratio": median(cpu_ratios),
        "comparisons": [c["output_column_name"] for c in settings["comparisons"]],
        "blocking_rules": [r["blocking_rule"] for r in settings["blocking_rules_to_generate_predictions"]],
        "load": os.getloadavg()[1],
        **figures,
    }


def section(r: dict) -> str:
    """The BENCHMARKS.md section."""
    k, s = r["kindred"], r["splink"]

    def row(name: str, side: dict) -> str:
        return (
            f"| {name} | {median(side['seconds']):.1f} | {median(side['cpu']):.1f} | {median(side['peak_mb']):.0f} "
            f"| {side['precision']:.3f} | {side['recall']:.3f} | {side['f1']:.3f} |"
        )

    met = r["ratio"] <= 1.0 and median(k["peak_mb"]) <= 4096
    return "\n".join(
        [
            f"Data: {r['records']:,} generated person records in three Parquet files (CRM 40%, shop 40%, support 20%; "
            "30% of the records repeat a person with typos, nicknames, missing values, changed emails, phones in four "
            "formats). Each side in its own process, one after the other; wall seconds from start to exit, CPU seconds "
            f"and peak resident memory of the process; median of {r['rounds']} round(s) "
            "(`flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.identity_scale --rounds "
            f"{r['rounds']} --write`). Bare Splink runs Kindred's comparisons ({', '.join(r['comparisons'])}) and its "
            f"{len(r['blocking_rules'])} blocking rules, read from the settings `kindred resolve --model-out` wrote, "
            "on the same normalised columns, trained as Splink's documentation does: prior from deterministic rules, "
            "u by random sampling (Splink's default of 1,000,000 pairs), m by EM on a names pass and a date-of-birth "
            "pass over all their pairs; predict and cluster at 0.9.",
            "",
            "| side | wall seconds | CPU seconds | peak memory (MB) | pairwise precision | recall | F1 |",
            "|---|---:|---:|---:|---:|---:|---:|",
            row("bare Splink, equivalent settings", s),
            row("**Kindred `kindred resolve`, end to end**", k),
            "",
            f"Kindred takes **{r['ratio']:.2f}x** bare Splink's wall time (rounds: "
            + ", ".join(f"{x:.2f}" for x in r["ratios"])
            + f"; CPU time {r['cpu_ratio']:.2f}x) and peaks at **{median(k['peak_mb']) / 1024:.2f} GB**; "
            f"target 1.0x or less and 4 GB or less: {'met' if met else 'not met'}. Load average over the last "
            f"5 minutes at the end: {r['load']:.1f} on 2 cores (other work shares the machine; wall times include "
            "waiting for a core).",
        ]
    )


def main() -> None:
    """Command line: the benchmark, or (`--bare FOLDER OUT`) the bare Splink side alone."""
    if len(sys.argv) == 5 and sys.argv[1] == "--bare":
        bare_splink(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = parser.parse_args()
    text = section(run(args.records, args.rounds))
    print(text)
    if args.write:
        write_section(HEADING, text)


if __name__ == "__main__":
    main()
