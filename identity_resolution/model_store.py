"""The trained match model, kept per run: `identity.match_models` in the warehouse and MLflow.

Each row holds the Splink settings JSON (comparisons, blocking rules, every m and u) and the
summary of the data it was trained on (records, each attribute's fill share and distinct
values). The next run scores with the newest saved model, so the same data gives the same
links, unless `kindred identity retrain` asks for a new one, the Splink settings in kindred.yaml
changed, or the data moved by more than `identity.retrain_when_changed` (see `retrain_reason`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from identity_resolution.attributes import profile_change
from identity_resolution.probabilistic import MatchModel
from warehouse.connection import quote_table, table_exists

log = logging.getLogger(__name__)

MATCH_MODELS = "identity.match_models"
MLFLOW_EXPERIMENT = "identity_resolution"
_COLUMNS = (
    "model_id VARCHAR, trained_at TIMESTAMP, reason VARCHAR, how VARCHAR, records BIGINT, "
    "settings VARCHAR, training_summary VARCHAR"
)


@dataclass(frozen=True)
class SavedModel:
    """A row of `identity.match_models`."""

    model_id: str
    trained_at: dt.datetime
    reason: str
    model: MatchModel
    summary: dict


def model_id(settings: dict) -> str:
    """A model's id: `m_` and a hash of its settings JSON (equal models, equal ids)."""
    text = json.dumps(settings, sort_keys=True)
    return "m_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def training_summary(model: MatchModel, fingerprint: dict) -> dict:
    """What a model was trained on and with: the data profile, its blocking size, the settings
    from kindred.yaml it depends on."""
    return {
        "data": model.profile,
        "blocking_comparisons": model.blocking_comparisons,
        "comparisons": model.comparisons,
        "blocking_rules": model.blocking_rules,
        "configured": fingerprint,
    }


def latest_model(con: duckdb.DuckDBPyConnection) -> SavedModel | None:
    """The newest saved model, or None.

    Args:
        con: warehouse connection.

    Returns:
        The model with its summary.
    """
    if not table_exists(con, MATCH_MODELS):
        return None
    rows = con.sql(
        f"SELECT model_id, trained_at, reason, how, settings, training_summary FROM {quote_table(MATCH_MODELS)} "
        "ORDER BY trained_at DESC, model_id LIMIT 1"
    ).fetchall()
    if not rows:
        return None
    mid, trained_at, reason, how, settings, summary = rows[0]
    summary = json.loads(summary)
    model = MatchModel(
        json.loads(settings), True, how, summary.get("data", {}), int(summary.get("blocking_comparisons", 0))
    )
    return SavedModel(mid, trained_at, reason, model, summary)


def retrain_reason(
    saved: SavedModel | None, profile: dict, fingerprint: dict, *, retrain_share: float, forced: bool = False
) -> str | None:
    """Why a new model is needed, or None to reuse the saved one.

    Args:
        saved: the newest saved model.
        profile: today's data profile (`AttributeProfile.as_dict`).
        fingerprint: the settings from kindred.yaml a model depends on (`MatchOptions.fingerprint`).
        retrain_share: how far the data may move before the model is retrained.
        forced: a retrain was asked for (`kindred identity retrain`).

    Returns:
        The reason, or None.
    """
    if forced:
        return "retrain requested"
    if saved is None:
        return "no saved model"
    if not saved.model.trained:
        return "the saved model was never trained"
    if saved.summary.get("configured") != fingerprint:
        return "identity.splink settings changed"
    change = profile_change(saved.model.profile, profile)
    if change > retrain_share:
        return f"data changed by {change:.0%} (more than {retrain_share:.0%})"
    return None


def insert_sql() -> tuple[str, str]:
    """The statements that create `identity.match_models` and add one row (values as `?`)."""
    table = quote_table(MATCH_MODELS)
    return (
        f"CREATE TABLE IF NOT EXISTS {table} ({_COLUMNS})",
        f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?, ?)",
    )


def model_row(model: MatchModel, *, reason: str, trained_at: dt.datetime, fingerprint: dict) -> tuple:
    """The `identity.match_models` row of a newly trained model.

    Args:
        model: the trained model.
        reason: why it was trained.
        trained_at: when.
        fingerprint: the kindred.yaml settings it depends on.

    Returns:
        The row, in column order.
    """
    return (
        model_id(model.settings),
        trained_at,
        reason,
        model.how,
        int(model.profile.get("records", 0)),
        json.dumps(model.settings, sort_keys=True),
        json.dumps(training_summary(model, fingerprint), sort_keys=True),
    )


def log_to_mlflow(saved: SavedModel) -> str:
    """Log a saved model to MLflow in KINDRED_HOME: a run of the `identity_resolution` experiment
    with the settings JSON and the training summary as artifacts.

    Args:
        saved: the model.

    Returns:
        The MLflow run id.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    from models.registry import tracking_uri
    from warehouse.home import kindred_home

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri())
    experiment = mlflow.get_experiment_by_name(MLFLOW_EXPERIMENT)
    experiment_id = (
        experiment.experiment_id
        if experiment
        else mlflow.create_experiment(
            MLFLOW_EXPERIMENT, artifact_location=(kindred_home() / "mlartifacts" / MLFLOW_EXPERIMENT).as_uri()
        )
    )
    data = saved.summary.get("data", {})
    with mlflow.start_run(
        experiment_id=experiment_id, tags={"model_id": saved.model_id, "reason": saved.reason}
    ) as run:
        mlflow.log_params(
            {
                "model_id": saved.model_id,
                "comparisons": ",".join(saved.model.comparisons),
                "blocking_rules": len(saved.model.blocking_rules),
                "how": saved.model.how[:500],
            }
        )
        mlflow.log_metrics(
            {
                "records": float(data.get("records", 0)),
                "blocking_comparisons": float(saved.summary.get("blocking_comparisons", 0)),
                "probability_two_random_records_match": float(
                    saved.model.settings.get("probability_two_random_records_match", 0.0)
                ),
            }
        )
        with tempfile.TemporaryDirectory() as folder:
            for name, content in (
                ("splink_settings.json", saved.model.settings),
                ("training_summary.json", saved.summary),
            ):
                path = Path(folder) / name
                path.write_text(json.dumps(content, indent=2, sort_keys=True), encoding="utf-8")
                mlflow.log_artifact(str(path))
    log.info("match model %s logged to MLflow run %s", saved.model_id, run.info.run_id)
    return run.info.run_id
