"""The comparisons of the probabilistic model, chosen from the attributes the data fills.

Each comparison is built from Splink's comparison-level library (exact, Jaro-Winkler, Damerau-
Levenshtein, array intersection, columns reversed) with a prior m and u probability per level:
the priors are what an untrained model on a tiny input uses, and where EM starts from on a
larger one. `comparison_specs` picks the comparisons a profile supports; `configured_spec` turns
an `identity.splink.comparisons` entry of kindred.yaml into one.
"""

from __future__ import annotations

from dataclasses import dataclass

import splink.comparison_level_library as cll
import splink.comparison_library as cl

from identity_resolution.attributes import ATTRIBUTE_COLUMNS, AttributeProfile


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
    """A comparison: its output name, the columns it reads, its levels (best first) and, for a
    comparison over several columns, the SQL saying when the pair cannot be compared."""

    name: str
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
            null = cll.NullLevel(self.columns[0])
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


def _initial(column: str) -> cll.CustomLevel:
    return cll.CustomLevel(
        f"(length({column}_l) = 1 OR length({column}_r) = 1) AND substr({column}_l, 1, 1) = substr({column}_r, 1, 1)"
    )


def first_name_spec(profile: AttributeProfile) -> ComparisonSpec:
    """Given names: exact, swapped with the surname, a nickname of each other either way (Bob and
    Robert, Chris and Christina: evidence they may be one name, never proof), a typo, the same
    sound, an initial."""
    fn, ln = "first_name_norm", "last_name_norm"
    levels = [Level("exact", cll.ExactMatchLevel(fn), 0.62, 0.008, tf_column=fn)]
    if profile.has(ln):
        levels.append(
            Level(
                "first and last name swapped", cll.ColumnsReversedLevel(fn, ln, symmetrical=True), 0.01, 1e-5
            )
        )
    levels += [
        Level("nickname", cll.ArrayIntersectLevel("first_name_aliases", 1), 0.1, 0.002),
        Level("similar (jaro-winkler >= 0.92)", cll.JaroWinklerLevel(fn, 0.92), 0.09, 0.004),
        Level("same sound (soundex)", cll.ExactMatchLevel("first_name_soundex"), 0.04, 0.01),
        Level("similar (jaro-winkler >= 0.8)", cll.JaroWinklerLevel(fn, 0.8), 0.04, 0.03),
        Level("initial", _initial(fn), 0.03, 0.003),
    ]
    return ComparisonSpec("first_name", (fn,), tuple(levels))


def last_name_spec() -> ComparisonSpec:
    """Surnames: exact, a typo, the same sound, a looser likeness."""
    ln = "last_name_norm"
    levels = (
        Level("exact", cll.ExactMatchLevel(ln), 0.78, 0.002, tf_column=ln),
        Level("similar (jaro-winkler >= 0.92)", cll.JaroWinklerLevel(ln, 0.92), 0.1, 0.002),
        Level("same sound (soundex)", cll.ExactMatchLevel("last_name_soundex"), 0.04, 0.005),
        Level("similar (jaro-winkler >= 0.8)", cll.JaroWinklerLevel(ln, 0.8), 0.04, 0.02),
    )
    return ComparisonSpec("last_name", (ln,), levels)


def date_of_birth_spec() -> ComparisonSpec:
    """Dates of birth: exact, one typo (a digit or two neighbours swapped), day and month
    swapped (04/12 read as 12/04). A date further apart is another person (see `guards`)."""
    dob = "date_of_birth_norm"
    swapped = cll.CustomLevel(
        f"substr({dob}_l, 1, 4) = substr({dob}_r, 1, 4) AND substr({dob}_l, 6, 2) = substr({dob}_r, 9, 2) "
        f"AND substr({dob}_l, 9, 2) = substr({dob}_r, 6, 2)"
    )
    levels = (
        Level("exact", cll.ExactMatchLevel(dob), 0.85, 0.0002, tf_column=dob),
        Level("one typo", cll.DamerauLevenshteinLevel(dob, 1), 0.08, 0.002),
        Level("day and month swapped", swapped, 0.01, 0.0001),
    )
    return ComparisonSpec("date_of_birth", (dob,), levels)


