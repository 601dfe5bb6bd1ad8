"""The `segments:` section of kindred.yaml: named conditions over profiles, and what an export holds.

A `where` tree is read once here into `SegmentRule` leaves and `SegmentGroup` nodes, with errors
that say where in the tree a problem is. Whether a field exists and whether a value suits its type
depend on the warehouse as it stands, so those are checked when a segment is compiled
(`activation.segments.compiler`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from warehouse.strict_settings import StrictSettings

SEGMENT_OPERATORS = (
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not in",
    "between",
    "is null",
    "is not null",
    "contains",
)
# The segments schema's own tables: a segment of one of these names would clash with them.
RESERVED_SEGMENT_NAMES = ("membership", "membership_history", "evaluations", "profile_fields")
# Bounds that keep a definition readable and its SQL small; far above what a marketer writes.
SEGMENT_MAX_DEPTH = 12
SEGMENT_MAX_CONDITIONS = 500
SEGMENT_MAX_LIST_VALUES = 10_000
# ASCII only, so a look-alike letter (Cyrillic `е` in `еmail`) is refused rather than looked up.
SEGMENT_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_ORDERED = ("<", "<=", ">", ">=")
_SCALARS = (str, bool, int, float, date)


class RelativeDate(StrictSettings):
    """`{days_ago: N}`: midnight N days before the run's as-of date."""

    days_ago: int = Field(ge=0, le=36_500)


class SegmentRule(StrictSettings):
    """One condition: `{field, op, value}`."""

    field: str
    op: str
    value: Any = None

    def document(self) -> dict:
        """The rule as written in kindred.yaml."""
        value = self.value.model_dump() if isinstance(self.value, RelativeDate) else self.value
        if isinstance(value, list):
            value = [v.model_dump() if isinstance(v, RelativeDate) else v for v in value]
        return {"field": self.field, "op": self.op} | ({} if self.value is None else {"value": value})


class SegmentGroup(StrictSettings):
    """`all` or `any` of several conditions, or `not` of one."""

    combine: Literal["all", "any", "not"]
    conditions: tuple[SegmentRule | SegmentGroup, ...]

    def document(self) -> dict:
        """The group as written in kindred.yaml."""
        parts = [c.document() for c in self.conditions]
        return {self.combine: parts[0] if self.combine == "not" else parts}


class SegmentConfig(StrictSettings):
    """A segment: who is in it (`where`), whose consent applies on export, and what an export holds."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    description: str = ""
    purpose: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    channel: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,62}$")
    where: SegmentRule | SegmentGroup
    columns: list[str] = Field(default_factory=lambda: ["profile_id"], min_length=1, max_length=200)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_SEGMENT_NAMES:
            raise ValueError(f"'{name}' names a table of the segments schema; choose another segment name")
        return name

    @field_validator("where", mode="before")
    @classmethod
    def _parse_where(cls, where: object) -> SegmentRule | SegmentGroup:
        return _segment_condition(where, "", 1, [0])

    @field_validator("columns")
    @classmethod
    def _field_names(cls, columns: list[str]) -> list[str]:
        for column in columns:
            if not isinstance(column, str) or not SEGMENT_FIELD_NAME.fullmatch(column):
                raise ValueError(f"{shown(column)} is not a field name (lower-case letters, digits and _)")
        twice = repeated(columns)
        if twice:
            raise ValueError(f"columns repeat {', '.join(twice)}")
        return columns


def shown(value: object, limit: int = 60) -> str:
    """A value as an error message shows it: its repr, cut short if long (a pasted list, a document)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def repeated(names: Iterable[str]) -> list[str]:
    """The names that occur more than once, sorted."""
    counts = Counter(names)
    return sorted(name for name, n in counts.items() if n > 1)


