"""The comparisons of the probabilistic model: which attributes are compared, at which levels,
and the prior m and u probabilities each level starts from."""

from __future__ import annotations

from dataclasses import dataclass

import splink.comparison_level_library as cll
import splink.comparison_library as cl


@dataclass(frozen=True)
class Level:
    """One comparison level with its prior m and u probabilities and a short label."""

    label: str
    condition: object  # a splink ComparisonLevelCreator
    m: float
    u: float
    tf_column: str | None = None


@dataclass(frozen=True)
class ComparisonSpec:
    """A comparison: its output name, the column deciding null (or an SQL condition for a
    comparison over several columns), the columns it needs, its levels."""

    name: str
    null_column: str
    columns: tuple[str, ...]
    levels: tuple[Level, ...]
    null_sql: str | None = None

    def creator(self, *, term_frequencies: bool = True) -> cl.CustomComparison:
        """The Splink comparison, levels configured with their priors.

        Args:
            term_frequencies: adjust exact levels by how common the value is. Off for inputs too
                small to train on: in three records every surname looks common.

        Returns:
            The comparison creator.
        """
        if self.null_sql:
            null = cll.CustomLevel(self.null_sql).configure(
                is_null_level=True, label_for_charts="not comparable"
            )
        else:
            null = cll.NullLevel(self.null_column)
        levels = [null]
        for level in self.levels:
            options = {"m_probability": level.m, "u_probability": level.u, "label_for_charts": level.label}
            if level.tf_column and term_frequencies:
                options["tf_adjustment_column"] = level.tf_column
                # Levels over several columns have no single-column exact level to take the
                # base u from; their own u is the average frequency the adjustment scales.
                options["disable_tf_exact_match_detection"] = True
            levels.append(level.condition.configure(**options))
        levels.append(
            cll.ElseLevel().configure(
                m_probability=max(1e-4, 1 - sum(lv.m for lv in self.levels)),
                u_probability=max(1e-4, 1 - sum(lv.u for lv in self.levels)),
                label_for_charts="different",
            )
        )
        return cl.CustomComparison(levels, output_column_name=self.name)

    def labels_by_gamma(self) -> dict[int, str]:
        """Level labels by Splink's comparison vector value (gamma).

        Returns:
            gamma -> label; Splink numbers non-null levels from the top, n-1 down to 0 (else).
        """
        labels = [lv.label for lv in self.levels] + ["different"]
        n = len(labels)
        return {n - 1 - i: label for i, label in enumerate(labels)}


def location_spec(filled: set[str]) -> ComparisonSpec | None:
    """Address, postcode and city as one comparison, built from the columns the data fills.

    They are one piece of evidence, not three: people at the same address share its postcode
    and city, so scoring them separately counts a shared home three times and merges a
    household. The levels go from the street down to the area; two different street
    addresses are a level of their own, whatever the postcode says.

    Args:
        filled: the match columns with values.

    Returns:
        The `location` comparison, or None when no address, postcode or city is filled.
    """
    has_address, has_postcode, has_city = (
        "address_norm" in filled,
        "postcode_norm" in filled,
        "city_norm" in filled,
    )
    if not (has_address or has_postcode or has_city):
        return None
    levels: list[Level] = []
    if has_address:
        levels += [
            Level(
                "same address", cll.ExactMatchLevel("address_norm"), 0.75, 0.0005, tf_column="address_norm"
            ),
            Level(
                "similar address (jaro-winkler >= 0.9)", cll.JaroWinklerLevel("address_norm", 0.9), 0.1, 0.002
            ),
            Level(
                "different address",
                cll.CustomLevel("address_norm_l IS NOT NULL AND address_norm_r IS NOT NULL"),
                0.02,
                0.9,
            ),
        ]
    if has_postcode and has_city:
        levels.append(
            Level(
                "same postcode and city",
                cll.And(cll.ExactMatchLevel("postcode_norm"), cll.ExactMatchLevel("city_norm")),
                0.6,
                0.001,
            )
        )
    if has_postcode:
        levels += [
            Level(
                "same postcode", cll.ExactMatchLevel("postcode_norm"), 0.1, 0.001, tf_column="postcode_norm"
            ),
            Level("postcode one typo", cll.DamerauLevenshteinLevel("postcode_norm", 1), 0.03, 0.004),
        ]
    if has_city:
        levels.append(Level("same city", cll.ExactMatchLevel("city_norm"), 0.1, 0.02, tf_column="city_norm"))
    area = []
    if has_postcode and "postcode_area" in filled:
        area.append(cll.ExactMatchLevel("postcode_area"))
    if has_city:
        area.append(cll.JaroWinklerLevel("city_norm", 0.9))
    if area:
        levels.append(Level("same area", cll.Or(*area) if len(area) > 1 else area[0], 0.03, 0.02))
    columns = [
        c
        for c, present in (
            ("address_norm", has_address),
            ("postcode_norm", has_postcode),
            ("city_norm", has_city),
        )
        if present
    ]
    null_sql = " AND ".join(f"({c}_l IS NULL OR {c}_r IS NULL)" for c in columns)
    return ComparisonSpec("location", columns[0], tuple(columns[:1]), tuple(levels), null_sql=null_sql)


