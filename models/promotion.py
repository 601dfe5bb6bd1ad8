"""The promotion gate: a new version becomes `champion` only if it beats its plain baseline and the
current champion on the same holdout rows, each by a margin that grows as the holdout shrinks.

The margin is one standard error of the paired difference (the "one standard error rule" of
model selection): both models are scored on the same bootstrap resamples of the holdout
(positives and negatives resampled apart, 1,000 resamples up to 10,000 rows), and the standard
deviation of the difference between them over the resamples is what chance alone could do. A
candidate must beat the other model by more than that: on 12 positives the margin is about ten
points of ROC-AUC, on 1,300 customers under one point. A stricter margin (1.28 standard errors,
winning in nine resamples out of ten) refused the demo's churn model at ROC-AUC 0.774 against
BG/NBD's 0.765 on 1,302 customers, which left every customer without a churn score.

The first version must beat its baseline too: a model that cannot beat "recency" or "the lead
source's conversion rate" on its own holdout never scores anyone. A tie (a retrained version
identical to the champion) keeps the champion.

Which champion figures are compared: when the champion was measured on exactly this holdout (same
cut-off, horizon and settings), its own holdout scores are used (logged with the version, from the
model fitted before the holdout's labels were known), paired row by row with the candidate's.
Otherwise the champion is scored on the new holdout; a champion refitted after part of it matured
has seen some of its labels, which favours it: the gate errs towards keeping it. A champion that
needs features the feature store no longer computes, or was trained for different settings (another
offer field), cannot be compared and only the baseline has to be beaten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.pipeline import Pipeline

from models import registry, version_artifacts
from models.bootstrap import metric_values, paired_difference
from models.model_input import MissingFeatureError

log = logging.getLogger(__name__)

# The one standard error rule: the difference must exceed its own bootstrap standard error.
MARGIN_Z = 1.0


@dataclass(frozen=True)
class Holdout:
    """The rows a version is judged on, and what the candidate and its baseline made of them.

    Attributes:
        description: the holdout's identity (cut-off, horizon, settings); equal descriptions mean
            the same holdout.
        metric: the figure the gate compares, e.g. `roc_auc` or `mrr_at_10`.
        statistic: how that figure is computed from a unit's label and score: `roc_auc`, or
            `mean` for a per-unit value such as a buyer's reciprocal rank.
        units: one key per row (profile id, record id), to pair rows across versions.
        labels: 0/1 per row (all 1 for per-unit values).
        candidate: the candidate's score per row, from the model fitted before the holdout.
        baseline: the plain baseline's score per row.
        baseline_name: the baseline in words.
    """

    description: str
    metric: str
    statistic: str
    units: np.ndarray
    labels: np.ndarray
    candidate: np.ndarray
    baseline: np.ndarray
    baseline_name: str

    @property
    def stratified(self) -> bool:
        """Resample positives and negatives apart (for two-class figures)."""
        return self.statistic != "mean"


@dataclass(frozen=True)
class Comparison:
    """The candidate against one other model on the same rows.

    Attributes:
        against: the other model in words (`baseline: recency`, `champion version 3`).
        metric: the figure compared.
        candidate: the candidate's figure.
        other: the other model's figure.
        difference: candidate minus other.
        margin: how much the difference must exceed (its bootstrap standard error).
        rows: rows compared.
        positives: positive rows among them.
    """

    against: str
    metric: str
    candidate: float
    other: float
    difference: float
    margin: float
    rows: int
    positives: int

    @property
    def beaten(self) -> bool:
        """Whether the candidate wins by more than the margin."""
        return self.difference > self.margin

    def describe(self) -> str:
        """`roc_auc 0.890 vs 0.876 for baseline: recency (+0.014, margin 0.007 on 1,631 rows, 612 positive)`."""
        return (
            f"{self.metric} {self.candidate:.3f} vs {self.other:.3f} for {self.against} "
            f"({self.difference:+.3f}, margin {self.margin:.3f} on {self.rows:,} rows, {self.positives:,} positive)"
        )


@dataclass(frozen=True)
class Decision:
    """The gate's verdict on a candidate.

    Attributes:
        promote: whether the candidate becomes champion.
        reason: why, in words.
        comparisons: against the baseline, then the champion when there is a comparable one.
        champion: the champion version at the time (None when there was none).
    """

    promote: bool
    reason: str
    comparisons: tuple[Comparison, ...] = field(default_factory=tuple)
    champion: str | None = None

    def comparison(self, prefix: str) -> Comparison | None:
        """The comparison whose `against` starts with `prefix` (`baseline`, `champion`)."""
        return next((c for c in self.comparisons if c.against.startswith(prefix)), None)


def compare(against: str, holdout: Holdout, other: np.ndarray) -> Comparison:
    """Compare the candidate with another model on the holdout's rows.

    Args:
        against: the other model in words.
        holdout: the holdout with the candidate's scores.
        other: the other model's scores on the same rows, in the same order.

    Returns:
        The comparison, with its margin.
    """
    labels, candidate = holdout.labels, holdout.candidate
    difference, spread = paired_difference(
        holdout.statistic, labels, candidate, other, stratified=holdout.stratified
    )
    return Comparison(
        against=against,
        metric=holdout.metric,
        candidate=_value(holdout.statistic, labels, candidate),
        other=_value(holdout.statistic, labels, other),
        difference=difference,
        margin=MARGIN_Z * spread,
        rows=len(labels),
        positives=int(np.sum(labels == 1)) if holdout.stratified else len(labels),
    )


def _value(statistic: str, labels: np.ndarray, scores: np.ndarray) -> float:
    return float(metric_values(statistic, labels, scores, np.ones((1, len(labels))))[0])


def _champion_scores(
    name: str,
    current: registry.RegisteredVersion,
    holdout: Holdout,
    evaluate: Callable[[Pipeline], np.ndarray],
) -> np.ndarray:
    """The champion's scores on the holdout rows: its own logged ones when the holdout is the same
    and they cover every row, else the champion's pipeline scored on the rows now."""
    if current.tags.get("holdout") == holdout.description:
        logged = version_artifacts.holdout_predictions(current)
        if logged is not None:
            by_unit = dict(zip(logged["unit"].to_list(), logged["score"].to_list(), strict=True))
            keys = registry.unit_keys(holdout.units)
            if all(key in by_unit for key in keys):
                return np.array([by_unit[key] for key in keys], dtype=float)
    return np.asarray(evaluate(registry.load_version(name, current.version)), dtype=float)


