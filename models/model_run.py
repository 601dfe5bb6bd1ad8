"""What one training-and-scoring run of a model did, for logs, the Dagster UI and tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class ModelRun:
    """The outcome of `train_and_score` for one model.

    Attributes:
        model: `lead_score`, `churn_risk` or `next_best_offer`.
        as_of: the run sees data strictly before it; scores predict the horizon after it (None
            when staging was empty and no as_of was given).
        horizon_days: the prediction window's length.
        version: the MLflow model version this run registered (None when skipped).
        promoted: whether that version became the `champion`.
        scored_with: the champion version that wrote the scores.
        metrics: the model's holdout figures (`roc_auc`, `pr_auc`, `brier`, or `hit_rate_at_k`, ...).
        baseline: the plain baseline the model is compared with.
        baseline_metrics: the baseline's figures on the same holdout.
        n_train: training examples (all training cut-offs).
        n_holdout: holdout examples (the latest matured cut-off).
        n_scored: profiles scored as of `as_of`.
        withheld_for_consent: profiles of the scoring population left out for consent (an
            objection to profiling; for offers also no marketing channel).
        skipped: why nothing was trained, in words a user can act on; None when the run trained.
    """

    model: str
    as_of: datetime | None
    horizon_days: int
    version: str | None = None
    promoted: bool = False
    scored_with: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    baseline: str | None = None
    baseline_metrics: dict[str, float] = field(default_factory=dict)
    n_train: int = 0
    n_holdout: int = 0
    n_scored: int = 0
    withheld_for_consent: int = 0
    skipped: str | None = None
