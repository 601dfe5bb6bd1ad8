-- Every profile's features from the newest as_of of features.profile_features (the last run's).
SELECT *
FROM features.profile_features
WHERE as_of = (SELECT max(as_of) FROM features.profile_features)
