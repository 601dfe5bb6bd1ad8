"""Identity resolution on historical_50k: Kindred's `resolve_records` against plain Splink.

The data set (50,578 person records of real historical figures, with typos, nicknames, missing
values and a truth `cluster` id) is read from ../shared/datasets/ relative to the project root.
Both sides run in this process, one after the other, so their seconds are comparable.

The baseline is Splink's README quickstart with the README's five comparisons mapped onto this
data set's columns (first name, surname, date of birth, birth place with term frequencies,
postcode for the README's email), its blocking rules, its training (prior from first name and
surname at recall 0.7, u from 1e6 random pairs, EM blocked on first name and surname, then on the
fifth column) and connected components at match probability 0.9.

Usage:
    .venv/bin/python -m benchmarks.identity_historical [path/to/historical_50k.parquet]

`run()` returns the figures as a dict; `main()` also prints them as a table.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from identity_resolution.metrics import pairwise_metrics
from identity_resolution.probabilistic import DEFAULT_MATCH_THRESHOLD
from identity_resolution.resolve import resolve_records

log = logging.getLogger(__name__)

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "historical_50k.parquet"
# Columns already named like a canonical attribute (first_name, full_name, gender) map themselves.
MAPPING = {
    "last_name": "surname",
    "date_of_birth": "dob",
    "postcode": "postcode_fake",
    "city": "birth_place",
    "job_title": "occupation",
}
BASELINE_THRESHOLD = 0.9
REFERENCE = {"precision": 0.958, "recall": 0.611, "f1": 0.746, "seconds": 6.7}


def _scores(frame: pl.DataFrame, predicted: str) -> dict[str, float]:
    m = pairwise_metrics(frame, predicted, "cluster")
    return {"precision": m.precision, "recall": m.recall, "f1": m.f1}


def run_kindred(records: pl.DataFrame) -> dict[str, float]:
    """Kindred's `resolve_records` on the published file with the column mapping above.

    Args:
        records: historical_50k as read from parquet.

    Returns:
        precision, recall, f1, seconds and the match threshold used.
    """
    started = time.perf_counter()
    resolved = resolve_records({"historical_50k": records}, "unique_id", MAPPING, default_phone_region="GB")
    seconds = time.perf_counter() - started
    scored = resolved.join(records.select("unique_id", "cluster"), left_on="record_id", right_on="unique_id")
    return {**_scores(scored, "profile_id"), "seconds": seconds, "threshold": DEFAULT_MATCH_THRESHOLD}


def run_splink_baseline(records: pl.DataFrame, *, seed: int = 1) -> dict[str, float]:
    """Plain Splink with its README settings mapped onto this data set.

    Args:
        records: historical_50k as read from parquet.
        seed: seed of u sampling.

    Returns:
        precision, recall, f1, seconds and the clustering threshold.
    """
    started = time.perf_counter()
    con = duckdb.connect()
    try:
        frame = DuckDBAPI(connection=con).register(records.to_arrow())
        settings = SettingsCreator(
            link_type="dedupe_only",
            comparisons=[
                cl.NameComparison("first_name"),
                cl.JaroAtThresholds("surname"),
                cl.DateOfBirthComparison("dob", input_is_string=True),
                cl.ExactMatch("birth_place").configure(term_frequency_adjustments=True),
                cl.ExactMatch("postcode_fake"),
            ],
            blocking_rules_to_generate_predictions=[block_on("first_name", "dob"), block_on("surname")],
        )
        linker = Linker(frame, settings, log_level=logging.WARNING)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("first_name", "surname")], recall=0.7
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=seed)
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "surname"))
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode_fake"))
        predictions = linker.inference.predict(threshold_match_weight=-5)
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, BASELINE_THRESHOLD
        )
        assigned = con.sql(f"SELECT unique_id, cluster_id FROM {clusters.physical_name}").pl()
    finally:
        con.close()
    seconds = time.perf_counter() - started
    scored = assigned.join(records.select("unique_id", "cluster"), on="unique_id")
    return {**_scores(scored, "cluster_id"), "seconds": seconds, "threshold": BASELINE_THRESHOLD}


def run(path: Path | str = DATASET) -> dict:
    """Run both sides on historical_50k and return their figures.

    Args:
        path: the historical_50k parquet file.

    Returns:
        `{"dataset", "records", "true_pairs", "kindred": {...}, "splink_baseline": {...},
        "reference_baseline": {...}}`; each side has precision, recall, f1, seconds, threshold.
    """
    records = pl.read_parquet(path)
    true_pairs = pairwise_metrics(records, "cluster", "cluster").true_pairs
    kindred = run_kindred(records)
    log.info("kindred: %s", kindred)
    baseline = run_splink_baseline(records)
    log.info("splink baseline: %s", baseline)
    return {
        "dataset": "historical_50k",
        "records": records.height,
        "true_pairs": true_pairs,
        "kindred": kindred,
        "splink_baseline": baseline,
        "reference_baseline": REFERENCE,
    }


def main(argv: list[str]) -> dict:
    """Print the comparison as a small table and return the figures."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("splink").setLevel(logging.WARNING)
    results = run(argv[1] if len(argv) > 1 else DATASET)
    print(f"historical_50k: {results['records']:,} records, {results['true_pairs']:,} true pairs")
    print(f"{'':28s}{'precision':>10s}{'recall':>10s}{'F1':>10s}{'seconds':>10s}")
    rows = [
        ("kindred resolve_records", results["kindred"]),
        ("splink README baseline", results["splink_baseline"]),
        ("reference baseline (given)", results["reference_baseline"]),
    ]
    for name, r in rows:
        print(f"{name:28s}{r['precision']:10.3f}{r['recall']:10.3f}{r['f1']:10.3f}{r['seconds']:10.1f}")
    return results


if __name__ == "__main__":
    main(sys.argv)
