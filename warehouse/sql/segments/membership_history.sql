-- Every entry into and exit from a segment, one row per change: what a journey tool triggers on.
-- change is 'entered' or 'exited'; changed_at is when the run that saw it wrote it (UTC); as_of is the
-- date the run looked at the data as of; run_id is the Dagster run. Append-only.
CREATE TABLE IF NOT EXISTS segments.membership_history (
    segment VARCHAR NOT NULL,
    profile_id VARCHAR NOT NULL,
    change VARCHAR NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    as_of TIMESTAMP,
    run_id VARCHAR NOT NULL
)
