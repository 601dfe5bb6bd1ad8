"""PII-safe grounding documents an LLM copilot reads before talking to or about a customer.

`crm.grounding` holds one JSON document per CRM record: who the person is (first name, last
initial, masked emails and phones, location, company, role, tenure), their scores with reasons,
their best offers, their recent orders, support cases and web/app/email activity, activity
counts, and where each part came from (`provenance`; each listed item names its source and row).
A document describes the person as of the run's cut-off (`as_of`): nothing that happened at or
after it is shown, and scores and offers are those of the newest scoring run at or before it.

Documents are built in clear (`activation.grounding_document.clear_document`) and masked by the
trust layer (`privacy`) before anything is written: the stored document is display-masked, so
`masked` is always true. The document also says what the person consents to, and leaves out the
contact points of channels they opted out of entirely (`activation.grounding_consent`); those
values are still known to the trust layer and masked wherever they appear.
`record_grounding` builds one record's document on demand, clear, with
the person's known values, for callers that mask it their own way (typed placeholders for an
LLM prompt) or may see it in clear (a `pii_reader`).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import duckdb
import polars as pl

from activation.grounding_consent import consent_permissions
from activation.grounding_document import clear_document, event_channel
from activation.grounding_fields import DOCUMENT_FIELDS, mask_document
from activation.grounding_hash import document_text_and_hash
from activation.known_pii import known_from_row, source_column_values
from activation.record_scores import utc_naive
from activation.warehouse_inputs import crm_sql, input_views
from privacy.classification import Classification
from privacy.known import KnownPii
from privacy.masking import DisplayStyle, Masker, default_detector
from warehouse.config import KindredConfig
from warehouse.connection import quote_table, table_exists

log = logging.getLogger(__name__)

__all__ = [
    "DOCUMENT_FIELDS",
    "GROUNDING",
    "RecordGrounding",
    "build_grounding",
    "display_masker",
    "event_channel",
    "grounding_for",
    "record_grounding",
    "stored_as_of",
]

GROUNDING = "crm.grounding"
GROUNDING_SCHEMA: dict[str, pl.DataType] = {
    "crm_object": pl.String(),
    "crm_record_id": pl.String(),
    "profile_id": pl.String(),
    "context": pl.String(),
    "masked": pl.Boolean(),
    "generated_at": pl.Datetime("us"),
    # Not in the original contract: the people source of the record (see crm.record_scores).
    "source": pl.String(),
    # The document's content without its build stamp (activation.grounding_hash): CRM syncs send
    # a document again only when this changes.
    "content_hash": pl.String(),
}
OFFER_LIMIT = 3
# Records per slice of build_grounding: bounds memory (a slice's activity and documents) while
# keeping the number of scans of the activity tables small.
_PART_RECORDS = 50_000
# Rows turned into Python objects at once.
_BATCH_ROWS = 5_000
_GROUNDING_DDL = (
    "crm_object VARCHAR, crm_record_id VARCHAR, profile_id VARCHAR, context VARCHAR, masked BOOLEAN, "
    "generated_at TIMESTAMP, source VARCHAR, content_hash VARCHAR"
)


@dataclass
class RecordGrounding:
    """One CRM record's grounding document in clear, with what is known about the person.

    Attributes:
        crm_object: the CRM object (`Lead`, `Contact`, ...).
        crm_record_id: the record's id in the CRM.
        source: the people source of the record.
        profile_id: the person's profile (None when the record is not linked yet).
        document: the document with real values (never store or send it as it is).
        known: the person's identifying values, for masking the document and anything made from it.
        region: the region for phone numbers without a country code.
    """

    crm_object: str
    crm_record_id: str
    source: str
    profile_id: str | None
    document: dict
    known: KnownPii
    region: str = "US"


def build_grounding(
    con: duckdb.DuckDBPyConnection,
    *,
    config: KindredConfig | None = None,
    as_of: date | datetime | None = None,
    generated_at: datetime | None = None,
    recent_limit: int = 10,
) -> int:
    """Rebuild `crm.grounding`: one display-masked JSON grounding document per CRM record.

    Documents are built for a slice of the records at a time and written in one transaction, so
    memory stays flat however many records there are and readers see the old table or the new
    one, never a mix.

    Args:
        con: warehouse connection.
        config: the loaded kindred.yaml (phone region, `privacy:` classification and detection);
            None for the defaults.
        as_of: the run's cut-off (a date means its midnight, UTC): activity at or after it is left
            out. Defaults to the current time.
        generated_at: when the documents are built; defaults to the current time.
        recent_limit: how many recent orders, cases and events each document lists.

    Returns:
        The number of rows written.
    """
    if recent_limit < 0:
        raise ValueError(f"recent_limit must be 0 or more, got {recent_limit}")
    built = utc_naive(generated_at)
    cut_off = _cut_off(as_of, built)
    target = quote_table(GROUNDING)
    written = 0
    with input_views(con, as_of=cut_off):
        n_records = con.sql("SELECT count(*) FROM activation_crm_records").fetchall()[0][0]
        parts = max(1, math.ceil(n_records / _PART_RECORDS))
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"CREATE OR REPLACE TABLE {target} ({_GROUNDING_DDL})")
            for part in range(parts):
                records = _query(
                    con, cut_off, recent_limit, part=(part, parts), only=(None, None, None), config=config
                )
                frame = _documents(records, as_of=cut_off, generated_at=built, config=config)
                _insert(con, target, frame)
                written += frame.height
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    log.info("crm.grounding: %d documents as of %s (%d parts)", written, cut_off, parts)
    return written


def record_grounding(
    con: duckdb.DuckDBPyConnection,
    crm_object: str,
    crm_record_id: str,
    *,
    source: str | None = None,
    config: KindredConfig | None = None,
    as_of: date | datetime | None = None,
    recent_limit: int = 10,
) -> RecordGrounding:
    """One CRM record's document built now from the warehouse, in clear, without writing anything.

    Args:
        con: warehouse connection (read-only is enough).
        crm_object: the CRM object, e.g. `Lead` (exact case, as loaded).
        crm_record_id: the record's id in the CRM.
        source: the people source, needed only when two sources hold the same object and id.
        config: the loaded kindred.yaml; None for the defaults.
        as_of: the cut-off; defaults to the stored document's (`stored_as_of`), else now.
        recent_limit: how many recent items per list.

    Returns:
        The clear document and the person's known values.

    Raises:
        LookupError: no such CRM record.
        ValueError: the object and id match records of several sources and `source` is not given.
    """
    generated_at = utc_naive(None)
    if as_of is None:
        as_of = stored_as_of(con, crm_object, crm_record_id, source=source)
    cut_off = _cut_off(as_of, generated_at)
    with input_views(con, as_of=cut_off):
        records = _query(
            con, cut_off, recent_limit, part=(0, 1), only=(crm_object, crm_record_id, source), config=config
        )
    _check_one(records, crm_object, crm_record_id, source)
    row, known = records[0]
    return RecordGrounding(
        crm_object=row["crm_object"],
        crm_record_id=row["crm_record_id"],
        source=row["source"],
        profile_id=row["profile_id"],
        document=clear_document(row, as_of=cut_off, generated_at=generated_at),
        known=known,
        region=_region(config),
    )


def grounding_for(
    con: duckdb.DuckDBPyConnection,
    crm_object: str,
    crm_record_id: str,
    *,
    source: str | None = None,
    fresh: bool = False,
    config: KindredConfig | None = None,
    as_of: date | datetime | None = None,
    recent_limit: int = 10,
) -> dict:
    """The display-masked grounding document of one CRM record.

    By default it is read from `crm.grounding` (what the last pipeline run wrote); with
    `fresh=True` it is built now from the current warehouse tables, without writing anything.

    Args:
        con: warehouse connection.
        crm_object: the CRM object, e.g. `Lead` or `Contact` (exact case, as loaded).
        crm_record_id: the record's id in the CRM.
        source: the people source, needed only when two sources hold the same object and id.
        fresh: build the document now instead of reading the stored one.
        config: with `fresh`, the loaded kindred.yaml; None for the defaults.
        as_of: with `fresh`, the cut-off; defaults to the stored document's, else now.
        recent_limit: with `fresh`, how many recent items per list.

    Returns:
        The document as a dict (the parsed `context`).

    Raises:
        LookupError: no such CRM record (or, when not `fresh`, `crm.grounding` was never built).
        ValueError: the object and id match records of several sources and `source` is not given.
    """
    if fresh:
        record = record_grounding(
            con,
            crm_object,
            crm_record_id,
            source=source,
            config=config,
            as_of=as_of,
            recent_limit=recent_limit,
        )
        masker = display_masker(record.known, config=config)
        return mask_document(record.document, masker, _classification(config))
    # Asked on every API request: the query itself tells a missing table (a catalog look-up first
    # would cost more than the indexed read), and `execute` skips the relation API's half a
    # millisecond of planning around a point read.
    try:
        rows = con.execute(
            f"SELECT source, context FROM {quote_table(GROUNDING)} "
            "WHERE crm_object = ? AND crm_record_id = ? AND (? IS NULL OR source = ?) ORDER BY source",
            [crm_object, crm_record_id, source, source],
        ).fetchall()
    except duckdb.CatalogException:
        if table_exists(con, GROUNDING):
            raise
        raise LookupError(
            f"{GROUNDING} has not been built yet: run the pipeline (`kindred run`) or ask for a fresh document"
        ) from None
    _check_one(rows, crm_object, crm_record_id, source)
    return json.loads(rows[0][1])


def stored_as_of(
    con: duckdb.DuckDBPyConnection, crm_object: str, crm_record_id: str, *, source: str | None = None
) -> datetime | None:
    """The cut-off of a record's stored document (None when there is none), so that a document
    built on demand describes the same moment as the one the last run wrote."""
    if not table_exists(con, GROUNDING):
        return None
    rows = con.sql(
        f"SELECT max(TRY_CAST(json_extract_string(context, '$.as_of') AS TIMESTAMP)) FROM {quote_table(GROUNDING)} "
        "WHERE crm_object = ? AND crm_record_id = ? AND (? IS NULL OR source = ?)",
        params=[crm_object, crm_record_id, source, source],
    ).fetchall()
    return rows[0][0] if rows else None


def display_masker(known: KnownPii, *, config: KindredConfig | None = None) -> Masker:
    """The masker of stored documents: display masking, the person's last names hidden from email domains."""
    region = _region(config)
    last_names = [n for n in known.of("name") if known.name_parts.get(n) == "last"]
    return Masker(
        DisplayStyle(region=region, private_words=last_names),
        known=known,
        detector=default_detector(config),
        region=region,
    )


