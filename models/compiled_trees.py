"""A LightGBM model's trees compiled to machine code (lleaves, LLVM) for scoring millions of rows.

LightGBM walks its trees node by node for every row; the offer ranker scores several (person,
offer) pairs per customer with hundreds of trees, which at a million customers took longer than
everything else a run scores. lleaves turns each tree into nested branches of native code and
gives the same probabilities (to rounding in the last bits: the same thresholds, the same
doubles, the same sigmoid) several times faster; compiling takes a few seconds, so it only pays
above `COMPILE_ABOVE` row-trees, and smaller frames keep LightGBM's own predict.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.pipeline import Pipeline

from models.estimator import pipeline_features

log = logging.getLogger(__name__)

# Rows x trees above which compiling (a few seconds for 300 trees) costs less than it saves.
COMPILE_ABOVE = 50_000_000
THREADS = 2


def compiled_model(classifier: LGBMClassifier):
    """A fitted LightGBM classifier's trees compiled to native code.

    Args:
        classifier: a fitted LGBMClassifier.

    Returns:
        The compiled `lleaves.Model`; its `predict` gives probabilities for binary models.
    """
    import lleaves

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kindred-trees-") as folder:
        path = Path(folder) / "model.txt"
        path.write_text(classifier.booster_.model_to_string())
        model = lleaves.Model(model_file=str(path))
        model.compile()
    log.info("compiled %d trees in %.1f s", classifier.booster_.num_trees(), time.perf_counter() - started)
    return model


def positive_probability(
    pipeline: Pipeline, x: pd.DataFrame, *, compile_trees: bool | None = None
) -> np.ndarray:
    """The probability of the positive class for each row, from the compiled trees when that pays.

    Args:
        pipeline: a fitted, uncalibrated pipeline from `models.estimator.fit_pipeline`.
        x: its input (`models.estimator.model_input`).
        compile_trees: True or False to force either way; None compiles above `COMPILE_ABOVE`
            row-trees. Pipelines with categorical features always use LightGBM's predict
            (lleaves reads category codes as integers; the pipeline's unknown categories are NaN).

    Returns:
        One probability per row, equal to `pipeline.predict_proba(x)[:, 1]` to rounding.
    """
    classifier = pipeline.named_steps["classify"]
    if not isinstance(classifier, LGBMClassifier):
        raise TypeError("compiled trees score an uncalibrated LightGBM pipeline only")
    if len(x) == 0:
        return np.array([], dtype=np.float64)
    encoded = np.ascontiguousarray(pipeline.named_steps["prepare"].transform(x), dtype=np.float64)
    if compile_trees is None:
        compile_trees = len(encoded) * classifier.booster_.num_trees() >= COMPILE_ABOVE
    if not compile_trees or pipeline_features(pipeline)[1]:
        return classifier.predict_proba(encoded)[:, 1]
    return np.asarray(compiled_model(classifier).predict(encoded, n_jobs=THREADS), dtype=np.float64)
