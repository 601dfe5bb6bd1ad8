"""Kindred's own CRM sync: a PostgreSQL mirror of the `crm` tables that sends only what changed.

`sync_crm(con, "postgresql://user@host:5432/dbname")` mirrors `crm.record_scores` and
`crm.grounding` (and `segments.membership` when asked) into a PostgreSQL schema, in one
transaction, and logs the outcome in `crm.sync_log`. See docs/crm-sync.md.
"""

from activation.crm_sync.errors import CrmSyncError
from activation.crm_sync.sync import CrmSyncFailed, SyncResult, TableSync, sync_crm
from activation.crm_sync.sync_log import SYNC_LOG, write_sync_log
from activation.crm_sync.tables import CRM_TABLES, GROUNDING, RECORD_SCORES, SEGMENT_MEMBERSHIP, MirrorTable
from activation.crm_sync.target import SyncTarget

__all__ = [
    "CRM_TABLES",
    "GROUNDING",
    "RECORD_SCORES",
    "SEGMENT_MEMBERSHIP",
    "SYNC_LOG",
    "CrmSyncError",
    "CrmSyncFailed",
    "MirrorTable",
    "SyncResult",
    "SyncTarget",
    "TableSync",
    "sync_crm",
    "write_sync_log",
]
