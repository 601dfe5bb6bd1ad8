"""`kindred segments list | show | fields | export`: the segments of kindred.yaml and their members."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli.app import app, atomic_file, console, err, fail

segments = typer.Typer(
    no_args_is_help=True,
    help="Segments declared in kindred.yaml: list them, see one's definition and SQL, export its members.",
)
app.add_typer(segments, name="segments")

ConfigOption = Annotated[Path, typer.Option(help="The kindred.yaml that declares the segments.")]


@segments.command("list")
def list_segments(config: ConfigOption = Path("kindred.yaml")) -> None:
    """Every segment: name, description, purpose, channel and size as of the last run."""
    from activation.segments.membership import definition_hash, latest_evaluations

    declared = _load(config).segments
    evaluations = {}
    with _reading(required=False) as con:
        if con is not None:
            evaluations = latest_evaluations(con)
    table = Table(title=f"segments in {config}", title_justify="left")
    for column in ("segment", "description", "purpose", "channel", "size", "last run (UTC)", "note"):
        table.add_column(column, justify="right" if column == "size" else "left")
    for segment in declared:
        last = evaluations.get(segment.name)
        built = last is not None and not last["removed"]
        note = ""
        if not built:
            note = "not built yet: run `kindred run`"
        elif last["definition_hash"] != definition_hash(segment):
            note = "changed in kindred.yaml since the last run"
        table.add_row(
            segment.name,
            segment.description,
            segment.purpose,
            segment.channel or "",
            f"{last['size']:,}" if built else "",
            _when(last["evaluated_at"]) if built else "",
            note,
        )
    names = {s.name for s in declared}
    for name, last in sorted(evaluations.items()):
        if name not in names and not last["removed"]:
            table.add_row(
                name,
                "",
                "",
                "",
                f"{last['size']:,}",
                _when(last["evaluated_at"]),
                "not in kindred.yaml: the next run retires it",
            )
    console.print(table)
    if not declared:
        console.print(f"{config} declares no segments: see docs/segments.md to add some under `segments:`")


@segments.command()
def show(
    name: Annotated[str, typer.Argument(help="The segment's name.")],
    config: ConfigOption = Path("kindred.yaml"),
) -> None:
    """A segment's definition, its size and trend, and the SQL it compiles to with its parameters."""
    import yaml

    from activation.segments import SegmentError, compile_segment, load_catalog
    from activation.segments.membership import definition_hash, latest_evaluations, size_trend

    loaded = _load(config)
    segment = _segment(loaded, name, config)
    document = {"where": segment.where.document(), "columns": segment.columns}
    console.print(f"[bold]{segment.name}[/]: {segment.description}", highlight=False)
    opt_in = (
        "; consent: opt-in required" if loaded.consent.opt_in_needed(segment.purpose, segment.channel) else ""
    )
    console.print(
        f"purpose: {segment.purpose}; channel: {segment.channel or 'none (only opt-outs of every channel apply)'}"
        + opt_in
    )
    console.print(
        yaml.safe_dump(document, sort_keys=False, allow_unicode=True).rstrip(), markup=False, highlight=False
    )
    with _reading(required=True) as con:
        last = latest_evaluations(con).get(segment.name)
        trend = size_trend(con, segment.name)
        try:
            compiled = compile_segment(segment, load_catalog(con))
        except SegmentError as error:
            fail(str(error))
    if last is None or last["removed"]:
        console.print("size: not built yet (run `kindred run`)")
    else:
        console.print(
            f"size: {last['size']:,} members at the last run ({_when(last['evaluated_at'])} UTC, data as of "
            f"{_when(last['as_of'])}); trend over the last runs: {' -> '.join(f'{n:,}' for n in trend)}"
        )
        if last["definition_hash"] != definition_hash(segment):
            console.print("[yellow]the definition changed since the last run: `kindred run` applies it[/]")
    console.print("SQL (run against the warehouse; `?` are the parameters, in order):")
    console.print(compiled.pretty_sql(), markup=False, highlight=False)
    console.print("parameters: " + repr([_plain(v) for v in compiled.params]), markup=False, highlight=False)


