"""The SQL of one feature view's aggregates over its facts, for the spine's keys and cut-offs.

Facts are aggregated per (keys, cut-off) first and the spine's keys joined after, so the work
follows the facts, not the spine rows; keys without facts get each aggregate's value over nothing.
"""

from __future__ import annotations

import duckdb

from feature_store.identity_as_of import IdentityAsOf
from feature_store.sources import source_sql
from feature_store.vocabulary import Feature, FeatureView


def _aggregate_sql(view: FeatureView, feature: Feature) -> str:
    # Every aggregation but `count_distinct`, which `_view_sql` counts from its own grouping.
    filters = []
    if feature.window_days and (view.ttl_days is None or feature.window_days < view.ttl_days):
        filters.append(f"f.ts >= f._as_of - INTERVAL {int(feature.window_days)} DAY")
    if feature.where:
        filters.append(f"({feature.where})")
    if feature.aggregation == "latest":
        filters.append(f"({feature.expression}) IS NOT NULL")
    flt = f" FILTER (WHERE {' AND '.join(filters)})" if filters else ""
    expression = feature.expression
    sql = {
        "count": f"count(f.ts){flt}",
        "sum": f"coalesce(sum({expression}){flt}, 0)",
        "any": f"coalesce(bool_or({expression}){flt}, false)",
        "latest": f"arg_max({expression}, f.ts){flt}",
        "mean": f"avg({expression}){flt}",
        "std": f"stddev_samp({expression}){flt}",
        "max": f"max({expression}){flt}",
        "days_since_last": f"date_diff('second', max(f.ts){flt}, f._as_of) / 86400.0",
        "days_since_first": f"date_diff('second', min(f.ts){flt}, f._as_of) / 86400.0",
    }[feature.aggregation]
    return sql.replace("{as_of}", "f._as_of")


# What an aggregate is over no facts at all, for keys with no fact in the view's window.
_EMPTY_VALUE = {"count": "0", "count_distinct": "0", "sum": "0", "any": "false"}


def _view_sql(
    con: duckdb.DuckDBPyConnection, view: FeatureView, names: list[str], offer_field: str, at: IdentityAsOf
) -> str:
    keys = view.entity.join_keys
    key_list = "".join(f"{key}, " for key in keys)
    f_keys = "".join(f"f.{key}, " for key in keys)
    # Facts come once per cut-off (`_as_of`), attributed to the person as known at it
    # (`identity_as_of`); a row's window is [as_of - ttl, as_of).
    window = ["f.ts < f._as_of"]
    if view.ttl_days is not None:
        window.append(f"f.ts >= f._as_of - INTERVAL {int(view.ttl_days)} DAY")
    facts = source_sql(
        con,
        view.source,
        offer_field,
        at=at,
        ttl_days=view.ttl_days,
        people="_spine" if "profile_id" in keys else None,
    )
    facts_name = f"_facts_{view.name}"
    wanted = [feature for feature in view.features if feature.name in names]
    # Facts are aggregated per (keys, as_of) first and the spine's keys joined after: grouping
    # the few keys with facts, not every spine row (six million (person, offer) pairs, most with
    # no fact at all). Keys without facts get each aggregate's value over nothing.
    plain = [feature for feature in wanted if feature.aggregation != "count_distinct"]
    aggregates = "".join(f", {_aggregate_sql(view, feature)} AS {feature.name}" for feature in plain)
    groups = (
        [f"SELECT {f_keys}f._as_of{aggregates} FROM {facts_name} f GROUP BY {f_keys}f._as_of"]
        if plain
        else []
    )
    # DuckDB gives every count(DISTINCT ...) FILTER its own hash aggregate and join (six over the
    # order lines of a million people took 23 s). Counted instead: group the facts once per
    # distinct expression by (keys, value), keep each feature's latest qualifying time, and count
    # the values whose latest time falls in the feature's window: the same number.
    by_expression: dict[str, list[Feature]] = {}
    for feature in wanted:
        if feature.aggregation == "count_distinct":
            by_expression.setdefault(str(feature.expression), []).append(feature)
    for expression, features in by_expression.items():
        latest = ", ".join(
            f"max(f.ts){' FILTER (WHERE ' + feature.where + ')' if feature.where else ''} AS _latest_{feature.name}"
            for feature in features
        ).replace("{as_of}", "f._as_of")
        counts = ", ".join(
            f"count(_latest_{feature.name})"
            + (
                f" FILTER (WHERE _latest_{feature.name} >= _as_of - INTERVAL {int(feature.window_days)} DAY)"
                if feature.window_days and (view.ttl_days is None or feature.window_days < view.ttl_days)
                else ""
            )
            + f" AS {feature.name}"
            for feature in features
        )
        values = (
            f"SELECT {f_keys}f._as_of, {latest} FROM {facts_name} f "
            f"WHERE ({expression}) IS NOT NULL GROUP BY {f_keys}f._as_of, ({expression})"
        )
        groups.append(f"SELECT {key_list}_as_of, {counts} FROM ({values}) GROUP BY {key_list}_as_of")
    joins = " ".join(
        f"LEFT JOIN ({group}) g{i} ON "
        + " AND ".join([f"g{i}.{key} = k.{key}" for key in keys] + [f"g{i}._as_of = k._as_of"])
        for i, group in enumerate(groups)
    )
    # Each feature comes from exactly one group; `plain` features from g0 when there are any.
    source_of = {feature.name: 0 for feature in plain}
    for i, features in enumerate(by_expression.values(), start=1 if plain else 0):
        source_of.update({feature.name: i for feature in features})
    columns = "".join(
        f", coalesce(g{source_of[feature.name]}.{feature.name}, {_EMPTY_VALUE[feature.aggregation]}) AS {feature.name}"
        if feature.aggregation in _EMPTY_VALUE
        else f", g{source_of[feature.name]}.{feature.name} AS {feature.name}"
        for feature in wanted
    )
    materialized = "MATERIALIZED " if len(groups) > 1 else ""
    return (
        f"WITH {facts_name} AS {materialized}(SELECT * FROM ({facts}) f WHERE {' AND '.join(window)}) "
        f"SELECT {''.join(f'k.{key}, ' for key in keys)}k._as_of{columns} "
        f"FROM _keys_{view.entity.name} k {joins}"
    )


def view_sql(
    con: duckdb.DuckDBPyConnection,
    view: FeatureView,
    names: list[str],
    offer_field: str,
    *,
    at: IdentityAsOf,
    stored: str | None = None,
) -> str:
    """The SQL of one view's features for the distinct keys of the spine relation `_spine`.

    Args:
        con: warehouse connection.
        view: the feature view.
        names: the features of the view wanted (others are not computed).
        offer_field: the orders column that names an offer, or `CATALOG`.
        at: the spine's cut-offs and the identity as of each.
        stored: a relation with the profile views' features at the spine's as_of (see
            `point_in_time.feature_query`); profile views are read from it.

    Returns:
        SQL text: the view's join keys, `_as_of`, then the wanted features; it reads the spine's
        distinct keys from `_keys_<entity name>`.
    """
    if stored is None or view.entity.join_keys != ("profile_id",):
        return _view_sql(con, view, names, offer_field, at)
    columns = "".join(f", {feature.name}" for feature in view.features if feature.name in names)
    return f"SELECT profile_id, CAST(as_of AS TIMESTAMP) AS _as_of{columns} FROM {stored}"
