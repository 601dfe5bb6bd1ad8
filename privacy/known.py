"""Everything Kindred knows about one person, and finding those values in free text.

Presidio finds what has a pattern; names, street addresses and ids have none, and a person's own
values are the ones most likely to appear in their case descriptions. `KnownPii` collects them
from every source (the golden record, every staged row of the person, contact points, classified
source columns) and `privacy.known_matcher.KnownMatcher` finds them in any formatting:

- emails and ids: exact, any case, as whole words;
- names: as whole words written as known, capitalised or in capitals (so a person called Price
  or Will does not hide every "price" and "will"), accents ignored (`Jose` finds `José`);
- phones and long national ids: by their core digits with any separators, with or without a
  country code or trunk zero (`+1 415.555.0101` finds `(415) 555 0101`);
- street addresses: token by token with any separators and the usual abbreviations
  (`12 Main Street` finds `12 main st.`); postcodes with or without their space;
- dates of birth: ISO, day-first, month-first and written-out forms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from privacy.known_matcher import KnownMatcher

KNOWN_KINDS = ("email", "phone", "name", "address", "date_of_birth", "national_id", "identifier")
NAME_PARTS = ("first", "last", "full")
_STRICTNESS = ("last", "full", "first")
_MIN_LENGTH = {"name": 2, "email": 3, "address": 5, "identifier": 4, "national_id": 5, "phone": 7}
_BLANKS = {"", "none", "null", "n/a", "na", "nan", "unknown", "-", "--"}


@dataclass
class KnownPii:
    """A person's identifying values by kind, as found in any source.

    Attributes:
        values: kind -> the distinct values (`name` values are split by part in `name_parts`).
        name_parts: name value -> `first`, `last` or `full`.

    Example:
        >>> known = KnownPii()
        >>> known.add("name", "Doe", part="last")
        >>> known.add("email", "jane.doe@example.com")
        >>> sorted(known.values)
        ['email', 'name']
    """

    values: dict[str, set[str]] = field(default_factory=dict)
    name_parts: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, value: object, *, part: str | None = None) -> None:
        """Add one value (blank and placeholder-like values are ignored).

        Args:
            kind: one of `KNOWN_KINDS`.
            value: the value; dates are accepted for `date_of_birth`.
            part: for names, `first`, `last` or `full` (the default).
        """
        if kind not in KNOWN_KINDS:
            raise ValueError(f"unknown kind of personal value {kind!r} (known: {', '.join(KNOWN_KINDS)})")
        if value is None:
            return
        if kind == "identifier" and "@" in str(value):
            kind = "email"  # a source keyed by email address (an email service's events)
        if isinstance(value, datetime | date):
            text = value.strftime("%Y-%m-%d")
        else:
            text = " ".join(str(value).split())
        if text.lower() in _BLANKS or len(text) < _MIN_LENGTH.get(kind, 2) or "*" in text:
            return
        self.values.setdefault(kind, set()).add(text)
        if kind == "name" and (part or "full") == "full":
            self._add_name_tokens(text)
        if kind == "name":
            # A value seen as several parts keeps the reading that shows least: a last name shows
            # as an initial, a first name whole.
            chosen = part or "full"
            current = self.name_parts.get(text)
            if current is None or _STRICTNESS.index(chosen) < _STRICTNESS.index(current):
                self.name_parts[text] = chosen

    def _add_name_tokens(self, full_name: str) -> None:
        """The parts of a full name as first and last names: `Doe, Jane` and `Jane Doe` alike.

        Initials (`S.`) are skipped: one letter would mask every word starting with it.
        """
        family_first = "," in full_name
        tokens = [t for t in re.split(r"[\s,]+", full_name) if t]
        if len(tokens) < 2:
            return
        last_index = 0 if family_first else len(tokens) - 1
        for index, token in enumerate(tokens):
            if len(token.rstrip(".")) >= 2:
                self.add("name", token, part="last" if index == last_index else "first")

    def add_all(self, kind: str, values: Iterable[object] | None, *, part: str | None = None) -> None:
        """`add` for each of several values."""
        for value in values or ():
            self.add(kind, value, part=part)

    def merge(self, other: KnownPii) -> None:
        """Add every value of another `KnownPii`."""
        for kind, values in other.values.items():
            for value in values:
                self.add(kind, value, part=other.name_parts.get(value))

    def of(self, kind: str) -> list[str]:
        """The values of one kind, longest first (a longer value is masked before its parts)."""
        return sorted(self.values.get(kind, ()), key=lambda v: (-len(v), v))

    def items(self) -> list[tuple[str, str]]:
        """Every (kind, value) pair, in a stable order."""
        return [(kind, value) for kind in KNOWN_KINDS for value in self.of(kind)]

    def __bool__(self) -> bool:
        return any(self.values.values())

    def matcher(self, region: str = "US") -> KnownMatcher:
        """A matcher over these values (build it once per person, use it for all their texts)."""
        from privacy.known_matcher import KnownMatcher

        return KnownMatcher(self, region=region)


def known_from_fields(
    rows: Iterable[Mapping[str, object]], kinds: Mapping[str, str], *, into: KnownPii | None = None
) -> KnownPii:
    """Collect a person's values from rows of fields, each field read as the kind `kinds` gives it.

    Args:
        rows: mappings of field -> value (a profile row, staged rows, ...); list values are
            taken element by element.
        kinds: field -> kind (`privacy.classification.Classification.kind_of` for each field);
            fields of other kinds (`none`, `free_text`) are skipped.
        into: add to this collection instead of a new one.

    Returns:
        The collection.
    """
    known = into if into is not None else KnownPii()
    for row in rows:
        for name, value in row.items():
            if value is None:
                continue
            kind = kinds.get(name)
            if kind not in KNOWN_KINDS:
                continue
            part = {"first_name": "first", "last_name": "last"}.get(name, "full") if kind == "name" else None
            values = value if isinstance(value, list | tuple | set) else [value]
            known.add_all(kind, values, part=part)
    return known
