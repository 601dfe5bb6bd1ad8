"""Scoring a million profiles with the three models: features, scoring, reasons and writes.

The champions are trained, gated and registered as in production on a 20,000-person company from
`benchmarks.scoring_company` (the same generator, another seed), then score a 100,000-person and a
1,000,000-person company, each in its own DuckDB file: each model's population at as_of with consent applied, the
point-in-time features the champion needs (BG/NBD's probabilities for churn), the model's
probabilities, the top five reasons per person (LightGBM contributions) and the rows written to
`scores.predictions` / `scores.offers`. Each round first builds `features.profile_features` as the
run's `features/profile_features` asset does, once for the three models, which read their profile
features from it. The library calls are the ones the Dagster assets make
(`materialise_profile_features`, `binary_model.score_population`, `next_best_offer.score_offers`),
timed per step. The bare model
call (`scoring`) is the baseline the rest is measured against. Rounds run one after the other on
the same file; medians are reported.

Run: `flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.models_scoring [--sizes 100000,1000000]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.scoring_company import END, build_company
from models.compiled_trees import CACHE_FOLDER

SECTION = "Scoring a million profiles"
log = logging.getLogger("benchmarks.models_scoring")

AS_OF = END
HORIZON_DAYS = 90
TOP_K = 5
TRAINING_PROFILES = 20_000
TARGET_SECONDS = 60.0
STEPS = ("features", "scoring", "reasons", "writes")
# The run's profile features (`features.profile_features`), built once and read by the three models.
SHARED = "profile_features"


def _train(folder: Path) -> dict[str, str]:
    """Train and register the three champions on a smaller company; their versions by model."""
    from models import churn_risk, lead_score, next_best_offer
    from warehouse.connection import open_warehouse

    with open_warehouse(folder / "training.duckdb") as con:
        build_company(con, TRAINING_PROFILES, seed=2)
        runs = [
            lead_score.train_and_score(con, as_of=AS_OF, horizon_days=HORIZON_DAYS),
            churn_risk.train_and_score(con, as_of=AS_OF, horizon_days=HORIZON_DAYS),
            next_best_offer.train_and_score(con, as_of=AS_OF, horizon_days=HORIZON_DAYS, top_k=TOP_K),
        ]
    versions = {}
    for run in runs:
        if run.skipped or not run.promoted:
            reason = run.skipped or (run.decision.reason if run.decision else "not promoted")
            raise RuntimeError(f"{run.model} has no champion to score with: {reason}")
        versions[run.model] = str(run.version)
        log.info("%s version %s: %s", run.model, run.version, run.decision.reason)
    return versions


def _score_round(con) -> dict[str, dict[str, float]]:
    """One round: the run's profile features once, then each model scores its whole population;
    seconds per step and rows per model."""
    from feature_store.materialise import materialise_profile_features
    from models import churn_risk, lead_score
    from models.binary_model import score_population
    from models.next_best_offer import score_offers

    started = time.perf_counter()
    profiles = materialise_profile_features(con, AS_OF)
    elapsed = time.perf_counter() - started
    results = {SHARED: {"features": elapsed, "total": elapsed, "rows": profiles, "withheld": 0}}
    for spec in (lead_score.SPEC, churn_risk.SPEC):
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        scored, _, withheld = score_population(con, spec, AS_OF, horizon_days=HORIZON_DAYS, seconds=seconds)
        results[spec.name] = {
            **seconds,
            "total": time.perf_counter() - started,
            "rows": scored,
            "withheld": withheld,
        }
    seconds = {}
    started = time.perf_counter()
    people, _, withheld = score_offers(
        con, AS_OF, offer_field="product_category", top_k=TOP_K, seconds=seconds
    )
    results["next_best_offer"] = {
        **seconds,
        "total": time.perf_counter() - started,
        "rows": people,
        "withheld": withheld,
    }
    return results


def _champion_settings() -> dict[str, dict[str, float | int]]:
    """Each champion's learning rate and number of trees, as early stopping chose them."""
    from models import registry
    from models.estimator import lightgbm_of

    settings = {}
    for model in ("lead_score", "churn_risk", "next_best_offer"):
        fitted = lightgbm_of(registry.load_champion(model)[0])
        settings[model] = {"learning_rate": fitted.learning_rate, "trees": fitted.n_estimators}
    return settings


