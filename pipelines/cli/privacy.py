"""`kindred forget` and `kindred erasure ...`: erase a person, list receipts, prove nothing is left."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli.app import app, console, fail

erasure = typer.Typer(help="Erasure receipts, and the check that an erased person left nothing behind.")
app.add_typer(erasure, name="erasure")


@app.command()
def forget(
    email: Annotated[str | None, typer.Option("--email", help="An email address of the person.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="A phone number of the person.")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="The person's profile id.")] = None,
    crm: Annotated[str | None, typer.Option("--crm", help="A CRM record of the person: OBJECT:ID.")] = None,
    reason: Annotated[
        str | None, typer.Option(help="Why, e.g. a ticket number; stored in the receipt; no personal data.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking (for scripts).")] = False,
    config: Annotated[Path, typer.Option(help="The kindred.yaml of the warehouse.")] = Path("kindred.yaml"),
) -> None:
    """Erase a person from every layer, print and store a receipt, and keep them out of later loads."""
    import duckdb

    from privacy.erasure import ErasureRequestError
    from privacy.erasure import forget as erase
    from privacy.suppression import SuppressionSaltError
    from warehouse.config import ConfigError, load_config
    from warehouse.home import warehouse_path

    given = [
        (kind, value)
        for kind, value in (("email", email), ("phone", phone), ("profile", profile), ("crm", crm))
        if value
    ]
    if len(given) != 1:
        fail("give exactly one of --email, --phone, --profile or --crm")
    ((identified_by, value),) = given
    try:
        loaded = load_config(config)
    except ConfigError as error:
        fail(str(error))
    database = warehouse_path()
    if not database.is_file():
        fail(f"no warehouse at {database}: nothing to erase (set KINDRED_HOME to the home of the warehouse)")

    def confirm(plan) -> bool:
        _print_plan(plan.summary())
        if yes:
            return True
        if not sys.stdin.isatty():
            fail("not asking on a non-interactive input: pass --yes to erase without confirmation")
        return typer.confirm("Erase this person? This cannot be undone", default=False)

    try:
        outcome = erase(database, loaded, identified_by, value, reason=reason, confirm=confirm)
    except (ErasureRequestError, SuppressionSaltError) as error:
        fail(str(error))
    except duckdb.IOException as error:
        fail(f"cannot open {database} for writing (is a run or the Dagster UI using it?): {error}")
    for receipt_id in outcome.resumed:
        console.print(f"finished the interrupted erasure {receipt_id} first")
    if outcome.cancelled:
        console.print("cancelled: nothing was changed")
        raise typer.Exit(code=1)
    if outcome.receipt is None:
        if outcome.already_erased:
            console.print(
                f"this {identified_by} was erased before (receipt {', '.join(outcome.already_erased)}); "
                "nothing of it is left"
            )
            return
        fail(
            f"no record carries this {identified_by}: not in the warehouse, its raw store or the exports; "
            "nothing was changed"
        )
    _print_receipt(outcome.receipt)


def _print_plan(summary: dict) -> None:
    console.print(
        f"[bold]Found[/] {len(summary['profiles'])} profile(s) {', '.join(summary['profiles']) or ''}; "
        f"names {', '.join(summary['names']) or '-'}; emails {', '.join(summary['emails']) or '-'}; "
        f"phones {', '.join(summary['phones']) or '-'}"
    )
    records = ", ".join(f"{source} {n}" for source, n in summary["records"].items())
    console.print(f"source records: {records or 'none'}")
    if summary["shared"]:
        console.print(
            f"[yellow]{summary['shared']} of these emails/phones are also on other profiles:[/] they are kept "
            "there and not suppressed"
        )
    table = Table(title="rows to remove", title_justify="left")
    table.add_column("where")
    table.add_column("rows", justify="right")
    for where, n in summary["rows"].items():
        table.add_row(where, f"{n:,}")
    console.print(table)
    if summary["crm_deletes"]:
        console.print(f"CRM change feed: {summary['crm_deletes']} delete row(s) for CRM syncs")


def _print_receipt(receipt) -> None:
    table = Table(title=f"erasure receipt {receipt.receipt_id}", title_justify="left", show_header=False)
    table.add_column("field")
    table.add_column("value")
    table.add_row("requested at", f"{receipt.requested_at:%Y-%m-%d %H:%M:%S} UTC")
    table.add_row(
        "finished at", f"{receipt.finished_at:%Y-%m-%d %H:%M:%S} UTC" if receipt.finished_at else "-"
    )
    table.add_row("status", receipt.status)
    table.add_row("identified by", receipt.identified_by)
    table.add_row("reason", receipt.reason or "-")
    table.add_row("profiles, records", f"{receipt.profiles}, {receipt.records}")
    table.add_row("identifiers suppressed", f"{len(receipt.identifier_hashes)} salted hashes")
    for where, n in sorted(receipt.removed.items()):
        # Audit rows are kept (the record of processing) with the person's identifiers blanked.
        verb = "blanked in" if where.startswith("audit.") else "removed from"
        table.add_row(f"{verb} {where}", f"{n:,} rows")
    table.add_row("CRM delete rows", str(receipt.crm_deletes))
    console.print(table)


@erasure.command("receipts")
def receipts() -> None:
    """List the erasure receipts (no personal data: kinds, hashes and row counts)."""
    import duckdb

    from privacy.erasure_receipts import read_receipts
    from warehouse.home import warehouse_path

    if not warehouse_path().is_file():
        fail(f"no warehouse at {warehouse_path()} (set KINDRED_HOME)")
    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        found = read_receipts(con)
    table = Table(title="erasure receipts", title_justify="left")
    for column in ("receipt", "requested", "finished", "by", "reason", "profiles", "rows removed", "status"):
        table.add_column(column)
    for r in found:
        table.add_row(
            r.receipt_id,
            f"{r.requested_at:%Y-%m-%d %H:%M}",
            f"{r.finished_at:%Y-%m-%d %H:%M}" if r.finished_at else "-",
            r.identified_by,
            r.reason or "-",
            str(r.profiles),
            f"{r.rows_removed:,}",
            r.status,
        )
    console.print(table)


@erasure.command("check")
def check(
    texts: Annotated[
        list[str], typer.Argument(help="What must not be found: an email, a phone as written, a name.")
    ],
) -> None:
    """Search every file under KINDRED_HOME (bytes and decoded content) for the texts; exit 1 on any hit."""
    from privacy.erasure_files import search_home
    from warehouse.home import kindred_home

    home = kindred_home()
    hits = search_home(home, texts)
    for hit in hits:
        console.print(f"text {hit.text_index + 1} found: {hit.path.relative_to(home)} ({hit.how})")
    if hits:
        fail(f"{len(hits)} hit(s) under {home}")
    console.print(f"none of the {len(texts)} text(s) is anywhere under {home}")
