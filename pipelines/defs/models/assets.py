"""Train, evaluate, register (MLflow) and score the three models; each writes its rows of `scores.*`."""

import dagster as dg

from models import churn_risk, lead_score, next_best_offer
from pipelines.resources import KindredResource

_INPUTS = [["features", "profile_features"], ["identity", "record_xref"]]


def _result(run) -> dg.MaterializeResult:
    """Metadata a user wants in the UI: the holdout figure next to its baseline, or why it skipped."""
    if run.skipped:
        return dg.MaterializeResult(metadata={"skipped": run.skipped, "dagster/row_count": 0})
    metadata = {
        "dagster/row_count": run.n_scored,
        "model_version": str(run.version),
        "promoted_to_champion": bool(run.promoted),
        "n_train": run.n_train,
        "n_holdout": run.n_holdout,
    }
    metadata |= {f"holdout_{k}": float(v) for k, v in run.metrics.items()}
    metadata |= {f"baseline_{k}": float(v) for k, v in run.baseline_metrics.items()}
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=["scores", "lead_score"],
    description="Probability that each open CRM lead converts within the horizon, with top reasons. "
    "One row per lead profile in scores.predictions (model = lead_score).",
    deps=_INPUTS,
    kinds={"lightgbm", "mlflow"},
    pool="duckdb",
)
def lead_score_scores(context: dg.AssetExecutionContext, kindred: KindredResource) -> dg.MaterializeResult:
    settings = kindred.load().models.lead_score
    with kindred.connect() as con:
        run = lead_score.train_and_score(
            con, as_of=kindred.as_of_date(con), horizon_days=settings.horizon_days
        )
    context.log.info("lead_score: %s", run)
    return _result(run)


@dg.asset(
    key=["scores", "churn_risk"],
    description="Probability that each customer places no order within the horizon, with top reasons. "
    "One row per customer profile in scores.predictions (model = churn_risk).",
    deps=_INPUTS,
    kinds={"lightgbm", "mlflow"},
    pool="duckdb",
)
def churn_risk_scores(context: dg.AssetExecutionContext, kindred: KindredResource) -> dg.MaterializeResult:
    settings = kindred.load().models.churn_risk
    with kindred.connect() as con:
        run = churn_risk.train_and_score(
            con, as_of=kindred.as_of_date(con), horizon_days=settings.horizon_days
        )
    context.log.info("churn_risk: %s", run)
    return _result(run)


@dg.asset(
    key=["scores", "next_best_offer"],
    description="The offers each customer is most likely to buy next, ranked. "
    "top_k rows per customer profile in scores.offers.",
    deps=_INPUTS,
    kinds={"lightgbm", "mlflow"},
    pool="duckdb",
)
def next_best_offer_scores(
    context: dg.AssetExecutionContext, kindred: KindredResource
) -> dg.MaterializeResult:
    settings = kindred.load().models.next_best_offer
    with kindred.connect() as con:
        run = next_best_offer.train_and_score(
            con,
            as_of=kindred.as_of_date(con),
            horizon_days=settings.horizon_days,
            offer_field=settings.offer_field,
            top_k=settings.top_k,
        )
    context.log.info("next_best_offer: %s", run)
    return _result(run)
