-- The current next best offers per profile, from the newest as_of at or before the activation
-- cut-off (the session variable `activation_as_of`; none when NULL); `position` 1 is the best.
SELECT
    profile_id,
    rank,
    offer_id,
    score,
    model_version,
    as_of,
    row_number() OVER (
        PARTITION BY profile_id
        ORDER BY rank NULLS LAST, score DESC NULLS LAST, offer_id
    ) AS position
FROM activation_scores_offers
WHERE profile_id IS NOT NULL
  AND offer_id IS NOT NULL
  AND as_of IS NOT DISTINCT FROM (
      SELECT max(as_of)
      FROM activation_scores_offers
      WHERE as_of <= coalesce(getvariable('activation_as_of'), 'infinity'::TIMESTAMP)
  )
