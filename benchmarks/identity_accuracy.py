"""Identity resolution accuracy: Kindred next to plain Splink with equivalent settings, same run.

Data sets, each in a tuning part and a reported part that share no true person:
- `historical_50k` (../shared/datasets, real historical figures with typos and name variants),
  split by a hash of the true cluster id: even hashes tune, odd ones are reported;
- the same file with only first name, surname and date of birth;
- names and dates of birth only, generated like the file users reported (10,000 records, 10%
  duplicates with typos): tuned on seed 101, reported on seed 7;
- FEBRL-style files (5,000 records: 2,000 people and 3,000 duplicates with up to three errors
  each): tuned on seed 101, reported on seed 7;
- the demo company (every source through ingest and staging): tuned on 2,000 people with seed
  11, reported on the default demo (3,000 people, seed 7).

Kindred's defaults (threshold, guardrails, comparisons, blocking budget) were chosen looking at
the tuning parts only; the threshold sweep on them is printed for the record. The plain Splink
side uses Splink's comparison library on lightly cleaned columns (lower case, digits only for
phones), blocking on the same attribute pairs, u by random sampling, m by EM, and clusters at
match probability 0.9.

Usage: `.venv/bin/python -m benchmarks.identity_accuracy [--part tune|report|both] [--only NAME] [--write]`.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import duckdb
import polars as pl
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from benchmarks.identity_data import febrl_style, names_and_dates_of_birth
from benchmarks.report import write_section
from identity_resolution.metrics import cluster_metrics, pairwise_metrics
from identity_resolution.options import MatchOptions
from identity_resolution.resolve import resolve_frames

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
HISTORICAL = ROOT.parent / "shared" / "datasets" / "historical_50k.parquet"
HISTORICAL_MAPPING = {
    "last_name": "surname",
    "date_of_birth": "dob",
    "postcode": "postcode_fake",
    "city": "birth_place",
    "job_title": "occupation",
}
FEBRL_MAPPING = {
    "first_name": "given_name",
    "last_name": "surname",
    "address_line1": "address_1",
    "address_line2": "address_2",
    "city": "suburb",
    "national_id": "soc_sec_id",
}
SWEEP = (0.3, 0.4, 0.5, 0.9)
BASELINE_THRESHOLD = 0.9


def scores(frame: pl.DataFrame, predicted: str, truth: str) -> dict[str, float]:
    """Pairwise and B-cubed figures of a clustering."""
    p, c = pairwise_metrics(frame, predicted, truth), cluster_metrics(frame, predicted, truth)
    return {
        "precision": p.precision,
        "recall": p.recall,
        "f1": p.f1,
        "bcubed_precision": c.bcubed_precision,
        "bcubed_recall": c.bcubed_recall,
        "bcubed_f1": c.bcubed_f1,
    }


def split_by_truth(frame: pl.DataFrame, truth: str) -> dict[str, pl.DataFrame]:
    """Tuning and reported parts: every record of a true person falls in the same part."""
    ids = frame.get_column(truth).cast(pl.Utf8).unique()
    odd = {v for v in ids.to_list() if int(hashlib.md5(v.encode()).hexdigest(), 16) % 2}
    in_odd = pl.col(truth).cast(pl.Utf8).is_in(sorted(odd))
    return {"tune": frame.filter(~in_odd), "report": frame.filter(in_odd)}


def run_kindred(frame: pl.DataFrame, id_column: str, mapping: dict, truth: str, *, sweep: bool) -> dict:
    """Kindred's `kindred resolve` path with default options (and, on a tuning part, a threshold sweep)."""
    started = time.perf_counter()
    files = {"data": frame.drop(truth)}
    resolved, model = resolve_frames(files, id_column, mapping)
    seconds = time.perf_counter() - started
    joined = resolved.join(frame.select(id_column, truth), left_on="record_id", right_on=id_column)
    result = {**scores(joined, "profile_id", truth), "seconds": seconds}
    if sweep and model is not None:
        result["sweep"] = {}
        for threshold in SWEEP:
            options = replace(MatchOptions(), match_threshold=threshold)
            out, _ = resolve_frames(files, id_column, mapping, options, model=model)
            result["sweep"][threshold] = scores(
                out.join(frame.select(id_column, truth), left_on="record_id", right_on=id_column),
                "profile_id",
                truth,
            )["f1"]
    return result