def _compile_seconds() -> dict[str, float]:
    """Seconds to compile the offer ranker's champion to native code, as its first scoring does,
    and to load that code from the cache, as every later scoring with the same champion does
    (both in a scratch cache: the rounds' own cache starts empty)."""
    from models import registry
    from models.compiled_trees import compiled_model
    from models.estimator import lightgbm_of

    classifier = lightgbm_of(registry.load_champion("next_best_offer")[0])
    seconds = {}
    with tempfile.TemporaryDirectory(prefix="kindred-compiled-") as cache:
        for step in ("compile", "load"):
            started = time.perf_counter()
            compiled_model(classifier, Path(cache))
            seconds[step] = time.perf_counter() - started
    return seconds


def _medians(measured: list[dict]) -> dict:
    models = {}
    for model in measured[0]:
        models[model] = {
            key: statistics.median(r[model][key] for r in measured)
            for key in (*STEPS, "total")
            if key in measured[0][model]
        }
        models[model]["rows"] = measured[-1][model]["rows"]
        models[model]["withheld"] = measured[-1][model]["withheld"]
    return models


def run(sizes: tuple[int, ...] = (100_000, 1_000_000), rounds: int = 3) -> dict:
    """Train the champions once, then for each size build a company and score it `rounds` times.

    Args:
        sizes: people in each scored company.
        rounds: scoring rounds per size (medians are reported).

    Returns:
        Training seconds and the champions' settings, and per size: the rows built, build
        seconds, per model the median seconds per step and in total with the rows scored, and
        `total`, the median over rounds of the three models' sum.
    """
    from warehouse.connection import open_warehouse

    previous_home = os.environ.get("KINDRED_HOME")
    results = []
    with tempfile.TemporaryDirectory(prefix="kindred-scoring-") as folder:
        os.environ["KINDRED_HOME"] = folder
        try:
            started = time.perf_counter()
            versions = _train(Path(folder))
            training_seconds = time.perf_counter() - started
            settings = _champion_settings()
            compile_seconds = _compile_seconds()
            for profiles in sizes:
                database = Path(folder) / f"warehouse_{profiles}.duckdb"
                with open_warehouse(database) as con:
                    started = time.perf_counter()
                    counts = build_company(con, profiles, seed=1)
                    build_seconds = time.perf_counter() - started
                    log.info("company of %d profiles built in %.1f s: %s", profiles, build_seconds, counts)
                    measured = []
                    # Each size's first round compiles the ranker, as a new champion's first run does.
                    shutil.rmtree(Path(folder) / CACHE_FOLDER, ignore_errors=True)
                    load_before = os.getloadavg()[0]
                    for number in range(rounds):
                        measured.append(_score_round(con))
                        log.info("%d profiles, round %d: %s", profiles, number + 1, measured[-1])
                    load_after = os.getloadavg()[0]
                database.unlink()
                totals = [sum(r[m]["total"] for m in r) for r in measured]
                results.append(
                    {
                        "profiles": profiles,
                        "rows": counts,
                        "build_seconds": build_seconds,
                        "models": _medians(measured),
                        "totals": totals,
                        "total": statistics.median(totals),
                        "load": (load_before, load_after),
                    }
                )
        finally:
            if previous_home is None:
                os.environ.pop("KINDRED_HOME", None)
            else:
                os.environ["KINDRED_HOME"] = previous_home
    return {
        "training_profiles": TRAINING_PROFILES,
        "training_seconds": training_seconds,
        "versions": versions,
        "settings": settings,
        "compile_seconds": compile_seconds,
        "rounds": rounds,
        "sizes": results,
    }


