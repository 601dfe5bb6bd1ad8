-- The surviving value of every (profile, attribute): the best-ranked candidate under the
-- attribute's rule chain, with the record it came from and the rule that decided.
--
-- Inputs (registered or temporary tables), profiles and records as integers (`pid`, and `rid`
-- numbered in (source, record_id) order) because sorting on them is much faster than on text:
--   _kindred_sv_candidates(pid, attribute, source, rid, value, parts, value_key,
--                          completeness, observed_at): one row per (record, distinct value), empty and
--                          invalid values already left out; `parts` holds an address's fields.
--   _kindred_sv_chain(attribute, rule_1, rule_2, rule_3, rule_4, priority): each attribute's
--                          rules in order (NULL past the chain's end) and its source order.
--
-- Every rule becomes a number where higher is better, so one window orders all attributes
-- whatever their chain. Ties left by the chain go to the newest observation, then to the
-- smallest (source, record_id), whatever the order of the rows: the same records always give
-- the same golden record.
WITH frequency AS (
    SELECT pid, attribute, value_key, count(*) AS n_records
    FROM _kindred_sv_candidates
    GROUP BY ALL
),
keyed AS (
    SELECT
        c.*,
        ch.rule_1, ch.rule_2, ch.rule_3, ch.rule_4,
        CASE ch.rule_1
            WHEN 'most_recent' THEN epoch_us(c.observed_at)
            WHEN 'most_frequent' THEN f.n_records
            WHEN 'source_priority' THEN -coalesce(list_position(ch.priority, c.source), 1000000)
            WHEN 'most_complete' THEN c.completeness
            ELSE 0
        END::BIGINT AS k1,
        CASE ch.rule_2
            WHEN 'most_recent' THEN epoch_us(c.observed_at)
            WHEN 'most_frequent' THEN f.n_records
            WHEN 'source_priority' THEN -coalesce(list_position(ch.priority, c.source), 1000000)
            WHEN 'most_complete' THEN c.completeness
            ELSE 0
        END::BIGINT AS k2,
        CASE ch.rule_3
            WHEN 'most_recent' THEN epoch_us(c.observed_at)
            WHEN 'most_frequent' THEN f.n_records
            WHEN 'source_priority' THEN -coalesce(list_position(ch.priority, c.source), 1000000)
            WHEN 'most_complete' THEN c.completeness
            ELSE 0
        END::BIGINT AS k3,
        CASE ch.rule_4
            WHEN 'most_recent' THEN epoch_us(c.observed_at)
            WHEN 'most_frequent' THEN f.n_records
            WHEN 'source_priority' THEN -coalesce(list_position(ch.priority, c.source), 1000000)
            WHEN 'most_complete' THEN c.completeness
            ELSE 0
        END::BIGINT AS k4
    FROM _kindred_sv_candidates AS c
    JOIN _kindred_sv_chain AS ch USING (attribute)
    JOIN frequency AS f USING (pid, attribute, value_key)
),
ranked AS (
    SELECT
        *,
        row_number() OVER by_rank AS rn,
        first_value(value_key) OVER by_rank AS top_key
    FROM keyed
    WINDOW by_rank AS (
        PARTITION BY pid, attribute
        ORDER BY k1 DESC, k2 DESC, k3 DESC, k4 DESC, observed_at DESC, rid, value_key
    )
),
runner_up AS (
    -- The best candidate holding another value than the winner: the rule that put the winner
    -- ahead of it is the one that decided.
    SELECT pid, attribute, arg_min(struct_pack(k1, k2, k3, k4), rn) AS keys
    FROM ranked
    WHERE value_key <> top_key
    GROUP BY pid, attribute
)
SELECT
    w.pid,
    w.attribute,
    w.value,
    w.parts,
    w.source,
    w.rid,
    CASE WHEN w.observed_at > TIMESTAMP '0001-01-01' THEN w.observed_at END AS observed_at,
    CASE
        WHEN r.keys IS NULL THEN 'only_value'
        WHEN w.k1 <> r.keys.k1 THEN w.rule_1
        WHEN w.k2 <> r.keys.k2 THEN w.rule_2
        WHEN w.k3 <> r.keys.k3 THEN w.rule_3
        WHEN w.k4 <> r.keys.k4 THEN w.rule_4
        ELSE 'tie_break'
    END AS rule
FROM ranked AS w
LEFT JOIN runner_up AS r USING (pid, attribute)
WHERE w.rn = 1