def gate(
    name: str,
    holdout: Holdout,
    *,
    evaluate: Callable[[Pipeline], np.ndarray],
    must_match: dict[str, str] | None = None,
) -> Decision:
    """Decide whether a candidate replaces the champion.

    Args:
        name: the registered model.
        holdout: the holdout, with the candidate's and the baseline's scores per row.
        evaluate: the scores another pipeline gives the same holdout rows, in the same order.
        must_match: version tags that must be equal for the champion to be comparable.

    Returns:
        The decision, with each comparison and its margin.
    """
    versus_baseline = compare(f"baseline: {holdout.baseline_name}", holdout, holdout.baseline)
    beats_baseline = versus_baseline.beaten
    baseline_words = (
        f"beats its baseline, {versus_baseline.describe()}"
        if beats_baseline
        else f"does not beat its baseline by the margin, {versus_baseline.describe()}"
    )
    current = registry.champion(name)
    if current is None:
        if beats_baseline:
            return Decision(True, f"first version; {baseline_words}", (versus_baseline,))
        return Decision(False, f"first version {baseline_words}: no champion yet", (versus_baseline,))
    for key, value in (must_match or {}).items():
        if current.tags.get(key) != value:
            why = f"champion {current.version} was trained with {key}={current.tags.get(key)}, not {value}"
            return Decision(beats_baseline, f"{why}; {baseline_words}", (versus_baseline,), current.version)
    try:
        scores = _champion_scores(name, current, holdout, evaluate)
    except MissingFeatureError as error:
        why = f"champion {current.version} cannot be evaluated any more ({error})"
        return Decision(beats_baseline, f"{why}; {baseline_words}", (versus_baseline,), current.version)
    versus_champion = compare(f"champion version {current.version}", holdout, scores)
    comparisons = (versus_baseline, versus_champion)
    if not beats_baseline:
        return Decision(False, baseline_words, comparisons, current.version)
    if versus_champion.beaten:
        return Decision(True, f"beats {versus_champion.describe()}", comparisons, current.version)
    return Decision(
        False,
        f"does not beat the champion by the margin, {versus_champion.describe()}",
        comparisons,
        current.version,
    )
