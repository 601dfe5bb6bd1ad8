"""Every staged person key is resolved exactly once (scoring and CRM rows depend on it)."""

import dagster as dg

from pipelines.resources import KindredResource


@dg.asset_check(
    asset=dg.AssetKey(["identity", "record_xref"]),
    description="One row per (source, record_id), and every person key in staging has a profile.",
    blocking=True,
)
def one_profile_per_record(kindred: KindredResource) -> dg.AssetCheckResult:
    with kindred.connect() as con:
        duplicated, unresolved = con.sql("""
            SELECT
              (SELECT count(*) FROM (SELECT source, record_id FROM identity.record_xref GROUP BY ALL HAVING count(*) > 1)),
              (SELECT count(*) FROM (
                 SELECT source, record_id FROM staging.people UNION SELECT source, record_id FROM staging.events
                 UNION SELECT source, record_id FROM staging.orders UNION SELECT source, record_id FROM staging.cases
               ) s ANTI JOIN identity.record_xref x USING (source, record_id))
        """).fetchall()[0]
    return dg.AssetCheckResult(
        passed=duplicated == 0 and unresolved == 0,
        metadata={"duplicated_records": duplicated, "unresolved_records": unresolved},
    )
