"""Whether a model's scores may leave Kindred: written by a champion that beat its baseline.

This is what the blocking promotion check on each scores asset asks before the CRM tables are
built from them. It reads what the run recorded (the registry's champion and its gate verdict,
`scores.model_metrics`, the versions that wrote the scores) and blocks what is downstream when
scores that did not pass the gate would reach it:
- the champion carries the gate's "not promoted" verdict (the alias was moved by hand);
- the scores were written by a version that is not the champion.
When no version has beaten its baseline yet, nothing of the model was scored, so nothing unvetted
can leave: the check fails as a warning, and the CRM tables, segments and the other models'
scores are still built (without this model's). A candidate that did not beat the champion is not
a failure: the champion keeps scoring.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from models import registry
from models.score_tables import MODEL_METRICS, OFFERS, PREDICTIONS
from warehouse.connection import table_exists


@dataclass(frozen=True)
class Verdict:
    """The check's outcome.

    Attributes:
        passed: whether the scores may be used.
        description: why, in words.
        metadata: figures for the Dagster UI.
        blocks: whether a failure must stop what is downstream (unvetted scores were written),
            rather than warn (nothing of the model was written).
    """

    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)
    blocks: bool = True


def _latest_version(con: duckdb.DuckDBPyConnection, model: str) -> dict | None:
    if not table_exists(con, MODEL_METRICS):
        return None
    rows = con.sql(
        f"""
        SELECT model_version, any_value(promoted), any_value(decision), any_value(as_of)
        FROM {MODEL_METRICS} WHERE model = ?
        GROUP BY model_version
        ORDER BY TRY_CAST(model_version AS INTEGER) DESC NULLS LAST
        LIMIT 1
        """,
        params=[model],
    ).fetchall()
    if not rows:
        return None
    version, promoted, decision, as_of = rows[0]
    return {"version": version, "promoted": promoted, "decision": decision, "as_of": as_of}


def _written_versions(con: duckdb.DuckDBPyConnection, model: str) -> list[str]:
    if model == "next_best_offer":
        if not table_exists(con, OFFERS):
            return []
        rows = con.sql(f"SELECT DISTINCT model_version FROM {OFFERS}").fetchall()
    else:
        if not table_exists(con, PREDICTIONS):
            return []
        rows = con.sql(
            f"SELECT DISTINCT model_version FROM {PREDICTIONS} WHERE model = ?", params=[model]
        ).fetchall()
    return sorted(str(r[0]) for r in rows)


def audit_scores(con: duckdb.DuckDBPyConnection, model: str) -> Verdict:
    """Whether `model`'s rows in the scores tables come from a champion that passed the gate.

    Args:
        con: warehouse connection.
        model: `lead_score`, `churn_risk` or `next_best_offer`.

    Returns:
        The verdict, with the latest candidate's gate verdict in the metadata.
    """
    latest = _latest_version(con, model)
    current = registry.champion(model)
    written = _written_versions(con, model)
    metadata: dict[str, object] = {
        "champion": current.version if current else "none",
        "scored_by": ", ".join(written) or "nothing",
    }
    if latest is not None:
        metadata |= {
            "latest_version": str(latest["version"]),
            "latest_promoted": bool(latest["promoted"]),
            "latest_decision": latest["decision"] or "",
        }
    if current is None:
        if latest is None and not written:
            return Verdict(True, f"{model} has not trained yet (too little data); nothing scored", metadata)
        why = latest["decision"] if latest else "no version was registered"
        if written:
            return Verdict(
                False,
                f"no version of {model} has beaten its baseline yet ({why}), but scores of version(s) "
                f"{', '.join(written)} are in the scores tables",
                metadata,
            )
        return Verdict(
            False,
            f"no version of {model} has beaten its baseline yet ({why}); nothing of it is scored, so the "
            "CRM tables carry none of its scores",
            metadata,
            blocks=False,
        )
    if current.tags.get("promotion") == "not promoted":
        return Verdict(
            False,
            f"champion {current.version} of {model} did not pass the promotion gate "
            f"({current.tags.get('promotion_reason', 'no reason recorded')}); the alias was moved by hand",
            metadata,
        )
    if written != [current.version]:
        return Verdict(
            False,
            f"{model}'s scores were written by version(s) {', '.join(written) or 'none'}, not by champion "
            f"{current.version}",
            metadata,
        )
    if latest is not None and not latest["promoted"] and str(latest["version"]) != current.version:
        description = (
            f"version {latest['version']} was not promoted ({latest['decision']}); champion "
            f"{current.version} keeps scoring"
        )
    else:
        description = f"champion {current.version} beat its baseline and scored {model}"
    return Verdict(True, description, metadata)
