"""Great Expectations suites and row accounting on the staging tables (they guard scoring and export)."""

import dagster as dg

from pipelines.resources import KindredResource
from warehouse.canonical import KINDS
from warehouse.expectations import validate_staging
from warehouse.quarantine import account_rows


def expectations_check(kind: str) -> dg.AssetChecksDefinition:
    """The Great Expectations suite of `staging.<kind>` as a blocking asset check."""

    @dg.asset_check(
        asset=dg.AssetKey(["staging", kind]),
        name="great_expectations",
        description=f"Great Expectations suite for staging.{kind}: required fields, types, ranges, allowed "
        "values, unique ids, no timestamps in the future. Blocks everything downstream when it fails.",
        blocking=True,
    )
    def check(kindred: KindredResource) -> dg.AssetCheckResult:
        with kindred.connect() as con:
            report = validate_staging(con, kind)
        return dg.AssetCheckResult(
            passed=report.success,
            description=report.summary(),
            metadata={
                "rows": report.rows,
                "expectations": report.evaluated,
                "failed": len(report.failures),
                "unexpected_rows": sum(f["unexpected_count"] for f in report.failures),
                "failures": dg.MetadataValue.json(report.failures),
                "results": dg.MetadataValue.json(report.results),
            },
        )

    return check


def accounting_check(kind: str) -> dg.AssetChecksDefinition:
    """Rows in the files = rows in raw = rows staged + rows quarantined, for every source of a kind."""

    @dg.asset_check(
        asset=dg.AssetKey(["staging", kind]),
        name="every_row_accounted_for",
        description="For each source: rows in its loaded files = rows in raw.<source> = its rows in "
        "staging + quarantine.<source>.",
        blocking=True,
    )
    def check(kindred: KindredResource) -> dg.AssetCheckResult:
        config = kindred.load()
        with kindred.connect() as con:
            ledger = account_rows(con, config, kind)
        broken = [row for row in ledger if not row["balanced"]]
        return dg.AssetCheckResult(
            passed=not broken,
            description="balanced" if not broken else f"unbalanced: {', '.join(r['source'] for r in broken)}",
            metadata={
                "ledger": dg.MetadataValue.json(ledger),
                "quarantined_rows": sum(row["quarantined"] for row in ledger),
                "staged_rows": sum(row["staged"] for row in ledger),
            },
        )

    return check


defs = dg.Definitions(
    asset_checks=[c(kind) for kind in KINDS for c in (expectations_check, accounting_check)]
)
