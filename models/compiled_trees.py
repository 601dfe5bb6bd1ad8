"""A LightGBM model's trees compiled to machine code (lleaves, LLVM) for scoring millions of rows.

LightGBM walks its trees node by node for every row; the offer ranker scores several (person,
offer) pairs per customer with hundreds of trees, which at a million customers took longer than
everything else a run scores. lleaves turns each tree into nested branches of native code and
gives the same probabilities (to rounding in the last bits: the same thresholds, the same
doubles, the same sigmoid) several times faster; compiling takes a few seconds, so it only pays
above `COMPILE_ABOVE` row-trees, and smaller frames keep LightGBM's own predict.

Compiled code is kept under `$KINDRED_HOME/compiled_trees/`, named by a hash of the model and
of the machine's CPU it was compiled for: a champion scoring run after run compiles once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import polars as pl
from lightgbm import LGBMClassifier
from sklearn.pipeline import Pipeline

from models.model_input import model_input, numeric_matrix, pipeline_features
from warehouse.home import kindred_home

log = logging.getLogger(__name__)

# Rows x trees above which compiling (a few seconds for 300 trees) costs less than it saves.
COMPILE_ABOVE = 50_000_000
THREADS = 2
CACHE_FOLDER = "compiled_trees"
# Compiled models kept, the most recently used first: a champion and the few before it. Each new
# champion adds a file of a few hundred kilobytes, and older ones are never loaded again.
KEEP_COMPILED = 10


def _cache_key(model_text: str) -> str:
    """The model's trees, lleaves' version and the CPU the code is generated for."""
    from llvmlite import binding

    host = (binding.get_host_cpu_name(), binding.get_host_cpu_features().flatten())
    versions = (metadata.version("lleaves"), metadata.version("llvmlite"))
    return hashlib.sha256(repr((model_text, versions, host)).encode()).hexdigest()


def compiled_model(classifier: LGBMClassifier, cache: Path | None = None):
    """A fitted LightGBM classifier's trees compiled to native code.

    Args:
        classifier: a fitted LGBMClassifier.
        cache: a folder keeping compiled models (None: `$KINDRED_HOME/compiled_trees`). A model
            compiled before on this CPU is loaded from it instead of compiled again.

    Returns:
        The compiled `lleaves.Model`; its `predict` gives probabilities for binary models.
    """
    import lleaves

    started = time.perf_counter()
    model_text = classifier.booster_.model_to_string()
    folder = kindred_home() / CACHE_FOLDER if cache is None else cache
    folder.mkdir(parents=True, exist_ok=True)
    cached = folder / f"{_cache_key(model_text)}.o"
    loaded = cached.exists()
    with tempfile.TemporaryDirectory(prefix="kindred-trees-") as scratch:
        path = Path(scratch) / "model.txt"
        path.write_text(model_text)
        model = lleaves.Model(model_file=str(path))
        if loaded:
            model.compile(cache=str(cached))
            os.utime(cached)  # used now: kept the longest
        else:
            # Written beside the cache and renamed into it: a run stopped half way leaves no
            # half-written code for the next run to load.
            written = Path(scratch) / "model.o"
            model.compile(cache=str(written))
            partial = folder / f".{cached.name}.{os.getpid()}"
            partial.write_bytes(written.read_bytes())
            partial.replace(cached)
            prune_compiled(folder)
    log.info(
        "%s %d trees in %.1f s",
        "loaded the compiled" if loaded else "compiled",
        classifier.booster_.num_trees(),
        time.perf_counter() - started,
    )
    return model


def prune_compiled(folder: Path, keep: int = KEEP_COMPILED) -> list[Path]:
    """Delete all but the `keep` most recently used compiled models in `folder`.

    Args:
        folder: the compiled models' folder.
        keep: how many to keep.

    Returns:
        The files deleted.
    """
    compiled = sorted(folder.glob("*.o"), key=lambda path: path.stat().st_mtime, reverse=True)
    for path in compiled[keep:]:
        path.unlink(missing_ok=True)
    return compiled[keep:]


def positive_probability(
    pipeline: Pipeline, frame: pl.DataFrame, *, compile_trees: bool | None = None, cache: Path | None = None
) -> np.ndarray:
    """The probability of the positive class for each row, from the compiled trees when that pays.

    Args:
        pipeline: a fitted, uncalibrated pipeline from `models.estimator.fit_pipeline`.
        frame: rows with the pipeline's features (as `models.model_input.model_input` takes them).
        compile_trees: True or False to force either way; None compiles above `COMPILE_ABOVE`
            row-trees. Pipelines with categorical features always use LightGBM's predict
            (lleaves reads category codes as integers; the pipeline's unknown categories are NaN).
        cache: the compiled models' folder (see `compiled_model`).

    Returns:
        One probability per row, equal to `pipeline.predict_proba(model_input(frame, ...))[:, 1]`
        to rounding.
    """
    classifier = pipeline.named_steps["classify"]
    if not isinstance(classifier, LGBMClassifier):
        raise TypeError("compiled trees score an uncalibrated LightGBM pipeline only")
    features, categorical = pipeline_features(pipeline)
    if frame.height == 0:
        return np.array([], dtype=np.float64)
    if compile_trees is None:
        compile_trees = frame.height * classifier.booster_.num_trees() >= COMPILE_ABOVE
    if not compile_trees or categorical:
        encoded = pipeline.named_steps["prepare"].transform(model_input(frame, features, categorical))
        return classifier.predict_proba(encoded)[:, 1]
    # All numeric: the prepare step passes the numbers through, so they go to the trees directly.
    encoded = numeric_matrix(frame, features)
    return np.asarray(compiled_model(classifier, cache).predict(encoded, n_jobs=THREADS), dtype=np.float64)
