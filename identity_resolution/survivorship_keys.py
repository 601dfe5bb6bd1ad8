"""Survivorship's ranking as one integer per candidate: the sort key of an attribute's rule chain.

Each rule of a chain is a field of one 127-bit integer (a DuckDB HUGEINT), the first rule in the
highest bits, so comparing two keys compares the candidates rule by rule and the best candidate
is a plain `max` / `arg_max` over integers, with no sort and no text comparison. Below the chain
come the tie-breaks every chain ends with: the newest observation, then the smallest
`(source, record_id)`, then a few bits of the value's hash, so a chain that cannot choose still
chooses the same value from the same records whatever their order.

| field | the number (higher wins) | rule |
|---|---|---|
| `time` | microseconds since the earliest observation, plus one (0: no time known) | `most_recent` |
| `frequency` | how many records carry the value | `most_frequent` |
| `source` | list length minus the source's position in the priority list, plus one (0: unlisted) | `source_priority` |
| `completeness` | the value's length (an address: how many of street, city, postcode it has) | `most_complete` |
| `record` | the largest record number minus the record's | tie-break |
| `hash` | the top bits of the value's hash | tie-break |

Field widths come from the data (how long a time span, how many records, the largest profile),
so the key always fits. The numbers are computed from the columns `survivorship_sql` gives every
row: `t_us` (time), `rid` (record), `s_<n>` (place in the n-th source order) and `<attribute>_len`
(or `len` for a contact value). A row's key leaves `frequency` and `hash` at zero: they belong to a
value, and are added once the rows are grouped by value (`surviving_values.sql`). Because the
rows of one value share both, the row that ranks first within a value is the one the full key
would rank first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from warehouse.identity_config import SURVIVING_ATTRIBUTES, SurvivorshipConfig

FIELD_OF_RULE: dict[str, str] = {
    "most_recent": "time",
    "most_frequent": "frequency",
    "source_priority": "source",
    "most_complete": "completeness",
}
KEY_BITS = 127  # a HUGEINT's bits below the sign
MAX_RULES = len(FIELD_OF_RULE)  # a chain names each rule at most once
MAX_HASH_BITS = 16
# Longer values compare as equally complete: beyond a few thousand characters length says nothing.
MAX_COMPLETENESS = 2**12 - 1


@dataclass(frozen=True)
class KeyField:
    """One field of a key: its place (bits above it shifted off) and width."""

    name: str
    shift: int
    bits: int

    def extract(self, key: str) -> str:
        """SQL for this field's number in `key` (a HUGEINT expression)."""
        return f"(({key} >> {self.shift}) & {(1 << self.bits) - 1})::BIGINT"


@dataclass(frozen=True)
class KeyLayout:
    """The fields of one attribute's key, highest first."""

    attribute: str
    rules: tuple[str, ...]
    fields: tuple[KeyField, ...]

    def field(self, name: str) -> KeyField | None:
        """The field of that name, None when the chain has none."""
        return next((f for f in self.fields if f.name == name), None)

    def row_key(self, numbers: dict[str, str]) -> str:
        """SQL for a row's key: each row-level field's number shifted into place.

        Args:
            numbers: field name -> SQL for its number on the row (`time`, `record`, and `source`
                or `completeness` when the chain has them).

        Returns:
            A HUGEINT expression; `frequency` and `hash` are left at zero.
        """
        terms = [
            f"(({numbers[f.name]})::HUGEINT << {f.shift})"
            for f in self.fields
            if f.name not in ("frequency", "hash")
        ]
        return " + ".join(terms)


def layout(attribute: str, rules: tuple[str, ...], widths: dict[str, int]) -> KeyLayout:
    """The key layout of one attribute's chain.

    Args:
        attribute: the surviving attribute.
        rules: its chain, first rule first.
        widths: bits of each field (`time`, `record`, `frequency`, `source`, `completeness`);
            `hash` gets what is left, up to `MAX_HASH_BITS`.

    Returns:
        The layout.

    Raises:
        ValueError: the chain's fields need more than a HUGEINT holds (billions of records over
            centuries of microseconds).
    """
    names = [FIELD_OF_RULE[r] for r in rules]
    names += [n for n in ("time", "record") if n not in names]
    needed = sum(widths[n] for n in names)
    if needed > KEY_BITS:
        raise ValueError(
            f"survivorship of {attribute}: the rule chain needs a {needed}-bit key, more than {KEY_BITS}"
        )
    names.append("hash")
    bits = {**widths, "hash": min(MAX_HASH_BITS, KEY_BITS - needed)}
    fields, shift = [], sum(bits[n] for n in names)
    for name in names:
        shift -= bits[name]
        fields.append(KeyField(name, shift, bits[name]))
    return KeyLayout(attribute, rules, tuple(fields))


def bits_for(largest: int) -> int:
    """Bits that hold every number from 0 to `largest` (at least one)."""
    return max(1, int(largest).bit_length())


def source_orders(settings: SurvivorshipConfig) -> dict[str, tuple[str, ...]]:
    """attribute -> its source order, for the attributes whose chain names `source_priority`."""
    return {
        a: settings.priority_of(a) for a in SURVIVING_ATTRIBUTES if "source_priority" in settings.rules_of(a)
    }


