"""Checks guarding what CRM syncs read: one row per CRM record, nothing unmasked in grounding."""

import dagster as dg

from pipelines.resources import KindredResource


@dg.asset_check(
    asset=dg.AssetKey(["crm", "record_scores"]),
    description="Exactly one row per CRM record (source, crm_object, crm_record_id), and scores are probabilities.",
    blocking=True,
)
def one_row_per_crm_record(kindred: KindredResource) -> dg.AssetCheckResult:
    with kindred.connect() as con:
        duplicated, out_of_range = con.sql("""
            SELECT
              (SELECT count(*) FROM (SELECT 1 FROM crm.record_scores GROUP BY source, crm_object, crm_record_id HAVING count(*) > 1)),
              (SELECT count(*) FROM crm.record_scores
                WHERE NOT coalesce(lead_score BETWEEN 0 AND 1, true) OR NOT coalesce(churn_risk BETWEEN 0 AND 1, true))
        """).fetchall()[0]
    return dg.AssetCheckResult(
        passed=duplicated == 0 and out_of_range == 0,
        metadata={"duplicated": duplicated, "scores_out_of_range": out_of_range},
    )


@dg.asset_check(
    asset=dg.AssetKey(["crm", "grounding"]),
    description="No grounding document contains any of the person's emails or phone numbers in clear.",
    blocking=True,
)
def no_clear_contact_points(kindred: KindredResource) -> dg.AssetCheckResult:
    with kindred.connect() as con:
        leaks = con.sql("""
            SELECT count(*) FROM crm.grounding g JOIN profiles.contact_points c USING (profile_id)
            WHERE length(c.value) >= 6 AND contains(lower(g.context), lower(c.value))
        """).fetchall()[0][0]
    return dg.AssetCheckResult(passed=leaks == 0, metadata={"documents_with_clear_contact_points": leaks})
