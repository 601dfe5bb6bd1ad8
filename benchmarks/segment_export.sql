-- The synthetic warehouse of benchmarks/segment_export.py: ? profiles with the real tables' shapes.
-- An older run of features, scores and offers sits beside the newest one, as after a few runs.
CREATE TABLE profiles.unified_profile AS
SELECT
    'p_' || lpad(i::VARCHAR, 10, '0') AS profile_id,
    ['Jane', 'John', 'Ana', 'Liam', 'Zoë', 'Omar', 'Mei', 'Sara'][1 + i % 8] AS first_name,
    ['Doe', 'Smith', 'Lopez', 'Nguyen', 'Müller', 'Khan', 'Rossi', 'Okafor'][1 + (i // 8) % 8] AS last_name,
    first_name || ' ' || last_name AS full_name,
    lower(first_name || '.' || last_name || i::VARCHAR || '@example.com') AS email,
    '+1415' || lpad((i % 10000000)::VARCHAR, 7, '0') AS phone,
    (DATE '1950-01-01' + INTERVAL (i % 18000) DAY)::DATE::VARCHAR AS date_of_birth,
    CASE WHEN i % 3 = 0 THEN 'female' WHEN i % 3 = 1 THEN 'male' END AS gender,
    (i % 999 + 1)::VARCHAR AS street_number,
    'Main Street' AS address_line1,
    NULL::VARCHAR AS address_line2,
    ['Springfield', 'Portland', 'Austin', 'Toronto'][1 + i % 4] AS city,
    ['IL', 'OR', 'TX', 'ON'][1 + i % 4] AS state,
    lpad((i % 99999)::VARCHAR, 5, '0') AS postcode,
    ['United States', 'United States', 'United States', 'Canada'][1 + i % 4] AS country,
    CASE WHEN i % 5 = 0 THEN 'Acme ' || (i % 1000)::VARCHAR END AS company,
    NULL::VARCHAR AS job_title,
    CASE WHEN i % 2 = 0 THEN 'L' || i::VARCHAR END AS loyalty_id,
    1 + i % 4 AS n_records,
    1 + i % 3 AS n_sources,
    ['web_events', 'shop_orders', 'crm_contacts'][1:1 + i % 3] AS sources,
    TIMESTAMP '2022-01-01' + INTERVAL (i % 900) DAY AS first_seen,
    TIMESTAMP '2026-05-31' - INTERVAL (hash(i) % 400) DAY AS last_seen,
    TIMESTAMP '2026-06-01' AS updated_at
FROM range(?) AS t(i);

CREATE TABLE features.profile_features AS
SELECT profile_id, as_of, revenue_365d, orders_365d, days_since_last_order, unsubscribed, email_opens_90d
FROM (
    SELECT
        profile_id,
        TIMESTAMP '2026-06-01' AS as_of,
        (hash(profile_id || 'r') % 200000) / 100.0 AS revenue_365d,
        hash(profile_id || 'o') % 12 AS orders_365d,
        (hash(profile_id || 'd') % 400)::DOUBLE AS days_since_last_order,
        hash(profile_id || 'u') % 20 = 0 AS unsubscribed,
        hash(profile_id || 'e') % 30 AS email_opens_90d
    FROM profiles.unified_profile
    UNION ALL
    SELECT profile_id, TIMESTAMP '2026-05-01', 0, 0, 0, false, 0 FROM profiles.unified_profile
);

CREATE TABLE scores.predictions AS
SELECT profile_id, model, '2' AS model_version, as_of, score, round(score * 100)::INTEGER AS score_1_99,
       '[]'::JSON AS top_factors, as_of AS scored_at
FROM (
    SELECT profile_id, 'churn_risk' AS model, TIMESTAMP '2026-06-01' AS as_of,
           (hash(profile_id || 'c') % 1000) / 1000.0 AS score
    FROM profiles.unified_profile
    UNION ALL
    SELECT profile_id, 'lead_score', TIMESTAMP '2026-06-01', (hash(profile_id || 'l') % 1000) / 1000.0
    FROM profiles.unified_profile WHERE hash(profile_id) % 5 = 0
    UNION ALL
    SELECT profile_id, 'churn_risk', TIMESTAMP '2026-05-01', 0.99 FROM profiles.unified_profile
);

CREATE TABLE scores.offers AS
SELECT profile_id, rank, ['Outdoor Gear', 'Books', 'Electronics', 'Toys', 'Garden'][1 + ((hash(profile_id) + rank) % 5)::BIGINT] AS offer_id,
       1.0 / rank AS score, '2' AS model_version, TIMESTAMP '2026-06-01' AS as_of
FROM profiles.unified_profile, range(1, 4) AS r(rank)
UNION ALL
SELECT profile_id, 1, 'Old Offer', 1.0, '1', TIMESTAMP '2026-05-01' FROM profiles.unified_profile;

CREATE TABLE profiles.consent AS
SELECT profile_id, 'email' AS channel, 'marketing' AS purpose, 'opted_out' AS status, 'crm_contacts' AS source,
       'C' || profile_id AS record_id, TIMESTAMP '2026-01-01' AS recorded_at
FROM profiles.unified_profile WHERE hash(profile_id || 'x') % 100 < 5
UNION ALL
SELECT profile_id, 'any', 'any', 'opted_out', 'crm_contacts', 'C' || profile_id, TIMESTAMP '2026-02-01'
FROM profiles.unified_profile WHERE hash(profile_id || 'y') % 100 = 0;
