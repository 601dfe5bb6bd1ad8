-- crm.sync_log: one row per mirrored table per CRM sync (dry runs are not logged). A failed sync
-- logs every table it was asked for with zero rows and the error: nothing of it was committed.
CREATE TABLE IF NOT EXISTS crm.sync_log (
    sync_id VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    target VARCHAR NOT NULL,
    mirror_schema VARCHAR NOT NULL,
    owner VARCHAR NOT NULL,
    mirror_table VARCHAR NOT NULL,
    warehouse_table VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    inserted BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    deleted BIGINT NOT NULL,
    error VARCHAR
)
