"""What the CRM sync mirrors: each warehouse table, its PostgreSQL table, columns, types and key.

The mirror table carries the warehouse table's columns with PostgreSQL types, plus three columns of
bookkeeping that say which rows this sync wrote: `kindred_owner` (the sync's owner name; NULL on
rows another writer put in the table), `kindred_digest` (a hash of the row as sent, to tell what
changed) and `kindred_synced_at` (when the sync last wrote the row).
"""

from __future__ import annotations

from dataclasses import dataclass

OWNER_COLUMN = "kindred_owner"
DIGEST_COLUMN = "kindred_digest"
SYNCED_AT_COLUMN = "kindred_synced_at"
BOOKKEEPING: dict[str, str] = {
    OWNER_COLUMN: "text",
    DIGEST_COLUMN: "uuid",
    SYNCED_AT_COLUMN: "timestamp with time zone",
}
STATE_TABLE = "kindred_sync_state"

# PostgreSQL type -> the DuckDB type a value is cast to before it is sent.
_DUCKDB_TYPES = {
    "text": "VARCHAR",
    "double precision": "DOUBLE",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "timestamp with time zone": "TIMESTAMP",
    "jsonb": "VARCHAR",
}


@dataclass(frozen=True)
class MirrorTable:
    """One warehouse table and its mirror.

    Attributes:
        name: the mirror table's name in the target schema.
        warehouse_table: the `schema.table` it mirrors.
        columns: column -> PostgreSQL type, in the mirror's column order.
        key: the primary key columns (one row per key in the warehouse table).
        digest_of: warehouse expressions whose values decide whether a row changed; the row is
            sent again only when their hash does.
        change_feed: the warehouse table logging this table's changes, if it has one.
        stand_ins: for a `digest_of` column the warehouse table may lack (built by an older
            version), the column hashed instead.
        fillfactor: how full the sync fills the pages of a table it creates. Room left in each
            page lets PostgreSQL update a row in place (a HOT update, no new index entry): a run
            that changes every score then syncs in about half the time, for ~1.7x the space.
    """

    name: str
    warehouse_table: str
    columns: dict[str, str]
    key: tuple[str, ...]
    digest_of: tuple[str, ...]
    change_feed: str | None = None
    stand_ins: tuple[tuple[str, str], ...] = ()
    fillfactor: int = 100

    def duckdb_type(self, column: str) -> str:
        """The DuckDB type a column's values are cast to before they are sent."""
        return _DUCKDB_TYPES[self.columns[column]]


_RECORD_SCORES_COLUMNS = {
    "source": "text",
    "crm_object": "text",
    "crm_record_id": "text",
    "profile_id": "text",
    "lead_score": "double precision",
    "lead_score_1_99": "integer",
    "lead_score_reasons": "text",
    "churn_risk": "double precision",
    "churn_risk_1_99": "integer",
    "churn_risk_reasons": "text",
    "best_offer": "text",
    "best_offer_score": "double precision",
    "lead_score_model_version": "text",
    "churn_risk_model_version": "text",
    "next_best_offer_model_version": "text",
    "updated_at": "timestamp with time zone",
}
CRM_KEY = ("source", "crm_object", "crm_record_id")

RECORD_SCORES = MirrorTable(
    name="record_scores",
    warehouse_table="crm.record_scores",
    columns=_RECORD_SCORES_COLUMNS,
    key=CRM_KEY,
    digest_of=tuple(_RECORD_SCORES_COLUMNS),
    change_feed="crm.record_scores_changes",
    # Every retrained model changes every score: whole-table updates are the common case.
    fillfactor=60,
)
GROUNDING = MirrorTable(
    name="grounding",
    warehouse_table="crm.grounding",
    columns={
        "source": "text",
        "crm_object": "text",
        "crm_record_id": "text",
        "profile_id": "text",
        "context": "jsonb",
        "masked": "boolean",
        "generated_at": "timestamp with time zone",
    },
    key=CRM_KEY,
    # Not `generated_at` nor the document text, which carries it: every build stamps them anew.
    # The content hash changes exactly when the document says something else.
    digest_of=(*CRM_KEY, "profile_id", "masked", "content_hash"),
    # Documents built before the content hash existed: hash the text (sends them once more).
    stand_ins=(("content_hash", "context"),),
    fillfactor=60,
)
SEGMENT_MEMBERSHIP = MirrorTable(
    name="segment_membership",
    warehouse_table="segments.membership",
    columns={"segment": "text", "profile_id": "text", "entered_at": "timestamp with time zone"},
    key=("segment", "profile_id"),
    digest_of=("segment", "profile_id", "entered_at"),
)

CRM_TABLES = (RECORD_SCORES, GROUNDING)


def mirrored_tables(*, segments: bool) -> tuple[MirrorTable, ...]:
    """The tables a sync mirrors: the CRM tables, and segment membership when asked."""
    return (*CRM_TABLES, SEGMENT_MEMBERSHIP) if segments else CRM_TABLES
