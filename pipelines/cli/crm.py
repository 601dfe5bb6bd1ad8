"""`kindred crm sync`: mirror the `crm` tables into PostgreSQL, sending only what changed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli.app import app, console, fail

crm = typer.Typer(help="The CRM tables outside the warehouse: a PostgreSQL mirror.", no_args_is_help=True)
app.add_typer(crm, name="crm")

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@crm.command("sync")
def sync(
    target: Annotated[
        str | None,
        typer.Option(
            help="postgresql://user@host:port/dbname, without a password (PGPASSWORD or ~/.pgpass holds it). "
            "Default: crm_sync.target in kindred.yaml."
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print what would be inserted, updated and deleted; write nothing."),
    ] = False,
    segments: Annotated[
        bool | None,
        typer.Option(
            "--segments/--no-segments", help="Also mirror segments.membership. Default: crm_sync.segments."
        ),
    ] = None,
    schema: Annotated[
        str | None, typer.Option(help="The target schema. Default: crm_sync.schema, else kindred.")
    ] = None,
    full: Annotated[
        bool,
        typer.Option("--full", help="Compare every row with the mirror, to repair rows changed by others."),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(help="The kindred.yaml with the crm_sync section (default: ./kindred.yaml if present)."),
    ] = None,
) -> None:
    """Mirror crm.record_scores and crm.grounding (and segment membership) into a PostgreSQL database."""
    import duckdb

    from activation.crm_sync import CrmSyncError, CrmSyncFailed, sync_crm
    from warehouse.connection import open_warehouse
    from warehouse.home import warehouse_path

    settings = crm_sync_settings(config)
    target = target or settings.target
    if not target:
        fail(
            "no target: pass --target postgresql://user@host:5432/dbname or set crm_sync.target in kindred.yaml"
        )
    schema = schema or settings.mirror_schema
    if not _SCHEMA.match(schema):
        fail(f"--schema {schema!r}: use lower-case letters, digits and _ (a PostgreSQL schema name)")
    if not warehouse_path().is_file():
        fail(f"no warehouse at {warehouse_path()}: run `kindred run` first (or set KINDRED_HOME)")
    options = {
        "schema": schema,
        "owner": settings.owner,
        "segments": settings.segments if segments is None else segments,
        "dry_run": dry_run,
        "full": full,
    }
    try:
        if dry_run:
            # Only reads: a read-only connection proves it, and lets other readers in.
            with duckdb.connect(str(warehouse_path()), read_only=True) as con:
                result = sync_crm(con, target, **options)
        else:
            with open_warehouse() as con:
                result = sync_crm(con, target, **options)
    except CrmSyncFailed as error:
        _print(error.result)
        fail(str(error))
    except CrmSyncError as error:
        fail(str(error))
    _print(result)


def crm_sync_settings(config: Path | None):
    """The `crm_sync` section of `config`, or of ./kindred.yaml when present, else the defaults."""
    from warehouse.config import ConfigError, load_config
    from warehouse.crm_sync_config import CrmSyncConfig

    path = config or Path("kindred.yaml")
    if config is None and not path.is_file():
        return CrmSyncConfig()
    try:
        return load_config(path).crm_sync
    except ConfigError as error:
        fail(str(error))


def _print(result) -> None:
    if result.error is not None:
        title = "failed: nothing written to"
    else:
        title = "dry run: would write to" if result.dry_run else "synced to"
    table = Table(title=f"{title} {result.target} schema {result.schema}", title_justify="left")
    for column in ("table", "from", "how", "inserted", "updated", "deleted", "seconds"):
        table.add_column(column, justify="left" if column in ("table", "from", "how") else "right")
    for row in result.tables:
        how = row.method if row.method != "skipped" else f"skipped: {row.note}"
        table.add_row(
            row.mirror_table,
            row.warehouse_table,
            how,
            f"{row.inserted:,}",
            f"{row.updated:,}",
            f"{row.deleted:,}",
            f"{row.seconds:.1f}",
        )
    console.print(table)
    seconds = (result.finished_at - result.started_at).total_seconds()
    if result.error is None:
        done = (
            "nothing was written (dry run)"
            if result.dry_run
            else f"sync {result.sync_id} logged in crm.sync_log"
        )
        console.print(f"{done}; {seconds:.1f} s")