def _clean(frame: pl.DataFrame, columns: dict[str, str]) -> pl.DataFrame:
    """What a plain Splink user does first: lower case and trim text, digits only for phones."""
    out = []
    for canonical, column in columns.items():
        text = pl.col(column).cast(pl.Utf8).str.strip_chars().str.to_lowercase()
        if canonical == "phone":
            text = text.str.replace_all(r"[^0-9]", "").str.slice(-10)
        if canonical == "date_of_birth":
            digits = text.str.replace_all(r"[^0-9]", "")
            text = pl.when(digits.str.len_chars() == 8).then(
                pl.format("{}-{}-{}", digits.str.slice(0, 4), digits.str.slice(4, 2), digits.str.slice(6, 2))
            )
        if canonical == "postcode":
            text = text.str.replace_all(" ", "")
        out.append(pl.when(text == "").then(None).otherwise(text).alias(canonical))
    return frame.select(pl.col("__id"), *out)


def run_plain_splink(
    frame: pl.DataFrame, id_column: str, columns: dict[str, str], truth: str, *, seed: int = 1
) -> dict:
    """Plain Splink with comparisons from its library on the same attributes."""
    started = time.perf_counter()
    data = _clean(frame.with_columns(pl.col(id_column).alias("__id")), columns).rename({"__id": "unique_id"})
    present = set(columns)
    library = {
        "first_name": cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
        "last_name": cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
        "date_of_birth": cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
        "email": cl.EmailComparison("email"),
        "phone": cl.ExactMatch("phone"),
        "address_line1": cl.JaroWinklerAtThresholds("address_line1", [0.9]),
        "postcode": cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        "city": cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        "national_id": cl.LevenshteinAtThresholds("national_id", 1),
        "gender": cl.ExactMatch("gender"),
        "job_title": cl.ExactMatch("job_title"),
    }
    rules = [
        r
        for r in (
            ("first_name", "last_name"),
            ("date_of_birth",),
            ("email",),
            ("phone",),
            ("national_id",),
            ("postcode", "last_name"),
            ("address_line1",),
        )
        if set(r) <= present
    ]
    con = duckdb.connect()
    try:
        sdf = DuckDBAPI(connection=con).register(data.to_arrow())
        settings = SettingsCreator(
            link_type="dedupe_only",
            comparisons=[c for name, c in library.items() if name in present],
            blocking_rules_to_generate_predictions=[block_on(*r) for r in rules],
        )
        linker = Linker(sdf, settings, log_level=logging.WARNING)
        deterministic = [
            r
            for r in (("first_name", "last_name", "date_of_birth"), ("email",), ("phone",))
            if set(r) <= present
        ]
        if deterministic:
            linker.training.estimate_probability_two_random_records_match(
                [block_on(*r) for r in deterministic], recall=0.7
            )
        linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
        for rule in [
            r
            for r in (("first_name", "last_name"), ("date_of_birth",), ("email",), ("postcode",))
            if set(r) <= present
        ][:2]:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    block_on(*rule), estimate_without_term_frequencies=True
                )
            except Exception as error:  # a failed pass in plain Splink is part of what is measured
                log.warning("plain splink: EM on %s failed: %s", rule, error)
        predictions = linker.inference.predict(threshold_match_probability=0.5)
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, BASELINE_THRESHOLD
        )
        assigned = con.sql(f"SELECT unique_id, cluster_id FROM {clusters.physical_name}").pl()
    finally:
        con.close()
    seconds = time.perf_counter() - started
    joined = assigned.join(frame.select(pl.col(id_column).alias("unique_id"), truth), on="unique_id")
    return {**scores(joined, "cluster_id", truth), "seconds": seconds}


