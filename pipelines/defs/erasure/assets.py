"""Erasure upkeep at the end of every run: no old copy of an erased person's rows stays on disk."""

import dagster as dg

from privacy.erasure import finish_pending
from warehouse.home import warehouse_path

_STAGING = [["staging", kind] for kind in ("people", "events", "orders", "cases")]


@dg.asset(
    key=["privacy", "erasure_receipts"],
    description="Erasure receipts (kindred forget), finished here when an erasure was interrupted; and the "
    "warehouse file rewritten when staging set aside rows of an erased person that arrived again, so no "
    "byte of them stays on disk. One row per erasure.",
    deps=_STAGING,
    kinds={"duckdb"},
    pool="duckdb",
)
def erasure_receipts(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    # No connection is open here: the rewrite swaps the warehouse file.
    finished = finish_pending(warehouse_path())
    if finished:
        context.log.warning("finished %d interrupted erasure(s)", len(finished))
    return dg.MaterializeResult(metadata={"erasures_finished": len(finished)})