def location_spec(profile: AttributeProfile) -> ComparisonSpec | None:
    """Address, postcode and city as one comparison, built from the columns the data fills.

    They are one piece of evidence, not three: people at the same address share its postcode
    and city, so scoring them separately counts a shared home three times and merges a
    household. The levels go from the street down to the area; two different street
    addresses are a level of their own, whatever the postcode says.

    Args:
        profile: the attribute profile.

    Returns:
        The `location` comparison, or None when no address, postcode or city is filled.
    """
    has_address, has_postcode, has_city = (
        profile.has(c) for c in ("address_norm", "postcode_norm", "city_norm")
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
    if has_postcode and profile.has("postcode_area"):
        area.append(cll.ExactMatchLevel("postcode_area"))
    if has_city:
        area.append(cll.JaroWinklerLevel("city_norm", 0.9))
    if area:
        levels.append(Level("same area", cll.Or(*area) if len(area) > 1 else area[0], 0.03, 0.02))
    columns = tuple(
        c
        for c, present in (
            ("address_norm", has_address),
            ("postcode_norm", has_postcode),
            ("city_norm", has_city),
        )
        if present
    )
    null_sql = " AND ".join(f"({c}_l IS NULL OR {c}_r IS NULL)" for c in columns)
    return ComparisonSpec("location", columns, tuple(levels), null_sql=null_sql)


def _simple_specs() -> list[ComparisonSpec]:
    """Single-column comparisons: contact points, ids, and the weak attributes."""
    return [
        ComparisonSpec(
            "email",
            ("email_norm",),
            # Exact or not, nothing between: mailbox names are mostly made of the person's name,
            # so "similar mailbox" would count the name evidence twice (j.smith1@ and j.smith2@
            # are two people as often as one).
            (Level("exact", cll.ExactMatchLevel("email_norm"), 0.85, 0.0001, tf_column="email_norm"),),
        ),
        ComparisonSpec(
            "phone",
            ("phone_norm",),
            (
                Level("exact", cll.ExactMatchLevel("phone_norm"), 0.8, 0.0001, tf_column="phone_norm"),
                Level("one typo", cll.DamerauLevenshteinLevel("phone_norm", 1), 0.06, 0.0005),
            ),
        ),
        ComparisonSpec(
            "national_id",
            ("national_id_norm",),
            (
                Level("exact", cll.ExactMatchLevel("national_id_norm"), 0.9, 0.00001),
                Level("one typo", cll.DamerauLevenshteinLevel("national_id_norm", 1), 0.05, 0.0001),
            ),
        ),
        ComparisonSpec(
            "gender", ("gender_norm",), (Level("exact", cll.ExactMatchLevel("gender_norm"), 0.95, 0.5),)
        ),
        ComparisonSpec(
            "job_title",
            ("job_title_norm",),
            (Level("exact", cll.ExactMatchLevel("job_title_norm"), 0.6, 0.02, tf_column="job_title_norm"),),
        ),
        ComparisonSpec(
            "company",
            ("company_norm",),
            (
                Level("exact", cll.ExactMatchLevel("company_norm"), 0.7, 0.005, tf_column="company_norm"),
                Level("similar (jaro-winkler >= 0.9)", cll.JaroWinklerLevel("company_norm", 0.9), 0.1, 0.005),
            ),
        ),
    ]


def comparison_specs(
    profile: AttributeProfile, configured: list[ComparisonSpec] | None = None
) -> list[ComparisonSpec]:
    """The comparisons the model uses, given what the data fills.

    Names are compared as two comparisons (given name, surname), the form EM estimates well;
    address, postcode and city as one (`location_spec`). A comparison from kindred.yaml replaces
    the built-in one of the same name, or is added.

    Args:
        profile: the attribute profile.
        configured: comparisons from `identity.splink.comparisons` (`configured_spec`).

    Returns:
        The comparison specs, built-in ones first.
    """
    specs: list[ComparisonSpec] = []
    if profile.has("first_name_norm"):
        specs.append(first_name_spec(profile))
    if profile.has("last_name_norm"):
        specs.append(last_name_spec())
    if profile.has("date_of_birth_norm"):
        specs.append(date_of_birth_spec())
    location = location_spec(profile)
    if location:
        specs.append(location)
    specs += [s for s in _simple_specs() if profile.has_all(s.columns)]
    for spec in configured or []:
        specs = [s for s in specs if s.name != spec.name] + [spec]
    return specs


def configured_spec(
    attribute: str, method: str, thresholds: list[float], term_frequencies: bool
) -> ComparisonSpec:
    """A comparison from an `identity.splink.comparisons` entry of kindred.yaml.

    Args:
        attribute: a canonical person attribute (`company`, `postcode`, ...); it names the comparison.
        method: `exact`, `jaro_winkler`, `jaro`, `levenshtein`, `damerau_levenshtein` or
            `date_years` (dates within each threshold in years).
        thresholds: the similarity or distance thresholds, loosest last.
        term_frequencies: adjust the exact level by how common the value is.

    Returns:
        The comparison: an exact level, then a level per threshold, with neutral priors.
    """
    column = ATTRIBUTE_COLUMNS[attribute]
    levels = [
        Level("exact", cll.ExactMatchLevel(column), 0.8, 0.01, tf_column=column if term_frequencies else None)
    ]
    factories = {
        "jaro_winkler": lambda t: (f"jaro-winkler >= {t}", cll.JaroWinklerLevel(column, t)),
        "jaro": lambda t: (f"jaro >= {t}", cll.JaroLevel(column, t)),
        "levenshtein": lambda t: (f"levenshtein <= {int(t)}", cll.LevenshteinLevel(column, int(t))),
        "damerau_levenshtein": lambda t: (
            f"damerau-levenshtein <= {int(t)}",
            cll.DamerauLevenshteinLevel(column, int(t)),
        ),
        "date_years": lambda t: (
            f"within {t:g} years",
            cll.AbsoluteDateDifferenceLevel(column, input_is_string=True, threshold=t, metric="year"),
        ),
    }
    for threshold in thresholds if method != "exact" else []:
        label, condition = factories[method](threshold)
        levels.append(Level(label, condition, 0.1 / len(thresholds), 0.05 / len(thresholds)))
    return ComparisonSpec(attribute, (column,), tuple(levels))
