-- The current next best offers per profile, from the newest as_of at or before the activation
-- cut-off (the session variable `activation_as_of`; none when NULL); `position` 1 is the best.
-- `offer_name` is the catalog's name of the offer (NULL without a catalog).
SELECT
    o.profile_id,
    o.rank,
    o.offer_id,
    catalog.name AS offer_name,
    o.score,
    o.model_version,
    o.as_of,
    row_number() OVER (
        PARTITION BY o.profile_id
        ORDER BY o.rank NULLS LAST, o.score DESC NULLS LAST, o.offer_id
    ) AS position
FROM activation_scores_offers AS o
LEFT JOIN (
    SELECT offer_id, any_value(name) AS name FROM activation_scores_offer_catalog GROUP BY offer_id
) AS catalog ON catalog.offer_id = o.offer_id
WHERE o.profile_id IS NOT NULL
  AND o.offer_id IS NOT NULL
  AND o.as_of IS NOT DISTINCT FROM (
      SELECT max(as_of)
      FROM activation_scores_offers
      WHERE as_of <= coalesce(getvariable('activation_as_of'), 'infinity'::TIMESTAMP)
  )
