"""The prediction builder's plan of any labelled table: each column's type, what is left out and why,
and the features a model learns from (the file is read by `models.table_file`).

Every column is read as text and typed by what its values are: numbers, yes/no values, dates
(turned into year, month, day of week and age in days), or categories. Columns are left out, each
with its reason, when they:
- identify rows (nearly one distinct value per row: ids, free text);
- are empty or constant;
- nearly equal the target, or look recorded after the outcome (`models.leak_guards`);
- are named with `--drop` (such as a call's duration, only known after the call).
Categories with many values keep their 100 most frequent ones (each seen at least 10 times);
the rest count as one `(other)` category, as do values first seen when scoring.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Literal

import polars as pl

from models.leak_guards import leak_reason
from models.value_shares import share_feature, with_shares

TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
)
# A column is of a type when this share of its filled-in values reads as that type.
TYPED_SHARE = 0.98
# A text column with this share of distinct values per row identifies rows (or is free text).
IDENTIFIER_SHARE = 0.9
MAX_CATEGORIES = 100
MIN_CATEGORY_ROWS = 10
OTHER = "(other)"
# The last word of a column name (snake_case, kebab-case or CamelCase) that makes it an identifier.
_ID_WORDS = frozenset({"id", "key", "uuid", "guid", "no", "nr", "num", "number"})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

Kind = Literal["numeric", "boolean", "date", "categorical"]


class TableError(ValueError):
    """The table or the arguments cannot give a prediction; the message names the file and column."""


@dataclass(frozen=True)
class ColumnPlan:
    """How one source column becomes features.

    Attributes:
        name: the column in the file.
        kind: `numeric`, `boolean`, `date` or `categorical`.
        categories: for categorical columns, the values kept (others become `(other)`).
        date_format: for date columns, the format the values were read with.
        note: what the reading did, for the model card (e.g. "kept 100 of 2,345 values").
    """

    name: str
    kind: Kind
    categories: tuple[str, ...] = ()
    date_format: str | None = None
    note: str = ""

    def features(self) -> list[str]:
        """The model features this column gives."""
        if self.kind == "date":
            return [
                f"{self.name}_year",
                f"{self.name}_month",
                f"{self.name}_weekday",
                f"{self.name}_age_days",
            ]
        return [self.name]


@dataclass(frozen=True)
class Dropped:
    """A column the model does not learn from, and why."""

    column: str
    reason: str


@dataclass(frozen=True)
class TablePlan:
    """Everything needed to turn a file like the training file into model input, saved with the model.

    Attributes:
        target: the target column.
        id_column: the column identifying rows (kept in score output, never a feature).
        positive: the target value that counts as yes (score = its probability).
        negative: the other target value.
        columns: the columns the model learns from.
        dropped: the columns left out, with reasons.
        reference_date: ages of dates are counted in days before this date (the training file's
            latest date), so scoring uses the same clock.
        value_shares: per feature, the share of training rows holding each value (text), when the
            model learns from how common a value is (`models.value_shares`); empty otherwise.
    """

    target: str
    id_column: str
    positive: str
    negative: str
    columns: tuple[ColumnPlan, ...]
    dropped: tuple[Dropped, ...] = field(default_factory=tuple)
    reference_date: str | None = None
    value_shares: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        """The model's feature names, in order."""
        return [f for column in self.columns for f in column.features()] + [
            share_feature(f) for f in self.value_shares
        ]

    @property
    def categorical(self) -> list[str]:
        """The categorical features."""
        return [c.name for c in self.columns if c.kind == "categorical"]

    def describe(self, feature: str) -> str:
        """A feature in words, for the model card."""
        for shared in self.value_shares:
            if feature == share_feature(shared):
                return f"share of training rows with the same value of {self.describe(shared)}"
        for column in self.columns:
            if feature in column.features():
                if column.kind == "date":
                    part = feature.removeprefix(f"{column.name}_").replace("_", " ")
                    return f"{part} of `{column.name}`" + (
                        f" (days before {self.reference_date})" if part == "age days" else ""
                    )
                note = f"; {column.note}" if column.note else ""
                return f"column `{column.name}` ({column.kind}{note})"
        return feature

    def to_json(self) -> str:
        """The plan as JSON text."""
        return json.dumps(asdict(self), indent=1)

    @staticmethod
    def from_json(text: str) -> TablePlan:
        """A plan from `to_json` text."""
        raw = json.loads(text)
        raw["columns"] = tuple(
            ColumnPlan(**{**c, "categories": tuple(c["categories"])}) for c in raw["columns"]
        )
        raw["dropped"] = tuple(Dropped(**d) for d in raw["dropped"])
        return TablePlan(**raw)


