-- Every identifying value Kindred has seen for each profile, from every source: the person
-- attributes of each staged row linked to the profile (any kind of source), of the golden record
-- and of the contact points, with the ids of the person's source records. The trust layer finds
-- these wherever they appear in text (privacy.known); kindred.yaml's classification decides which
-- attributes count. The attributes are the session variable `activation_person_attributes`.
-- One row per profile; `people` holds the distinct rows as structs (source, record_id, attributes).
WITH xref AS (
    SELECT source, record_id, min(profile_id) AS profile_id
    FROM activation_identity_record_xref
    WHERE profile_id IS NOT NULL
    GROUP BY source, record_id
),
staged AS (
    SELECT source, record_id, COLUMNS(lambda c: list_contains(getvariable('activation_person_attributes'), c))
    FROM activation_staging_people
    UNION ALL BY NAME
    SELECT source, record_id, COLUMNS(lambda c: list_contains(getvariable('activation_person_attributes'), c))
    FROM activation_staging_events
    UNION ALL BY NAME
    SELECT source, record_id, COLUMNS(lambda c: list_contains(getvariable('activation_person_attributes'), c))
    FROM activation_staging_orders
    UNION ALL BY NAME
    SELECT source, record_id, COLUMNS(lambda c: list_contains(getvariable('activation_person_attributes'), c))
    FROM activation_staging_cases
),
seen AS (
    SELECT x.profile_id, s.*
    FROM staged AS s
    JOIN xref AS x ON x.source = s.source AND x.record_id = s.record_id
    UNION ALL BY NAME
    SELECT profile_id, COLUMNS(lambda c: list_contains(getvariable('activation_person_attributes'), c))
    FROM activation_profiles_unified_profile
    UNION ALL BY NAME
    SELECT
        profile_id,
        CASE WHEN lower(kind) = 'email' THEN value END AS email,
        CASE WHEN lower(kind) = 'phone' THEN value END AS phone
    FROM activation_profiles_contact_points
)
SELECT seen.profile_id, list(DISTINCT seen) AS people
FROM seen
WHERE seen.profile_id IS NOT NULL
GROUP BY seen.profile_id
