-- CRM records: one row per staging.people record that names a CRM object (Lead, Contact, ...),
-- the latest version of each, with the profile identity resolution gave it (NULL if none yet).
SELECT
    p.source,
    p.crm_object,
    p.record_id AS crm_record_id,
    x.profile_id,
    lower(trim(p.crm_object)) = 'lead' AS is_lead,
    p.first_name,
    p.last_name,
    p.email,
    p.phone,
    p.city,
    p.country,
    p.company,
    p.job_title,
    p.full_name,
    p.date_of_birth,
    p.street_number,
    p.address_line1,
    p.address_line2,
    p.state,
    p.postcode,
    p.national_id,
    p.loyalty_id,
    p.gender,
    p._file,
    p._row_number,
    p.created_at,
    p.status,
    p.converted,
    p.converted_at,
    p.lead_source
FROM (
    SELECT
        people.*,
        row_number() OVER (
            PARTITION BY source, record_id
            ORDER BY updated_at DESC NULLS LAST, _row_number DESC NULLS LAST
        ) AS version
    FROM activation_staging_people AS people
    WHERE crm_object IS NOT NULL AND trim(crm_object) <> '' AND record_id IS NOT NULL
) AS p
LEFT JOIN (
    SELECT source, record_id, min(profile_id) AS profile_id
    FROM activation_identity_record_xref
    GROUP BY source, record_id
) AS x ON x.source = p.source AND x.record_id = p.record_id
WHERE p.version = 1
