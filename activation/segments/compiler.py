"""A segment definition -> one parameterised SQL query, built as a sqlglot syntax tree.

Segments read `segments.profile_fields`, one row per profile with every field (built each run,
see `activation.segments.profile_fields`). Nothing from kindred.yaml is ever pasted into SQL
text: field names are looked up in the `FieldCatalog` (that table's own columns) and become
quoted identifiers taken from the catalog, operators map to a fixed set of syntax-tree nodes, and
every value becomes a `?` parameter. A definition that names an unknown field, uses an operator
the field's kind does not support or compares a value of the wrong type fails with a
`SegmentError` naming the segment and the field.

Conditions are two-valued: a comparison with an empty (NULL) field is false, so `not` of it is
true. `country != 'US'` leaves out people without a country; `not: {country = 'US'}` keeps them.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlglot import exp

from activation.segments.fields import (
    BOOLEAN,
    FEATURE,
    FEATURES_TABLE,
    NUMBER,
    OFFER,
    OFFERS_TABLE,
    PREDICTIONS_TABLE,
    PROFILE,
    PROFILE_FIELDS,
    PROFILE_TABLE,
    SCORE,
    TEXT,
    TEXT_LIST,
    TIMESTAMP,
    FieldCatalog,
    SegmentField,
)
from warehouse.segment_config import RelativeDate, SegmentConfig, SegmentGroup, SegmentRule, shown

DIALECT = "duckdb"
# Values are bound as named placeholders while the tree is built, then numbered by where they
# appear in the generated text and turned into `?`: the parameter order can never drift from the SQL.
_PLACEHOLDER = re.compile(r"\$v(\d+)\b")
# Stands in the tree for a condition written as SQL text elsewhere (consent), spliced in at render.
_SPLICE = "kindred_spliced_condition"
# How a list (the sources a profile came from) is written where only text fits (CSV).
LIST_SEPARATOR = "; "
_COMPARISONS = {"=": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}
_ALL_KINDS = (NUMBER, TEXT, BOOLEAN, TIMESTAMP, TEXT_LIST, "other")
# Which kinds of field each operator applies to.
OPERATOR_KINDS = {
    "=": (NUMBER, TEXT, BOOLEAN, TIMESTAMP),
    "!=": (NUMBER, TEXT, BOOLEAN, TIMESTAMP),
    "<": (NUMBER, TIMESTAMP),
    "<=": (NUMBER, TIMESTAMP),
    ">": (NUMBER, TIMESTAMP),
    ">=": (NUMBER, TIMESTAMP),
    "between": (NUMBER, TIMESTAMP),
    "in": (NUMBER, TEXT),
    "not in": (NUMBER, TEXT),
    "contains": (TEXT, TEXT_LIST),
    "is null": _ALL_KINDS,
    "is not null": _ALL_KINDS,
}


# How messages speak of a kind: "is a number", "applies to numbers".
_KIND_WORDS = {
    NUMBER: ("a number", "numbers"),
    TEXT: ("text", "text"),
    BOOLEAN: ("true/false", "true/false"),
    TIMESTAMP: ("a date", "dates"),
    TEXT_LIST: ("a list of text", "lists of text"),
}


class SegmentError(ValueError):
    """A segment that cannot be compiled or used; the message names the segment and the field."""


@dataclass(frozen=True)
class CompiledSegment:
    """A segment's query, ready to run.

    Attributes:
        segment: the segment's name.
        sql: one line of SQL with `?` placeholders.
        params: the values, in placeholder order.
        fields: the fields the query reads, in first-use order.
        tree: the sqlglot syntax tree (values as named placeholders), for `pretty_sql`.
        spliced: the SQL text of a condition built elsewhere (consent), if any.
    """

    segment: str
    sql: str
    params: list
    fields: tuple[str, ...]
    tree: exp.Select = dataclasses.field(repr=False)
    spliced: str | None = dataclasses.field(default=None, repr=False)

    def pretty_sql(self) -> str:
        """The same query laid out for reading: same `?` placeholders, in the same order as `params`."""
        text = _PLACEHOLDER.sub("?", self.tree.sql(dialect=DIALECT, pretty=True))
        return text if self.spliced is None else text.replace(_SPLICE, f"({self.spliced})", 1)


def compile_segment(segment: SegmentConfig, catalog: FieldCatalog) -> CompiledSegment:
    """The query of a segment's members: `SELECT profile_id` of every profile meeting `where`.

    Args:
        segment: the definition from kindred.yaml.
        catalog: the fields of the warehouse as it stands (`load_catalog`).

    Returns:
        The compiled query; it selects one column, `profile_id`, one row per member.

    Raises:
        SegmentError: an unknown field, an operator the field's kind does not support, a value of
            the wrong type, a `between` whose low end is above its high end, or no fields table.

    Example:
        >>> compiled = compile_segment(config.segments[0], load_catalog(con))
        >>> con.execute(compiled.sql, compiled.params).fetchall()
    """
    builder = _Builder(segment.name, catalog)
    condition = builder.condition(segment.where)
    query = builder.select([("profile_id", builder.column("profile_id"))], members=False)
    return builder.render(query.where(condition, copy=False))


def compile_export(
    segment: SegmentConfig,
    catalog: FieldCatalog,
    *,
    consent: tuple[str, list] | None = None,
    lists_as_text: bool = False,
) -> CompiledSegment:
    """The query of an export: the segment's current members (`segments.membership`) with its columns.

    Args:
        segment: the definition; its `columns` are selected, in order, named as the fields.
        catalog: the fields of the warehouse as it stands.
        consent: a condition on `member.profile_id` with its parameters (as
            `privacy.consent.permitted_condition` makes it); members it rejects are left out.
        lists_as_text: write list fields as their items joined by `LIST_SEPARATOR` (for CSV).

    Returns:
        The compiled query, one row per permitted member, ordered by profile id.

    Raises:
        SegmentError: a column that is not a field, or no fields table.
    """
    builder = _Builder(segment.name, catalog)
    columns = []
    for name in segment.columns:
        column = builder.column(name, role="column")
        if lists_as_text and builder.used[name].kind == TEXT_LIST:
            column = exp.ArrayToString(this=column, expression=exp.Literal.string(LIST_SEPARATOR))
        columns.append((name, column))
    condition = exp.EQ(
        this=exp.column("segment", "member", quoted=True), expression=builder.value(segment.name)
    )
    if consent is not None:
        condition = exp.and_(condition, exp.column(_SPLICE))
    query = builder.select(columns, members=True).where(condition, copy=False)
    query = query.order_by(exp.column("profile_id", "member", quoted=True), copy=False)
    return builder.render(query, spliced=consent)


def describe_fields(catalog: FieldCatalog) -> list[tuple[str, str, str]]:
    """Every field as (name, kind, where it comes from), for listing to a user."""
    where = {
        PROFILE: PROFILE_TABLE,
        FEATURE: FEATURES_TABLE + " (newest as_of)",
        SCORE: PREDICTIONS_TABLE + " (each model's latest run)",
        OFFER: OFFERS_TABLE + " (rank 1 of the latest ranking)",
    }
    return [(f.name, f.kind, where[f.origin]) for f in catalog.fields.values()]


class _Builder:
    """Builds one query over `segments.profile_fields` for one segment."""

    def __init__(self, segment: str, catalog: FieldCatalog) -> None:
        self.segment = segment
        self.catalog = catalog
        self.values: list[object] = []
        self.used: dict[str, SegmentField] = {}
        if PROFILE_FIELDS not in catalog.tables:
            raise SegmentError(
                f"segment '{segment}': {PROFILE_FIELDS} does not exist yet; run `kindred run` first"
            )

    # --- fields and values ------------------------------------------------------------------
    def fail(self, field: str, problem: str, role: str = "field") -> SegmentError:
        return SegmentError(f"segment '{self.segment}', {role} '{field}': {problem}")

    def field(self, name: str, role: str = "field") -> SegmentField:
        found = self.catalog.get(name)
        if found is None:
            close = difflib.get_close_matches(name, self.catalog.names(), n=3, cutoff=0.7)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise self.fail(
                name, f"unknown field{hint} (`kindred segments fields` lists the fields)", role=role
            )
        self.used.setdefault(name, found)
        return found

    def column(self, name: str, role: str = "field") -> exp.Column:
        return exp.column(self.field(name, role).name, "profile", quoted=True)

    def value(self, value: object) -> exp.Placeholder:
        self.values.append(value)
        return exp.Placeholder(this=f"v{len(self.values) - 1}")

    def typed(self, field: SegmentField, value: object) -> object:
        """The value as a parameter of the field's kind, or a SegmentError saying what is wrong."""
        kind = field.kind
        if isinstance(value, RelativeDate):
            if kind != TIMESTAMP:
                raise self.fail(field.name, f"is {_article(kind)}; {{days_ago: N}} applies to dates only")
            return self.catalog.as_of - timedelta(days=value.days_ago)
        wrong = self.fail(
            field.name, f"is {_article(kind)}, but the value {shown(value)} is {_describe(value)}"
        )
        if kind == NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise wrong
            return value
        if kind in (TEXT, TEXT_LIST):
            if not isinstance(value, str):
                if isinstance(value, int | float | date) and not isinstance(value, bool):
                    raise self.fail(
                        field.name,
                        f"is text, but the value {shown(value)} is {_describe(value)}; "
                        f"quote it in kindred.yaml: '{value}'",
                    )
                raise wrong
            return value
        if kind == BOOLEAN:
            if not isinstance(value, bool):
                raise wrong
            return value
        if kind == TIMESTAMP:
            return self.moment(field, value, wrong)
        raise wrong

    def moment(self, field: SegmentField, value: object, wrong: SegmentError) -> datetime:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                raise self.fail(
                    field.name,
                    f"is a date, but {shown(value)} is not a date like 2026-06-30 or {{days_ago: 30}}",
                ) from None
        if isinstance(value, datetime):
            return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        if isinstance(value, date):
            return datetime.combine(value, time.min)
        raise wrong

    # --- conditions -------------------------------------------------------------------------
    def condition(self, node: SegmentRule | SegmentGroup) -> exp.Expression:
        if isinstance(node, SegmentGroup):
            parts = [self.condition(child) for child in node.conditions]
            if node.combine == "not":
                # NOT of an unknown would stay unknown (and drop the row): decide it as false first.
                return exp.not_(exp.Coalesce(this=parts[0], expressions=[exp.false()]))
            return exp.and_(*parts) if node.combine == "all" else exp.or_(*parts)
        return self.rule(node)

    def rule(self, rule: SegmentRule) -> exp.Expression:
        field = self.field(rule.field)
        if field.kind not in OPERATOR_KINDS[rule.op]:
            applies = ", ".join(_plural(k) for k in OPERATOR_KINDS[rule.op])
            raise self.fail(
                field.name, f"is {_article(field.kind)}: operator '{rule.op}' applies to {applies}"
            )
        column = exp.column(field.name, "profile", quoted=True)
        op = rule.op
        if op in ("is null", "is not null"):
            test = exp.Is(this=column, expression=exp.null())
            return test if op == "is null" else exp.not_(test)
        if op in ("in", "not in"):
            values = [self.value(self.typed(field, v)) for v in rule.value]
            test = exp.In(this=column, expressions=values)
            return test if op == "in" else exp.not_(test)
        if op == "between":
            low, high = (self.typed(field, v) for v in rule.value)
            if low > high:
                raise self.fail(
                    field.name, f"between: the low end {shown(low)} is above the high end {shown(high)}"
                )
            return exp.Between(this=column, low=self.value(low), high=self.value(high))
        if op == "contains":
            needle = self.value(self.typed(field, rule.value))
            if field.kind == TEXT_LIST:
                return exp.ArrayContains(this=column, expression=needle)
            # Text search ignores case: `@Example.com` finds `jane@example.com`.
            return exp.Contains(this=exp.Lower(this=column), expression=exp.Lower(this=needle))
        return _COMPARISONS[op](this=column, expression=self.value(self.typed(field, rule.value)))

    # --- the query --------------------------------------------------------------------------
    def select(self, columns: Sequence[tuple[str, exp.Expression]], *, members: bool) -> exp.Select:
        """SELECT the columns FROM the profile fields (joined to a segment's members for an export)."""
        profile = exp.table_("profile_fields", db="segments", alias="profile")
        query = exp.select(*[exp.alias_(expression, name, quoted=True) for name, expression in columns])
        if members:
            query = query.from_(exp.table_("membership", db="segments", alias="member"), copy=False).join(
                profile, on=same_profile("profile", "member"), join_type="inner", copy=False
            )
        else:
            query = query.from_(profile, copy=False)
        return query

    def render(self, query: exp.Select, spliced: tuple[str, list] | None = None) -> CompiledSegment:
        """The SQL text and its parameters in placeholder order."""
        sql, params = self.text(query.sql(dialect=DIALECT), spliced)
        return CompiledSegment(
            self.segment, sql, params, tuple(self.used), query, spliced[0] if spliced else None
        )

    def text(self, sql: str, spliced: tuple[str, list] | None) -> tuple[str, list]:
        pieces = [sql] if spliced is None else sql.split(_SPLICE)
        if spliced is not None and len(pieces) != 2:
            raise AssertionError(f"{_SPLICE} must appear exactly once in the generated SQL")
        texts, params = [], []
        for n, piece in enumerate(pieces):
            params += [self.values[int(m.group(1))] for m in _PLACEHOLDER.finditer(piece)]
            texts.append(_PLACEHOLDER.sub("?", piece))
            if n == 0 and spliced is not None:
                texts.append(f"({spliced[0]})")
                params += list(spliced[1])
        return "".join(texts), params


def same_profile(left: str, right: str) -> exp.Expression:
    """`left.profile_id = right.profile_id`, for joins."""
    return exp.EQ(
        this=exp.column("profile_id", left, quoted=True),
        expression=exp.column("profile_id", right, quoted=True),
    )


def _article(kind: str) -> str:
    return _KIND_WORDS.get(kind, (f"of a type segments can only test for empty ({kind})", ""))[0]


def _plural(kind: str) -> str:
    return _KIND_WORDS.get(kind, ("", "any field"))[1]


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, str):
        return "text"
    return type(value).__name__