def name_spec(filled: set[str]) -> ComparisonSpec | None:
    """First and last name as one comparison, from the whole name down to one matching part.

    One comparison rather than two, because the parts are not independent evidence: a shared
    surname and a different first name is a relative, not half a match; "Michael Smith" is
    common as a whole, which the term frequency of the full name captures and the product of
    two separate frequencies does not; and a name written surname first is one event.

    Args:
        filled: the match columns with values.

    Returns:
        The `name` comparison, or None when neither first nor last name is filled.
    """
    fn, ln = "first_name_norm", "last_name_norm"
    has_first, has_last = fn in filled, ln in filled
    if not (has_first or has_last):
        return None
    nickname = cll.Or(
        cll.ExactMatchLevel("first_name_canonical"), cll.ArrayIntersectLevel("first_name_aliases", 1)
    )
    initial = cll.CustomLevel(
        f"(length({fn}_l) = 1 OR length({fn}_r) = 1) AND substr({fn}_l, 1, 1) = substr({fn}_r, 1, 1)"
    )
    first_unknown = cll.CustomLevel(f"{fn}_l IS NULL OR {fn}_r IS NULL")
    last_unknown = cll.CustomLevel(f"{ln}_l IS NULL OR {ln}_r IS NULL")
    similar_first = cll.Or(cll.ExactMatchLevel(fn), nickname, cll.JaroWinklerLevel(fn, 0.88))
    levels: list[Level] = []
    if has_first and has_last:
        levels += [
            Level(
                "same first and last name",
                cll.And(cll.ExactMatchLevel(fn), cll.ExactMatchLevel(ln)),
                0.55,
                0.0005,
                tf_column="name_key",
            ),
            Level(
                "first and last name swapped",
                cll.ColumnsReversedLevel(fn, ln, symmetrical=True),
                0.01,
                0.00001,
            ),
            Level(
                "same last name, nickname of the first",
                cll.And(cll.ExactMatchLevel(ln), nickname),
                0.1,
                0.0002,
            ),
            Level(
                "same last name, similar first (jaro-winkler >= 0.88)",
                cll.And(cll.ExactMatchLevel(ln), cll.JaroWinklerLevel(fn, 0.88)),
                0.06,
                0.0002,
            ),
            Level(
                "similar last name (jaro-winkler >= 0.9), same or similar first",
                cll.And(cll.JaroWinklerLevel(ln, 0.9), similar_first),
                0.08,
                0.0005,
            ),
            Level("same last name, first initial", cll.And(cll.ExactMatchLevel(ln), initial), 0.03, 0.0003),
            Level(
                "same last name, first unknown", cll.And(cll.ExactMatchLevel(ln), first_unknown), 0.05, 0.002
            ),
            Level(
                "same first name, last unknown",
                cll.And(cll.Or(cll.ExactMatchLevel(fn), nickname), last_unknown),
                0.03,
                0.003,
            ),
            Level("same last name, different first", cll.ExactMatchLevel(ln), 0.01, 0.003),
            Level("same first name, different last", cll.Or(cll.ExactMatchLevel(fn), nickname), 0.01, 0.01),
        ]
    elif has_first:
        levels += [
            Level("same first name", cll.ExactMatchLevel(fn), 0.8, 0.01, tf_column=fn),
            Level("nickname", nickname, 0.1, 0.003),
            Level("similar first name (jaro-winkler >= 0.88)", cll.JaroWinklerLevel(fn, 0.88), 0.05, 0.005),
        ]
    else:
        levels += [
            Level("same last name", cll.ExactMatchLevel(ln), 0.85, 0.003, tf_column=ln),
            Level("similar last name (jaro-winkler >= 0.9)", cll.JaroWinklerLevel(ln, 0.9), 0.08, 0.003),
        ]
    columns = [c for c, present in ((fn, has_first), (ln, has_last)) if present]
    null_sql = " AND ".join(f"({c}_l IS NULL OR {c}_r IS NULL)" for c in columns)
    return ComparisonSpec("name", columns[0], tuple(columns[:1]), tuple(levels), null_sql=null_sql)