def _segment_condition(node: object, path: str, depth: int, seen: list[int]) -> SegmentRule | SegmentGroup:
    """Read one node of a `where` tree, with errors that say where in the tree it is."""
    at = f"{path}: " if path else ""
    if depth > SEGMENT_MAX_DEPTH:
        raise ValueError(f"{at}conditions nest deeper than {SEGMENT_MAX_DEPTH} levels")
    seen[0] += 1
    if seen[0] > SEGMENT_MAX_CONDITIONS:
        raise ValueError(f"more than {SEGMENT_MAX_CONDITIONS} conditions")
    if not isinstance(node, dict):
        raise ValueError(
            f"{at}expected a condition {{field, op, value}} or all / any / not, got {shown(node)}"
        )
    groups = [k for k in ("all", "any", "not") if k in node]
    if groups:
        if len(node) != 1:
            raise ValueError(
                f"{at}{groups[0]} must be alone in its mapping, found {', '.join(map(str, node))}"
            )
        combine = groups[0]
        inner = f"{path}.{combine}" if path else combine
        if combine == "not":
            if not isinstance(node["not"], dict):
                raise ValueError(f"{at}not takes one condition (wrap several in all or any)")
            return SegmentGroup(
                combine="not", conditions=(_segment_condition(node["not"], inner, depth + 1, seen),)
            )
        parts = node[combine]
        if not isinstance(parts, list) or not parts:
            raise ValueError(f"{at}{combine} takes a non-empty list of conditions")
        conditions = tuple(
            _segment_condition(p, f"{inner}[{i}]", depth + 1, seen) for i, p in enumerate(parts)
        )
        return SegmentGroup(combine=combine, conditions=conditions)
    unknown = sorted(set(map(str, node)) - {"field", "op", "value"})
    if unknown or "field" not in node or "op" not in node:
        raise ValueError(
            f"{at}a condition has the keys field, op and value (or is all / any / not); got {', '.join(map(str, node))}"
        )
    field, op = node["field"], node["op"]
    if not isinstance(field, str) or not SEGMENT_FIELD_NAME.fullmatch(field):
        raise ValueError(f"{at}field {shown(field)}: not a field name (lower-case letters, digits and _)")
    at = f"{at}field '{field}': "
    if op not in SEGMENT_OPERATORS:
        raise ValueError(f"{at}unknown operator {shown(op)}; use one of {', '.join(SEGMENT_OPERATORS)}")
    return SegmentRule(field=field, op=op, value=_segment_value(op, node.get("value"), at))


def _segment_value(op: str, value: object, at: str) -> object:
    """Check a value's shape for its operator (its type is checked against the field when compiled)."""
    if op in ("is null", "is not null"):
        if value is not None:
            raise ValueError(f"{at}{op} takes no value")
        return None
    if op in ("in", "not in"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{at}{op} takes a non-empty list of values")
        if len(value) > SEGMENT_MAX_LIST_VALUES:
            raise ValueError(
                f"{at}{op} lists {len(value):,} values; at most {SEGMENT_MAX_LIST_VALUES:,} are allowed"
            )
        return [_segment_scalar(v, at, relative=False) for v in value]
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise ValueError(f"{at}between takes a list of two values [low, high], got {shown(value)}")
        return [_segment_scalar(v, at, relative=True) for v in value]
    if op == "contains" and (not isinstance(value, str) or not value):
        raise ValueError(f"{at}contains takes a non-empty text value")
    if value is None:
        raise ValueError(f"{at}{op} needs a value (for an empty field use op: is null)")
    return _segment_scalar(value, at, relative=op in _ORDERED)


def _segment_scalar(value: object, at: str, *, relative: bool) -> object:
    if isinstance(value, dict) and relative and set(value) == {"days_ago"}:
        try:
            return RelativeDate.model_validate(value)
        except ValidationError as error:
            raise ValueError(f"{at}days_ago must be a whole number of days from 0 to 36500") from error
    if isinstance(value, dict | list) or value is None:
        allowed = " or {days_ago: N}" if relative else ""
        raise ValueError(
            f"{at}value {shown(value)} is not a single number, text, true/false or date{allowed}"
        )
    if not isinstance(value, _SCALARS):
        raise ValueError(f"{at}value {shown(value)} is not a number, text, true/false or date")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{at}value {shown(value)} is not a finite number")
    return value
