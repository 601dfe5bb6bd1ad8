"""Drift of every profile feature since the previous run, as a warning (it never blocks)."""

import dagster as dg

from models.drift import MAJOR, MODERATE, feature_drift
from pipelines.resources import KindredResource


@dg.asset_check(
    asset=dg.AssetKey(["features", "profile_features"]),
    description="Population stability index (PSI) of every feature against the previous run: warns when a "
    "feature's PSI reaches 0.25, with the most drifted features in the metadata.",
    blocking=False,
)
def feature_drift_since_last_run(kindred: KindredResource) -> dg.AssetCheckResult:
    with kindred.connect() as con:
        report = feature_drift(con)
    if not report.compared:
        return dg.AssetCheckResult(passed=True, description="first run: no previous features to compare with")
    major = report.above(MAJOR)
    return dg.AssetCheckResult(
        passed=not major,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(major)} feature(s) shifted (PSI >= {MAJOR}): {', '.join(major[:5])}"
            if major
            else "no feature shifted (every PSI below 0.25)"
        ),
        metadata={
            "top_drifting_features": dg.MetadataValue.json(report.top()),
            "features_moderate_shift": len(report.above(MODERATE)),
            "features_major_shift": len(major),
            "previous_as_of": str(report.previous_as_of),
            "current_as_of": str(report.current_as_of),
        },
    )
