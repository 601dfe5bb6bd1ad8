"""Kindred's feature store: declared feature views and services, point-in-time correct in DuckDB.

`definitions` declares everything; `point_in_time.training_set` / `latest_features` compute it;
`materialise` writes `features.profile_features`; `offer_affinity` picks the offers to rank.
"""
