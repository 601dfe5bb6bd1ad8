"""What a segment can test: the fields of the warehouse as it stands, each with its kind.

A segment field is one of:

- a column of `profiles.unified_profile` (the golden record);
- a feature of `features.profile_features`, from its newest `as_of`;
- a score by model name (`lead_score`, `churn_risk`) and its `_1_99` form, from each model's
  latest run in `scores.predictions`;
- `best_offer`: the rank-1 offer of the latest `scores.offers`.

Names are unique: a profile column wins over a score or the offer, which win over a feature of the
same name. Fields are discovered from `information_schema`, so a column added upstream is a field
on the next run without a code change, and a name that is not there is refused.

Each run gathers every field into one table, `segments.profile_fields` (one row per profile), so
that every segment and every export reads one table instead of re-aggregating scores and offers:
`source_catalog` describes the fields of the upstream tables (what that table is built from),
`load_catalog` the fields of the table as the last run built it (what segments compile against).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time

import duckdb

log = logging.getLogger(__name__)

PROFILE_TABLE = "profiles.unified_profile"
FEATURES_TABLE = "features.profile_features"
PREDICTIONS_TABLE = "scores.predictions"
OFFERS_TABLE = "scores.offers"
# Every field, one row per profile, as of the last run: what segments and exports read.
PROFILE_FIELDS = "segments.profile_fields"
# The models of `scores.predictions` a segment can name; each gives `<model>` and `<model>_1_99`.
SCORE_MODELS = ("lead_score", "churn_risk")
SCORE_FIELDS = tuple(name for model in SCORE_MODELS for name in (model, f"{model}_1_99"))
BEST_OFFER = "best_offer"
# Columns of the features table that describe the row rather than the person.
_FEATURE_BOOKKEEPING = ("profile_id", "as_of")

PROFILE, FEATURE, SCORE, OFFER = "profile", "feature", "score", "offer"
NUMBER, TEXT, BOOLEAN, TIMESTAMP, TEXT_LIST, OTHER = (
    "number",
    "text",
    "boolean",
    "timestamp",
    "text list",
    "other",
)
_NUMERIC = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|REAL|DECIMAL.*|NUMERIC.*)$")


@dataclass(frozen=True)
class SegmentField:
    """A field a segment can test or export.

    Attributes:
        name: the field name used in kindred.yaml (also its column in the warehouse relation).
        kind: `number`, `text`, `boolean`, `timestamp`, `text list` or `other` (only null checks).
        origin: `profile`, `feature`, `score` or `offer`: which relation holds it.
        sql_type: the DuckDB type as the warehouse reports it.
    """

    name: str
    kind: str
    origin: str
    sql_type: str


@dataclass(frozen=True)
class FieldCatalog:
    """Every field a segment can use now, and the moment `{days_ago: N}` counts back from.

    Attributes:
        fields: name -> field.
        as_of: the run's as-of (midnight, UTC): `{days_ago: N}` is N days before it.
        tables: the tables that exist among the upstream ones and `segments.profile_fields`.
    """

    fields: dict[str, SegmentField]
    as_of: datetime
    tables: frozenset[str]

    def get(self, name: str) -> SegmentField | None:
        """The field called `name`, or None."""
        return self.fields.get(name)

    def names(self, origin: str | None = None) -> list[str]:
        """Field names (of one origin, or all), in catalog order."""
        return [f.name for f in self.fields.values() if origin is None or f.origin == origin]


def field_kind(sql_type: str) -> str:
    """The segment kind of a DuckDB column type (`DOUBLE` -> number, `VARCHAR[]` -> text list).

    Args:
        sql_type: a type as `information_schema.columns.data_type` spells it.

    Returns:
        One of the kinds of `SegmentField.kind`.
    """
    upper = sql_type.upper().strip()
    if _NUMERIC.match(upper):
        return NUMBER
    if upper in ("VARCHAR", "TEXT", "STRING") or upper.startswith("VARCHAR("):
        return TEXT
    if upper in ("BOOLEAN", "BOOL"):
        return BOOLEAN
    if upper == "DATE" or upper.startswith("TIMESTAMP"):
        return TIMESTAMP
    if upper in ("VARCHAR[]", "TEXT[]"):
        return TEXT_LIST
    return OTHER


def source_catalog(con: duckdb.DuckDBPyConnection) -> FieldCatalog:
    """The fields of the upstream tables: what `segments.profile_fields` is built from.

    Args:
        con: warehouse connection (read-only is enough).

    Returns:
        The catalog. Profile fields are empty when `profiles.unified_profile` does not exist yet;
        scores and `best_offer` are always fields (empty until a model has run).
    """
    columns = _columns(con)
    fields: dict[str, SegmentField] = {}
    for name, sql_type in columns.get(PROFILE_TABLE, []):
        fields[name] = SegmentField(name, field_kind(sql_type), PROFILE, sql_type)
    for model in SCORE_MODELS:
        fields.setdefault(model, SegmentField(model, NUMBER, SCORE, "DOUBLE"))
        fields.setdefault(f"{model}_1_99", SegmentField(f"{model}_1_99", NUMBER, SCORE, "INTEGER"))
    fields.setdefault(BEST_OFFER, SegmentField(BEST_OFFER, TEXT, OFFER, "VARCHAR"))
    hidden = []
    for name, sql_type in columns.get(FEATURES_TABLE, []):
        if name in _FEATURE_BOOKKEEPING:
            continue
        if name in fields:
            hidden.append(name)
            continue
        fields[name] = SegmentField(name, field_kind(sql_type), FEATURE, sql_type)
    if hidden:
        log.info("features %s share a name with a profile column or score; segments see the latter", hidden)
    return FieldCatalog(fields=fields, as_of=_anchor(con, None, columns), tables=frozenset(columns))


def load_catalog(con: duckdb.DuckDBPyConnection, *, as_of: date | datetime | None = None) -> FieldCatalog:
    """The fields segments can use: the columns of `segments.profile_fields` as the last run built it.

    Args:
        con: warehouse connection (read-only is enough).
        as_of: the run's as-of date; None takes the newest `as_of` of `features.profile_features`
            (the last run's), else today.

    Returns:
        The catalog; without fields (and without `segments.profile_fields` in `tables`) before
        the first run has built the table.

    Example:
        >>> catalog = load_catalog(con)
        >>> catalog.get("churn_risk").kind
        'number'
    """
    columns = _columns(con)
    profile_columns = {name for name, _ in columns.get(PROFILE_TABLE, [])}
    fields = {}
    for name, sql_type in columns.get(PROFILE_FIELDS, []):
        if name in SCORE_FIELDS:
            origin = SCORE
        elif name == BEST_OFFER:
            origin = OFFER
        else:
            origin = PROFILE if name in profile_columns else FEATURE
        fields[name] = SegmentField(name, field_kind(sql_type), origin, sql_type)
    return FieldCatalog(fields=fields, as_of=_anchor(con, as_of, columns), tables=frozenset(columns))


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """`schema.table` -> its (column, type) pairs, in order, for the tables segments read (one query)."""
    rows = con.sql(
        "SELECT table_schema || '.' || table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema || '.' || table_name IN (?, ?, ?, ?, ?) "
        "ORDER BY table_schema, table_name, ordinal_position",
        params=[PROFILE_TABLE, FEATURES_TABLE, PREDICTIONS_TABLE, OFFERS_TABLE, PROFILE_FIELDS],
    ).fetchall()
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, sql_type in rows:
        columns.setdefault(table, []).append((column, sql_type))
    return columns


def _anchor(
    con: duckdb.DuckDBPyConnection, as_of: date | datetime | None, columns: dict[str, list[tuple[str, str]]]
) -> datetime:
    if as_of is None and any(name == "as_of" for name, _ in columns.get(FEATURES_TABLE, [])):
        as_of = con.sql("SELECT max(as_of) FROM features.profile_features").fetchall()[0][0]
    if as_of is None:
        as_of = date.today()
    if isinstance(as_of, datetime):
        return as_of.replace(tzinfo=None)
    return datetime.combine(as_of, time.min)
