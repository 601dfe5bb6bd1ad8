"""What the data carries: which match attributes are filled, how often, and how varied.

Every choice the probabilistic model makes (which comparisons, which blocking rules, which EM
passes) starts from this profile, so a file with only names and dates of birth gets a model
built for names and dates of birth, not one that waits for emails that never come.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

# The normalised columns the model may compare or block on (see `normalise.MATCH_KEYS`), and the
# coarse keys derived from them for blocking (`with_blocking_keys`).
MATCH_COLUMNS: tuple[str, ...] = (
    "first_name_norm",
    "first_name_aliases",
    "first_name_soundex",
    "last_name_norm",
    "last_name_soundex",
    "name_suffix",
    "full_name_norm",
    "date_of_birth_norm",
    "email_norm",
    "email_local",
    "phone_norm",
    "address_norm",
    "postcode_norm",
    "postcode_area",
    "city_norm",
    "gender_norm",
    "job_title_norm",
    "company_norm",
    "national_id_norm",
)
DERIVED_COLUMNS: tuple[str, ...] = ("birth_year", "first_initial", "name_key")
# Canonical attribute -> the normalised column a comparison or blocking rule on it reads.
ATTRIBUTE_COLUMNS: dict[str, str] = {
    "first_name": "first_name_norm",
    "last_name": "last_name_norm",
    "full_name": "full_name_norm",
    "date_of_birth": "date_of_birth_norm",
    "gender": "gender_norm",
    "email": "email_norm",
    "phone": "phone_norm",
    "street_number": "address_norm",
    "address_line1": "address_norm",
    "address_line2": "address_norm",
    "city": "city_norm",
    "state": "state_norm",
    "postcode": "postcode_norm",
    "country": "country_norm",
    "national_id": "national_id_norm",
    "company": "company_norm",
    "job_title": "job_title_norm",
    "loyalty_id": "loyalty_id_norm",
}
# A column filled on fewer records than this share (and never on fewer than two) is ignored:
# a comparison on it would be trained on almost nothing and compared almost never.
MIN_FILL_SHARE = 0.001


def with_blocking_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the coarse keys of `DERIVED_COLUMNS`: birth year, first initial, and the whole name
    (whose frequency adjusts a full-name match).

    Args:
        frame: person records with the normalised match keys.

    Returns:
        The frame with `birth_year`, `first_initial` and `name_key` added.
    """
    return frame.with_columns(
        pl.col("date_of_birth_norm").str.slice(0, 4).alias("birth_year"),
        pl.col("first_name_norm").str.slice(0, 1).alias("first_initial"),
        pl.concat_str("first_name_norm", "last_name_norm", separator=" ").alias("name_key"),
    )


@dataclass(frozen=True)
class AttributeProfile:
    """How many records fill each match column, and with how many distinct values."""

    records: int
    filled: dict[str, int] = field(default_factory=dict)
    distinct: dict[str, int] = field(default_factory=dict)

    def share(self, column: str) -> float:
        """The share of records with a value in `column` (0 when the column is absent)."""
        return self.filled.get(column, 0) / self.records if self.records else 0.0

    def has(self, column: str) -> bool:
        """Whether `column` carries enough values to compare or block on."""
        return self.filled.get(column, 0) >= max(2, MIN_FILL_SHARE * self.records)

    def has_all(self, columns: tuple[str, ...] | list[str]) -> bool:
        """Whether every one of `columns` carries enough values."""
        return all(self.has(c) for c in columns)

    def usable(self) -> set[str]:
        """The columns that carry enough values."""
        return {c for c in self.filled if self.has(c)}

    def as_dict(self) -> dict:
        """The profile as plain data (stored with a trained model as its training summary)."""
        return {
            "records": self.records,
            "columns": {
                c: {"filled": self.filled[c], "share": round(self.share(c), 4), "distinct": self.distinct[c]}
                for c in sorted(self.filled)
            },
        }


def profile_attributes(frame: pl.DataFrame) -> AttributeProfile:
    """Fill counts and distinct counts of every match and derived column in `frame`.

    Args:
        frame: person records with the match keys (and, optionally, the derived keys).

    Returns:
        The profile; columns the frame lacks are left out.
    """
    columns = [c for c in (*MATCH_COLUMNS, *DERIVED_COLUMNS) if c in frame.columns]
    if not columns or frame.height == 0:
        return AttributeProfile(frame.height)
    scalar = [c for c in columns if frame.schema[c] != pl.List(pl.Utf8)]
    stats = frame.select(
        *(pl.col(c).is_not_null().sum().alias(f"f:{c}") for c in columns),
        *(pl.col(c).n_unique().alias(f"d:{c}") for c in scalar),
    ).row(0, named=True)
    filled = {c: int(stats[f"f:{c}"]) for c in columns}
    # n_unique counts null as a value; lists are not counted (their first element is the name).
    distinct = {
        c: int(stats[f"d:{c}"]) - (1 if filled[c] < frame.height else 0) if c in scalar else filled[c]
        for c in columns
    }
    return AttributeProfile(frame.height, filled, distinct)


def profile_change(before: dict, after: dict) -> float:
    """How far the data moved between two profiles (`AttributeProfile.as_dict` form): the larger
    of the relative change in record count and the largest change in any column's fill share.
    A column that appears or disappears counts as a change of 1.

    Args:
        before: the profile a model was trained on.
        after: the profile of today's data.

    Returns:
        A share between 0 and 1 (or above 1 when the record count more than doubled).
    """
    old, new = before.get("records", 0), after.get("records", 0)
    change = abs(new - old) / old if old else (1.0 if new else 0.0)
    old_columns, new_columns = before.get("columns", {}), after.get("columns", {})
    for column in set(old_columns) | set(new_columns):
        share_before = old_columns.get(column, {}).get("share", 0.0)
        share_after = new_columns.get(column, {}).get("share", 0.0)
        if (share_before == 0.0) != (share_after == 0.0):
            return max(change, 1.0)
        change = max(change, abs(share_after - share_before))
    return change
