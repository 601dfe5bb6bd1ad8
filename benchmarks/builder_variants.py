"""What else the prediction builder could fit, measured on the builder benchmark's own folds.

Each variant is scored on the same five stratified outer folds as `benchmarks.models_targets`
(`--only builder`), next to the builder's pipeline and LightGBM defaults, in the same
run; every setting a variant chooses (its number of trees) is chosen on the fold's training rows
only. The blends of the pipeline with a logistic regression are given at fixed weights: the best of
them bounds from above what a weight chosen on the training rows could reach.

Run: `flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.builder_variants [--write]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lightgbm
import numpy as np
import pandas as pd
import polars as pl
from lightgbm import LGBMClassifier
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler

from benchmarks.models_targets import DATASETS
from models.estimator import EARLY_STOPPING_ROUNDS, LGBM_PARAMS, MAX_TREES, SEED, fit_pipeline
from models.model_input import model_input
from models.prediction_builder import FOLDS
from models.table_file import read_table
from models.table_plan import features_of, plan_table
from models.value_shares import choose_shares, fit_shares, share_columns, share_feature, with_shares

SECTION = "Prediction builder: what else was tried"
log = logging.getLogger("benchmarks.builder_variants")

# LightGBM settings tried over the pipeline's own (`models.estimator.LGBM_PARAMS`).
SETTINGS = {
    "min_child_samples 100": {"min_child_samples": 100},
    "categories as one-hot splits (max_cat_to_onehot 32)": {"max_cat_to_onehot": 32},
    "colsample_bytree 0.5": {"colsample_bytree": 0.5},
    "path_smooth 10": {"path_smooth": 10.0},
    "extra_trees": {"extra_trees": True},
}
SEEDS = 4
FEW_VALUES = 30
BLEND_WEIGHTS = (0.1, 0.2, 0.3, 0.5)
FEW_LABEL = f"numeric columns with 3 to {FEW_VALUES} values as categories"

Scorer = Callable[[pd.DataFrame, np.ndarray, pd.DataFrame, list[str]], np.ndarray]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _pipeline(params: dict | None = None) -> Scorer:
    def scorer(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, categorical: list[str]) -> np.ndarray:
        model = fit_pipeline(train, y, categorical, calibrate=True, early_stopping=True, params=params)
        return model.predict_proba(test)[:, 1]

    return scorer


def _seed_average(
    train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, categorical: list[str]
) -> np.ndarray:
    """The pipeline fitted with several seeds (bagging, column sampling, early stopping's fifth too)."""
    return np.mean(
        [_logit(_pipeline({"random_state": SEED + k})(train, y, test, categorical)) for k in range(SEEDS)],
        axis=0,
    )


def _cv_ensemble(
    train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, categorical: list[str]
) -> np.ndarray:
    """Five LightGBMs, each early-stopped on its own inner fold of the training rows; raw scores averaged."""
    codes = {c: pd.Categorical(train[c].dropna()).categories for c in categorical}

    def as_codes(frame: pd.DataFrame) -> pd.DataFrame:
        # Unseen and missing categories become NaN, as the pipeline's encoder makes them.
        coded = {c: pd.Categorical(frame[c], categories=codes[c]).codes.astype(float) for c in categorical}
        return frame.assign(**{c: np.where(v < 0, np.nan, v) for c, v in coded.items()})

    fit_x, test_x = as_codes(train), as_codes(test)
    scores = np.zeros(len(test))
    inner = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
    for a, b in inner.split(fit_x, y):
        model = LGBMClassifier(**{**LGBM_PARAMS, "n_estimators": MAX_TREES})
        model.fit(
            fit_x.iloc[a],
            y[a],
            eval_X=(fit_x.iloc[b],),
            eval_y=(y[b],),
            eval_metric="binary_logloss",
            callbacks=[lightgbm.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
            categorical_feature=categorical,
        )
        scores += model.predict(test_x, raw_score=True) / FOLDS
    return scores


def _defaults(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, categorical: list[str]) -> np.ndarray:
    kinds = {c: "category" for c in categorical}
    model = LGBMClassifier(random_state=SEED, n_jobs=2, verbose=-1).fit(train.astype(kinds), y)
    return model.predict_proba(test.astype(kinds))[:, 1]


def _logistic(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, categorical: list[str]) -> np.ndarray:
    """L2 logistic regression: categories one-hot (rare ones pooled), numbers as cubic splines."""
    numeric = [c for c in train.columns if c not in categorical]
    model = make_pipeline(
        ColumnTransformer(
            [
                (
                    "categorical",
                    make_pipeline(
                        SimpleImputer(strategy="constant", fill_value="(missing)"),
                        OneHotEncoder(handle_unknown="ignore", min_frequency=10),
                    ),
                    categorical,
                ),
                (
                    "numeric",
                    make_pipeline(
                        SimpleImputer(strategy="median", add_indicator=True),
                        StandardScaler(),
                        SplineTransformer(n_knots=5, degree=3),
                    ),
                    numeric,
                ),
            ]
        ),
        LogisticRegression(C=0.1, max_iter=2000),
    )
    return model.fit(train, y).predict_proba(test)[:, 1]


def _fold_shares(
    x: pl.DataFrame, y: np.ndarray, folds: list, categorical: list[str], *, always: bool
) -> np.ndarray:
    """The pipeline with value shares counted on each fold's training rows: always, or when they help."""
    out = np.empty(len(y))
    for train, test in folds:
        if always:
            shares = fit_shares(x[train], share_columns(x[train]))
        else:
            shares, _ = choose_shares(x[train], y[train], categorical)
        names = list(x.columns) + [share_feature(c) for c in shares]
        frame = model_input(with_shares(x, shares), names, categorical)
        out[test] = _pipeline()(frame.iloc[train], y[train], frame.iloc[test], categorical)
    return out


def _few_values_as_categories(frame: pl.DataFrame, numeric: list[str]) -> list[str]:
    return [c for c in numeric if 2 < frame[c].n_unique() <= FEW_VALUES]


def _case(name: str, folder: Path, datasets: Path) -> tuple[Path, str, str, tuple[str, ...]]:
    if name == "telco_churn":
        return datasets / "telco_churn.csv", "Churn", "customerID", ()
    bank = folder / "bank_marketing.parquet"
    pl.read_csv(datasets / "bank_marketing.csv", separator=";", infer_schema_length=None).with_row_index(
        "row_id"
    ).write_parquet(bank)
    return bank, "y", "row_id", ("duration",)


def measure(name: str, datasets: Path = DATASETS) -> dict[str, dict]:
    """Every variant on one data set: mean ROC-AUC over the outer folds, each fold's, seconds.

    Args:
        name: `telco_churn` or `bank_marketing`.
        datasets: the folder of the public data sets.

    Returns:
        Per variant: `roc_auc` (mean over folds), `folds`, `seconds`.
    """
    with tempfile.TemporaryDirectory(prefix="kindred-variants-") as folder:
        path, target, id_column, drop = _case(name, Path(folder), datasets)
        table = read_table(path)
    plan = plan_table(table, target=target, id_column=id_column, drop=drop, source=str(path))
    labelled = table.filter(pl.col(target).is_not_null())
    y = (labelled[target] == plan.positive).cast(pl.Int8).to_numpy().astype(int)
    x = features_of(labelled, plan)
    categorical = list(plan.categorical)
    few = _few_values_as_categories(x, [f for f in plan.features if f not in categorical])
    data = model_input(x, plan.features, categorical)
    data_few = model_input(x, plan.features, categorical + few)
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(np.zeros(len(y)), y))
    variants: dict[str, tuple[Scorer, pd.DataFrame, list[str]] | Callable[[], np.ndarray]] = {
        "Kindred pipeline without value shares (before)": (_pipeline(), data, categorical),
        "Kindred pipeline, value shares when they help (chosen per fold: the builder now)": lambda: (
            _fold_shares(x, y, folds, categorical, always=False)
        ),
        "Kindred pipeline, value shares always": lambda: _fold_shares(x, y, folds, categorical, always=True),
        "LightGBM defaults": (_defaults, data, categorical),
        f"pipeline averaged over {SEEDS} seeds": (_seed_average, data, categorical),
        "CV ensemble (5 inner folds' early-stopped LightGBMs)": (_cv_ensemble, data, categorical),
        FEW_LABEL: (
            _pipeline(),
            data_few,
            categorical + few,
        ),
        **{
            f"pipeline, {label}": (_pipeline(params), data, categorical) for label, params in SETTINGS.items()
        },
        "logistic regression (splines, one-hot)": (_logistic, data, categorical),
    }
    scores: dict[str, np.ndarray] = {}
    results: dict[str, dict] = {}
    for label, variant in variants.items():
        started = time.perf_counter()
        if callable(variant):
            out = variant()
        else:
            scorer, frame, kinds = variant
            out = np.empty(len(y))
            for train, test in folds:
                out[test] = scorer(frame.iloc[train], y[train], frame.iloc[test], kinds)
        scores[label] = out
        per_fold = [roc_auc_score(y[t], out[t]) for _, t in folds]
        results[label] = {
            "roc_auc": round(float(np.mean(per_fold)), 4),
            "folds": [round(v, 4) for v in per_fold],
            "seconds": round(time.perf_counter() - started, 1),
        }
        if label == FEW_LABEL:
            results[label]["columns"] = few
        log.info("%s %s: %s", name, label, results[label])
    ours, linear = (
        _logit(scores["Kindred pipeline without value shares (before)"]),
        _logit(scores["logistic regression (splines, one-hot)"]),
    )
    for weight in BLEND_WEIGHTS:
        blend = (1 - weight) * ours + weight * linear
        per_fold = [roc_auc_score(y[t], blend[t]) for _, t in folds]
        results[f"pipeline blended with the logistic regression, weight {weight}"] = {
            "roc_auc": round(float(np.mean(per_fold)), 4),
            "folds": [round(v, 4) for v in per_fold],
        }
    return results


def section(results: dict[str, dict[str, dict]]) -> str:
    """The BENCHMARKS.md section for `measure` results per data set."""
    names = list(results)
    labels = list(results[names[0]])
    lines = [
        "What else the prediction builder could fit, on the same five stratified outer folds as the section "
        '"Model targets on public data", in one run: ROC-AUC, mean over the folds (each fold\'s figure in '
        "`python -m benchmarks.builder_variants` output). Everything a variant chooses (its number of trees, "
        "whether value shares help) is chosen on the fold's training rows. The blends with the logistic "
        "regression use fixed weights: the best of them bounds what a weight chosen on training rows could reach.",
        "",
        "| variant | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for label in labels:
        lines.append(
            f"| {label} | " + " | ".join(f"{results[n][label]['roc_auc']:.4f}" for n in names) + " |"
        )
    few = "; ".join(
        f"{n}: {results[n][FEW_LABEL].get('columns') or 'none'}" for n in names if FEW_LABEL in results[n]
    )
    lines += [
        "",
        f"Columns with 3 to {FEW_VALUES} values made categories: {few}.",
        "",
        "Also tried on the same folds on 2026-12-07, outside this benchmark (bank marketing, ROC-AUC mean over folds, "
        "the pipeline without value shares then at 0.8040): learning rate 0.01 with up to 4,000 trees 0.8036, and "
        "with num_leaves 7 0.8020; early stopping on ROC-AUC rather than log loss 0.8039; refitting with 1.25x the "
        "trees chosen on four fifths 0.8036; averaging the log-odds of the LightGBM variants above, two or three at a "
        "time, at most 0.8042. Earlier, two small inner-CV searches over learning rate, num_leaves and "
        "min_child_samples gave 0.8031 and 0.8033. None was kept.",
        "",
        "Run as `flock /tmp/kindred-bench.lock .venv/bin/python -m benchmarks.builder_variants --write`.",
    ]
    return "\n".join(lines)


def main() -> None:
    """Command line entry: measure, print JSON, and with --write update BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--only", choices=["telco_churn", "bank_marketing"])
    parser.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    names = [args.only] if args.only else ["telco_churn", "bank_marketing"]
    results = {name: measure(name, args.datasets) for name in names}
    print(json.dumps(results, indent=2))
    if args.write:
        from benchmarks.report import write_section

        write_section(SECTION, section(results))


if __name__ == "__main__":
    main()
