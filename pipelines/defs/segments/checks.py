"""Checks guarding what exports and journey tools read: one row per member, every member a profile."""

import dagster as dg

from pipelines.resources import KindredResource
from warehouse.connection import table_exists


@dg.asset_check(
    asset=dg.AssetKey(["segments", "membership"]),
    description="Each profile is at most once in a segment, and every member is a current profile.",
    blocking=True,
)
def one_row_per_member(kindred: KindredResource) -> dg.AssetCheckResult:
    with kindred.connect() as con:
        if not table_exists(con, "profiles.unified_profile"):
            members = con.sql("SELECT count(*) FROM segments.membership").fetchall()[0][0]
            return dg.AssetCheckResult(passed=members == 0, metadata={"members_without_profile": members})
        duplicated, orphans = con.sql("""
            SELECT
              (SELECT count(*) FROM (
                  SELECT 1 FROM segments.membership GROUP BY segment, profile_id HAVING count(*) > 1)),
              (SELECT count(*) FROM segments.membership AS m
                WHERE NOT EXISTS (
                    SELECT 1 FROM profiles.unified_profile AS p WHERE p.profile_id = m.profile_id))
        """).fetchall()[0]
    return dg.AssetCheckResult(
        passed=duplicated == 0 and orphans == 0,
        metadata={"duplicated_members": duplicated, "members_without_profile": orphans},
    )
