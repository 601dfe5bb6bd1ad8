"""The prediction builder: learn a yes/no column of any table, and score tables like it.

`train` reads the file (`models.table_plan`), then measures the model by 5-fold stratified
cross-validation: in each fold Kindred's pipeline (the one every Kindred model uses: encoding,
LightGBM with the number of trees chosen on a fifth of the training rows, Platt calibration; here
with the value shares of `models.value_shares` when they help on the fold's training rows), plain
LightGBM with its default settings, and the plain baseline (the single most telling column, chosen
on the training folds) are fitted on four fifths and score the fifth. Every row is then scored by
models that never saw it; those out-of-fold scores are the holdout the promotion gate, the model
card and the figures use. The version that scores is refitted on every row and registered in MLflow
under the given name with its card and its table plan; it becomes the champion only when it beats
the baseline (and the champion before it) by the gate's margin. `score` reads a file with the
training columns, scores it with `models:/<name>@champion` and gives each row `score`,
`score_1_99` and `top_factors`: the strongest reasons, in words.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import polars as pl
from lightgbm import LGBMClassifier
from sklearn.model_selection import StratifiedKFold

from models import registry, version_artifacts
from models.bootstrap import Figure
from models.estimator import SEED, fit_pipeline, lightgbm_settings
from models.evaluation import binary_figures
from models.explanations import feature_importance, top_factors
from models.leak_guards import single_column_scores, univariate_auc
from models.model_card import CardFacts
from models.model_input import model_input, pipeline_features
from models.model_run import ModelRun
from models.promotion import Holdout
from models.score_tables import score_1_99
from models.table_file import read_table
from models.table_plan import TableError, TablePlan, features_of, plan_table
from models.training_run import register_and_gate
from models.value_shares import choose_shares, fit_shares, share_columns, share_feature, with_shares

log = logging.getLogger(__name__)

FOLDS = 5
PLAN_ARTIFACT = "table_plan.json"
PIPELINE_MODELS = ("lead_score", "churn_risk", "next_best_offer")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass
class BuilderRun:
    """What `train` did.

    Attributes:
        run: the registered version, its holdout (out-of-fold) figures, the gate's verdict.
        plan: the columns used and left out.
        rows: rows with a target value.
        positives: rows with the positive value.
        cv: mean over the folds of ROC-AUC and PR-AUC, for Kindred (`kindred_*`), LightGBM with
            default settings (`lgbm_default_*`) and the single-column baseline (`baseline_*`).
        default_figures: LightGBM defaults' out-of-fold figures with intervals.
        baseline_column: the column the baseline used.
        value_shares: the columns whose value shares the registered version learns from.
        share_folds: in how many cross-validation folds value shares were kept.
        seconds: time spent cross-validating and refitting.
    """

    run: ModelRun
    plan: TablePlan
    rows: int
    positives: int
    cv: dict[str, float] = field(default_factory=dict)
    default_figures: dict[str, Figure] = field(default_factory=dict)
    baseline_column: str = ""
    value_shares: list[str] = field(default_factory=list)
    share_folds: int = 0
    seconds: float = 0.0


def check_name(name: str) -> str:
    """A prediction-builder model name: lower_snake_case and not one of the pipeline's models.

    Raises:
        TableError: naming the rule broken.
    """
    if not _NAME.match(name):
        raise TableError(f"--name {name!r}: use lower-case letters, digits and _, starting with a letter")
    if name in PIPELINE_MODELS:
        raise TableError(f"--name {name!r} is one of the pipeline's models; choose another name")
    return name


def _baseline_oof(x: pl.DataFrame, y: np.ndarray, folds: list) -> tuple[np.ndarray, str]:
    """The single most telling column, chosen and scored without seeing the scored fold."""
    scores = np.empty(len(y))
    chosen: dict[str, int] = {}
    for train, test in folds:
        best, best_auc, best_scores = None, -1.0, None
        for column in x.columns:
            inner = single_column_scores(x[column][train], y[train], x[column][train])
            auc = univariate_auc(y[train], inner)
            if auc > best_auc:
                best, best_auc = column, auc
        best_scores = single_column_scores(x[best][train], y[train], x[best][test])
        scores[test] = best_scores
        chosen[best] = chosen.get(best, 0) + 1
    return scores, max(chosen, key=chosen.get)


def cross_validate(x: pl.DataFrame, y: np.ndarray, categorical: list[str]) -> dict:
    """Out-of-fold scores of Kindred's pipeline, LightGBM defaults and the single-column baseline.

    Args:
        x: the features.
        y: 0/1 labels.
        categorical: the categorical features.

    Returns:
        `kindred`, `lgbm_default`, `baseline` out-of-fold score arrays, `baseline_column`,
        `share_folds` (in how many folds Kindred kept value shares, chosen on the fold's training
        rows), and `cv` (each one's ROC-AUC and PR-AUC averaged over the folds).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(np.zeros(len(y)), y))
    features = list(x.columns)
    data = model_input(x, features, categorical)
    as_categories = data.astype({c: "category" for c in categorical})
    ours, default = np.empty(len(y)), np.empty(len(y))
    per_fold: dict[str, list[float]] = {}
    share_folds = 0
    for train, test in folds:
        shares, _ = choose_shares(x[train], y[train], categorical)
        share_folds += bool(shares)
        names = features + [share_feature(c) for c in shares]
        fold_data = model_input(with_shares(x, shares), names, categorical)
        pipeline = fit_pipeline(
            fold_data.iloc[train], y[train], categorical, calibrate=True, early_stopping=True
        )
        ours[test] = pipeline.predict_proba(fold_data.iloc[test])[:, 1]
        plain = LGBMClassifier(random_state=SEED, n_jobs=2, verbose=-1).fit(
            as_categories.iloc[train], y[train]
        )
        default[test] = plain.predict_proba(as_categories.iloc[test])[:, 1]
    baseline, column = _baseline_oof(x, y, folds)
    for name, scores in (("kindred", ours), ("lgbm_default", default), ("baseline", baseline)):
        per_fold[f"{name}_roc_auc"] = [roc_auc_score(y[t], scores[t]) for _, t in folds]
        per_fold[f"{name}_pr_auc"] = [average_precision_score(y[t], scores[t]) for _, t in folds]
    cv = {k: float(np.mean(v)) for k, v in per_fold.items()}
    return {
        "kindred": ours,
        "lgbm_default": default,
        "baseline": baseline,
        "baseline_column": column,
        "share_folds": share_folds,
        "cv": cv,
    }


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def train(path: Path, *, target: str, id_column: str, name: str, drop: tuple[str, ...] = ()) -> BuilderRun:
    """Learn `target` from the other columns of a CSV or Parquet file and register the model.

    Args:
        path: the labelled table.
        target: the yes/no column to predict.
        id_column: the column identifying rows.
        name: the registered model's name.
        drop: columns to leave out (e.g. ones only known after the outcome).

    Returns:
        What happened: figures, the columns used and dropped, the gate's verdict.

    Raises:
        TableError: for a bad file, target, id, name or drop list (the message names it).
    """
    check_name(name)
    started = time.perf_counter()
    table = read_table(path)
    plan = plan_table(table, target=target, id_column=id_column, drop=drop, source=str(path))
    labelled = table.filter(pl.col(target).is_not_null())
    y = (labelled[target] == plan.positive).cast(pl.Int8).to_numpy().astype(int)
    x = features_of(labelled, plan)
    folds = cross_validate(x, y, plan.categorical)
    shares, shares_verdict = choose_shares(x, y, plan.categorical)
    plan = replace(plan, value_shares=shares)
    data = model_input(with_shares(x, shares), plan.features, plan.categorical)
    final = fit_pipeline(data, y, plan.categorical, calibrate=True, early_stopping=True)
    # Every share feature any version trained on this file could use, for scoring the champion.
    every_share = with_shares(x, fit_shares(x, share_columns(x)))

    run = ModelRun(name, None, 0)
    run.n_train = run.n_holdout = len(y)
    run.n_train_positive = run.n_holdout_positive = int(y.sum())
    run.figures = binary_figures(y, folds["kindred"])
    run.baseline = (
        f"the single most telling column ({folds['baseline_column']}), chosen on the training folds"
    )
    run.baseline_figures = binary_figures(y, folds["baseline"])
    run.classic = "LightGBM defaults"
    run.classic_figures = binary_figures(y, folds["lgbm_default"])
    fingerprint = _fingerprint(path)
    ids = labelled[id_column].to_numpy()

    def evaluate(model) -> np.ndarray:
        names, categories = pipeline_features(model)
        return model.predict_proba(model_input(every_share, names, categories))[:, 1]

    dropped = "\n".join(f"- `{d.column}`: {d.reason}" for d in plan.dropped) or "none"
    used = "\n".join(f"- `{c.name}`: {c.kind}" + (f" ({c.note})" if c.note else "") for c in plan.columns)
    register_and_gate(
        None,
        run,
        final,
        holdout=Holdout(
            description=f"file_sha256={fingerprint} target={target} id={id_column} folds={FOLDS} rows={len(y)}",
            metric="roc_auc",
            statistic="roc_auc",
            units=ids,
            labels=y,
            candidate=folds["kindred"],
            baseline=folds["baseline"],
            baseline_name=run.baseline,
        ),
        evaluate=evaluate,
        card=CardFacts(
            model=name,
            question=f"Will `{target}` be {plan.positive!r} (rather than {plan.negative!r})? Learned from "
            f"{path.name} by the prediction builder; scores are calibrated probabilities of {plan.positive!r}.",
            training=[
                f"{path.name} (sha256 {fingerprint}...), {table.height:,} rows, {len(y):,} with a target value",
                f"{FOLDS}-fold stratified cross-validation: every row is scored by models fitted without it",
                f"cross-validated ROC-AUC, mean over folds: Kindred {folds['cv']['kindred_roc_auc']:.3f}, "
                f"LightGBM defaults {folds['cv']['lgbm_default_roc_auc']:.3f}, baseline "
                f"{folds['cv']['baseline_roc_auc']:.3f}",
                "the version that scores is refitted on every row",
            ],
            holdout=f"out-of-fold scores of all {len(y):,} rows ({FOLDS} folds)",
            n_train=run.n_train,
            n_train_positive=run.n_train_positive,
            n_holdout=run.n_holdout,
            n_holdout_positive=run.n_holdout_positive,
            figures=run.figures,
            baseline=run.baseline,
            baseline_figures=run.baseline_figures,
            labels=y,
            scores=folds["kindred"],
            baseline_scores=folds["baseline"],
            probability=True,
            features=[(f, share, plan.describe(f)) for f, share in feature_importance(final)],
            settings={
                "LightGBM": lightgbm_settings(final),
                "calibration": "sigmoid (Platt), 3 folds",
                "value shares": ("kept" if shares else "not kept")
                + f" ({shares_verdict}; kept in {folds['share_folds']} of {FOLDS} cross-validation folds)",
            },
            sections=[("Columns used", used), ("Columns left out", dropped)],
            classic=run.classic,
            classic_figures=run.classic_figures,
            classic_scores=folds["lgbm_default"],
        ),
        input_example=data.head(5),
        params={
            "source_file": path.name,
            "target": target,
            "positive": plan.positive,
            "id_column": id_column,
            "features": ",".join(plan.features),
            "dropped": ",".join(d.column for d in plan.dropped),
            "value_shares": ",".join(shares),
            **lightgbm_settings(final),
            **{f"cv_{k}": round(v, 4) for k, v in folds["cv"].items()},
        },
        tags={"prediction_builder": "true", "target": target},
        extra={PLAN_ARTIFACT: plan.to_json()},
    )
    run.scored_with = registry.champion(name).version if registry.champion(name) else None
    return BuilderRun(
        run=run,
        plan=plan,
        rows=len(y),
        positives=int(y.sum()),
        cv=folds["cv"],
        default_figures=run.classic_figures,
        baseline_column=folds["baseline_column"],
        value_shares=list(shares),
        share_folds=folds["share_folds"],
        seconds=time.perf_counter() - started,
    )


def _champion_plan(name: str) -> tuple[object, str, TablePlan]:
    check_name(name)
    current = registry.champion(name)
    if current is None:
        if registry.has_model(name):
            raise TableError(
                f"model {name!r} has no champion: no version has beaten its baseline yet "
                "(see `kindred predict train` output or its model card in MLflow)"
            )
        raise TableError(
            f"no model named {name!r}: train one with `kindred predict train FILE --name {name} ...`"
        )
    text = version_artifacts.artifact_text(current, PLAN_ARTIFACT)
    if text is None:
        raise TableError(f"model {name!r} was not made by the prediction builder (it has no table plan)")
    model, version = registry.load_champion(name)
    return model, version, TablePlan.from_json(text)


def score(path: Path, *, name: str) -> pl.DataFrame:
    """Score a table with the champion of a prediction-builder model.

    Args:
        path: a CSV or Parquet file holding the columns the model was trained on and its id column.
        name: the model's name.

    Returns:
        The id column, `score` (probability of the positive value), `score_1_99`, and `top_factors`
        (up to three reasons in words, strongest first, `; `-separated).

    Raises:
        TableError: for an unknown model, or a file lacking the id or a training column (named).
    """
    model, _, plan = _champion_plan(name)
    table = read_table(path)
    needed = [plan.id_column, *(c.name for c in plan.columns)]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise TableError(f"{path}: lacks column(s) {missing} that model {name!r} was trained on")
    features, categorical = pipeline_features(model)
    x = model_input(features_of(table, plan), features, categorical)
    probability = model.predict_proba(x)[:, 1]
    return (
        table.select(plan.id_column)
        .with_columns(
            score=pl.Series(probability, dtype=pl.Float64),
            top_factors=pl.Series(_in_words(top_factors(model, x, n=3)), dtype=pl.String),
        )
        .with_columns(score_1_99=score_1_99(pl.col("score")))
        .select(plan.id_column, "score", "score_1_99", "top_factors")
    )


def _in_words(factors: list[str]) -> list[str]:
    from activation.reasons import factor_reasons

    return ["; ".join(factor_reasons(json.loads(f))) for f in factors]
