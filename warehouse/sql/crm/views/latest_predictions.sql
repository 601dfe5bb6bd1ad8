-- The current prediction per profile and model: rows of each model's newest as_of (the latest
-- run) at or before the activation cut-off (the session variable `activation_as_of`; none when
-- NULL), and within it the most recently scored row. A profile that run did not score has none.
SELECT profile_id, model, model_version, as_of, score, score_1_99, top_factors, scored_at
FROM (
    SELECT
        p.*,
        row_number() OVER (
            PARTITION BY p.profile_id, p.model
            ORDER BY p.scored_at DESC NULLS LAST, p.model_version DESC NULLS LAST
        ) AS position
    FROM activation_scores_predictions AS p
    JOIN (
        SELECT model, max(as_of) AS as_of
        FROM activation_scores_predictions
        WHERE as_of IS NULL
           OR as_of <= coalesce(getvariable('activation_as_of'), 'infinity'::TIMESTAMP)
        GROUP BY model
    ) AS latest ON latest.model = p.model AND latest.as_of IS NOT DISTINCT FROM p.as_of
    WHERE p.profile_id IS NOT NULL
) AS ranked
WHERE position = 1
