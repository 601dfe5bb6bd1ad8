"""The validation gate: a new version becomes `champion` only if it beats the champion on the same holdout.

When the champion was evaluated on exactly this holdout (same cut-off, horizon and settings), its
logged figure is used: both numbers then come from models that never saw the holdout's labels.
Otherwise the champion is scored on the new holdout. A champion refitted after this holdout's
labels matured has seen some of them, which favours it: the gate errs towards keeping it.
A champion that needs features the feature store no longer computes, or that was trained for
different settings (another offer field), cannot be evaluated and is replaced.
"""

from __future__ import annotations

from collections.abc import Callable

from sklearn.pipeline import Pipeline

from models import registry
from models.estimator import MissingFeatureError


def challenge(
    name: str,
    *,
    metric_name: str,
    metric: float,
    holdout: str,
    evaluate: Callable[[Pipeline], float],
    must_match: dict[str, str] | None = None,
) -> tuple[bool, str]:
    """Decide whether a new version with `metric` on `holdout` should replace the champion.

    Args:
        name: the registered model.
        metric_name: the figure compared (higher is better), e.g. `roc_auc`.
        metric: the new version's figure on the holdout.
        holdout: a description of the holdout (cut-off, horizon, settings); versions are tagged with it.
        evaluate: computes the figure for another pipeline on the same holdout rows.
        must_match: version tags that must be equal for the two versions to be comparable.

    Returns:
        (promote?, the reason in words).
    """
    current = registry.champion(name)
    if current is None:
        return True, "first version"
    for key, value in (must_match or {}).items():
        if current.tags.get(key) != value:
            return (
                True,
                f"champion {current.version} was trained with {key}={current.tags.get(key)}, not {value}",
            )
    logged = current.tags.get(f"holdout_{metric_name}")
    if current.tags.get("holdout") == holdout and logged is not None:
        champion_metric = float(logged)
    else:
        try:
            champion_metric = evaluate(registry.load_version(name, current.version))
        except MissingFeatureError as error:
            return True, f"champion {current.version} cannot be evaluated any more ({error})"
    if metric > champion_metric:
        return True, f"{metric_name} {metric:.4f} beats champion {current.version} ({champion_metric:.4f})"
    return (
        False,
        f"{metric_name} {metric:.4f} does not beat champion {current.version} ({champion_metric:.4f})",
    )