def _names_an_id(name: str) -> bool:
    words = _WORD.findall(name)
    return bool(words) and words[-1].lower() in _ID_WORDS


def _share_parsed(values: pl.Series, parsed: pl.Series) -> float:
    filled = values.drop_nulls().len()
    return parsed.drop_nulls().len() / filled if filled else 0.0


def _date_format(values: pl.Series) -> str | None:
    best, best_share = None, 0.0
    for fmt in DATE_FORMATS:
        share = _share_parsed(values, values.str.to_datetime(fmt, strict=False))
        if share > best_share:
            best, best_share = fmt, share
    return best if best_share >= TYPED_SHARE else None


def _type_column(name: str, values: pl.Series, rows: int) -> ColumnPlan | Dropped:
    filled = values.drop_nulls()
    if filled.len() == 0:
        return Dropped(name, "empty: no value in any row")
    distinct = filled.n_unique()
    if distinct == 1:
        return Dropped(name, f"constant: every filled-in row holds {filled[0]!r}")
    lowered = set(filled.str.to_lowercase().unique().to_list())
    if len(lowered) == 2 and lowered & set(TRUE_WORDS) and lowered & set(FALSE_WORDS):
        return ColumnPlan(name, "boolean")
    numbers = filled.cast(pl.Float64, strict=False)
    if _share_parsed(filled, numbers) >= TYPED_SHARE:
        whole = numbers.drop_nulls()
        if (
            _names_an_id(name)
            and (whole == whole.round(0)).all()
            and numbers.n_unique() >= IDENTIFIER_SHARE * rows
        ):
            return Dropped(
                name, f"identifier: a whole number per row ({numbers.n_unique():,} distinct in {rows:,} rows)"
            )
        return ColumnPlan(name, "numeric")
    fmt = _date_format(filled)
    if fmt is not None:
        return ColumnPlan(name, "date", date_format=fmt)
    if distinct >= IDENTIFIER_SHARE * rows:
        long_text = float(filled.str.len_chars().mean() or 0) > 30
        what = "free text" if long_text else "identifier"
        return Dropped(name, f"{what}: {distinct:,} distinct values in {rows:,} rows")
    counts = filled.value_counts(sort=True)
    kept = counts.filter(pl.col("count") >= MIN_CATEGORY_ROWS).head(MAX_CATEGORIES)[name].to_list()
    if not kept:
        return Dropped(
            name, f"too scattered: none of its {distinct:,} values appears {MIN_CATEGORY_ROWS} times"
        )
    note = (
        ""
        if len(kept) == distinct
        else f"kept the {len(kept):,} most frequent of {distinct:,} values, the rest as {OTHER}"
    )
    return ColumnPlan(name, "categorical", categories=tuple(sorted(kept)), note=note)


def features_of(frame: pl.DataFrame, plan: TablePlan) -> pl.DataFrame:
    """The model's input columns for a table read with `models.table_file.read_table`.

    Args:
        frame: the table (text columns).
        plan: the plan the model was trained with.

    Returns:
        One column per feature: floats for numeric, boolean and date features, text for categories,
        then the share features of `plan.value_shares`.

    Raises:
        TableError: naming every column of the plan the table lacks.
    """
    missing = [c.name for c in plan.columns if c.name not in frame.columns]
    if missing:
        raise TableError(f"the table lacks column(s) {missing} that the model was trained on")
    reference = datetime.fromisoformat(plan.reference_date) if plan.reference_date else None
    out = []
    for column in plan.columns:
        values = pl.col(column.name)
        if column.kind == "numeric":
            out.append(values.cast(pl.Float64, strict=False).alias(column.name))
        elif column.kind == "boolean":
            lowered = values.str.to_lowercase()
            out.append(
                pl.when(lowered.is_in(TRUE_WORDS))
                .then(1.0)
                .when(lowered.is_in(FALSE_WORDS))
                .then(0.0)
                .otherwise(None)
                .alias(column.name)
            )
        elif column.kind == "categorical":
            out.append(
                pl.when(values.is_null())
                .then(None)
                .when(values.is_in(column.categories))
                .then(values)
                .otherwise(pl.lit(OTHER))
                .alias(column.name)
            )
        else:
            moment = values.str.to_datetime(column.date_format, strict=False)
            out += [
                moment.dt.year().cast(pl.Float64).alias(f"{column.name}_year"),
                moment.dt.month().cast(pl.Float64).alias(f"{column.name}_month"),
                moment.dt.weekday().cast(pl.Float64).alias(f"{column.name}_weekday"),
                (
                    (pl.lit(reference) - moment).dt.total_seconds() / 86400.0
                    if reference
                    else pl.lit(None, pl.Float64)
                ).alias(f"{column.name}_age_days"),
            ]
    return with_shares(frame.select(out), plan.value_shares)


