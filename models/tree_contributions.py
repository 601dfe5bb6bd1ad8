"""LightGBM's exact TreeSHAP contributions (`pred_contrib`) for many rows, computed once per pattern.

Within one tree, a row's TreeSHAP values depend on the row only through the side it takes at each
of the tree's splits, so rows taking the same sides get the same values. For each tree the rows are
grouped by that pattern of sides, LightGBM computes the contributions of that one tree for one row
per pattern (`start_iteration`, `num_iteration=1`), and every row receives its pattern's values.
A tree of 15 leaves has at most a few thousand patterns however many rows there are, so a million
people cost a few thousand TreeSHAP evaluations per tree instead of a million.

The sides are worked out here with LightGBM's own rules (missing values, zero, categorical sets);
before any tree's values are used, the leaf each row reaches by those sides is checked against
LightGBM's `pred_leaf`. Any disagreement (or a tree too large to code its pattern in 62 bits)
falls back to LightGBM's `pred_contrib` on every row, so the result is always LightGBM's.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import lightgbm
import numpy as np

log = logging.getLogger(__name__)

# Below this many rows LightGBM's own pass over every row is as quick as grouping them.
MIN_ROWS = 20_000
# LightGBM treats |value| <= this as zero (kZeroThreshold).
_ZERO = 1e-35
_MAX_SPLITS = 62
# Up to this many splits, patterns are numbered through a table of 2^splits entries.
_TABLE_SPLITS = 20
# Threads sharing the trees: the machine's two cores.
THREADS = 2


def _splits(node: dict, found: list[dict]) -> list[dict]:
    """The tree's split nodes, root first, each numbered by its place in the list (`_column`)."""
    if "leaf_index" in node:
        return found
    node["_column"] = len(found)
    found.append(node)
    _splits(node["left_child"], found)
    _splits(node["right_child"], found)
    return found


def _goes_left(column: np.ndarray, missing: np.ndarray, split: dict) -> np.ndarray:
    """LightGBM's `NumericalDecision` / `CategoricalDecision` for one split, on a column of values."""
    if split["decision_type"] == "==":
        # A missing value or a negative code goes right; a code goes left when it is in the set.
        codes = np.trunc(column)
        categories = [float(c) for c in str(split["threshold"]).split("||")]
        left = np.zeros(len(column), dtype=bool)
        for category in categories:
            left |= codes == category
        return left
    threshold, default_left = float(split["threshold"]), bool(split["default_left"])
    missing_type = split["missing_type"]
    if missing_type == "NaN":
        below = column <= threshold  # False for NaN, which then goes to the default side
        return below | missing if default_left else below
    zeroed = np.where(missing, 0.0, column) if missing.any() else column
    below = zeroed <= threshold
    if missing_type == "Zero":
        zero = np.abs(zeroed) <= _ZERO
        return below | zero if default_left else below & ~zero
    return below


def _leaves(node: dict, left: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """The leaf each row reaches following the sides in `left` (rows: the rows at this node)."""
    if "leaf_index" in node:
        out[rows] = node["leaf_index"]
        return
    goes = left[rows, node["_column"]]
    _leaves(node["left_child"], left, rows[goes], out)
    _leaves(node["right_child"], left, rows[~goes], out)


def _tree_patterns(
    encoded: np.ndarray, missing: np.ndarray, tree: dict, reached: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """(one row per pattern, each row's pattern), or None when the sides disagree with LightGBM."""
    splits = _splits(tree["tree_structure"], [])
    rows = encoded.shape[0]
    if not splits:
        return np.zeros(1, dtype=np.int64), np.zeros(rows, dtype=np.int64)
    if len(splits) > _MAX_SPLITS:
        return None
    code = np.zeros(rows, dtype=np.int64)
    for bit, split in enumerate(splits):
        goes = _goes_left(encoded[:, split["split_feature"]], missing[:, split["split_feature"]], split)
        code |= goes.astype(np.int64) << bit
    if len(splits) > _TABLE_SPLITS:
        _, first, pattern = np.unique(code, return_index=True, return_inverse=True)
        pattern = pattern.reshape(-1)
    else:
        # Few splits: a lookup table over every possible code numbers the patterns without sorting.
        number = np.full(1 << len(splits), -1, dtype=np.int64)
        seen = np.zeros(1 << len(splits), dtype=bool)
        seen[code] = True
        codes = np.flatnonzero(seen)
        number[codes] = np.arange(len(codes))
        pattern = number[code]
        first = np.empty(len(codes), dtype=np.int64)
        first[pattern[::-1]] = np.arange(rows - 1, -1, -1)
    # Rows with one pattern reach one leaf: the leaf is worked out once per pattern, and every
    # row's is checked against LightGBM's.
    left = (code[first][:, None] >> np.arange(len(splits), dtype=np.int64)) & 1 == 1
    leaf_of_pattern = np.empty(len(first), dtype=np.int64)
    _leaves(tree["tree_structure"], left, np.arange(len(first)), leaf_of_pattern)
    if not np.array_equal(leaf_of_pattern[pattern], reached):
        return None
    return first, pattern


def tree_contributions(
    booster: lightgbm.Booster, encoded: np.ndarray, *, min_rows: int = MIN_ROWS
) -> np.ndarray:
    """LightGBM's `pred_contrib` of a binary model: one column per feature, then the expected value.

    Args:
        booster: a fitted binary LightGBM booster.
        encoded: the rows as the booster takes them (floats; categories as their codes).
        min_rows: with fewer rows, LightGBM computes every row itself.

    Returns:
        An array (rows, features + 1), equal to `booster.predict(encoded, pred_contrib=True)` up
        to floating-point rounding in the sum over trees.
    """
    encoded = np.asarray(encoded, dtype=np.float64)
    if encoded.shape[0] < min_rows:
        return booster.predict(encoded, pred_contrib=True)
    # Column after column: each split reads one feature of every row.
    columns = np.asfortranarray(encoded)
    missing = np.isnan(columns)
    reached = booster.predict(encoded, pred_leaf=True).reshape(encoded.shape[0], -1)
    trees = booster.dump_model()["tree_info"]
    # The trees are shared out between threads: numpy releases the GIL for the per-row work, so
    # each core works out its own trees' patterns and sums, and the partial sums are added.
    shares = [
        list(part)
        for part in np.array_split(np.arange(len(trees)), max(1, min(THREADS, len(trees))))
        if len(part)
    ]

    predicting = threading.Lock()

    def sum_of(numbers: list[int]) -> np.ndarray | None:
        total = np.zeros((encoded.shape[0], encoded.shape[1] + 1), order="F")
        for number in numbers:
            patterns = _tree_patterns(columns, missing, trees[number], reached[:, number])
            if patterns is None:
                log.warning(
                    "tree %d: split sides do not match LightGBM's leaves; computing every row", number
                )
                return None
            first, pattern = patterns
            with predicting:  # a Booster keeps one predictor for its iteration range: one at a time
                values = booster.predict(
                    encoded[first], start_iteration=number, num_iteration=1, pred_contrib=True
                )
            for used in np.flatnonzero(np.any(values != 0.0, axis=0)):
                total[:, used] += values[pattern, used]
        return total

    with ThreadPoolExecutor(max_workers=len(shares)) as pool:
        sums = list(pool.map(sum_of, shares))
    if any(part is None for part in sums):
        return booster.predict(encoded, pred_contrib=True)
    return (
        np.ascontiguousarray(np.sum(sums, axis=0))
        if sums
        else np.zeros((encoded.shape[0], encoded.shape[1] + 1))
    )
