"""MLflow tracking and registry in `KINDRED_HOME`: one experiment per model, the `champion` alias.

Tracking and registry live in `sqlite:///$KINDRED_HOME/mlflow.db`, artifacts under
`$KINDRED_HOME/mlartifacts/<model>`; no server is needed. Models are stored with skops (no pickle)
and only the types a Kindred pipeline contains are trusted when loading. MLflow is imported on
first use: importing it costs about a second, and its first touch of a new database about two more
(schema migrations). Reading a version's card, texts and holdout scores back: `models.version_artifacts`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import polars as pl

from warehouse.home import kindred_home

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)

CHAMPION = "champion"
ARTIFACT_NAME = "model"
CARD_ARTIFACT = "model_card.md"
HOLDOUT_ARTIFACT = "holdout/predictions.parquet"
# MLflow's registry keeps at most 5,000 characters of a version's description.
_DESCRIPTION_LIMIT = 5000
# Every type a pipeline from models.estimator holds beyond what skops trusts by default.
SKOPS_TRUSTED_TYPES = [
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
]
_QUIET = {"mlflow": logging.WARNING, "alembic": logging.WARNING, "mlflow.utils.environment": logging.ERROR}


@dataclass(frozen=True)
class RegisteredVersion:
    """A registered model version and the tags it was logged with.

    Attributes:
        name: the registered model's name.
        version: its version number, as text.
        tags: the version's tags (holdout cut-off, holdout metric, feature service, ...).
        run_id: the MLflow run that logged it (its card, plots and holdout scores).
    """

    name: str
    version: str
    tags: dict[str, str]
    run_id: str | None = None


@dataclass(frozen=True)
class VersionArtifacts:
    """What is logged beside a version's pipeline.

    Attributes:
        card: the model card, Markdown (logged as `model_card.md`).
        plots: file name -> matplotlib figure, logged as PNG under `plots/`.
        holdout: `unit, label, score` of the candidate on its holdout (`holdout/predictions.parquet`),
            so a later version judged on the same holdout is compared row by row. Units are stored
            as `unit_keys`, never as the ids themselves.
        summary: a short text for the registry's version description.
        texts: more text files to log (name -> content), e.g. the prediction builder's table plan.
    """

    card: str
    plots: dict
    holdout: pl.DataFrame
    summary: str
    texts: dict[str, str] = field(default_factory=dict)


def tracking_uri() -> str:
    """The MLflow tracking and registry URI: a SQLite file in `KINDRED_HOME`.

    Returns:
        `sqlite:///<absolute path>/mlflow.db`.
    """
    return f"sqlite:///{kindred_home() / 'mlflow.db'}"


def mlflow_client() -> MlflowClient:
    """An MLflow client on Kindred's tracking and registry URI, with MLflow set up quietly."""
    # Telemetry would try the network on every call; a self-hosted CDP should not phone home.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # Reading a version's holdout scores back draws a progress bar into the run's output otherwise.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    started = time.perf_counter()
    import mlflow
    from mlflow import MlflowClient

    for name, level in _QUIET.items():
        logging.getLogger(name).setLevel(level)
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    log.debug("MLflow ready at %s in %.2f s", uri, time.perf_counter() - started)
    return client


def _experiment_id(client: MlflowClient, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = (kindred_home() / "mlartifacts" / name).as_uri()
    return client.create_experiment(name, artifact_location=location)


def log_version(
    name: str,
    pipeline: Pipeline,
    *,
    input_example: pd.DataFrame,
    params: dict[str, object],
    metrics: dict[str, float],
    tags: dict[str, str],
    artifacts: VersionArtifacts | None = None,
) -> str:
    """Log a fitted pipeline as a new run of the model's experiment and register it.

    Args:
        name: the model's name (experiment and registered model).
        pipeline: the fitted pipeline that will score.
        input_example: a few rows of its input (also gives the signature).
        params: what the run was trained with.
        metrics: holdout figures, ours and the baseline's (`baseline_` prefix).
        tags: set on the run and the model version.
        artifacts: the model card, its plots and the holdout scores, logged in the same run.

    Returns:
        The new version number, as text.
    """
    started = time.perf_counter()
    client = mlflow_client()
    import mlflow
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    from models.model_input import pipeline_features

    experiment_id = _experiment_id(client, name)
    features, categorical = pipeline_features(pipeline)
    # Declared from the features' types: inferring from a few rows calls an all-missing column `Any`.
    # The pyfunc flavour (`mlflow models serve`) answers with predict_proba: [P(no), P(yes)] per row.
    signature = ModelSignature(
        inputs=Schema(
            [ColSpec("string" if f in categorical else "double", f, required=False) for f in features]
        ),
        outputs=Schema([TensorSpec(np.dtype("float64"), (-1, 2))]),
    )
    with mlflow.start_run(experiment_id=experiment_id, tags=tags) as run:
        mlflow.log_params(params)
        mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})  # NaN cannot be logged
        info = mlflow.sklearn.log_model(
            pipeline,
            name=ARTIFACT_NAME,
            signature=signature,
            input_example=example_without_customers(input_example),
            pyfunc_predict_fn="predict_proba",
            pip_requirements=[f"{p}=={package_version(p)}" for p in ("scikit-learn", "lightgbm", "skops")],
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
        )
        if artifacts is not None:
            _log_artifacts(artifacts)
    # Registering through the client, not `registered_model_name=`, keeps MLflow from printing.
    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    created = client.create_model_version(
        name,
        source=info.model_uri,
        run_id=run.info.run_id,
        tags=tags,
        model_id=info.model_id,
        description=artifacts.summary[:_DESCRIPTION_LIMIT] if artifacts else None,
    )
    version = str(created.version)
    log.info("logged %s version %s in %.2f s", name, version, time.perf_counter() - started)
    return version


