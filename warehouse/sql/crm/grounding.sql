-- crm.grounding before masking: one row per CRM record with everything its copilot summary needs
-- (profile, contact points, scores, offers, recent activity, counts, where each came from) and
-- every identifying value known for the person, which the builder masks wherever it appears.
-- Parameters: as_of (the cut-off: only what happened strictly before it is seen), recent items
-- per list, offers kept, an optional crm_object / crm_record_id / source filter (NULL = all
-- records), and a slice: the number of parts and the part wanted (records of one profile always
-- fall in the same part). Scores and offers are those of the newest scoring run at or before the
-- cut-off (input_views(as_of=...)).
-- Times come out as ISO 8601 text (UTC, `Z`), dates as YYYY-MM-DD, ready for the JSON document.
WITH params AS (
    SELECT
        CAST(? AS TIMESTAMP) AS as_of,
        CAST(? AS INTEGER) AS recent_limit,
        CAST(? AS INTEGER) AS offer_limit,
        CAST(? AS VARCHAR) AS only_object,
        CAST(? AS VARCHAR) AS only_record,
        CAST(? AS VARCHAR) AS only_source,
        CAST(? AS UBIGINT) AS part_count,
        CAST(? AS UBIGINT) AS part
),
records AS (
    SELECT r.*
    FROM activation_crm_records AS r
    CROSS JOIN params
    WHERE (params.only_object IS NULL OR r.crm_object = params.only_object)
      AND (params.only_record IS NULL OR r.crm_record_id = params.only_record)
      AND (params.only_source IS NULL OR r.source = params.only_source)
      AND hash(coalesce(r.profile_id, r.source || ':' || r.crm_record_id)) % params.part_count = params.part
),
wanted AS (
    SELECT DISTINCT profile_id FROM records WHERE profile_id IS NOT NULL
),
xref AS (
    SELECT x.source, x.record_id, x.profile_id
    FROM (
        SELECT source, record_id, min(profile_id) AS profile_id
        FROM activation_identity_record_xref
        GROUP BY source, record_id
    ) AS x
    JOIN wanted AS w ON w.profile_id = x.profile_id
),
order_lines AS (
    SELECT
        x.profile_id,
        o.source,
        o.order_id,
        o.ordered_at,
        o.amount,
        o.quantity,
        o.product_category,
        o._file,
        o._row_number,
        row_number() OVER () AS line_number
    FROM activation_staging_orders AS o
    JOIN xref AS x ON x.source = o.source AND x.record_id = o.record_id
    CROSS JOIN params
    WHERE o.ordered_at < params.as_of
),
orders AS (
    -- Order lines grouped into orders; a line without an order id is an order of its own.
    SELECT
        profile_id,
        source,
        order_id,
        max(ordered_at) AS ordered_at,
        sum(amount) AS amount,
        sum(quantity) AS quantity,
        list_sort(list_distinct(list(product_category))) AS categories,
        min(_file) AS file,
        list_sort(list(_row_number)) AS rows
    FROM order_lines
    GROUP BY profile_id, source, coalesce(order_id, 'line-' || CAST(line_number AS VARCHAR)), order_id
),
recent_orders AS (
    SELECT
        profile_id,
        list(
            struct_pack(
                ordered_at := strftime(ordered_at, '%Y-%m-%dT%H:%M:%SZ'),
                order_id,
                categories,
                amount,
                quantity,
                source,
                file,
                rows
            )
            ORDER BY position
        ) AS items
    FROM (
        SELECT
            orders.*,
            row_number() OVER (
                PARTITION BY profile_id ORDER BY ordered_at DESC NULLS LAST, order_id DESC NULLS LAST
            ) AS position
        FROM orders
    ) AS ranked
    CROSS JOIN params
    WHERE position <= params.recent_limit
    GROUP BY profile_id
),
order_counts AS (
    SELECT
        profile_id,
        count(*) AS n_orders,
        sum(amount) AS total_spent,
        min(ordered_at) AS first_order_at
    FROM orders
    GROUP BY profile_id
),
cases AS (
    SELECT
        x.profile_id,
        c.source,
        c.case_id,
        c.opened_at,
        CASE WHEN c.closed_at < params.as_of THEN c.closed_at END AS closed_at,
        c.status,
        c.subject,
        c.description,
        c._file,
        c._row_number,
        (c.closed_at IS NULL OR c.closed_at >= params.as_of)
            AND coalesce(lower(trim(c.status)), '') NOT IN (
                'closed', 'resolved', 'solved', 'done', 'cancelled', 'canceled', 'rejected'
            ) AS is_open
    FROM activation_staging_cases AS c
    JOIN xref AS x ON x.source = c.source AND x.record_id = c.record_id
    CROSS JOIN params
    WHERE c.opened_at < params.as_of
),
recent_cases AS (
    SELECT
        profile_id,
        list(
            struct_pack(
                opened_at := strftime(opened_at, '%Y-%m-%dT%H:%M:%SZ'),
                closed_at := strftime(closed_at, '%Y-%m-%dT%H:%M:%SZ'),
                case_id,
                status,
                is_open,
                subject,
                description,
                source,
                file := _file,
                row := _row_number
            )
            ORDER BY position
        ) AS items
    FROM (
        SELECT
            cases.*,
            row_number() OVER (
                PARTITION BY profile_id ORDER BY opened_at DESC NULLS LAST, case_id DESC NULLS LAST
            ) AS position
        FROM cases
    ) AS ranked
    CROSS JOIN params
    WHERE position <= params.recent_limit
    GROUP BY profile_id
),
case_counts AS (
    SELECT profile_id, count(*) AS n_cases, count(*) FILTER (WHERE is_open) AS n_open_cases
    FROM cases
    GROUP BY profile_id
),
all_events AS (
    SELECT
        x.profile_id,
        e.source,
        e.message_id,
        e.timestamp,
        lower(e.type) AS type,
        e.event,
        e.properties,
        e._file,
        e._row_number
    FROM activation_staging_events AS e
    JOIN xref AS x ON x.source = e.source AND x.record_id = e.record_id
    CROSS JOIN params
    WHERE e.timestamp < params.as_of
),
events AS (
    -- Activity only: identify, alias and group calls carry traits, not behaviour.
    SELECT
        profile_id,
        source,
        message_id,
        timestamp,
        type,
        coalesce(
            event,
            CASE WHEN json_valid(properties) THEN coalesce(
                json_extract_string(properties, '$.name'),
                json_extract_string(properties, '$.title'),
                json_extract_string(properties, '$.path')
            ) END
        ) AS event,
        _file,
        _row_number
    FROM all_events
    WHERE type IN ('track', 'page', 'screen')
),
recent_events AS (
    SELECT
        profile_id,
        list(
            struct_pack(
                timestamp := strftime(timestamp, '%Y-%m-%dT%H:%M:%SZ'),
                source,
                type,
                event,
                file := _file,
                row := _row_number
            )
            ORDER BY position
        ) AS items
    FROM (
        SELECT
            events.*,
            row_number() OVER (
                PARTITION BY profile_id ORDER BY timestamp DESC NULLS LAST, message_id DESC NULLS LAST
            ) AS position
        FROM events
    ) AS ranked
    CROSS JOIN params
    WHERE position <= params.recent_limit
    GROUP BY profile_id
),
event_counts AS (
    SELECT
        e.profile_id,
        count(*) AS n_events,
        count(*) FILTER (WHERE e.timestamp >= params.as_of - INTERVAL 30 DAY) AS n_events_30d
    FROM events AS e
    CROSS JOIN params
    GROUP BY e.profile_id
),
seen AS (
    -- When and where the person was seen before the cut-off: every staged row of theirs at the
    -- time it happened; a people row when it was created and when it was last updated.
    SELECT
        profile_id,
        min(seen_at) AS first_seen,
        max(seen_at) AS last_seen,
        list_sort(list(DISTINCT source)) AS sources
    FROM (
        SELECT x.profile_id, p.source, unnest([p.created_at, coalesce(p.updated_at, p.created_at)]) AS seen_at
        FROM activation_staging_people AS p
        JOIN xref AS x ON x.source = p.source AND x.record_id = p.record_id
        UNION ALL
        SELECT profile_id, source, timestamp FROM all_events
        UNION ALL
        SELECT profile_id, source, ordered_at FROM order_lines
        UNION ALL
        SELECT profile_id, source, opened_at FROM cases
    ) AS rows
    CROSS JOIN params
    WHERE seen_at < params.as_of
    GROUP BY profile_id
),
contact_points AS (
    SELECT
        cp.profile_id,
        list(cp.value ORDER BY cp.is_primary DESC NULLS LAST, cp.last_seen DESC NULLS LAST, cp.value)
            FILTER (WHERE lower(cp.kind) = 'email') AS emails,
        list(cp.value ORDER BY cp.is_primary DESC NULLS LAST, cp.last_seen DESC NULLS LAST, cp.value)
            FILTER (WHERE lower(cp.kind) = 'phone') AS phones
    FROM activation_profiles_contact_points AS cp
    JOIN wanted AS w ON w.profile_id = cp.profile_id
    WHERE cp.value IS NOT NULL
    GROUP BY cp.profile_id
),
known_pii AS (
    SELECT k.profile_id, k.people
    FROM activation_known_pii AS k
    JOIN wanted AS w ON w.profile_id = k.profile_id
),
offers AS (
    SELECT
        o.profile_id,
        list(struct_pack(o.rank, o.offer_id, o.offer_name, o.score) ORDER BY o.position) AS items,
        min(o.model_version) AS model_version
    FROM activation_latest_offers AS o
    JOIN wanted AS w ON w.profile_id = o.profile_id
    CROSS JOIN params
    WHERE o.position <= params.offer_limit
    GROUP BY o.profile_id
),
profile AS (
    SELECT up.*
    FROM (
        SELECT
            unified.*,
            row_number() OVER (PARTITION BY unified.profile_id ORDER BY unified.last_seen DESC NULLS LAST) AS version
        FROM activation_profiles_unified_profile AS unified
        JOIN wanted AS w ON w.profile_id = unified.profile_id
    ) AS up
    WHERE up.version = 1
)
SELECT
    r.source,
    r.crm_object,
    r.crm_record_id,
    r.profile_id,
    r.is_lead,
    r._file AS record_file,
    r._row_number AS record_row,
    coalesce(p.first_name, r.first_name) AS first_name,
    coalesce(p.last_name, r.last_name) AS last_name,
    coalesce(p.city, r.city) AS city,
    coalesce(p.country, r.country) AS country,
    coalesce(p.company, r.company) AS company,
    coalesce(p.job_title, r.job_title) AS job_title,
    coalesce(seen.sources, [r.source]) AS profile_sources,
    len(coalesce(seen.sources, [r.source])) AS n_sources,
    strftime(seen.first_seen, '%Y-%m-%d') AS first_seen,
    strftime(seen.last_seen, '%Y-%m-%d') AS last_seen,
    -- A record created on or after the cut-off did not exist yet: its creation is not shown.
    strftime(CASE WHEN r.created_at < params.as_of THEN r.created_at END, '%Y-%m-%d') AS crm_created_at,
    r.status AS crm_status,
    -- A conversion after the cut-off had not happened yet.
    CASE WHEN r.converted_at >= params.as_of THEN false ELSE r.converted END AS crm_converted,
    strftime(CASE WHEN r.converted_at < params.as_of THEN r.converted_at END, '%Y-%m-%d') AS crm_converted_at,
    r.lead_source AS crm_lead_source,
    cp.emails AS contact_emails,
    cp.phones AS contact_phones,
    p.email AS profile_email,
    p.phone AS profile_phone,
    r.email AS record_email,
    r.phone AS record_phone,
    struct_pack(
        r.first_name, r.last_name, r.full_name, r.date_of_birth, r.gender, r.email, r.phone, r.street_number,
        r.address_line1, r.address_line2, r.city, r.state, r.postcode, r.country, r.national_id, r.company,
        r.job_title, r.loyalty_id, record_id := r.crm_record_id
    ) AS record_person,
    pii.people AS known_people,
    lead.score AS lead_score,
    lead.score_1_99 AS lead_score_1_99,
    lead.top_factors AS lead_score_factors,
    lead.model_version AS lead_score_model_version,
    strftime(lead.as_of, '%Y-%m-%d') AS lead_score_as_of,
    churn.score AS churn_risk,
    churn.score_1_99 AS churn_risk_1_99,
    churn.top_factors AS churn_risk_factors,
    churn.model_version AS churn_risk_model_version,
    strftime(churn.as_of, '%Y-%m-%d') AS churn_risk_as_of,
    offers.items AS offers,
    offers.model_version AS next_best_offer_model_version,
    recent_orders.items AS recent_orders,
    recent_cases.items AS recent_cases,
    recent_events.items AS recent_events,
    coalesce(order_counts.n_orders, 0) AS n_orders,
    order_counts.total_spent,
    strftime(order_counts.first_order_at, '%Y-%m-%d') AS first_order_at,
    coalesce(case_counts.n_cases, 0) AS n_cases,
    coalesce(case_counts.n_open_cases, 0) AS n_open_cases,
    coalesce(event_counts.n_events, 0) AS n_events,
    coalesce(event_counts.n_events_30d, 0) AS n_events_30d
