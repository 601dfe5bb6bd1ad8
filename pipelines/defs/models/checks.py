"""The promotion gate as a blocking check: only scores of a champion that beat its baseline reach the CRM."""

import dagster as dg

from models.publication import audit_scores
from pipelines.resources import KindredResource

MODELS = ("lead_score", "churn_risk", "next_best_offer")


def promotion_check(model: str) -> dg.AssetChecksDefinition:
    """A blocking check on `scores/<model>`: the scores come from a champion that beat its plain
    baseline (and the champion before it) on the same holdout by the margin."""

    @dg.asset_check(
        asset=dg.AssetKey(["scores", model]),
        name="champion_beats_baseline",
        description="The scores were written by a champion that beat its plain baseline and the previous "
        "champion on the same holdout, by a margin that grows as the holdout shrinks. Fails (and stops "
        "the CRM tables) when no version has done so.",
        blocking=True,
    )
    def champion_beats_baseline(kindred: KindredResource) -> dg.AssetCheckResult:
        with kindred.connect() as con:
            verdict = audit_scores(con, model)
        return dg.AssetCheckResult(
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=verdict.description,
            metadata=verdict.metadata,
        )

    return champion_beats_baseline


promotion_checks = [promotion_check(model) for model in MODELS]
