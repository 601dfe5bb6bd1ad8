"""The `kindred` Typer application and what every command shares: output consoles and errors."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Kindred: customer data platform with predictive scoring.",
)
# Wide enough for the summary tables when output is not a terminal (CI logs, files).
console = Console(width=None if os.isatty(1) else 140)
# Errors are never hard-wrapped: a file path or a segment name in a message must survive copy and
# paste from a CI log or a terminal. A terminal still wraps long lines visually.
err = Console(stderr=True, soft_wrap=True, highlight=False)


def fail(message: str) -> None:
    """Print a clear error on stderr, on one line however long, and exit non-zero."""
    err.print(f"[bold red]error:[/] {message}", markup=True)
    raise typer.Exit(code=1)


@contextmanager
def atomic_file(out: Path) -> Iterator[Path]:
    """A temporary path beside `out` to write; renamed to `out` when the block succeeds, removed if not."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, suffix=out.suffix, delete=False) as handle:
        temporary = Path(handle.name)
    try:
        yield temporary
        temporary.replace(out)
    finally:
        temporary.unlink(missing_ok=True)


def write_atomically(frame, out: Path) -> None:
    """Write to a temporary file beside `out`, then rename: a failure leaves no half file."""
    with atomic_file(out) as temporary:
        frame.write_parquet(temporary) if out.suffix.lower() == ".parquet" else frame.write_csv(temporary)