def separate_name_specs(filled: set[str]) -> list[ComparisonSpec]:
    """First and last name as two comparisons, the form EM estimates well without labels.

    Measured on historical_50k (no rule links, so m by EM): pairwise F1 0.903 with these,
    0.856 with the joint `name_spec`, whose ten levels EM spreads too thin. On the demo
    company, where m comes from rule links, it is the other way round (0.977 and 0.988 joint
    against 0.969 and 0.985 separate, 3,000 and 5,000 people).

    Args:
        filled: the match columns with values.

    Returns:
        The `first_name` and `last_name` comparisons the data supports.
    """
    fn, ln = "first_name_norm", "last_name_norm"
    specs = [
        ComparisonSpec(
            "first_name",
            fn,
            (fn,),
            (
                Level("exact", cll.ExactMatchLevel(fn), 0.62, 0.008, tf_column=fn),
                Level(
                    "same canonical name or nickname",
                    cll.Or(
                        cll.ExactMatchLevel("first_name_canonical"),
                        cll.ArrayIntersectLevel("first_name_aliases", 1),
                    ),
                    0.12,
                    0.002,
                ),
                Level("similar (jaro-winkler >= 0.92)", cll.JaroWinklerLevel(fn, 0.92), 0.09, 0.004),
                Level("similar (jaro-winkler >= 0.8)", cll.JaroWinklerLevel(fn, 0.8), 0.06, 0.03),
                Level(
                    "initial",
                    cll.CustomLevel(
                        f"(length({fn}_l) = 1 OR length({fn}_r) = 1) AND substr({fn}_l, 1, 1) = substr({fn}_r, 1, 1)"
                    ),
                    0.03,
                    0.003,
                ),
            ),
        ),
        ComparisonSpec(
            "last_name",
            ln,
            (ln,),
            (
                Level("exact", cll.ExactMatchLevel(ln), 0.78, 0.002, tf_column=ln),
                Level("similar (jaro-winkler >= 0.92)", cll.JaroWinklerLevel(ln, 0.92), 0.1, 0.002),
                Level("similar (jaro-winkler >= 0.8)", cll.JaroWinklerLevel(ln, 0.8), 0.05, 0.02),
            ),
        ),
    ]
    return [spec for spec in specs if set(spec.columns) <= filled]


def comparison_specs(filled: set[str], *, joint_names: bool = True) -> list[ComparisonSpec]:
    """The comparisons the model uses, given the match columns the data fills.

    Args:
        filled: the match columns with values.
        joint_names: compare first and last name jointly (`name_spec`, when m is learnt from
            labelled pairs) or separately (`separate_name_specs`, when m is learnt by EM).

    Returns:
        The comparison specs.
    """
    location = location_spec(filled)
    name = name_spec(filled) if joint_names else None
    names = [name] if name else ([] if joint_names else separate_name_specs(filled))
    specs = [
        *([location] if location else []),
        *names,
        ComparisonSpec(
            "date_of_birth",
            "date_of_birth_norm",
            ("date_of_birth_norm",),
            (
                Level("exact", cll.ExactMatchLevel("date_of_birth_norm"), 0.85, 0.0002),
                Level("one typo", cll.DamerauLevenshteinLevel("date_of_birth_norm", 1), 0.07, 0.002),
                Level(
                    "within a year",
                    cll.AbsoluteDateDifferenceLevel(
                        "date_of_birth_norm", input_is_string=True, threshold=1, metric="year"
                    ),
                    0.03,
                    0.03,
                ),
            ),
        ),
        ComparisonSpec(
            "email",
            "email_norm",
            ("email_norm",),
            (
                # Exact or not, nothing between: mailbox names are mostly made of the person's name,
                # so "same mailbox at another domain" or "similar mailbox" would count the name
                # evidence twice (john.smith@gmail.com and john.smith@yahoo.com are two John Smiths
                # as often as one).
                Level("exact", cll.ExactMatchLevel("email_norm"), 0.85, 0.0001, tf_column="email_norm"),
            ),
        ),
        ComparisonSpec(
            "phone",
            "phone_norm",
            ("phone_norm",),
            (
                Level("exact", cll.ExactMatchLevel("phone_norm"), 0.8, 0.0001, tf_column="phone_norm"),
                Level("one typo", cll.DamerauLevenshteinLevel("phone_norm", 1), 0.06, 0.0005),
            ),
        ),
        ComparisonSpec(
            "gender",
            "gender_norm",
            ("gender_norm",),
            (Level("exact", cll.ExactMatchLevel("gender_norm"), 0.95, 0.5),),
        ),
        ComparisonSpec(
            "job_title",
            "job_title_norm",
            ("job_title_norm",),
            (Level("exact", cll.ExactMatchLevel("job_title_norm"), 0.6, 0.02, tf_column="job_title_norm"),),
        ),
        ComparisonSpec(
            "company",
            "company_norm",
            ("company_norm",),
            (
                Level("exact", cll.ExactMatchLevel("company_norm"), 0.7, 0.005, tf_column="company_norm"),
                Level("similar (jaro-winkler >= 0.9)", cll.JaroWinklerLevel("company_norm", 0.9), 0.1, 0.005),
            ),
        ),
        ComparisonSpec(
            "national_id",
            "national_id_norm",
            ("national_id_norm",),
            (
                Level("exact", cll.ExactMatchLevel("national_id_norm"), 0.9, 0.00001),
                Level("one typo", cll.DamerauLevenshteinLevel("national_id_norm", 1), 0.05, 0.0001),
            ),
        ),
    ]
    return [spec for spec in specs if set(spec.columns) <= filled]