@segments.command()
def fields(config: ConfigOption = Path("kindred.yaml")) -> None:
    """The fields segments can use, with their kind and where they come from."""
    from activation.segments import load_catalog
    from activation.segments.compiler import OPERATOR_KINDS, describe_fields

    _load(config)
    with _reading(required=True) as con:
        catalog = load_catalog(con)
    if not catalog.fields:
        fail("the segment fields are not built yet (segments.profile_fields): run `kindred run` first")
    table = Table(
        title=f"segment fields ({{days_ago: N}} counts back from {_when(catalog.as_of)})",
        title_justify="left",
    )
    for column in ("field", "kind", "from", "operators"):
        table.add_column(column)
    for field, kind, origin in describe_fields(catalog):
        operators = [op for op, kinds in OPERATOR_KINDS.items() if kind in kinds]
        table.add_row(field, kind, origin, " ".join(operators))
    console.print(table)


@segments.command()
def export(
    name: Annotated[str, typer.Argument(help="The segment's name.")],
    out: Annotated[Path, typer.Option("--out", help="The file to write: .csv or .parquet.")],
    config: ConfigOption = Path("kindred.yaml"),
) -> None:
    """Write a segment's members (as of the last run) to CSV or Parquet, consent applied."""
    import duckdb

    from activation.segments import SegmentError
    from activation.segments.export import export_format, export_segment, write_export

    if out.is_dir():
        fail(f"--out {out}: is a folder; give a file name ending in .csv or .parquet")
    try:
        fmt = export_format(out.suffix)
    except ValueError as error:
        fail(f"--out {out}: {error}")
    loaded = _load(config)
    segment = _segment(loaded, name, config)
    opt_in = loaded.consent.opt_in_needed(segment.purpose, segment.channel)
    with _reading(required=True) as con:
        try:
            result = export_segment(con, segment, fmt=fmt, opt_in_required=opt_in)
        except SegmentError as error:
            fail(str(error))
        if result.definition_changed:
            err.print(
                f"warning: segment '{name}' changed in {config} since the last run ({_when(result.evaluated_at)} UTC); "
                "this export holds the members that run found. `kindred run` applies the change.",
                markup=False,
            )
        try:
            with atomic_file(out) as temporary:
                write_export(con, result, temporary)
        except (OSError, duckdb.IOException) as error:
            fail(f"--out {out}: cannot write the file: {getattr(error, 'strerror', None) or error}")
    how = f"{segment.purpose} over {segment.channel}" if segment.channel else segment.purpose
    how += ", opt-in required" if opt_in else ""
    console.print(
        f"wrote {result.exported:,} people of segment '{name}' to {out} ({fmt}, {len(segment.columns)} columns); "
        f"{result.left_out_for_consent:,} of {result.members:,} members left out for consent ({how})",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _load(config: Path):
    from warehouse.config import ConfigError, load_config

    try:
        return load_config(config)
    except ConfigError as error:
        fail(str(error))


def _segment(loaded, name: str, config: Path):
    for segment in loaded.segments:
        if segment.name == name:
            return segment
    known = ", ".join(s.name for s in loaded.segments) or "none"
    fail(f"unknown segment '{name}': {config} declares {known}")


@contextmanager
def _reading(*, required: bool) -> Iterator:
    """The warehouse opened read-only (a run may hold it for writing: say so), or None if absent."""
    import duckdb

    from warehouse.home import warehouse_path

    path = warehouse_path()
    if not path.is_file():
        if required:
            fail(f"no warehouse at {path}: run `kindred run` first (or set KINDRED_HOME)")
        yield None
        return
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        fail(f"cannot open {path} for reading, is a `kindred run` writing it? ({error})")
    try:
        con.execute("SET TimeZone = 'UTC'")
        # DuckDB draws a progress bar on long queries; the command prints its own summary.
        con.execute("SET enable_progress_bar = false")
        yield con
    finally:
        con.close()


def _when(moment: datetime | date | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, datetime) and moment.time() != datetime.min.time():
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.strftime("%Y-%m-%d")


def _plain(value: object) -> object:
    return value.isoformat(sep=" ") if isinstance(value, datetime) else value
