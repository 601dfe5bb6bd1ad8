-- crm.record_scores before reasons are written out: one row per CRM record with the current
-- lead score (Lead records only), churn risk and best offer of its profile, and the raw
-- top_factors the reasons are made from. NULL wherever a model has no current row.
SELECT
    r.crm_object,
    r.crm_record_id,
    r.profile_id,
    lead.score AS lead_score,
    lead.score_1_99 AS lead_score_1_99,
    lead.top_factors AS lead_score_factors,
    churn.score AS churn_risk,
    churn.score_1_99 AS churn_risk_1_99,
    churn.top_factors AS churn_risk_factors,
    offer.offer_id AS best_offer,
    offer.score AS best_offer_score,
    lead.model_version AS lead_score_model_version,
    churn.model_version AS churn_risk_model_version,
    offer.model_version AS next_best_offer_model_version,
    r.source
FROM activation_crm_records AS r
LEFT JOIN activation_latest_predictions AS lead
    ON r.is_lead AND lead.model = 'lead_score' AND lead.profile_id = r.profile_id
LEFT JOIN activation_latest_predictions AS churn
    ON churn.model = 'churn_risk' AND churn.profile_id = r.profile_id
LEFT JOIN activation_latest_offers AS offer
    ON offer.position = 1 AND offer.profile_id = r.profile_id
ORDER BY r.crm_object, r.crm_record_id, r.source
