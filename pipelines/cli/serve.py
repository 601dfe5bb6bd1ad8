"""`kindred serve`, `kindred mcp` and `kindred publish`: the HTTP API, the MCP server, and what they read."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.app import app, console, fail

log = logging.getLogger(__name__)


def _service(config: Path):
    """The loaded config and the service over this home's publications; errors end the command."""
    from serving.auth import Authenticator
    from serving.keys import KeyStore
    from serving.rate_limit import RateLimiter
    from serving.service import KindredService
    from warehouse.config import ConfigError, load_config
    from warehouse.home import kindred_home

    try:
        loaded = load_config(config)
    except ConfigError as error:
        fail(str(error))
    home = kindred_home()
    return KindredService(home, loaded), Authenticator(KeyStore(home), RateLimiter(loaded.serving))


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind; 127.0.0.1 keeps the API on this machine.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    config: Annotated[
        Path, typer.Option(help="The kindred.yaml (serving:, prompts:, llm:, privacy:).")
    ] = Path("kindred.yaml"),
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json) and the MCP endpoint at /mcp.

    Requests need `Authorization: Bearer <key>` (`kindred keys create NAME`). The server reads what
    the last `kindred run` published under KINDRED_HOME/serving/, never the warehouse itself, so
    runs go on while it serves, and it moves to each new publication without a restart.
    """
    import uvicorn

    from serving.api import create_app
    from serving.mcp_server import CallerResolver, build_mcp_server, mcp_http

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if host != "localhost":
            fail(f"--host {host!r}: give an IP address such as 127.0.0.1 (or localhost)")
    service, authenticator = _service(config)
    mcp = mcp_http(build_mcp_server(service, CallerResolver(authenticator)), host)
    application = create_app(service, authenticator, mcp_app=mcp)
    console.print(
        f"Kindred API on http://{host}:{port} (docs /docs, MCP /mcp); Ctrl+C stops", highlight=False
    )
    uvicorn.run(application, host=host, port=port, log_level="info", server_header=False)


@app.command("mcp")
def mcp_stdio(
    config: Annotated[
        Path, typer.Option(help="The kindred.yaml (serving:, prompts:, llm:, privacy:).")
    ] = Path("kindred.yaml"),
    key_env: Annotated[
        str, typer.Option(help="The environment variable holding the API key the agent acts with.")
    ] = "KINDRED_API_KEY",
) -> None:
    """Serve the MCP tools over stdio, for desktop agents that start Kindred themselves.

    The agent acts with the key in KINDRED_API_KEY (or --key-env): its name is what the audit log
    records and its role decides what is masked. Nothing but MCP messages is written to stdout.
    """
    from serving.auth import RateLimited, Unauthorized
    from serving.mcp_server import CallerResolver, build_mcp_server

    key = os.environ.get(key_env, "").strip() or None
    service, authenticator = _service(config)
    try:
        caller = authenticator.caller(key, "mcp")
    except (Unauthorized, RateLimited) as error:
        fail(f"{key_env}: {error}")
    logging.getLogger().setLevel(logging.WARNING)
    log.info("MCP over stdio as %s (%s)", caller.name, caller.role.value)
    service.warm_up()
    try:
        build_mcp_server(service, CallerResolver(authenticator, stdio_key=key)).run("stdio")
    finally:
        service.close()


@app.command()
def publish(
    config: Annotated[Path, typer.Option(help="The kindred.yaml.")] = Path("kindred.yaml"),
) -> None:
    """Publish the serving tables now (every `kindred run` does it at its end, `kindred forget` too).

    Copies what the API and MCP read into a new file under KINDRED_HOME/serving/, switches
    running servers to it, and deletes older publications.
    """
    from serving.publish import publish as publish_tables
    from serving.publish import serving_tables
    from warehouse.config import ConfigError, load_config
    from warehouse.connection import open_warehouse
    from warehouse.home import kindred_home, warehouse_path

    try:
        loaded = load_config(config)
    except ConfigError as error:
        fail(str(error))
    if not warehouse_path().is_file():
        fail(f"no warehouse at {warehouse_path()}: run `kindred run` first (or set KINDRED_HOME)")
    with open_warehouse() as con:
        publication = publish_tables(con, kindred_home(), tables=serving_tables(con, loaded))
    rows = sum(publication.rows.values())
    console.print(
        f"published {len(publication.rows)} tables ({rows:,} rows) to {publication.path}; "
        f"{len(publication.removed)} older publications removed",
        highlight=False,
        soft_wrap=True,  # a path must survive copy and paste
    )