def _query(
    con: duckdb.DuckDBPyConnection,
    cut_off: datetime,
    recent_limit: int,
    *,
    part: tuple[int, int],
    only: tuple[str | None, str | None, str | None],
    config: KindredConfig | None,
) -> list[tuple[dict[str, Any], KnownPii]]:
    """Rows of one slice of the CRM records, each with the person's known values (input views must exist)."""
    index, count = part
    params = [cut_off, recent_limit, OFFER_LIMIT, *only, count, index]
    table = con.sql(crm_sql("grounding"), params=params).to_arrow_table()
    classification = _classification(config)
    extra = (
        source_column_values(con, config, classification, table.column("profile_id").to_pylist())
        if config is not None
        else {}
    )
    permissions = consent_permissions(
        con, table.column("profile_id").to_pylist(), config.consent if config else None
    )
    out = []
    for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
        for row in batch.to_pylist():
            known = known_from_row(row, classification)
            if row["profile_id"] in extra:
                known.merge(extra[row["profile_id"]])
            row["consent"] = permissions.get(row["profile_id"])
            out.append((row, known))
    return out


def _documents(
    records: list[tuple[dict[str, Any], KnownPii]],
    *,
    as_of: datetime,
    generated_at: datetime,
    config: KindredConfig | None,
) -> pl.DataFrame:
    out: dict[str, list] = {name: [] for name in GROUNDING_SCHEMA}
    classification = _classification(config)
    for row, known in records:
        document = clear_document(row, as_of=as_of, generated_at=generated_at)
        context = mask_document(document, display_masker(known, config=config), classification)
        out["crm_object"].append(row["crm_object"])
        out["crm_record_id"].append(row["crm_record_id"])
        out["profile_id"].append(row["profile_id"])
        text, content_hash = document_text_and_hash(context)
        out["context"].append(text)
        out["content_hash"].append(content_hash)
        out["masked"].append(True)
        out["generated_at"].append(generated_at)
        out["source"].append(row["source"])
    frame = pl.DataFrame(out, schema=GROUNDING_SCHEMA)
    return frame.sort(["crm_object", "crm_record_id", "source"], nulls_last=True)


def _insert(con: duckdb.DuckDBPyConnection, target: str, frame: pl.DataFrame) -> None:
    view = "_kindred_grounding_part"
    con.register(view, frame.to_arrow())
    try:
        con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {view}")
    finally:
        con.unregister(view)


def _check_one(rows: list, crm_object: str, crm_record_id: str, source: str | None) -> None:
    if not rows:
        where = f" in source {source!r}" if source else ""
        raise LookupError(f"no CRM record {crm_object} {crm_record_id!r}{where}")
    if len(rows) > 1:
        sources = ", ".join(str(r[0]["source"] if isinstance(r[0], dict) else r[0]) for r in rows)
        raise ValueError(
            f"CRM record {crm_object} {crm_record_id!r} exists in several sources ({sources}): pass source="
        )


def _cut_off(as_of: date | datetime | None, default: datetime) -> datetime:
    if as_of is None:
        return default
    if isinstance(as_of, datetime):
        return utc_naive(as_of)
    return datetime.combine(as_of, time())


def _classification(config: KindredConfig | None) -> Classification:
    return Classification.from_config(config.privacy if config else None)


def _region(config: KindredConfig | None) -> str:
    return config.identity.default_phone_region if config else "US"