def _file_columns(frame: pl.DataFrame, mapping: dict, id_column: str, truth: str) -> dict[str, str]:
    inverse = {column: canonical for canonical, column in mapping.items()}
    return {
        inverse.get(c, c): c
        for c in frame.columns
        if c not in (id_column, truth)
        and inverse.get(c, c)
        in {
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "phone",
            "address_line1",
            "postcode",
            "city",
            "national_id",
            "gender",
            "job_title",
        }
    }


def file_datasets(part: str) -> dict[str, tuple[pl.DataFrame, str, dict, str]]:
    """Name -> (frame, id column, mapping, truth column) for the requested part."""
    seed = 101 if part == "tune" else 7
    historical = pl.read_parquet(HISTORICAL)
    halves = split_by_truth(historical, "cluster")[part]
    names_only = halves.select("unique_id", "cluster", "first_name", "surname", "dob")
    return {
        "historical_50k": (halves, "unique_id", HISTORICAL_MAPPING, "cluster"),
        "historical_50k, names and date of birth only": (
            names_only,
            "unique_id",
            {"last_name": "surname", "date_of_birth": "dob"},
            "cluster",
        ),
        "names and date of birth only (generated)": (
            names_and_dates_of_birth(10_000, 0.1, seed=seed),
            "id",
            {},
            "person_id",
        ),
        "FEBRL-style (generated)": (febrl_style(2000, 3000, seed=seed), "rec_id", FEBRL_MAPPING, "person_id"),
    }


def run_demo(part: str) -> dict:
    """The demo company through ingest, staging and `resolve_identities`, next to plain Splink on
    the same person records."""
    from demo.generate import generate_demo_data
    from identity_resolution.resolve import resolve_identities
    from warehouse.config import load_config
    from warehouse.connection import connect, read_table
    from warehouse.ingest import ingest_sources
    from warehouse.staging import build_staging

    people, seed = (2000, 11) if part == "tune" else (3000, 7)
    with tempfile.TemporaryDirectory() as folder:
        demo = generate_demo_data(Path(folder) / "data" / "demo", people=people, seed=seed)
        config = load_config(ROOT / "kindred.yaml").model_copy(update={"base_dir": Path(folder)})
        con = connect(Path(folder) / "warehouse.duckdb")
        ingest_sources(con, config)
        build_staging(con, config)
        started = time.perf_counter()
        summary = resolve_identities(con, MatchOptions.from_config(config.identity))
        seconds = time.perf_counter() - started
        truth = pl.read_csv(demo.out / "ground_truth" / "records.csv", infer_schema=False)
        xref = read_table(con, "identity.record_xref")
        records = read_table(con, "identity.person_records")
        con.close()
    kindred = {
        **scores(truth.join(xref, on=["source", "record_id"]), "profile_id", "person_id"),
        "seconds": seconds,
    }
    keyed = records.with_columns(pl.concat_str("source", pl.lit(":"), "record_id").alias("key")).join(
        truth.with_columns(pl.concat_str("source", pl.lit(":"), "record_id").alias("key")).select(
            "key", "person_id"
        ),
        on="key",
    )
    columns = {
        c: c
        for c in (
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "phone",
            "address_line1",
            "postcode",
            "city",
        )
        if c in keyed.columns
    }
    baseline = run_plain_splink(keyed, "key", columns, "person_id")
    return {
        "records": summary.records,
        "kindred": kindred,
        "splink": baseline,
        "people": people,
        "seed": seed,
    }