def _size_table(size: dict) -> list[str]:
    lines = [
        "| model | profiles scored | features (s) | scoring: the bare model call (s) | reasons (s) | writes (s) | total (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for model, m in size["models"].items():
        if model == SHARED:
            lines.append(
                f"| `features.profile_features`, built once for the three (every profile) | {m['rows']:,} | "
                f"{m['features']:.1f} | | | | {m['total']:.1f} |"
            )
            continue
        reasons = f"{m['reasons']:.1f}" if "reasons" in m else "none (offers carry no reasons)"
        lines.append(
            f"| {model} | {m['rows']:,} | {m['features']:.1f} | {m['scoring']:.1f} | {reasons} | "
            f"{m['writes']:.1f} | {m['total']:.1f} |"
        )
    return lines


def _rounds(totals: list[float]) -> str:
    first = f"rounds: {totals[0]:.1f} compiling the ranker"
    return f"{first}, then {', '.join(f'{t:.1f}' for t in totals[1:])}" if len(totals) > 1 else first


def section(result: dict) -> str:
    """The BENCHMARKS.md section for a `run` result."""
    sizes = result["sizes"]
    largest = sizes[-1]
    rows = largest["rows"]
    command = (
        "flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.models_scoring "
        f"--sizes {','.join(str(s['profiles']) for s in sizes)} --rounds {result['rounds']} --write"
    )
    trees = ", ".join(
        f"{model} {s['trees']} trees at learning rate {s['learning_rate']:g}"
        for model, s in result["settings"].items()
    )
    lines = [
        f"Data: generated companies (`benchmarks/scoring_company.py`); the largest has {largest['profiles']:,} "
        f"profiles: {rows['people']:,} lead records, {rows['orders']:,} order lines, {rows['events']:,} events, "
        f"{rows['cases']:,} cases, {rows['consent']:,} consent rows, one profile per person. Champions "
        f"trained and gated as in production on a {result['training_profiles']:,}-profile company of the "
        f"same generator ({result['training_seconds']:.0f} s for the three; {trees}), then scoring as of "
        f"{AS_OF.date()} with a {HORIZON_DAYS}-day horizon, the calls the Dagster assets make. Median of "
        f"{result['rounds']} round(s) per size on the same warehouse file (`{command}`).",
    ]
    for size in sizes:
        lines += ["", f"{size['profiles']:,} profiles (company built in {size['build_seconds']:.0f} s):", ""]
        lines += _size_table(size)
    totals = "; ".join(
        f"**{s['total']:.1f} s** for {s['profiles']:,} profiles ({_rounds(s['totals'])})" for s in sizes
    )
    if largest["profiles"] >= 1_000_000:
        verdict = "meets" if largest["total"] <= TARGET_SECONDS else "misses"
        goal = f"The million {verdict} the goal of {TARGET_SECONDS:.0f} s on 2 cores."
    else:
        goal = f"No size reached the million of the {TARGET_SECONDS:.0f} s goal."
    steps_total = sum(m["total"] for m in largest["models"].values())
    largest_steps = sorted(
        ((m[step], model, step) for model, m in largest["models"].items() for step in STEPS if step in m),
        reverse=True,
    )[:5]
    remaining = "; ".join(f"{model} {step} {seconds:.1f} s" for seconds, model, step in largest_steps)
    lines += [
        "",
        f"Three models, features to writes: {totals}. {goal} Profile features are computed point in time "
        "from staging once per run, as `features.profile_features` (the table the run builds anyway), and "
        "each model reads them from it when it was built at the scoring as_of from unchanged staging and "
        "identity tables (a fingerprint checked at every read, counted in each model's features step); "
        "only the offer ranker's (person, offer) features are computed per model. Reasons are the five "
        "strongest LightGBM contributions per person (exact TreeSHAP, `models.tree_contributions`, equal "
        f"to `pred_contrib`), as JSON built column-wise; offers keep the top {TOP_K} per person, ranked by "
        "the ranker's trees compiled to native code (lleaves: the same probabilities as LightGBM's predict). "
        f"Compiling them takes {result['compile_seconds']['compile']:.1f} s: the first round of each size starts "
        "without compiled code and compiles in the ranker's scoring step, as a new champion's first run does; "
        "the code is kept per model under KINDRED_HOME, and later rounds, like any later run with the same "
        f"champion, load it in {result['compile_seconds']['load']:.2f} s. People "
        "who objected to profiling get nothing and, for offers, people not reachable by email are left "
        f"out. The largest steps at {largest['profiles']:,} profiles (medians, which add up to {steps_total:.1f} s): "
        f"{remaining}.",
    ]
    loads = [f"{s['profiles']:,}: {s['load'][0]:.1f} to {s['load'][1]:.1f}" for s in sizes if "load" in s]
    if loads:
        lines += [
            "",
            f"1-minute load average of the shared machine before and after each size's rounds: {'; '.join(loads)} "
            "(2 cores; above 2 means the run shared them with other work).",
        ]
    return "\n".join(lines)


def main() -> None:
    """Command line entry: run, print JSON, and with --write update BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="100000,1000000", help="comma-separated company sizes, scored in this order"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    result = run(tuple(int(n) for n in args.sizes.split(",")), args.rounds)
    print(json.dumps(result, indent=2, default=str))
    if args.write:
        from benchmarks.report import write_section

        write_section(SECTION, section(result))


if __name__ == "__main__":
    main()
