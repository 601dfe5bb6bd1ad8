"""Checks guarding every use of consent: scoring, offers, grounding and exports read this table."""

import dagster as dg

from pipelines.resources import KindredResource
from privacy.consent import CONSENT, STATUSES


@dg.asset_check(
    asset=dg.AssetKey(["profiles", "consent"]),
    description="Every row has a known status, a time and a profile identity resolution knows, "
    "and there is one row per (profile, channel, purpose).",
    blocking=True,
)
def consent_rows_are_sound(kindred: KindredResource) -> dg.AssetCheckResult:
    with kindred.connect() as con:
        unknown_status, no_time, orphans, repeated = con.sql(
            f"""
            SELECT
              (SELECT count(*) FROM {CONSENT} WHERE status IS NULL OR NOT list_contains(?, status)),
              (SELECT count(*) FROM {CONSENT} WHERE recorded_at IS NULL),
              (SELECT count(*) FROM {CONSENT} c
                 WHERE c.profile_id IS NULL
                    OR c.profile_id NOT IN (SELECT profile_id FROM identity.record_xref WHERE profile_id IS NOT NULL)),
              (SELECT count(*) FROM (SELECT 1 FROM {CONSENT} GROUP BY profile_id, channel, purpose HAVING count(*) > 1))
            """,
            params=[list(STATUSES)],
        ).fetchall()[0]
    return dg.AssetCheckResult(
        passed=unknown_status == no_time == orphans == repeated == 0,
        metadata={
            "unknown_status": unknown_status,
            "without_time": no_time,
            "without_profile": orphans,
            "repeated_keys": repeated,
        },
    )
