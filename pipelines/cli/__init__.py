"""The `kindred` command line. Each module registers its commands on the one Typer app."""

from __future__ import annotations

import logging
import os

from pipelines.cli import (  # noqa: F401, I001  (registers the commands, in help order)
    activation,
    crm,
    generate,
    identity,
    keys,
    pipeline,
    predict,
    privacy,
    segments,
    serve,
)
from pipelines.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point with logging set up for the command line."""
    # LightGBM's OpenMP threads spin while idle unless told otherwise; on a busy 2-core machine
    # that makes fits up to 10x slower. Must be set before LightGBM is imported.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # Great Expectations draws a progress bar per suite; the run prints its own summary instead.
    os.environ.setdefault("TQDM_DISABLE", "1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Great Expectations logs every ephemeral context it creates at INFO.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    app()
