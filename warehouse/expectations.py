"""Great Expectations suites for the canonical staging tables.

The suites state what every staged row must satisfy: required fields, column types, ranges,
allowed values, unique ids, and no timestamp in the future (nor before 1900). Staging already
quarantines rows that cannot be typed or break a hard rule; these suites catch what a row-level
rule cannot (a repeated id, a date in the future, an absurd amount), and their results are shown
as Dagster asset checks that block scoring and export when they fail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb
import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.data_context.types.base import ProgressBarsConfig

from warehouse.canonical import EVENT_TIME, REQUIRED_FIELDS, canonical_fields
from warehouse.connection import quote_table

log = logging.getLogger(__name__)
# An ephemeral context announces its temporary docs folder at INFO on every validation.
logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)

# Clock skew between a source system and us is normal; a day ahead is not.
FUTURE_TOLERANCE = timedelta(days=1)
EARLIEST = datetime(1900, 1, 1)
SEGMENT_TYPES = ["track", "page", "screen", "identify", "group", "alias"]
_RANGES = {
    "amount": (-1e7, 1e7),
    "quantity": (-1e6, 1e6),
    "employees": (0, 1e7),
}
_UNIQUE = {
    "people": ["source", "record_id"],
    "events": ["message_id"],
    "cases": ["source", "case_id"],
}
# Failing values are shown as examples (they help find the broken file), except ids: an id names
# a person, and check results stay in Dagster's event log after the person is erased.
_NO_EXAMPLES = frozenset({"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"})


@dataclass
class ValidationReport:
    """The outcome of one suite on one table (or on one window of it)."""

    table: str
    rows: int
    success: bool
    evaluated: int
    failures: list[dict] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        """One line for logs and the UI."""
        if self.success:
            return f"{self.table}: {self.evaluated} expectations passed on {self.rows:,} rows"
        return f"{self.table}: {len(self.failures)} of {self.evaluated} expectations failed: " + "; ".join(
            f"{f['expectation']}({f.get('column') or ''}) {f['unexpected_count']:,} rows"
            for f in self.failures
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
    fields = canonical_fields(kind)
    required = [*REQUIRED_FIELDS[kind], "record_id", "source", "id_namespace"]
    expectations: list[gxe.Expectation] = [
        gxe.ExpectColumnValuesToNotBeNull(column=c) for c in dict.fromkeys(required)
    ]
    timestamps = [name for name, kind_type in fields.items() if kind_type == "timestamp"]
    for column in timestamps:
        expectations += [
            gxe.ExpectColumnValuesToBeInTypeList(
                column=column, type_list=["datetime64", "datetime64[us]", "datetime64[ns]"]
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column=column, min_value=EARLIEST.isoformat(), max_value=latest
            ),
        ]
    for column, (low, high) in _RANGES.items():
        if column in fields:
            expectations += [
                gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=["float64", "Float64"]),
                gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high),
            ]
    if kind in _UNIQUE:
        columns = _UNIQUE[kind]
        expectations.append(
            gxe.ExpectColumnValuesToBeUnique(column=columns[0])
            if len(columns) == 1
            else gxe.ExpectCompoundColumnsToBeUnique(column_list=columns)
        )
    if kind == "events":
        expectations.append(gxe.ExpectColumnValuesToBeInSet(column="type", value_set=SEGMENT_TYPES))
    if kind == "people":
        expectations.append(gxe.ExpectColumnValuesToBeInSet(column="converted", value_set=[True, False]))
    if kind == "cases":
        expectations.append(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="closed_at",
                column_B="opened_at",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            )
        )
    return expectations


def _columns_of(expectations: list[gxe.Expectation]) -> list[str]:
    columns: dict[str, None] = {}
    for expectation in expectations:
        config = expectation.configuration.kwargs
        for key in ("column", "column_A", "column_B"):
            if key in config:
                columns[config[key]] = None
        for column in config.get("column_list") or []:
            columns[column] = None
    return list(columns)


def validate_staging(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    now: datetime | None = None,
    window: tuple[date, date] | None = None,
) -> ValidationReport:
    """Run the kind's suite on `staging.<kind>`.

    Only the columns the suite reads are loaded, so the suite runs on tens of millions of rows.

    Args:
        con: warehouse connection.
        kind: people, events, orders or cases.
        now: reference time for "not in the future".
        window: `(start, end)`: only rows whose time falls in it (a daily partition).

    Returns:
        The report; `success` is False when any expectation fails.
    """
    table = f"staging.{kind}"
    expectations = suite_for(kind, now)
    columns = ", ".join(f'"{c}"' for c in _columns_of(expectations))
    sql, params = f"SELECT {columns} FROM {quote_table(table)}", []
    if window is not None:
        time_column = EVENT_TIME[kind]
        sql += f" WHERE {time_column} >= ? AND {time_column} < ?"
        params = [window[0], window[1]]
        table = f"{table} [{window[0]}, {window[1]})"
    frame = con.sql(sql, params=params).pl()
    if frame.height == 0:
        return ValidationReport(table=table, rows=0, success=True, evaluated=len(expectations))
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = context.data_sources.add_pandas(name=kind).add_dataframe_asset(name=f"staging.{kind}")
    batch = asset.add_batch_definition_whole_dataframe(name="all").get_batch(
        batch_parameters={"dataframe": frame.to_pandas()}
    )
    result = batch.validate(gx.ExpectationSuite(name=f"staging_{kind}", expectations=expectations))
    results = [
        {
            "expectation": r.expectation_config.type,
            "column": r.expectation_config.kwargs.get("column")
            or ",".join(r.expectation_config.kwargs.get("column_list") or [])
            or None,
            "success": bool(r.success),
            "unexpected_count": int(r.result.get("unexpected_count") or 0),
            "examples": []
            if r.expectation_config.type in _NO_EXAMPLES
            else [str(v) for v in (r.result.get("partial_unexpected_list") or [])[:5]],
        }
        for r in result.results
    ]
    report = ValidationReport(
        table=table,
        rows=frame.height,
        success=bool(result.success),
        evaluated=len(result.results),
        failures=[r for r in results if not r["success"]],
        results=results,
    )
    log.info(report.summary())
    return report
