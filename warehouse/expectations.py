"""Great Expectations suites for the canonical staging tables.

The suites state what every staged row must satisfy (required fields, allowed values, unique
ids, sane ranges, no timestamps in the future). Staging already quarantines rows that cannot be
typed; these suites catch what typing cannot, and their results are shown as asset checks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb
import great_expectations as gx
import great_expectations.expectations as gxe

from warehouse.canonical import REQUIRED_FIELDS
from warehouse.connection import quote_table

log = logging.getLogger(__name__)

# Clock skew between a source system and us is normal; a day ahead is not.
FUTURE_TOLERANCE = timedelta(days=1)
SEGMENT_TYPES = ["track", "page", "screen", "identify", "group", "alias"]


@dataclass
class ValidationReport:
    """The outcome of one suite on one table."""

    table: str
    rows: int
    success: bool
    evaluated: int
    failures: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        """One line for logs and the UI."""
        if self.success:
            return f"{self.table}: {self.evaluated} expectations passed on {self.rows} rows"
        return f"{self.table}: {len(self.failures)} of {self.evaluated} expectations failed: " + "; ".join(
            f"{f['expectation']}({f.get('column') or ''}) {f['unexpected_count']} rows" for f in self.failures
        )


def suite_for(kind: str, now: datetime | None = None) -> list[gxe.Expectation]:
    """The expectations a `staging.<kind>` table must meet.

    Args:
        kind: people, events, orders or cases.
        now: the moment after which timestamps count as future (default: now, UTC).

    Returns:
        The expectations, in a stable order.
    """
    latest = ((now or datetime.now(UTC)).replace(tzinfo=None) + FUTURE_TOLERANCE).isoformat()
    required = [*REQUIRED_FIELDS[kind], "record_id", "source"]
    expectations: list[gxe.Expectation] = [
        gxe.ExpectColumnValuesToNotBeNull(column=c) for c in dict.fromkeys(required)
    ]
    if kind == "people":
        expectations += [
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["source", "record_id"]),
            gxe.ExpectColumnValuesToBeBetween(column="created_at", max_value=latest, mostly=1.0),
            gxe.ExpectColumnValuesToBeBetween(column="employees", min_value=0),
        ]
    elif kind == "events":
        expectations += [
            gxe.ExpectColumnValuesToBeUnique(column="message_id"),
            gxe.ExpectColumnValuesToBeInSet(column="type", value_set=SEGMENT_TYPES),
            gxe.ExpectColumnValuesToBeBetween(column="timestamp", max_value=latest),
        ]
    elif kind == "orders":
        expectations += [
            gxe.ExpectColumnValuesToBeBetween(column="ordered_at", max_value=latest),
            gxe.ExpectColumnValuesToBeBetween(column="quantity", min_value=-1e6, max_value=1e6),
            gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=-1e7, max_value=1e7),
        ]
    elif kind == "cases":
        expectations += [
            gxe.ExpectColumnValuesToBeUnique(column="case_id"),
            gxe.ExpectColumnValuesToBeBetween(column="opened_at", max_value=latest),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="closed_at",
                column_B="opened_at",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
        ]
    return expectations


def validate_staging(
    con: duckdb.DuckDBPyConnection, kind: str, now: datetime | None = None
) -> ValidationReport:
    """Run the kind's suite on `staging.<kind>`.

    Args:
        con: warehouse connection.
        kind: people, events, orders or cases.
        now: reference time for "not in the future".

    Returns:
        The report; `success` is False when any expectation fails.
    """
    table = f"staging.{kind}"
    frame = con.sql(
        f"SELECT * EXCLUDE (properties, traits) FROM {quote_table(table)}"
        if kind == "events"
        else f"SELECT * FROM {quote_table(table)}"
    ).pl()
    expectations = suite_for(kind, now)
    if frame.height == 0:
        return ValidationReport(table=table, rows=0, success=True, evaluated=len(expectations))
    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas(name=kind).add_dataframe_asset(name=table)
    batch = asset.add_batch_definition_whole_dataframe(name="all").get_batch(
        batch_parameters={"dataframe": frame.to_pandas()}
    )
    result = batch.validate(gx.ExpectationSuite(name=f"staging_{kind}", expectations=expectations))
    failures = [
        {
            "expectation": r.expectation_config.type,
            "column": r.expectation_config.kwargs.get("column"),
            "unexpected_count": r.result.get("unexpected_count", 0),
            "examples": [str(v) for v in (r.result.get("partial_unexpected_list") or [])[:5]],
        }
        for r in result.results
        if not r.success
    ]
    report = ValidationReport(
        table=table,
        rows=frame.height,
        success=result.success,
        evaluated=len(result.results),
        failures=failures,
    )
    log.info(report.summary())
    return report
