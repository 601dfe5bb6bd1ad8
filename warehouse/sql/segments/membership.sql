-- The current members of every segment: one row per (segment, profile_id). entered_at is when the
-- person last entered the segment; it stays while they remain a member.
CREATE TABLE IF NOT EXISTS segments.membership (
    segment VARCHAR NOT NULL,
    profile_id VARCHAR NOT NULL,
    entered_at TIMESTAMP NOT NULL
)