def run(parts: tuple[str, ...] = ("tune", "report"), only: str | None = None) -> dict:
    """Every data set on the requested parts: Kindred, plain Splink, and on tuning parts the sweep."""
    results: dict = {}
    for part in parts:
        for name, (frame, id_column, mapping, truth) in file_datasets(part).items():
            if only and only.lower() not in name.lower():
                continue
            columns = _file_columns(frame, mapping, id_column, truth)
            kindred = run_kindred(frame, id_column, mapping, truth, sweep=part == "tune")
            baseline = run_plain_splink(frame, id_column, columns, truth)
            true_pairs = pairwise_metrics(frame, truth, truth).true_pairs
            results[(name, part)] = {
                "records": frame.height,
                "true_pairs": true_pairs,
                "kindred": kindred,
                "splink": baseline,
            }
            log.info("%s (%s): kindred %s; splink %s", name, part, kindred, baseline)
        if not only or "demo" in only.lower():
            results[("demo company", part)] = run_demo(part)
            log.info("demo (%s): %s", part, results[("demo company", part)])
    return results


def section(results: dict) -> str:
    """The BENCHMARKS.md section: one row per data set and part, Kindred next to plain Splink."""
    lines = [
        "Pairwise precision, recall and F1 (every pair of records put together), and B-cubed F1 (per record). "
        "Each data set has a **tuning** part, the only one looked at when choosing Kindred's defaults (match threshold "
        "0.9 on customer data with 200 or more rule-linked pairs, 0.4 on registers without them; on customer data 0.99 for a pair with "
        "nothing but the name to compare; the nickname table's name forms; the guardrails' tolerances, comparisons, blocking budget), and a **reported** part that shares no "
        "true person with it (historical_50k: split by a hash of the true cluster id; generated files and the demo: "
        "another seed). Plain Splink: its comparison library on the same attributes, lightly cleaned, "
        "blocking on the same attribute pairs, u by sampling, m by EM, clusters at 0.9, in the same run "
        "(`.venv/bin/python -m benchmarks.identity_accuracy`).",
        "",
        "| data | part | records | Kindred P / R / **F1** | B-cubed F1 | seconds | plain Splink P / R / **F1** | B-cubed F1 | seconds |",
        "|---|---|---:|---|---:|---:|---|---:|---:|",
    ]
    for (name, part), r in sorted(results.items(), key=lambda kv: (kv[0][0], kv[0][1] != "report")):
        k, s = r["kindred"], r["splink"]
        lines.append(
            f"| {name} | {'reported' if part == 'report' else 'tuning'} | {r['records']:,} | "
            f"{k['precision']:.3f} / {k['recall']:.3f} / **{k['f1']:.3f}** | {k['bcubed_f1']:.3f} | {k['seconds']:.1f} | "
            f"{s['precision']:.3f} / {s['recall']:.3f} / **{s['f1']:.3f}** | {s['bcubed_f1']:.3f} | {s['seconds']:.1f} |"
        )
    sweeps = [
        (name, r["kindred"]["sweep"])
        for (name, part), r in results.items()
        if part == "tune" and "sweep" in r["kindred"]
    ]
    if sweeps:
        lines += [
            "",
            "Kindred's pairwise F1 by match threshold on the tuning parts, the model fitted once (no file here has 200 rule-linked pairs: the default is 0.4):",
            "",
        ]
        lines += ["| data | " + " | ".join(f"{t:g}" for t in SWEEP) + " |", "|---|" + "---:|" * len(SWEEP)]
        lines += [
            f"| {name} | " + " | ".join(f"{sweep[t]:.3f}" for t in SWEEP) + " |" for name, sweep in sweeps
        ]
    return "\n".join(lines)


def main() -> None:
    """Run and print the section (write it with `benchmarks.run_all`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["tune", "report", "both"], default="both")
    parser.add_argument("--only", default=None)
    parser.add_argument(
        "--write", action="store_true", help="write the section into BENCHMARKS.md (both parts)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("splink").setLevel(logging.ERROR)
    logging.getLogger("identity_resolution").setLevel(logging.WARNING)
    parts = ("tune", "report") if args.part == "both" else (args.part,)
    text = section(run(parts, args.only))
    print(text)
    if args.write and args.part == "both" and args.only is None:
        write_section("Identity resolution accuracy", text)


if __name__ == "__main__":
    main()
