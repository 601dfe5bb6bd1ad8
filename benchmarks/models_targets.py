"""The models' targets on public data, each next to its baseline in the same run.

- Prediction builder (`models.prediction_builder.train`, what `kindred predict train` runs) on
  telco_churn.csv (target `Churn`, id `customerID`) and bank_marketing.csv (target `y`, `duration`
  dropped: it is only known after the call), next to LightGBM with default settings on the same
  five stratified folds. What the builder chooses from the data (the number of trees by early
  stopping, whether to learn from value shares) is chosen on a fifth of each fold's training rows;
  every figure is on the fold the model did not see.
- Churn risk on online_retail.parquet used as a user's orders file: one orders source in a
  kindred.yaml, `kindred run --as-of 2011-12-10` as a subprocess, exactly as a user starts it;
  Kindred's churn model next to the BG/NBD model fitted beside it in the same run, on the same
  holdout (customers active in the 180 days before 2011-09-11, churned = no purchase in the 90
  days after). Churn's LightGBM settings were chosen on a run as of 2011-09-10 (holdout cut-off
  2011-06-12) and the demo as of 2026-08-01; the run reported here is later.
- The same on the demo company (`kindred demo-data`, 3,000 people, `kindred run --as-of 2026-11-01`).

Run: `flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.models_targets [--write]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl

SECTION = "Model targets on public data"
log = logging.getLogger("benchmarks.models_targets")

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
REPO = Path(__file__).resolve().parents[1]
TARGETS = {"telco_churn": 0.845, "bank_marketing": 0.805}
CHURN_RATIO = 1.01
RETAIL_AS_OF = "2011-12-10"
DEMO_AS_OF = "2026-11-01"
RETAIL_CONFIG = """sources:
  - name: retail_orders
    kind: orders
    path: online_retail.parquet
    columns: {customer_id: CustomerID, order_id: InvoiceNo, ordered_at: InvoiceDate,
              amount: amount, product_id: StockCode, quantity: Quantity}
models:
  churn_risk: {horizon_days: 90}
  next_best_offer: {offer_field: product_id, top_k: 10}
"""


def _with_home(home: str):
    previous = os.environ.get("KINDRED_HOME")
    os.environ["KINDRED_HOME"] = home
    return previous


def _restore_home(previous: str | None) -> None:
    if previous is None:
        os.environ.pop("KINDRED_HOME", None)
    else:
        os.environ["KINDRED_HOME"] = previous


def builder(datasets: Path = DATASETS) -> dict[str, dict]:
    """The prediction builder on telco and bank marketing, next to LightGBM defaults.

    Args:
        datasets: the folder of the public data sets.

    Returns:
        Per data set: rows, positives, the mean over folds of ROC-AUC and PR-AUC for Kindred,
        LightGBM defaults and the single-column baseline, Kindred's pooled out-of-fold ROC-AUC with
        its interval, the gate's verdict, dropped columns and seconds.
    """
    from models import prediction_builder

    results = {}
    with tempfile.TemporaryDirectory(prefix="kindred-builder-") as folder:
        previous = _with_home(folder)
        try:
            bank = Path(folder) / "bank_marketing.parquet"
            pl.read_csv(
                datasets / "bank_marketing.csv", separator=";", infer_schema_length=None
            ).with_row_index("row_id").write_parquet(bank)
            cases = {
                "telco_churn": (datasets / "telco_churn.csv", "Churn", "customerID", ()),
                "bank_marketing": (bank, "y", "row_id", ("duration",)),
            }
            for name, (path, target, id_column, drop) in cases.items():
                started = time.perf_counter()
                outcome = prediction_builder.train(
                    path, target=target, id_column=id_column, name=name, drop=drop
                )
                roc = outcome.run.figures["roc_auc"]
                results[name] = {
                    "rows": outcome.rows,
                    "positives": outcome.positives,
                    **{k: round(v, 4) for k, v in outcome.cv.items()},
                    "pooled_roc_auc": round(roc.value, 4),
                    "pooled_roc_auc_interval": [round(roc.lower, 4), round(roc.upper, 4)],
                    "promoted": bool(outcome.run.promoted),
                    "decision": outcome.run.decision.reason if outcome.run.decision else "",
                    "dropped": [f"{d.column}: {d.reason}" for d in outcome.plan.dropped],
                    "share_folds": outcome.share_folds,
                    "value_shares": outcome.value_shares,
                    "seconds": round(time.perf_counter() - started, 1),
                    "target": TARGETS[name],
                }
                log.info("%s: %s", name, results[name])
        finally:
            _restore_home(previous)
    return results


def _kindred(folder: Path, *args: str) -> str:
    """Run the CLI in `folder` with its own KINDRED_HOME, as a user does; its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KINDRED_", "DAGSTER_"))}
    env["KINDRED_HOME"] = str(folder / "home")
    process = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if process.returncode != 0:
        raise RuntimeError(
            f"kindred {' '.join(args)} failed in {folder}:\n{process.stdout}\n{process.stderr}"
        )
    return process.stdout


