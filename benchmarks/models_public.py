"""Kindred's models on public data, next to the plain reference numbers of datasets/README.md.

- telco_churn.csv (target Churn) and bank_marketing.csv (target y, `duration` dropped): 5-fold
  stratified CV ROC-AUC and PR-AUC of Kindred's training pipeline (models.estimator, calibrated as
  in production) and of LightGBM with default parameters, on the same folds.
- online_retail.parquet: next purchase. The invoice lines become `staging.orders` (StockCode is the
  offer), the last 30 days are the holdout, and `models.next_best_offer` trains, evaluates and
  registers as it does in production (hit rate and recall at 10 next to "own most-bought, then
  popular").

Run: `.venv/bin/python -m benchmarks.models_public [--datasets DIR]`; prints and returns a dict.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
from lightgbm import LGBMClassifier
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from models.estimator import SEED, fit_pipeline
from models.model_input import model_input

log = logging.getLogger("benchmarks.models_public")

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
REFERENCE = {
    "telco_churn": {"roc_auc": 0.833, "pr_auc": 0.634},
    "bank_marketing": {"roc_auc": 0.801, "pr_auc": 0.466},
    "online_retail": {"hr_at_10": 0.790, "recall_at_10": 0.156},
}


def _telco(datasets: Path) -> tuple[pl.DataFrame, np.ndarray]:
    frame = pl.read_csv(datasets / "telco_churn.csv", infer_schema_length=0)
    y = (frame["Churn"] == "Yes").cast(pl.Int8).to_numpy()
    numeric = ["tenure", "MonthlyCharges", "TotalCharges", "SeniorCitizen"]
    frame = frame.drop("customerID", "Churn").with_columns(
        pl.col(numeric).str.strip_chars().replace("", None).cast(pl.Float64)
    )
    return frame, y


def _bank(datasets: Path) -> tuple[pl.DataFrame, np.ndarray]:
    frame = pl.read_csv(datasets / "bank_marketing.csv", separator=";", infer_schema_length=None)
    y = (frame["y"] == "yes").cast(pl.Int8).to_numpy()
    return frame.drop("y", "duration"), y


def cross_validate(frame: pl.DataFrame, y: np.ndarray, folds: int = 5) -> dict[str, float]:
    """5-fold stratified CV of Kindred's pipeline and of LightGBM defaults on the same folds.

    Args:
        frame: features; string columns are categorical.
        y: 0/1 target.
        folds: number of folds.

    Returns:
        Mean ROC-AUC and PR-AUC for `kindred_*` and `lgbm_default_*`, and the seconds each took.
    """
    categorical = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    features = frame.columns
    x = model_input(frame, features, categorical)
    x_default = x.astype({c: "category" for c in categorical})
    scores: dict[str, list[float]] = {
        k: [] for k in ("kindred_roc_auc", "kindred_pr_auc", "lgbm_default_roc_auc", "lgbm_default_pr_auc")
    }
    seconds = {"kindred": 0.0, "lgbm_default": 0.0}
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=SEED).split(x, y):
        started = time.perf_counter()
        ours = fit_pipeline(x.iloc[train], y[train], categorical, calibrate=True)
        p = ours.predict_proba(x.iloc[test])[:, 1]
        seconds["kindred"] += time.perf_counter() - started
        scores["kindred_roc_auc"].append(roc_auc_score(y[test], p))
        scores["kindred_pr_auc"].append(average_precision_score(y[test], p))
        started = time.perf_counter()
        default = LGBMClassifier(random_state=SEED, n_jobs=2, verbose=-1).fit(x_default.iloc[train], y[train])
        p = default.predict_proba(x_default.iloc[test])[:, 1]
        seconds["lgbm_default"] += time.perf_counter() - started
        scores["lgbm_default_roc_auc"].append(roc_auc_score(y[test], p))
        scores["lgbm_default_pr_auc"].append(average_precision_score(y[test], p))
    result = {k: round(float(np.mean(v)), 4) for k, v in scores.items()}
    result.update({f"{k}_seconds": round(v, 1) for k, v in seconds.items()})
    return result


def _retail_warehouse(datasets: Path):
    from warehouse.connection import connect

    con = connect(":memory:")
    lines = pl.read_parquet(datasets / "online_retail.parquet").filter(
        pl.col("CustomerID").is_not_null(),
        ~pl.col("InvoiceNo").str.starts_with("C"),
        pl.col("Quantity") > 0,
    )
    orders = lines.select(
        source=pl.lit("online_retail"),
        order_id=pl.col("InvoiceNo"),
        customer_id=pl.col("CustomerID").cast(pl.Int64).cast(pl.String),
        record_id=pl.col("CustomerID").cast(pl.Int64).cast(pl.String),
        ordered_at=pl.col("InvoiceDate"),
        amount=pl.col("Quantity") * pl.col("UnitPrice"),
        quantity=pl.col("Quantity").cast(pl.Float64),
        product_id=pl.col("StockCode"),
        product_category=pl.lit(None, pl.String),
    )
    con.register("retail_orders", orders.to_arrow())
    con.execute("CREATE TABLE staging.orders AS SELECT * FROM retail_orders")
    con.execute(
        "CREATE TABLE identity.record_xref AS "
        "SELECT DISTINCT source, record_id, 'customer-' || record_id AS profile_id FROM staging.orders"
    )
    con.unregister("retail_orders")
    return con, lines.height


def next_purchase(datasets: Path) -> dict[str, float]:
    """Next-purchase hit rate at 10 on Online Retail through the production next-best-offer model.

    Args:
        datasets: the folder holding online_retail.parquet.

    Returns:
        Kindred's and the baseline's HR@10 and Recall@10 on the last 30 days, sizes and seconds.
    """
    from models import next_best_offer

    con, n_lines = _retail_warehouse(datasets)
    previous_home = os.environ.get("KINDRED_HOME")
    with tempfile.TemporaryDirectory() as home:
        os.environ["KINDRED_HOME"] = home
        try:
            started = time.perf_counter()
            run = next_best_offer.train_and_score(
                con, as_of=datetime(2011, 12, 10), horizon_days=30, offer_field="product_id", top_k=10
            )
            seconds = time.perf_counter() - started
        finally:
            if previous_home is None:
                os.environ.pop("KINDRED_HOME", None)
            else:
                os.environ["KINDRED_HOME"] = previous_home
    if run.skipped:
        raise RuntimeError(f"next best offer skipped on Online Retail: {run.skipped}")
    return {
        **{f"kindred_{k}": round(v, 4) for k, v in run.metrics.items()},
        **{f"baseline_{k}": round(v, 4) for k, v in run.baseline_metrics.items()},
        "invoice_lines": n_lines,
        "n_train_pairs": run.n_train,
        "n_holdout_pairs": run.n_holdout,
        "customers_ranked": run.n_scored,
        "seconds": round(seconds, 1),
    }


def run_benchmarks(datasets: Path = DATASETS) -> dict[str, dict[str, float]]:
    """All three benchmarks in one run.

    Args:
        datasets: the folder of the public data sets.

    Returns:
        Per data set, our figures, LightGBM defaults (or the baseline) and the README's reference.
    """
    results: dict[str, dict[str, float]] = {}
    for name, loader in (("telco_churn", _telco), ("bank_marketing", _bank)):
        frame, y = loader(datasets)
        results[name] = {
            **cross_validate(frame, y),
            "rows": frame.height,
            **{f"reference_{k}": v for k, v in REFERENCE[name].items()},
        }
        log.info("%s: %s", name, results[name])
    results["online_retail"] = {
        **next_purchase(datasets),
        **{f"reference_{k}": v for k, v in REFERENCE["online_retail"].items()},
    }
    log.info("online_retail: %s", results["online_retail"])
    return results


def main() -> None:
    """Command line entry: run the benchmarks and print the results as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(json.dumps(run_benchmarks(args.datasets), indent=2))


if __name__ == "__main__":
    main()
