-- One row per segment per run: its size and how many entered and exited, the size trend in
-- numbers. definition_hash identifies the `where` the run used (to tell when kindred.yaml has
-- changed since); removed is true on the row that retired a segment taken out of kindred.yaml.
CREATE TABLE IF NOT EXISTS segments.evaluations (
    segment VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    evaluated_at TIMESTAMP NOT NULL,
    as_of TIMESTAMP,
    definition_hash VARCHAR,
    size BIGINT NOT NULL,
    entered BIGINT NOT NULL,
    exited BIGINT NOT NULL,
    removed BOOLEAN NOT NULL
)