def _churn_figures(home: Path) -> dict:
    """Churn risk's latest holdout ROC-AUC and PR-AUC, with BG/NBD's beside them."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.sql(
            """
            SELECT metric, value, lower, upper, classic, classic_value, classic_lower, classic_upper,
                   baseline, baseline_value, n_train, n_holdout, n_holdout_positive, promoted, decision
            FROM scores.model_metrics
            WHERE model = 'churn_risk'
              AND model_version = (SELECT max(TRY_CAST(model_version AS INTEGER))::VARCHAR
                                   FROM scores.model_metrics WHERE model = 'churn_risk')
            """
        ).pl()
    if rows.is_empty():
        raise RuntimeError(f"churn risk registered no version in {home}")
    figures = {row["metric"]: row for row in rows.iter_rows(named=True)}
    roc = figures["roc_auc"]
    return {
        "roc_auc": roc["value"],
        "roc_auc_interval": [roc["lower"], roc["upper"]],
        "bgnbd_roc_auc": roc["classic_value"],
        "bgnbd_roc_auc_interval": [roc["classic_lower"], roc["classic_upper"]],
        "ratio": roc["value"] / roc["classic_value"],
        "pr_auc": figures["pr_auc"]["value"],
        "bgnbd_pr_auc": figures["pr_auc"]["classic_value"],
        "baseline": roc["baseline"],
        "baseline_roc_auc": roc["baseline_value"],
        "n_train": roc["n_train"],
        "n_holdout": roc["n_holdout"],
        "n_holdout_positive": roc["n_holdout_positive"],
        "promoted": roc["promoted"],
        "classic": roc["classic"],
    }


def churn_retail(datasets: Path = DATASETS) -> dict:
    """Churn risk on Online Retail given to `kindred run --as-of` as the only orders file.

    The file is the data set as published plus an `amount` column (Quantity x UnitPrice), the one
    column a shop's export would carry that this one lacks.

    Returns:
        Churn's and BG/NBD's holdout figures from the run, its seconds.
    """
    with tempfile.TemporaryDirectory(prefix="kindred-retail-") as folder:
        root = Path(folder)
        pl.read_parquet(datasets / "online_retail.parquet").with_columns(
            amount=pl.col("Quantity") * pl.col("UnitPrice")
        ).write_parquet(root / "online_retail.parquet")
        (root / "kindred.yaml").write_text(RETAIL_CONFIG)
        started = time.perf_counter()
        _kindred(root, "run", "--as-of", RETAIL_AS_OF)
        seconds = time.perf_counter() - started
        return {**_churn_figures(root / "home"), "run_seconds": round(seconds, 1), "as_of": RETAIL_AS_OF}


def churn_demo() -> dict:
    """Churn risk on the 3,000-person demo company, `kindred run --as-of 2026-11-01`."""
    with tempfile.TemporaryDirectory(prefix="kindred-demo-") as folder:
        root = Path(folder)
        (root / "kindred.yaml").write_text((REPO / "kindred.yaml").read_text())
        _kindred(root, "demo-data")
        started = time.perf_counter()
        _kindred(root, "run", "--as-of", DEMO_AS_OF)
        seconds = time.perf_counter() - started
        return {**_churn_figures(root / "home"), "run_seconds": round(seconds, 1), "as_of": DEMO_AS_OF}


def run(datasets: Path = DATASETS) -> dict:
    """Every target of this module in one run."""
    return {"builder": builder(datasets), "churn_retail": churn_retail(datasets), "churn_demo": churn_demo()}


def _interval(pair: list[float]) -> str:
    return f"{pair[0]:.3f} to {pair[1]:.3f}"


def section(result: dict) -> str:
    """The BENCHMARKS.md section for a `run` result."""
    lines = [
        "Prediction builder (`kindred predict train`): 5-fold stratified cross-validation, Kindred next to "
        "LightGBM with default settings on the same folds in the same run; the figures are means over the "
        "folds (as the datasets README's references), each fold scored by models that never saw it. What is "
        "chosen from the data (the number of trees, and whether the model learns from value shares, how common "
        "each value is: docs/models.md) is chosen on a fifth of each fold's training rows; the shares column "
        "says in how many of the 5 folds they were kept. Other methods tried: section "
        '"Prediction builder: what else was tried".',
        "",
        "| data | rows (positives) | Kindred ROC-AUC | LightGBM defaults | single-column baseline | target | "
        "Kindred, all folds pooled (95 % interval) | Kindred PR-AUC | LightGBM defaults PR-AUC | shares | seconds |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in result["builder"].items():
        label = "bank_marketing without `duration`" if name == "bank_marketing" else name
        met = "met" if r["kindred_roc_auc"] >= r["target"] else "missed"
        lines.append(
            f"| {label} | {r['rows']:,} ({r['positives']:,}) | **{r['kindred_roc_auc']:.3f}** | "
            f"{r['lgbm_default_roc_auc']:.3f} | {r['baseline_roc_auc']:.3f} | {r['target']:.3f} ({met}) | "
            f"{r['pooled_roc_auc']:.3f} ({_interval(r['pooled_roc_auc_interval'])}) | "
            f"{r['kindred_pr_auc']:.3f} | {r['lgbm_default_pr_auc']:.3f} | {r['share_folds']} of 5 | "
            f"{r['seconds']:.0f} |"
        )
    lines += [
        "",
        "Churn risk next to BG/NBD fitted beside it in the same `kindred run`, on the same holdout rows "
        "(customers who bought in the 180 days before the holdout cut-off; churned = no purchase in the 90 "
        "days after it). Intervals: 95 % bootstrap over the holdout's customers.",
        "",
        "| data | as of | holdout (churned) | Kindred ROC-AUC | BG/NBD ROC-AUC | ratio (target 1.01x) | "
        "Kindred PR-AUC | BG/NBD PR-AUC | recency alone | run (s) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, key in (
        ("Online Retail as the only orders file", "churn_retail"),
        ("demo company, 3,000 people", "churn_demo"),
    ):
        r = result[key]
        lines.append(
            f"| {label} | {r['as_of']} | {r['n_holdout']:,} ({r['n_holdout_positive']:,}) | "
            f"**{r['roc_auc']:.3f}** ({_interval(r['roc_auc_interval'])}) | {r['bgnbd_roc_auc']:.3f} "
            f"({_interval(r['bgnbd_roc_auc_interval'])}) | **{r['ratio']:.3f}x** | {r['pr_auc']:.3f} | "
            f"{r['bgnbd_pr_auc']:.3f} | {r['baseline_roc_auc']:.3f} | {r['run_seconds']:.0f} |"
        )
    lines += [
        "",
        "Online Retail is given as published plus an `amount` column (Quantity x UnitPrice); lines without a "
        "CustomerID are quarantined by staging, as for any user. The run column is the whole `kindred run` "
        "(ingest, identity, features, the three models). Run as `flock /tmp/kindred-bench.lock .venv/bin/python "
        "-m benchmarks.models_targets --write`, or its parts one after the other with `--only builder`, "
        "`--only churn_retail` and `--only churn_demo`.",
    ]
    return "\n".join(lines)


def main() -> None:
    """Command line entry: run, print JSON, and with --write update BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--only", choices=["builder", "churn_retail", "churn_demo"])
    parser.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.only:
        part = {"builder": builder, "churn_retail": churn_retail, "churn_demo": lambda _: churn_demo()}[
            args.only
        ]
        print(json.dumps(part(args.datasets), indent=2, default=str))
        return
    result = run(args.datasets)
    print(json.dumps(result, indent=2, default=str))
    if args.write:
        from benchmarks.report import write_section

        write_section(SECTION, section(result))


if __name__ == "__main__":
    main()
