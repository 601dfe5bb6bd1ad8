"""LightGBM's exact TreeSHAP contributions (`pred_contrib`) for many rows, computed once per pattern.

Within one tree, a row's TreeSHAP values depend on the row only through the side it takes at each
of the tree's splits, so rows taking the same sides get the same values. For each tree the rows are
grouped by that pattern of sides, LightGBM computes the contributions of that one tree for one row
per pattern (`start_iteration`, `num_iteration=1`), and every row receives its pattern's values.
A tree of 15 leaves has at most a few thousand patterns however many rows there are, so a million
people cost a few thousand TreeSHAP evaluations per tree instead of a million.

The sides are worked out here with LightGBM's own rules (missing values, zero, categorical sets),
and the result is checked against LightGBM before it is returned:
- every row's contributions must add up to LightGBM's raw score for it (TreeSHAP's values of one
  tree add up to the value of the leaf the row reaches, so a row grouped with rows reaching another
  leaf of any tree is off by the difference);
- a sample of rows must get LightGBM's own `pred_contrib`, which also covers the sides at splits
  off a row's path.
Any disagreement (or a tree too large to code its pattern in 62 bits) falls back to LightGBM's
`pred_contrib` on every row, so the result is always LightGBM's.
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
# Up to this many splits, a pattern's code indexes a table of 2^splits entries directly.
_TABLE_SPLITS = 20
# Threads sharing the trees: the machine's two cores.
THREADS = 2
# Rows compared with LightGBM's own `pred_contrib` in full, and the tolerance of every comparison
# (the same values, added up in another order).
CHECKED_ROWS = 1_000
_TOLERANCE = 1e-9


def _splits(node: dict, found: list[dict]) -> list[dict]:
    """The tree's split nodes, root first."""
    if "leaf_index" in node:
        return found
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


def _code_type(splits: int) -> type[np.unsignedinteger]:
    """The smallest unsigned integer holding one bit per split: small codes stay in the cache."""
    for kind in (np.uint8, np.uint16, np.uint32):
        if splits <= np.iinfo(kind).bits:
            return kind
    return np.uint64


def _tree_patterns(
    columns: np.ndarray, missing: np.ndarray, tree: dict
) -> tuple[np.ndarray, np.ndarray] | None:
    """(one row per pattern, each row's pattern number), or None for a tree with too many splits."""
    splits = _splits(tree["tree_structure"], [])
    rows = columns.shape[0]
    if not splits:
        return np.zeros(1, dtype=np.intp), np.zeros(rows, dtype=np.intp)
    if len(splits) > _MAX_SPLITS:
        return None
    kind = _code_type(len(splits))
    code = np.zeros(rows, dtype=kind)
    for bit, split in enumerate(splits):
        goes = _goes_left(columns[:, split["split_feature"]], missing[:, split["split_feature"]], split)
        code |= np.left_shift(goes, kind(bit), dtype=kind)
    if len(splits) > _TABLE_SPLITS:
        _, first, pattern = np.unique(code, return_index=True, return_inverse=True)
        return first, pattern.reshape(-1)
    # Few splits: the code itself numbers the patterns, through a table of every possible code.
    pattern = code.astype(np.intp)
    last = np.full(1 << len(splits), -1, dtype=np.intp)
    last[pattern] = np.arange(rows)  # some row of each code (the same values whichever it is)
    present = np.flatnonzero(last >= 0)
    number = np.empty(len(last), dtype=np.intp)
    number[present] = np.arange(len(present))
    return last[present], number[pattern]


def _add_tree(total: np.ndarray, values: np.ndarray, pattern: np.ndarray) -> None:
    """Add one tree's contributions (one row of `values` per pattern) to every row's total."""
    for used in np.flatnonzero(np.any(values != 0.0, axis=0)):
        column = values[:, used]
        if np.all(column == column[0]):  # e.g. the expected value: the same for every row
            total[:, used] += column[0]
        else:
            total[:, used] += np.take(np.ascontiguousarray(column), pattern)


def _agrees_with_lightgbm(booster: lightgbm.Booster, encoded: np.ndarray, total: np.ndarray) -> bool:
    """Whether the contributions add up to LightGBM's raw scores and a sample of rows equals its own."""
    raw = booster.predict(encoded, raw_score=True)
    if not np.allclose(total.sum(axis=1), raw, rtol=0, atol=_TOLERANCE):
        return False
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(encoded.shape[0], min(CHECKED_ROWS, encoded.shape[0]), replace=False))
    exact = booster.predict(encoded[sample], pred_contrib=True)
    return bool(np.allclose(total[sample], exact, rtol=0, atol=_TOLERANCE))


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
            patterns = _tree_patterns(columns, missing, trees[number])
            if patterns is None:
                log.warning("tree %d has too many splits to group its rows; computing every row", number)
                return None
            first, pattern = patterns
            with predicting:  # a Booster keeps one predictor for its iteration range: one at a time
                values = booster.predict(
                    encoded[first], start_iteration=number, num_iteration=1, pred_contrib=True
                )
            _add_tree(total, values, pattern)
        return total

    with ThreadPoolExecutor(max_workers=len(shares)) as pool:
        sums = list(pool.map(sum_of, shares))
    if not sums:
        return np.zeros((encoded.shape[0], encoded.shape[1] + 1))
    if any(part is None for part in sums):
        return booster.predict(encoded, pred_contrib=True)
    total = sums[0]
    for part in sums[1:]:
        total += part
    if not _agrees_with_lightgbm(booster, encoded, total):
        log.warning("split sides do not match LightGBM's trees; computing every row")
        return booster.predict(encoded, pred_contrib=True)
    return np.ascontiguousarray(total)