FROM records AS r
CROSS JOIN params
LEFT JOIN profile AS p ON p.profile_id = r.profile_id
LEFT JOIN contact_points AS cp ON cp.profile_id = r.profile_id
LEFT JOIN known_pii AS pii ON pii.profile_id = r.profile_id
LEFT JOIN seen ON seen.profile_id = r.profile_id
LEFT JOIN activation_latest_predictions AS lead
    ON r.is_lead AND lead.model = 'lead_score' AND lead.profile_id = r.profile_id
LEFT JOIN activation_latest_predictions AS churn
    ON churn.model = 'churn_risk' AND churn.profile_id = r.profile_id
LEFT JOIN offers ON offers.profile_id = r.profile_id
LEFT JOIN recent_orders ON recent_orders.profile_id = r.profile_id
LEFT JOIN recent_cases ON recent_cases.profile_id = r.profile_id
LEFT JOIN recent_events ON recent_events.profile_id = r.profile_id
LEFT JOIN order_counts ON order_counts.profile_id = r.profile_id
LEFT JOIN case_counts ON case_counts.profile_id = r.profile_id
LEFT JOIN event_counts ON event_counts.profile_id = r.profile_id
-- No ORDER BY: sorting rows this wide costs more than the rest of the query; the builder sorts
-- the finished documents by key instead.
