"""The promotion gate as a blocking check: only scores of a champion that beat its baseline reach the
CRM (a model with no such champion scores nobody, and the check warns); and score drift since the
previous run, as a warning."""

import dagster as dg

from feature_store.definitions import CHURN_RISK, LEAD_SCORE, NEXT_BEST_OFFER
from models.drift import MAJOR, score_drift
from models.publication import audit_scores
from pipelines.resources import KindredResource

MODELS = ("lead_score", "churn_risk", "next_best_offer")
SERVICES = {"lead_score": LEAD_SCORE, "churn_risk": CHURN_RISK, "next_best_offer": NEXT_BEST_OFFER}


def promotion_check(model: str) -> dg.AssetChecksDefinition:
    """A blocking check on `scores/<model>`: the scores come from a champion that beat its plain
    baseline (and the champion before it) on the same holdout by the margin."""

    @dg.asset_check(
        asset=dg.AssetKey(["scores", model]),
        name="champion_beats_baseline",
        description="The scores were written by a champion that beat its plain baseline and the previous "
        "champion on the same holdout, by a margin that grows as the holdout shrinks. Stops the CRM "
        "tables when scores of any other version were written; warns when no version has beaten its "
        "baseline yet (then nothing of the model is scored).",
        blocking=True,
    )
    def champion_beats_baseline(kindred: KindredResource) -> dg.AssetCheckResult:
        with kindred.connect() as con:
            verdict = audit_scores(con, model)
        return dg.AssetCheckResult(
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.ERROR if verdict.blocks else dg.AssetCheckSeverity.WARN,
            description=verdict.description,
            metadata=verdict.metadata,
        )

    return champion_beats_baseline


promotion_checks = [promotion_check(model) for model in MODELS]


def drift_check(model: str) -> dg.AssetChecksDefinition:
    """A warning check on `scores/<model>`: PSI of the scores against the previous run's, with the
    model's most drifted input features."""

    @dg.asset_check(
        asset=dg.AssetKey(["scores", model]),
        name="score_drift_since_last_run",
        description="Population stability index (PSI) of the scores against the previous run's: warns at "
        "0.25, listing the model's most drifted input features.",
        blocking=False,
    )
    def score_drift_since_last_run(kindred: KindredResource) -> dg.AssetCheckResult:
        with kindred.connect() as con:
            scores, inputs = score_drift(con, model, list(SERVICES[model].features))
        if not scores.compared:
            return dg.AssetCheckResult(passed=True, description="first scores: nothing to compare with")
        shifted = scores.above(MAJOR)
        worst = max(scores.top().values(), default=0.0)
        return dg.AssetCheckResult(
            passed=not shifted,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"{model} scores shifted (PSI {worst:.3f}); most drifted inputs: "
                + ", ".join(f"{k} {v:.3f}" for k, v in inputs.top(3).items())
                if shifted
                else f"{model} scores stable (PSI {worst:.3f})"
            ),
            metadata={
                "score_psi": dg.MetadataValue.json(scores.top()),
                "top_drifting_features": dg.MetadataValue.json(inputs.top()),
                "previous_as_of": str(scores.previous_as_of),
                "current_as_of": str(scores.current_as_of),
            },
        )

    return score_drift_since_last_run


drift_checks = [drift_check(model) for model in MODELS]
