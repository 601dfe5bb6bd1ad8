"""Point-in-time correct feature values: for each spine row, only facts strictly before its `as_of`.

Each feature view is computed once per distinct (join keys, as_of) of the spine: its facts with
`ts < as_of` (and `ts >= as_of - ttl`) are aggregated per key and cut-off, every feature with its
own window as a FILTER (`feature_store.view_sql`). The view results are then joined back to the
spine, so a training set with many cut-offs and a scoring frame go through the same SQL.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import polars as pl

from feature_store.definitions import FEATURE_VIEWS, ON_DEMAND_FEATURES
from feature_store.identity_as_of import IdentityAsOf, as_datetime, identity_as_of
from feature_store.sources import xref_sql
from feature_store.view_sql import view_sql
from feature_store.vocabulary import Feature, FeatureService, FeatureType, FeatureView, OnDemandFeature

_SPINE_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class FeatureDefinitionError(ValueError):
    """A feature service names something no view declares, or a spine lacks what a view needs."""


@dataclass(frozen=True)
class _Catalogue:
    by_name: dict[str, tuple[FeatureView, Feature]]
    on_demand: dict[str, OnDemandFeature]


def _catalogue() -> _Catalogue:
    by_name: dict[str, tuple[FeatureView, Feature]] = {}
    for view in FEATURE_VIEWS:
        for feature in view.features:
            if feature.name in by_name:
                raise FeatureDefinitionError(f"feature {feature.name} is declared twice")
            by_name[feature.name] = (view, feature)
    on_demand = {f.name: f for f in ON_DEMAND_FEATURES}
    for name, feature in on_demand.items():
        if name in by_name:
            raise FeatureDefinitionError(f"feature {name} is declared twice")
        missing = [i for i in feature.inputs if i not in by_name]
        if missing:
            raise FeatureDefinitionError(f"on-demand feature {name} reads undeclared features {missing}")
    return _Catalogue(by_name, on_demand)


CATALOGUE = _catalogue()


def feature_type(name: str) -> FeatureType:
    """How models treat a declared feature: `numeric`, `categorical` or `boolean`.

    Args:
        name: a feature name.

    Returns:
        The declared type.
    """
    if name in CATALOGUE.on_demand:
        return CATALOGUE.on_demand[name].type
    if name in CATALOGUE.by_name:
        return CATALOGUE.by_name[name][1].type
    raise FeatureDefinitionError(f"no feature named {name!r} is declared in feature_store.definitions")


def feature_description(name: str) -> str:
    """What a declared feature means, in the words of its declaration.

    Args:
        name: a feature name.

    Returns:
        The feature's one-sentence description.
    """
    if name in CATALOGUE.on_demand:
        return CATALOGUE.on_demand[name].description
    if name in CATALOGUE.by_name:
        return CATALOGUE.by_name[name][1].description
    raise FeatureDefinitionError(f"no feature named {name!r} is declared in feature_store.definitions")


def service_views(service: FeatureService) -> list[FeatureView]:
    """The feature views a service reads, in declaration order.

    Args:
        service: a feature service.

    Returns:
        The views holding the service's features or the inputs of its on-demand features.
    """
    needed = _base_features(service)
    return [view for view in FEATURE_VIEWS if any(f.name in needed for f in view.features)]


def _base_features(service: FeatureService) -> list[str]:
    names: list[str] = []
    for name in service.features:
        if name in CATALOGUE.on_demand:
            names.extend(i for i in CATALOGUE.on_demand[name].inputs if i not in names)
        elif name in CATALOGUE.by_name:
            if name not in names:
                names.append(name)
        else:
            raise FeatureDefinitionError(
                f"feature service {service.name} names {name!r}, which no feature view declares"
            )
    return names


def _check_spine(spine: pl.DataFrame, service: FeatureService, views: list[FeatureView]) -> None:
    needed = {"as_of", *(key for view in views for key in view.entity.join_keys)}
    missing = sorted(needed - set(spine.columns))
    if missing:
        raise FeatureDefinitionError(f"the spine lacks column(s) {missing} needed by service {service.name}")
    clashes = sorted(set(spine.columns) & (set(service.features) | set(_base_features(service))))
    if clashes:
        raise FeatureDefinitionError(f"spine columns {clashes} clash with feature names of {service.name}")
    bad = [c for c in spine.columns if not _SPINE_COLUMN.match(c) or c.startswith("_")]
    if bad:
        raise FeatureDefinitionError(f"spine column names {bad} must be identifiers not starting with _")
    if spine.height and spine["as_of"].null_count():
        raise FeatureDefinitionError("the spine has rows without an as_of")


def feature_query(
    con: duckdb.DuckDBPyConnection,
    spine_columns: list[str],
    service: FeatureService,
    offer_field: str = "product_category",
    *,
    at: IdentityAsOf,
    stored: str | None = None,
) -> str:
    """The SQL computing a service's features for a spine relation named `_spine_input`.

    Args:
        con: warehouse connection (to see which staging tables and columns exist).
        spine_columns: the spine's columns, kept in the output; they include `as_of` and the join keys.
        service: the features to compute.
        offer_field: the orders column that names an offer.
        at: the spine's cut-offs and the identity as of each (`identity_as_of.identity_as_of`).
        stored: a relation holding `profile_id, as_of` and every profile view's features, as
            `feature_store.materialise` stores them for the spine's one as_of; profile views are
            read from it instead of computed (every spine person must have a row there).

    Returns:
        SQL text whose result is the spine's columns followed by the service's features, in the
        spine's row order (the spine relation must carry a `_spine_row` column).
    """
    views = service_views(service)
    base = _base_features(service)
    # Each entity's distinct (keys, as_of) once, for every view of that entity computed here.
    computed = [view for view in views if stored is None or view.entity.join_keys != ("profile_id",)]
    entities = {view.entity.name: view.entity for view in computed}
    ctes = [
        "_spine AS (SELECT *, CAST(as_of AS TIMESTAMP) AS _as_of FROM _spine_input)",
        *(
            f"_keys_{name} AS (SELECT DISTINCT {''.join(f'{key}, ' for key in entity.join_keys)}_as_of FROM _spine)"
            for name, entity in entities.items()
        ),
        *(
            f"v_{view.name} AS ({view_sql(con, view, base, offer_field, at=at, stored=stored)})"
            for view in views
        ),
    ]
    joins = "".join(
        f" LEFT JOIN v_{view.name} ON "
        + " AND ".join(
            [f"v_{view.name}.{key} = s.{key}" for key in view.entity.join_keys]
            + [f"v_{view.name}._as_of = s._as_of"]
        )
        for view in views
    )
    base_columns = ", ".join(f"v_{CATALOGUE.by_name[name][0].name}.{name} AS {name}" for name in base)
    inner = f"SELECT s.*, {base_columns} FROM _spine s{joins}"
    outputs = []
    for name in service.features:
        if name in CATALOGUE.on_demand:
            outputs.append(f"({CATALOGUE.on_demand[name].expression}) AS {name}")
        else:
            outputs.append(name)
    spine_list = ", ".join(f'v."{c}"' for c in spine_columns)
    # Spine columns never share a feature's name (`_check_spine`), so on-demand expressions read
    # the features by name beside them.
    return f"WITH {', '.join(ctes)} SELECT {spine_list}, {', '.join(outputs)} FROM ({inner}) v ORDER BY v._spine_row"


def training_set(
    con: duckdb.DuckDBPyConnection,
    spine: pl.DataFrame,
    service: FeatureService,
    *,
    offer_field: str = "product_category",
    stored: str | None = None,
) -> pl.DataFrame:
    """Point-in-time correct features for each spine row, using only facts strictly before its as_of.

    Identity is point-in-time too: a row's `profile_id` is a person as known at its as_of
    (`feature_store.identity_as_of`), whose facts are those of the records linked to it by links
    known before as_of. Today's profile ids name whole profiles; a part of a profile not yet
    linked at as_of is keyed `<profile_id>#<hash>`.

    Args:
        con: warehouse connection holding `staging.*`, `identity.record_xref` and `identity.links`.
        spine: one row per example: `as_of` (date or datetime), the join keys of the service's
            views (`profile_id`, and `offer_id` for offer features), and any label columns.
        service: the features to compute.
        offer_field: the orders column that names an offer (`product_category` or `product_id`).
        stored: profile views' features already computed for the spine's one as_of (see
            `feature_query`); None computes everything.

    Returns:
        The spine's columns, in its row order, followed by the service's features in service order.

    Example:
        >>> spine = pl.DataFrame({"profile_id": ["p1"], "as_of": [date(2024, 6, 1)]})
        >>> training_set(con, spine, CHURN_RISK)  # doctest: +SKIP
    """
    views = service_views(service)
    _check_spine(spine, service, views)
    name = f"_spine_input_{uuid.uuid4().hex}"
    cutoffs = [as_datetime(value) for value in spine["as_of"].unique().to_list()]
    con.register(name, spine.with_row_index("_spine_row").to_arrow())
    try:
        with identity_as_of(con, cutoffs) as at:
            sql = feature_query(con, spine.columns, service, offer_field, at=at, stored=stored)
            sql = sql.replace("_spine_input", name)
            return con.sql(sql).pl()
    finally:
        con.unregister(name)


def profiles_spine(con: duckdb.DuckDBPyConnection, as_of: datetime | date) -> pl.DataFrame:
    """Every profile in `identity.record_xref`, with one as_of.

    Args:
        con: warehouse connection.
        as_of: the date the features describe.

    Returns:
        A frame `profile_id, as_of`, ordered by profile_id.
    """
    return con.sql(
        f"SELECT DISTINCT profile_id, CAST(? AS TIMESTAMP) AS as_of FROM {xref_sql(con)} "
        "WHERE profile_id IS NOT NULL ORDER BY profile_id",
        params=[as_of],
    ).pl()


def latest_features(
    con: duckdb.DuckDBPyConnection,
    service: FeatureService,
    as_of: datetime | date,
    *,
    profile_ids: list[str] | None = None,
    offer_field: str = "product_category",
) -> pl.DataFrame:
    """A service's features as of one date, for scoring: the same SQL as `training_set`.

    Args:
        con: warehouse connection.
        service: a service whose views are keyed by `profile_id` only.
        as_of: features use facts strictly before it.
        profile_ids: the profiles to describe; every profile in `identity.record_xref` when None.
        offer_field: the orders column that names an offer.

    Returns:
        `profile_id, as_of` and the service's features, one row per profile.
    """
    if profile_ids is None:
        spine = profiles_spine(con, as_of)
    else:
        spine = pl.DataFrame({"profile_id": profile_ids}, schema={"profile_id": pl.String}).with_columns(
            as_of=pl.lit(as_of).cast(pl.Datetime("us"))
        )
    return training_set(con, spine, service, offer_field=offer_field)
