-- Each model's current score per profile: rows of the model's newest as_of (its latest run), and
-- within that run the most recently scored row. One row per profile any model scored.
-- The columns are the segment fields of activation/segments/fields.py (SCORE_MODELS).
SELECT
    prediction.profile_id,
    arg_max(prediction.score, prediction.scored_at) FILTER (WHERE prediction.model = 'lead_score') AS lead_score,
    arg_max(prediction.score_1_99, prediction.scored_at) FILTER (WHERE prediction.model = 'lead_score') AS lead_score_1_99,
    arg_max(prediction.score, prediction.scored_at) FILTER (WHERE prediction.model = 'churn_risk') AS churn_risk,
    arg_max(prediction.score_1_99, prediction.scored_at) FILTER (WHERE prediction.model = 'churn_risk') AS churn_risk_1_99
FROM scores.predictions AS prediction
JOIN (
    SELECT model, max(as_of) AS as_of
    FROM scores.predictions
    GROUP BY model
) AS latest ON latest.model = prediction.model AND latest.as_of = prediction.as_of
WHERE prediction.profile_id IS NOT NULL
GROUP BY prediction.profile_id
