"""Writing benchmark results into BENCHMARKS.md, one `## section` per benchmark."""

from __future__ import annotations

import os
import platform
import re
from datetime import date
from pathlib import Path

import duckdb

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
HEADER = "# Benchmarks\n\nProduced by `make bench`. Each section names the machine, the data and the date it was measured.\n"


def machine() -> str:
    """CPU model, cores, memory and the versions that matter, in one line."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        memory_kb = 0
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory_kb / 1024**2:.0f} GB RAM, {platform.system()}, "
        f"Python {platform.python_version()}, DuckDB {duckdb.__version__}"
    )


def write_section(heading: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace (or append) the `## heading` section of BENCHMARKS.md, leaving the others alone.

    Args:
        heading: the section title without `## `.
        body: the markdown under it; the machine and date line is added first.
        path: the file to update.
    """
    text = path.read_text() if path.exists() else HEADER
    section = f"## {heading}\n\nMeasured {date.today().isoformat()} on {machine()}.\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = (
        pattern.sub(lambda _: section + "\n", text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section
    )
    path.write_text(text.rstrip() + "\n")
