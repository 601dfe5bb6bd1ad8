"""`kindred generate` and `kindred prompts`: grounded generation with an OpenAI-compatible LLM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.activation import error_text
from pipelines.cli.app import app, console, fail

prompts_app = typer.Typer(
    help="Prompt templates of kindred.yaml and their versions in MLflow's prompt registry."
)
app.add_typer(prompts_app, name="prompts")


@app.command()
def generate(
    template: Annotated[str, typer.Argument(help="The prompt template's name (prompts: in kindred.yaml).")],
    crm_object: Annotated[str, typer.Argument(help="The CRM object, e.g. Lead or Contact.")],
    crm_record_id: Annotated[str, typer.Argument(help="The record's id in the CRM.")],
    config: Annotated[Path, typer.Option(help="The kindred.yaml with llm: and prompts:.")] = Path(
        "kindred.yaml"
    ),
    source: Annotated[str | None, typer.Option(help="The people source, when two hold the same id.")] = None,
    masked: Annotated[
        bool, typer.Option("--masked", help="Print the answer with placeholders, as a reader sees it.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the masked prompt that would be sent; call nothing.")
    ] = False,
) -> None:
    """Render a prompt template with a CRM record's grounding, mask it, ask the LLM, print the answer.

    The prompt leaves Kindred masked (<PERSON_1>, <EMAIL_1>, ...); the answer comes back with the
    values put in again, unless --masked. The call is audited (audit.llm_calls, audit.access_log).
    """
    import duckdb

    from activation.generation import GenerationError, generate, masked_prompt
    from activation.prompts import PromptError, PromptLibrary
    from privacy.callers import Caller
    from warehouse.config import ConfigError, load_config
    from warehouse.home import warehouse_path

    try:
        loaded = load_config(config)
        library = PromptLibrary.from_config(loaded)
        chosen = library.get(template)
    except (ConfigError, PromptError) as error:
        fail(str(error))
    if not warehouse_path().is_file():
        fail(f"no warehouse at {warehouse_path()}: run `kindred run` first (or set KINDRED_HOME)")
    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        try:
            if dry_run:
                prompt = masked_prompt(con, chosen, crm_object, crm_record_id, config=loaded, source=source)
                for message in prompt.messages:
                    console.print(f"[bold]{message['role']}[/]")
                    typer.echo(message["content"])
                return
            with console.status(f"asking {loaded.llm.model if loaded.llm else 'the LLM'}..."):
                result = generate(
                    con,
                    template,
                    crm_object,
                    crm_record_id,
                    caller=Caller.cli_operator(masked=masked),
                    config=loaded,
                    source=source,
                    library=library,
                )
        except (LookupError, ValueError, GenerationError) as error:
            fail(error_text(error))
    typer.echo(result.answer)


@prompts_app.command("list")
def list_prompts(
    config: Annotated[Path, typer.Option(help="The kindred.yaml with prompts:.")] = Path("kindred.yaml"),
) -> None:
    """List the prompt templates, the merge fields each uses, and their latest registered version."""
    from rich.table import Table

    from activation.prompts import PromptError, PromptLibrary, registered_version
    from warehouse.config import ConfigError, load_config

    try:
        library = PromptLibrary.from_config(load_config(config))
    except (ConfigError, PromptError) as error:
        fail(str(error))
    if not len(library):
        console.print(f"{config} has no prompts: section")
        return
    table = Table(title="prompt templates", title_justify="left")
    for column in ("name", "description", "merge fields", "registered version"):
        table.add_column(column)
    for item in library:
        version = registered_version(item, register=False)
        shown = version or "not registered yet (registered on first use)"
        table.add_row(item.name, item.config.description, "\n".join(item.fields), shown)
    console.print(table)
