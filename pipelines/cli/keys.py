"""`kindred keys`: API keys for the HTTP API and the MCP server (created once, stored hashed)."""

from __future__ import annotations

from typing import Annotated

import typer

from pipelines.cli.app import app, console, fail

keys_app = typer.Typer(help="API keys of `kindred serve` and `kindred mcp`: create, list, revoke.")
app.add_typer(keys_app, name="keys")


def _store():
    from serving.keys import KeyStore
    from warehouse.home import kindred_home

    return KeyStore(kindred_home())


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Who the key is for; the audit log names reads by it.")],
    role: Annotated[
        str, typer.Option(help="reader: masked data only; pii_reader: may ask for unmasked data.")
    ] = "reader",
) -> None:
    """Create a key and print it once: it is stored only as a hash and cannot be shown again."""
    from serving.keys import KeyStoreError

    try:
        record, secret = _store().create(name, role)
    except KeyStoreError as error:
        fail(str(error))
    console.print(
        f"created key [bold]{record.name}[/] ({record.role}); it is shown only now:", highlight=False
    )
    typer.echo(secret)


@keys_app.command("list")
def list_keys() -> None:
    """List the keys: name, role, the key's first characters, when created and revoked."""
    from rich.table import Table

    from serving.keys import KeyStoreError

    try:
        keys = _store().list()
    except KeyStoreError as error:
        fail(str(error))
    if not keys:
        console.print("no API keys yet: `kindred keys create NAME [--role reader|pii_reader]`")
        return
    table = Table(title="API keys", title_justify="left")
    for column in ("name", "role", "key starts", "created", "revoked"):
        table.add_column(column)
    for key in keys:
        table.add_row(key.name, key.role, f"{key.hint}...", key.created_at, key.revoked_at or "")
    console.print(table)


@keys_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke a key: running servers refuse it from their next request on."""
    from serving.keys import KeyStoreError

    try:
        record = _store().revoke(name)
    except KeyStoreError as error:
        fail(str(error))
    console.print(f"revoked key [bold]{record.name}[/] at {record.revoked_at}", highlight=False)
