"""What a run produced, read back from the warehouse: the figures `kindred run` prints."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from warehouse.config import KindredConfig
from warehouse.connection import row_count, table_exists


@dataclass
class RunSummary:
    """Rows per source, identity figures, model holdout metrics and CRM output sizes."""

    sources: list[dict] = field(default_factory=list)
    records: int = 0
    profiles: int = 0
    links_by_rule: dict[str, int] = field(default_factory=dict)
    links_left_out: dict[str, int] = field(default_factory=dict)
    match_model: str | None = None
    models: list[dict] = field(default_factory=list)
    crm_rows: dict[str, int] = field(default_factory=dict)

    @property
    def merge_rate(self) -> float:
        """Share of source records folded into another record's profile."""
        return 1 - self.profiles / self.records if self.records else 0.0


def _model_metrics(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Each model's newest version's holdout figures, with intervals, positives and the gate's verdict.

    Rows carry every column of `scores.model_metrics`; a warehouse from before intervals were
    recorded lacks some until its next model run, and readers get None for them.
    """
    frame = con.sql("""
        SELECT * FROM scores.model_metrics
        QUALIFY TRY_CAST(model_version AS INTEGER) = max(TRY_CAST(model_version AS INTEGER)) OVER (PARTITION BY model)
        ORDER BY model, metric
    """).pl()
    return frame.to_dicts()


def summarise_run(con: duckdb.DuckDBPyConnection, config: KindredConfig) -> RunSummary:
    """Read a finished run's figures from the warehouse.

    Args:
        con: warehouse connection.
        config: the run's kindred.yaml.

    Returns:
        The summary; tables a skipped stage did not write count as empty.
    """
    summary = RunSummary()
    for source in config.sources:
        staged = 0
        if table_exists(con, f"staging.{source.kind}"):
            staged = con.sql(
                f"SELECT count(*) FROM staging.{source.kind} WHERE source = ?", params=[source.name]
            ).fetchall()[0][0]
        summary.sources.append(
            {
                "source": source.name,
                "kind": source.kind,
                "rows": row_count(con, f"raw.{source.name}"),
                "staged": staged,
                "quarantined": row_count(con, f"quarantine.{source.name}"),
            }
        )
    summary.records = row_count(con, "identity.record_xref")
    summary.profiles = row_count(con, "profiles.unified_profile")
    if table_exists(con, "identity.links"):
        summary.links_by_rule = dict(
            con.sql("SELECT rule, count(*) FROM identity.links GROUP BY rule ORDER BY 2 DESC").fetchall()
        )
    if table_exists(con, "identity.rejected_links"):
        summary.links_left_out = dict(
            con.sql(
                "SELECT reason, count(*) FROM identity.rejected_links GROUP BY reason ORDER BY 2 DESC"
            ).fetchall()
        )
    if table_exists(con, "identity.match_models"):
        newest = con.sql(
            "SELECT model_id, trained_at, reason FROM identity.match_models ORDER BY trained_at DESC LIMIT 1"
        ).fetchall()
        if newest:
            model_id, trained_at, reason = newest[0]
            summary.match_model = f"{model_id} (trained {trained_at:%Y-%m-%d %H:%M}: {reason})"
    if table_exists(con, "scores.model_metrics"):
        summary.models = _model_metrics(con)
    for table in ("crm.record_scores", "crm.grounding"):
        summary.crm_rows[table] = row_count(con, table)
    return summary
