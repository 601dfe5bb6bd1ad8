"""What one training-and-scoring run of a model did, for logs, the Dagster UI and tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from models.bootstrap import Figure
from models.promotion import Decision


@dataclass
class ModelRun:
    """The outcome of `train_and_score` for one model.

    Attributes:
        model: `lead_score`, `churn_risk`, `next_best_offer` or a prediction-builder model's name.
        as_of: the run sees data strictly before it; scores predict the horizon after it (None
            when staging was empty and no as_of was given).
        horizon_days: the prediction window's length.
        version: the MLflow model version this run registered (None when skipped).
        promoted: whether that version became the `champion`.
        scored_with: the champion version that wrote the scores (None when there is no champion:
            no version has beaten its baseline yet, so nothing was scored).
        figures: the model's holdout figures with bootstrap intervals.
        baseline: the plain baseline the model is compared with.
        baseline_figures: the baseline's figures on the same holdout rows.
        classic: a classic model measured beside it (BG/NBD for churn), outside the gate.
        classic_figures: the classic model's figures on the same holdout rows.
        decision: the promotion gate's verdict on this version.
        card: the version's model card (Markdown).
        n_train: training examples (all training cut-offs).
        n_train_positive: positive training examples.
        n_holdout: holdout examples (the latest matured cut-off).
        n_holdout_positive: positive holdout examples (buyers, for offers).
        n_scored: profiles scored as of `as_of`.
        withheld_for_consent: profiles of the scoring population left out for consent (an
            objection to profiling; for offers also no marketing channel).
        offers_left_out: next best offer with a catalog: (person, offer) pairs its eligibility
            rules left out as of `as_of`, per rule (`models.offer_catalog`).
        skipped: why nothing was trained, in words a user can act on; None when the run trained.
    """

    model: str
    as_of: datetime | None
    horizon_days: int
    version: str | None = None
    promoted: bool = False
    scored_with: str | None = None
    figures: dict[str, Figure] = field(default_factory=dict)
    baseline: str | None = None
    baseline_figures: dict[str, Figure] = field(default_factory=dict)
    classic: str | None = None
    classic_figures: dict[str, Figure] = field(default_factory=dict)
    decision: Decision | None = None
    card: str | None = None
    n_train: int = 0
    n_train_positive: int = 0
    n_holdout: int = 0
    n_holdout_positive: int = 0
    n_scored: int = 0
    withheld_for_consent: int = 0
    offers_left_out: dict[str, int] = field(default_factory=dict)
    skipped: str | None = None

    @property
    def metrics(self) -> dict[str, float]:
        """The model's holdout figures without their intervals."""
        return {name: f.value for name, f in self.figures.items()}

    @property
    def baseline_metrics(self) -> dict[str, float]:
        """The baseline's holdout figures without their intervals."""
        return {name: f.value for name, f in self.baseline_figures.items()}
