"""Kindred's Dagster code location: every stage's assets and checks, one resource, one executor."""

from pathlib import Path

import dagster as dg

from pipelines.resources import KindredResource


@dg.definitions
def defs() -> dg.Definitions:
    """Load `pipelines/defs/` and add what is global: the resource and the in-process executor."""
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        dg.Definitions(
            resources={"kindred": KindredResource()},
            # DuckDB has a single writer: run every step in one process, one after another.
            executor=dg.in_process_executor,
        ),
    )
