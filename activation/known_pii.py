"""What Kindred knows about a person, read from the warehouse for the trust layer to mask.

A person's identifying values come from every source: each staged row linked to their profile
(people, events, orders, cases), the golden record, the contact points, the ids of their source
records, the CRM record itself when it is not linked yet, and source columns kindred.yaml
classifies without a canonical field (`privacy.pii_fields: {crm_contacts.MobilePhone: phone}`),
read from `raw.<source>`. Which canonical attributes count is the classification's call.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

import duckdb

from activation.warehouse_inputs import input_views
from privacy.classification import Classification
from privacy.known import KNOWN_KINDS, KnownPii, known_from_fields
from warehouse.canonical import PERSON_ATTRIBUTES
from warehouse.config import KindredConfig
from warehouse.connection import quote_table, table_exists

log = logging.getLogger(__name__)

_JSON_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


def attribute_kinds(classification: Classification) -> dict[str, str]:
    """Kind of each person attribute and of `record_id` (a person's source record ids identify them)."""
    kinds = {name: classification.kind_of(name) for name in PERSON_ATTRIBUTES}
    kinds["record_id"] = "identifier"
    return kinds


def known_from_row(row: Mapping[str, object], classification: Classification) -> KnownPii:
    """A person's known values from their row of `warehouse/sql/crm/grounding.sql`.

    Args:
        row: the query row: `record_person` (the CRM record's own attributes) and `known_people`
            (every attribute row seen for the profile, `warehouse/sql/crm/views/known_pii.sql`).
        classification: which attributes are identifying, and of which kind.

    Returns:
        The person's values.
    """
    people = [row.get("record_person") or {}, *(row.get("known_people") or [])]
    return known_from_fields(people, attribute_kinds(classification))


def known_pii_for(
    con: duckdb.DuckDBPyConnection, profile_id: str, config: KindredConfig | None = None
) -> KnownPii:
    """Everything known about one profile, for masking what is served about them.

    Args:
        con: warehouse connection (read-only is enough).
        profile_id: the profile.
        config: the loaded kindred.yaml (classification, source columns); None for the defaults.

    Returns:
        The person's values (empty for an unknown profile).
    """
    classification = Classification.from_config(config.privacy if config else None)
    with input_views(con):
        rows = con.sql(
            "SELECT people FROM activation_known_pii WHERE profile_id = ?", params=[profile_id]
        ).fetchall()
    known = known_from_fields(rows[0][0] if rows else [], attribute_kinds(classification))
    if config is not None:
        extra = source_column_values(con, config, classification, [profile_id]).get(profile_id)
        if extra is not None:
            known.merge(extra)
    return known


def source_column_values(
    con: duckdb.DuckDBPyConnection,
    config: KindredConfig,
    classification: Classification,
    profile_ids: Iterable[str | None],
) -> dict[str, KnownPii]:
    """Values of the source columns kindred.yaml classifies (`privacy.pii_fields: {source.column: kind}`).

    CSV and Parquet columns are read from `raw.<source>`; for JSON lines sources the column is a
    dotted path into the raw line (`context.traits.mobile`). Rows are matched to staged rows by
    file and line, and to profiles through `identity.record_xref`.

    Args:
        con: warehouse connection.
        config: the loaded kindred.yaml (source kinds and formats).
        classification: the classification with the source columns.
        profile_ids: the profiles wanted.

    Returns:
        profile id -> the values found (profiles without any are absent).
    """
    columns = classification.source_columns()
    wanted = sorted({p for p in profile_ids if p})
    if not columns or not wanted or not table_exists(con, "identity.record_xref"):
        return {}
    sources = {s.name: s for s in config.sources}
    out: dict[str, KnownPii] = {}
    for source_name, fields in columns.items():
        source = sources[source_name]
        raw, staged = f"raw.{source.name}", f"staging.{source.kind}"
        if not (table_exists(con, raw) and table_exists(con, staged)):
            continue
        present = {
            name
            for (name,) in con.sql(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ?",
                params=[source.name],
            ).fetchall()
        }
        for column, kind in fields.items():
            value_sql, params = _raw_value(column, present)
            if value_sql is None:
                log.warning(
                    "privacy.pii_fields: raw.%s has no column %s; it is not read", source.name, column
                )
                continue
            rows = con.sql(
                f"SELECT DISTINCT x.profile_id, {value_sql} AS value "
                f"FROM {quote_table(raw)} AS r "
                f"JOIN {quote_table(staged)} AS s ON s.source = ? AND s._file = r._file AND s._row_number = r._row_number "
                "JOIN identity.record_xref AS x ON x.source = s.source AND x.record_id = s.record_id "
                "WHERE list_contains(?, x.profile_id)",
                params=[*params, source.name, wanted],
            ).fetchall()
            for profile_id, value in rows:
                if value is not None and kind in KNOWN_KINDS:
                    out.setdefault(profile_id, KnownPii()).add(kind, value)
    return out


def _raw_value(column: str, present: set[str]) -> tuple[str | None, list]:
    """The SQL reading one classified column of a raw row, with its parameters (None when absent)."""
    if column in present:
        return 'CAST(r."' + column.replace('"', '""') + '" AS VARCHAR)', []
    if "_raw" in present and _JSON_PATH.match(column):
        return "json_extract_string(r._raw, '$.' || ?)", [column]
    return None, []
