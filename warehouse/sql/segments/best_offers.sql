-- The best offer (lowest rank, 1 = best) of every profile in the latest ranking: the newest as_of
-- of scores.offers. One row per profile with an offer.
SELECT profile_id, arg_min(offer_id, rank) AS best_offer
FROM scores.offers
WHERE profile_id IS NOT NULL
  AND offer_id IS NOT NULL
  AND as_of = (SELECT max(as_of) FROM scores.offers)
GROUP BY profile_id
