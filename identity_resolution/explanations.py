"""Why a pair was linked: each scored pair's match weight and every compared field's level and
weight, strongest first, as one JSON object per pair (`identity.links.explanation`).

Splink writes each level's match weight as a literal, so the level of every comparison is read
back from its weight (`mw_*`); the matching columns need not travel with every blocked pair.
"""

from __future__ import annotations

import math

import polars as pl


def labels_by_gamma(settings: dict) -> dict[str, dict[int, str]]:
    """Each comparison's level labels by Splink's comparison vector value (gamma): non-null
    levels are numbered from the top, n-1 down to 0.

    Args:
        settings: a Splink settings dict.

    Returns:
        comparison name -> gamma -> label.
    """
    labels = {}
    for comparison in settings.get("comparisons", []):
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        n = len(levels)
        labels[comparison["output_column_name"]] = {
            n - 1 - i: lv.get("label_for_charts") or lv["sql_condition"] for i, lv in enumerate(levels)
        }
    return labels


M_U_CLAMP = 1e-300  # Splink's own floor on m and u before it takes log2(m/u)


def _levels_from_weights(scored: pl.DataFrame, settings: dict) -> pl.DataFrame:
    """Add `gamma_<comparison>` from `mw_<comparison>`: Splink writes each level's match weight,
    log2(m/u), as a literal, so the weight identifies the level (a null level weighs exactly 0)."""
    added = []
    for comparison in settings.get("comparisons", []):
        name = comparison["output_column_name"]
        if f"gamma_{name}" in scored.columns or f"mw_{name}" not in scored.columns:
            continue
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        n = len(levels)
        gamma = pl.lit(-1, dtype=pl.Int64)
        for i, level in reversed(list(enumerate(levels))):
            m = max(level.get("m_probability") or M_U_CLAMP, M_U_CLAMP)
            u = max(level.get("u_probability") or M_U_CLAMP, M_U_CLAMP)
            matches = (pl.col(f"mw_{name}") - math.log2(m / u)).abs() < 1e-9
            gamma = pl.when(matches).then(pl.lit(n - 1 - i, dtype=pl.Int64)).otherwise(gamma)
        added.append(gamma.alias(f"gamma_{name}"))
    return scored.with_columns(added) if added else scored


def with_explanations(scored: pl.DataFrame, settings: dict) -> pl.DataFrame:
    """Predictions -> pairs with a JSON explanation (match weight, each field's level and weight).

    Args:
        scored: Splink predictions with intermediate columns (`gamma_*`, `mw_*`).
        settings: the model's settings dict (level labels).

    Returns:
        `unique_id_l, unique_id_r, match_weight, match_probability, explanation`.
    """
    columns = ["unique_id_l", "unique_id_r", "match_weight", "match_probability", "explanation"]
    if scored.height == 0:
        schema = {
            "unique_id_l": pl.UInt32,
            "unique_id_r": pl.UInt32,
            "match_weight": pl.Float64,
            "match_probability": pl.Float64,
            "explanation": pl.Utf8,
        }
        return pl.DataFrame(schema=schema)
    scored = _levels_from_weights(scored, settings).with_row_index("_pair")
    parts = []
    for name, labels in labels_by_gamma(settings).items():
        gamma, weight, tf_weight = f"gamma_{name}", f"mw_{name}", f"mw_tf_adj_{name}"
        if gamma not in scored.columns:
            continue
        total = pl.col(weight) + (pl.col(tf_weight).fill_null(0.0) if tf_weight in scored.columns else 0.0)
        parts.append(
            scored.filter(pl.col(gamma) >= 0).select(
                "_pair",
                pl.lit(name).alias("field"),
                pl.col(gamma).replace_strict(labels, default=None, return_dtype=pl.Utf8).alias("level"),
                total.round(3).alias("weight"),
            )
        )
    # One JSON object per pair, fields strongest first; built as text in long form, which is much
    # faster than sorting a list of structs inside every row.
    fields = (
        pl.concat(parts)
        .sort(["_pair", "weight", "field"], descending=[False, True, False])
        .group_by("_pair", maintain_order=True)
        .agg(
            pl.concat_str(
                pl.lit('{"field":"'),
                "field",
                pl.lit('","level":"'),
                pl.col("level").str.replace_all('"', "'"),
                pl.lit('","weight":'),
                pl.col("weight").cast(pl.Utf8),
                pl.lit("}"),
            )
            .str.join(",")
            .alias("_fields")
        )
    )
    explanation = pl.concat_str(
        pl.lit('{"match_weight":'),
        pl.col("match_weight").round(3).cast(pl.Utf8),
        pl.lit(',"fields":['),
        pl.col("_fields").fill_null(""),
        pl.lit("]}"),
    )
    return (
        scored.join(fields, on="_pair", how="left")
        .sort("_pair")
        .select(
            pl.col("unique_id_l").cast(pl.UInt32),
            pl.col("unique_id_r").cast(pl.UInt32),
            pl.col("match_weight").cast(pl.Float64),
            pl.col("match_probability").cast(pl.Float64),
            explanation.alias("explanation"),
        )
        .select(columns)
    )
