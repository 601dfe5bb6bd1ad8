"""`kindred grounding`: what the last run handed to the CRM and its copilots."""

from __future__ import annotations

from typing import Annotated

import typer

from pipelines.cli.app import app, console, fail


@app.command()
def grounding(
    crm_object: Annotated[str, typer.Argument(help="The CRM object, e.g. Lead or Contact.")],
    crm_record_id: Annotated[str, typer.Argument(help="The record's id in the CRM.")],
    source: Annotated[str | None, typer.Option(help="The people source, when two hold the same id.")] = None,
) -> None:
    """Print the PII-masked grounding document of one CRM record, as the last run wrote it."""
    import json

    from activation.grounding import grounding_for
    from warehouse.home import warehouse_path

    if not warehouse_path().is_file():
        fail(f"no warehouse at {warehouse_path()}: run `kindred run` first (or set KINDRED_HOME)")
    import duckdb

    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        try:
            document = grounding_for(con, crm_object, crm_record_id, source=source)
        except (LookupError, ValueError) as error:
            fail(str(error).strip("'\""))
    console.print_json(json.dumps(document))