def plan_table(
    frame: pl.DataFrame, *, target: str, id_column: str, drop: tuple[str, ...] = (), source: str = "the table"
) -> TablePlan:
    """Type every column, apply the guards, and say which columns the model learns from.

    Args:
        frame: the table from `models.table_file.read_table`.
        target: the yes/no column to predict.
        id_column: the column identifying rows.
        drop: columns the user leaves out.
        source: the file's name, for messages.

    Returns:
        The plan.

    Raises:
        TableError: for a missing target or id column, a target without exactly two values, or
            repeated ids.
    """
    for role, column in (("--target", target), ("--id", id_column)):
        if column not in frame.columns:
            raise TableError(
                f"{source}: no column {column!r} (the {role}); columns are: {', '.join(frame.columns)}"
            )
    if target == id_column:
        raise TableError(f"{source}: --target and --id are the same column {target!r}")
    unknown = [c for c in drop if c not in frame.columns]
    if unknown:
        raise TableError(f"{source}: --drop names column(s) {unknown} that the table does not have")
    labelled = frame.filter(pl.col(target).is_not_null())
    values = labelled[target].unique().sort().to_list()
    if len(values) < 2:
        shown = repr(values[0]) if values else "nothing"
        raise TableError(
            f"{source}: the target {target!r} has one value ({shown}) in every row: there is nothing to predict"
        )
    if len(values) > 2:
        raise TableError(
            f"{source}: the target {target!r} has {len(values)} values ({', '.join(map(repr, values[:5]))}...); "
            "kindred predict learns yes/no targets: pass a column with two values"
        )
    yes = [v for v in values if v.lower() in TRUE_WORDS]
    if len(yes) == 1:
        positive = yes[0]
    else:
        counts = labelled[target].value_counts(sort=True)
        positive = counts[target][-1]  # the rarer value is the one worth finding
    negative = next(v for v in values if v != positive)
    ids = frame[id_column]
    if ids.null_count():
        raise TableError(f"{source}: the --id column {id_column!r} is empty in {ids.null_count():,} row(s)")
    repeated = ids.filter(ids.is_duplicated())
    if repeated.len():
        raise TableError(
            f"{source}: the --id column {id_column!r} repeats values, e.g. {repeated[0]!r}; ids must be unique"
        )

    y = (labelled[target] == positive).cast(pl.Int8).to_numpy()
    columns, dropped = [], [Dropped(c, "left out with --drop") for c in drop]
    for name in frame.columns:
        if name in (target, id_column, *drop):
            continue
        typed = _type_column(name, labelled[name], labelled.height)
        if isinstance(typed, Dropped):
            dropped.append(typed)
            continue
        alone = features_of(labelled[name].to_frame(), TablePlan("", "", positive, negative, (typed,)))
        reason = leak_reason(labelled[name], alone, y, positive, negative)
        if reason:
            dropped.append(Dropped(name, reason))
        else:
            columns.append(typed)
    if not columns:
        raise TableError(
            f"{source}: no column is left to learn from ({'; '.join(f'{d.column}: {d.reason}' for d in dropped)})"
        )
    reference = _latest_date(labelled, columns)
    return TablePlan(target, id_column, positive, negative, tuple(columns), tuple(dropped), reference)


def _latest_date(frame: pl.DataFrame, columns: list[ColumnPlan]) -> str | None:
    latest: datetime | None = None
    for column in columns:
        if column.kind == "date":
            moment = frame[column.name].str.to_datetime(column.date_format, strict=False).max()
            if moment is not None and (latest is None or moment > latest):
                latest = moment
    if latest is None:
        return None
    return latest.date().isoformat() if isinstance(latest, datetime | date) else str(latest)