def example_without_customers(example: pd.DataFrame) -> pd.DataFrame:
    """The input example MLflow stores: the columns and types of `example`, one row, no values.

    MLflow keeps the example as an artifact for as long as the model version exists; a real
    customer's feature row there would outlive that customer's erasure (`kindred forget`).

    Args:
        example: a few real input rows.

    Returns:
        One row of missing values with the same columns and dtypes.
    """
    return example.iloc[:0].reindex([0])


def _log_artifacts(artifacts: VersionArtifacts) -> None:
    """Log the card, plots and holdout scores into the active run."""
    import tempfile
    from pathlib import Path

    import mlflow
    from matplotlib import pyplot

    mlflow.log_text(artifacts.card, CARD_ARTIFACT)
    for file_name, text in artifacts.texts.items():
        mlflow.log_text(text, file_name)
    for file_name, figure in artifacts.plots.items():
        mlflow.log_figure(figure, f"plots/{file_name}")
        pyplot.close(figure)
    holdout = artifacts.holdout.with_columns(
        unit=pl.Series(unit_keys(artifacts.holdout["unit"].to_numpy()), dtype=pl.String)
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(HOLDOUT_ARTIFACT).name
        holdout.write_parquet(path)
        mlflow.log_artifact(str(path), str(Path(HOLDOUT_ARTIFACT).parent))


def unit_keys(units: np.ndarray) -> list[str]:
    """The keys a holdout's rows are stored under in MLflow: a hash of each id, not the id.

    The artifact lives as long as the model version; a profile id or a user's own customer id
    there would outlive that person's erasure. Pairing rows across versions needs only equality.

    Args:
        units: one id per holdout row.

    Returns:
        A BLAKE2b digest (hex) of each id's text.
    """
    return [hashlib.blake2b(str(unit).encode(), digest_size=16).hexdigest() for unit in units.tolist()]


def has_model(name: str) -> bool:
    """Whether any version of a model is registered.

    Args:
        name: the registered model's name.

    Returns:
        True when the registry knows the name.
    """
    client = mlflow_client()
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        return False
    return True


def get_version(name: str, version: str) -> RegisteredVersion:
    """One registered version with its tags.

    Args:
        name: the registered model's name.
        version: the version number.

    Returns:
        The version.
    """
    found = mlflow_client().get_model_version(name, version)
    return RegisteredVersion(name, str(found.version), dict(found.tags), found.run_id)


def champion(name: str) -> RegisteredVersion | None:
    """The version the `champion` alias points at.

    Args:
        name: the registered model's name.

    Returns:
        The champion version, or None when the model has none yet.
    """
    client = mlflow_client()
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    return RegisteredVersion(name, str(found.version), dict(found.tags), found.run_id)


def promote(name: str, version: str) -> None:
    """Point the `champion` alias at a version.

    Args:
        name: the registered model's name.
        version: the version to promote.
    """
    mlflow_client().set_registered_model_alias(name, CHAMPION, version)
    log.info("%s version %s is now the champion", name, version)


def load_version(name: str, version: str) -> Pipeline:
    """Load one registered version's pipeline.

    Args:
        name: the registered model's name.
        version: the version number.

    Returns:
        The fitted pipeline.
    """
    mlflow_client()
    import mlflow.sklearn

    return mlflow.sklearn.load_model(f"models:/{name}/{version}")


def load_champion(name: str) -> tuple[Pipeline, str]:
    """Load `models:/<name>@champion`, the model that scores.

    Args:
        name: the registered model's name.

    Returns:
        (the fitted pipeline, its version number).

    Raises:
        LookupError: when the model has no champion.
    """
    current = champion(name)
    if current is None:
        raise LookupError(f"model {name} has no champion version yet: train it first")
    import mlflow.sklearn

    return mlflow.sklearn.load_model(f"models:/{name}@{CHAMPION}"), current.version
