"""What a registered version was logged with, read back from MLflow: its model card, its text
artifacts (such as the prediction builder's table plan) and its holdout scores.

Writing them is part of registering a version (`models.registry.log_version`); reading them is
what the promotion gate, the prediction builder and the CLI do later, so it lives apart.
"""

from __future__ import annotations

import polars as pl

from models import registry


def holdout_predictions(version: registry.RegisteredVersion) -> pl.DataFrame | None:
    """The holdout scores a version was logged with (`unit, label, score`; units as `unit_keys`), if any.

    Args:
        version: a registered version.

    Returns:
        The frame, or None for versions logged without one.
    """
    if version.run_id is None:
        return None
    registry.mlflow_client()
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        path = mlflow.artifacts.download_artifacts(
            run_id=version.run_id, artifact_path=registry.HOLDOUT_ARTIFACT
        )
    except (MlflowException, OSError):
        return None
    return pl.read_parquet(path)


def artifact_text(version: registry.RegisteredVersion, name: str) -> str | None:
    """A text artifact logged with a version, if there is one.

    Args:
        version: a registered version.
        name: the artifact's path in the run, e.g. `model_card.md`.

    Returns:
        The text, or None.
    """
    if version.run_id is None:
        return None
    registry.mlflow_client()
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.artifacts.load_text(f"runs:/{version.run_id}/{name}")
    except (MlflowException, OSError):
        return None


def model_card(version: registry.RegisteredVersion) -> str | None:
    """A version's model card (Markdown), if it was logged with one.

    Args:
        version: a registered version.

    Returns:
        The card's text, or None.
    """
    return artifact_text(version, registry.CARD_ARTIFACT)
