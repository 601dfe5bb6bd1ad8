"""Train, evaluate, register (MLflow) and score the three models; each writes its rows of `scores.*`."""

from collections.abc import Callable

import dagster as dg

from models import churn_risk, lead_score, next_best_offer
from models.model_run import ModelRun
from pipelines.resources import KindredResource
from warehouse.models_config import ModelsConfig

_INPUTS = [["features", "profile_features"], ["identity", "record_xref"], ["profiles", "consent"]]


def run_metadata(run: ModelRun) -> dict:
    """What a user wants in the UI: holdout figures with intervals and positives next to the
    baseline's, the gate's verdict and the model card; or why the run was skipped."""
    if run.skipped:
        return {"skipped": run.skipped, "dagster/row_count": 0}
    metadata = {
        "dagster/row_count": run.n_scored,
        "model_version": str(run.version),
        "promoted_to_champion": bool(run.promoted),
        "scored_with": str(run.scored_with or "nothing: no champion"),
        "promotion": run.decision.reason if run.decision else "",
        "n_train": run.n_train,
        "n_train_positive": run.n_train_positive,
        "n_holdout": run.n_holdout,
        "withheld_for_consent": run.withheld_for_consent,
        "n_holdout_positive": run.n_holdout_positive,
        "baseline": str(run.baseline),
    }
    for name, figure in run.figures.items():
        metadata[f"holdout_{name}"] = float(figure.value)
        metadata[f"holdout_{name}_interval"] = f"{figure.lower:.3f} to {figure.upper:.3f}"
    for name, figure in run.baseline_figures.items():
        metadata[f"baseline_{name}"] = float(figure.value)
    if run.classic:
        metadata["classic_model"] = run.classic
        for name, figure in run.classic_figures.items():
            metadata[f"classic_{name}"] = float(figure.value)
    if run.offers_left_out:
        metadata["offers_left_out"] = dg.MetadataValue.json(run.offers_left_out)
    if run.card:
        metadata["model_card"] = dg.MetadataValue.md(run.card)
    return metadata


def model_asset(name: str, description: str, train: Callable, settings: Callable[[ModelsConfig], dict]):
    """The asset that trains, registers and scores one model with its kindred.yaml settings."""

    @dg.asset(
        key=["scores", name],
        description=description,
        deps=_INPUTS,
        kinds={"lightgbm", "mlflow"},
        pool="duckdb",
    )
    def scores(context: dg.AssetExecutionContext, kindred: KindredResource) -> dg.MaterializeResult:
        config = kindred.load()
        options = settings(config.models)
        with kindred.connect() as con:
            run = train(con, as_of=kindred.as_of_date(con), consent=config.consent, **options)
        context.log.info("%s: %s", name, run.decision.reason if run.decision else run.skipped)
        return dg.MaterializeResult(metadata=run_metadata(run))

    return scores


lead_score_scores = model_asset(
    "lead_score",
    "Probability that each open CRM lead converts within the horizon, with top reasons. "
    "One row per lead profile in scores.predictions (model = lead_score).",
    lead_score.train_and_score,
    lambda m: {"horizon_days": m.lead_score.horizon_days},
)
churn_risk_scores = model_asset(
    "churn_risk",
    "Probability that each active customer makes no purchase within the horizon, with top reasons. "
    "One row per active customer profile in scores.predictions (model = churn_risk).",
    churn_risk.train_and_score,
    lambda m: {"horizon_days": m.churn_risk.horizon_days, "lookback_days": m.churn_risk.lookback_days},
)
next_best_offer_scores = model_asset(
    "next_best_offer",
    "The offers each customer is most likely to buy next, ranked. top_k rows per customer profile in scores.offers.",
    next_best_offer.train_and_score,
    # The catalog travels as its typed offers, not as the plain dicts model_dump would make of them.
    lambda m: {**m.next_best_offer.model_dump(exclude={"catalog"}), "catalog": m.next_best_offer.catalog},
)