def numbered_source_orders(settings: SurvivorshipConfig) -> dict[tuple[str, ...], int]:
    """Each distinct source order the chains use -> its number `n` (`s_<n>`, `$priority_<n>`)."""
    return {order: n for n, order in enumerate(dict.fromkeys(source_orders(settings).values()))}


@dataclass
class ChainKeys:
    """Every surviving attribute's key, fitted to one run's data.

    Attributes:
        layouts: attribute -> its key layout.
        orders: each distinct source order in use -> its number `n` (`s_<n>`, `$priority_<n>`).
        t_min: the earliest observation (µs since the epoch): time 1 in the keys.
        max_rid: the largest record number.
        row_sql: attribute -> the SQL of its row key.
        columns: row key SQL -> the name of the column computing it (`k_<n>`): attributes with
            the same chain share one.
    """

    layouts: dict[str, KeyLayout]
    orders: dict[tuple[str, ...], int]
    t_min: int
    max_rid: int
    row_sql: dict[str, str] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        settings: SurvivorshipConfig,
        *,
        records: int,
        largest_profile: int,
        time_span: tuple[int | None, int | None],
        contact_attributes: tuple[str, ...],
    ) -> ChainKeys:
        """The keys of `identity.survivorship`'s chains for this data.

        Args:
            settings: `identity.survivorship`.
            records: how many records there are (`rid` runs from 0 to records - 1).
            largest_profile: the most records one profile has.
            time_span: the earliest and latest observation in µs (None when no row has a time).
            contact_attributes: attributes whose rows are contact values (column `len`).

        Returns:
            The keys.
        """
        t_min, t_max = (time if time is not None else 0 for time in time_span)
        orders = numbered_source_orders(settings)
        priorities = source_orders(settings)
        widths = {
            "time": bits_for(t_max - t_min + 1 if time_span[1] is not None else 0),
            "record": bits_for(max(records - 1, 0)),
            "frequency": bits_for(largest_profile),
            "completeness": bits_for(MAX_COMPLETENESS),
        }
        keys = cls(
            layouts={
                a: layout(
                    a, settings.rules_of(a), {**widths, "source": bits_for(len(priorities.get(a, ())) + 1)}
                )
                for a in SURVIVING_ATTRIBUTES
            },
            orders=orders,
            t_min=int(t_min),
            max_rid=max(records - 1, 0),
        )
        for attribute, key_layout in keys.layouts.items():
            numbers = {
                "time": "coalesce(t_us - $t_min + 1, 0)",
                "record": "$max_rid - rid",
                "completeness": "len" if attribute in contact_attributes else f"{attribute}_len",
            }
            if attribute in priorities:
                numbers["source"] = f"s_{orders[priorities[attribute]]}"
            keys.row_sql[attribute] = key_layout.row_key(numbers)
        keys.columns = {expr: f"k_{n}" for n, expr in enumerate(dict.fromkeys(keys.row_sql.values()))}
        return keys

    @property
    def parameters(self) -> dict[str, int]:
        """`$t_min` and `$max_rid`, which the key SQL reads."""
        return {"t_min": self.t_min, "max_rid": self.max_rid}

    def column_of(self, attribute: str) -> str:
        """The name of the column holding an attribute's row key."""
        return self.columns[self.row_sql[attribute]]

    def columns_of(self, attributes: tuple[str, ...]) -> dict[str, str]:
        """The key columns some attributes need: key SQL -> column name."""
        return {self.row_sql[a]: self.column_of(a) for a in attributes}

    def table(self, index: dict[str, int]) -> pl.DataFrame:
        """`_kindred_sv_layout`, where each attribute's key keeps its chain's fields, for the
        ranking SQL.

        Args:
            index: attribute -> its number (`a`) in the candidates.

        Returns:
            `a, frequency_shift, hash_bits`, and `rule_<i>, shift_<i>, bits_<i>` for each place
            in the chain (null past its end).
        """
        rows = []
        for attribute, key_layout in self.layouts.items():
            frequency = key_layout.field("frequency")
            row = {
                "a": index[attribute],
                "frequency_shift": frequency.shift if frequency else None,
                "hash_bits": key_layout.field("hash").bits,
            }
            for i in range(MAX_RULES):
                rule = key_layout.rules[i] if i < len(key_layout.rules) else None
                place = key_layout.field(FIELD_OF_RULE[rule]) if rule else None
                row |= {
                    f"rule_{i + 1}": rule,
                    f"shift_{i + 1}": place.shift if place else None,
                    f"bits_{i + 1}": place.bits if place else None,
                }
            rows.append(row)
        schema = {"a": pl.Int32, "frequency_shift": pl.Int32, "hash_bits": pl.Int32}
        for i in range(1, MAX_RULES + 1):
            schema |= {f"rule_{i}": pl.Utf8, f"shift_{i}": pl.Int32, f"bits_{i}": pl.Int32}
        return pl.DataFrame(rows, schema=schema)
