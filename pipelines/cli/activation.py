"""`kindred grounding`: what the last run handed to the CRM and its copilots."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.app import app, console, fail


@app.command()
def grounding(
    crm_object: Annotated[str, typer.Argument(help="The CRM object, e.g. Lead or Contact.")],
    crm_record_id: Annotated[str, typer.Argument(help="The record's id in the CRM.")],
    source: Annotated[str | None, typer.Option(help="The people source, when two hold the same id.")] = None,
    unmasked: Annotated[
        bool, typer.Option("--unmasked", help="Build the document now and show it in clear (audited).")
    ] = False,
    config: Annotated[
        Path, typer.Option(help="The kindred.yaml, for --unmasked (field kinds, phone region).")
    ] = Path("kindred.yaml"),
) -> None:
    """Print the PII-masked grounding document of one CRM record, as the last run wrote it.

    The read is recorded in the audit log (audit.access_log) under your user name.
    """
    import json

    import duckdb

    from activation.context import customer_context
    from privacy.callers import Caller
    from warehouse.config import ConfigError, load_config
    from warehouse.home import warehouse_path

    if not warehouse_path().is_file():
        fail(f"no warehouse at {warehouse_path()}: run `kindred run` first (or set KINDRED_HOME)")
    loaded = None
    if unmasked and config.is_file():
        try:
            loaded = load_config(config)
        except ConfigError as error:
            fail(str(error))
    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        try:
            document = customer_context(
                con,
                Caller.cli_operator(),
                crm_object,
                crm_record_id,
                source=source,
                unmasked=unmasked,
                config=loaded,
            )
        except (LookupError, ValueError) as error:
            fail(error_text(error))
    console.print_json(json.dumps(document))


def error_text(error: Exception) -> str:
    """An error's message as raised: `str()` of a KeyError would wrap it in quotes."""
    return error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
