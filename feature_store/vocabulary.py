"""The feature store's vocabulary (Feast's words): entities, sources, feature views, feature services.

A feature view aggregates one source's facts per entity over time windows that end strictly before
each row's `as_of`; a feature service names exactly the features one model uses. The declarations
themselves are listed in `feature_store.definitions`; `feature_store.point_in_time` turns them into SQL.
Expressions in these declarations are code written in this repository, never user input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Aggregation = Literal[
    "count",
    "count_distinct",
    "sum",
    "any",
    "latest",
    "mean",
    "std",
    "max",
    "days_since_last",
    "days_since_first",
]
FeatureType = Literal["numeric", "categorical", "boolean"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Aggregations of a value rather than of the facts' count or times.
_OF_AN_EXPRESSION = frozenset({"count_distinct", "sum", "any", "latest", "mean", "std", "max"})


def _check_name(kind: str, name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"{kind} name {name!r} must be lower_snake_case")


@dataclass(frozen=True)
class Entity:
    """What features describe, and the spine columns that identify one.

    Attributes:
        name: the entity's name.
        join_keys: spine columns that identify one instance (empty for facts about everyone).
        description: one sentence for the docs.
    """

    name: str
    join_keys: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class Source:
    """Facts from staging tables, each row attributed to a profile through `identity.record_xref`.

    Attributes:
        name: the source's name.
        parts: `(staging table, timestamp column)` pairs, unioned; a missing table adds nothing.
        columns: output column -> SQL expression over the staging row `t`; `{offer_field}` stands
            for the configured offer column and `{offer_property}` for its event property.
        where: an optional SQL filter over `t`.
        first_only: keep only each profile's earliest timestamp (per cut-off). Enough, and exact, for
            `days_since_first`: the earliest fact before `as_of` is the earliest fact overall
            whenever that one is before `as_of`.
        regroup: SQL over `{facts}` (the parts' rows: `profile_id, _as_of, ts` and the columns)
            that turns them into the source's facts, e.g. one row per person and purchase day,
            grouping by `profile_id, _as_of` (who a person is depends on the cut-off). Each
            output row's `ts` must be the time the row became known (its earliest input time),
            and nothing in it may depend on facts after that time.
        catalog: when offers come from the offer catalog (`scores.offer_catalog`), the sources
            whose facts, unioned by column name, stand for this one's (same columns, `offer_id`
            being the catalog id). Empty: the source is the same either way.
    """

    name: str
    parts: tuple[tuple[str, str], ...]
    columns: dict[str, str] = field(default_factory=dict)
    where: str | None = None
    first_only: bool = False
    regroup: str | None = None
    catalog: tuple[Source, ...] = ()


@dataclass(frozen=True)
class Feature:
    """One named aggregation of a view's facts over a window that ends just before `as_of`.

    Attributes:
        name: the column name, unique across all views.
        aggregation: `count` (facts), `count_distinct` / `sum` / `any` / `latest` / `mean` /
            `std` / `max` (of `expression`), `days_since_last` / `days_since_first` (fact timestamps).
        expression: SQL over the fact row `f` (its columns and `f.ts`); `{as_of}` is the row's as_of.
        where: SQL filter over `f` (and `{as_of}`) applied before aggregating.
        window_days: look back this many days; None means the view's whole TTL.
        type: how models treat it.
        description: one sentence for the docs.
    """

    name: str
    aggregation: Aggregation
    description: str
    expression: str | None = None
    where: str | None = None
    window_days: int | None = None
    type: FeatureType = "numeric"

    def __post_init__(self) -> None:
        _check_name("feature", self.name)
        if self.aggregation in _OF_AN_EXPRESSION and not self.expression:
            raise ValueError(f"feature {self.name}: aggregation {self.aggregation} needs an expression")
        if self.window_days is not None and self.window_days <= 0:
            raise ValueError(f"feature {self.name}: window_days must be positive")


@dataclass(frozen=True)
class FeatureView:
    """Features of one entity computed from one source, point-in-time correct.

    Attributes:
        name: the view's name.
        entity: whose features these are; the view is joined to the spine on its join keys.
        source: where the facts come from.
        ttl_days: facts older than this before `as_of` are ignored; None looks back forever.
        features: the aggregations.
        description: one sentence for the docs.
    """

    name: str
    entity: Entity
    source: Source
    ttl_days: int | None
    features: tuple[Feature, ...]
    description: str

    def __post_init__(self) -> None:
        _check_name("feature view", self.name)
        for feature in self.features:
            if feature.window_days and self.ttl_days and feature.window_days > self.ttl_days:
                raise ValueError(f"{self.name}.{feature.name}: window longer than the view's TTL")


@dataclass(frozen=True)
class OnDemandFeature:
    """A feature computed row by row from other features of the same service (Feast's on-demand view).

    Attributes:
        name: the column name.
        expression: SQL over other features' names.
        inputs: the features the expression reads.
        description: one sentence for the docs.
        type: how models treat it.
    """

    name: str
    expression: str
    inputs: tuple[str, ...]
    description: str
    type: FeatureType = "numeric"


@dataclass(frozen=True)
class FeatureService:
    """Exactly the features one model uses, in a fixed order.

    Attributes:
        name: the service's name (logged with every model version).
        features: feature names, each declared in a view or as an on-demand feature.
    """

    name: str
    features: tuple[str, ...]
