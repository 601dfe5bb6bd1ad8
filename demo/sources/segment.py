"""Writing Segment-spec events as JSON lines, one file per calendar month.

Lines are assembled with polars expressions: the fixed top-level fields are JSON-encoded as one
struct (so `userId: null` stays explicit on anonymous events, as Segment archives show it), and
each nested object (`properties`, `context`, `traits`) is encoded with its empty keys dropped,
because real payloads omit what the caller did not set.
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from demo.identifiers import uuid4_strings


def without_nulls(encoded: pl.Expr) -> pl.Expr:
    """Drop `"key":null` members from JSON objects encoded by polars.

    Args:
        encoded: an expression of JSON object strings.

    Returns:
        The same objects without their null members.
    """
    return encoded.str.replace_all(r'"[A-Za-z_]+":null,?', "").str.replace_all(r",\}", "}")


def iso_timestamp(ms: str) -> pl.Expr:
    """Format epoch milliseconds as Segment does: `2025-03-04T10:22:11.123Z`.

    Args:
        ms: the name of an epoch-milliseconds column.

    Returns:
        A string expression.
    """
    return pl.from_epoch(ms, time_unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")


def encode_object(struct: pl.Expr) -> pl.Expr:
    """Encode a struct expression as a JSON object string without its null members.

    Args:
        struct: a struct expression (null rows stay null, so the key can be left out).

    Returns:
        A string expression.
    """
    return pl.when(struct.is_null()).then(None).otherwise(without_nulls(struct.struct.json_encode()))


def encode_head(fields: list[pl.Expr]) -> pl.Expr:
    """Encode the top-level scalar fields of a call, keeping nulls, as an unterminated JSON object.

    Args:
        fields: named expressions in output order (`messageId`, `type`, ...).

    Returns:
        A string expression such as `{"messageId":"...","type":"track"` (no closing brace).
    """
    return pl.struct(fields).struct.json_encode().str.strip_suffix("}")


def assemble(head: pl.Expr, objects: dict[str, pl.Expr]) -> pl.Expr:
    """Join an encoded head and encoded nested objects into one JSON line.

    Args:
        head: from `encode_head`.
        objects: key -> encoded object (from `encode_object`); a null leaves the key out.

    Returns:
        A string expression with the whole JSON object.
    """
    pieces = [head]
    for key, encoded in objects.items():
        pieces.append(pl.concat_str([pl.lit(f',"{key}":'), encoded]))
    pieces.append(pl.lit("}"))
    return pl.concat_str(pieces, ignore_nulls=True)


def lines_by_kind(events: pl.DataFrame, lines: dict[int, pl.Expr]) -> pl.Series:
    """Build each row's JSON line with the expression of its kind, keeping the row order.

    Evaluating one expression per kind on its own rows is far cheaper than a `when` chain that
    evaluates every kind's payload on every row.

    Args:
        events: rows with `kind`, `ts_ms` and `message_id`, in time order.
        lines: event kind -> line expression.

    Returns:
        The lines, in the order of `events`.
    """
    parts = [
        events.filter(pl.col("kind") == kind).select("ts_ms", "message_id", line.alias("line"))
        for kind, line in lines.items()
    ]
    built = pl.concat(parts).sort("ts_ms", "message_id")
    if built.height != events.height:
        raise ValueError(f"{events.height - built.height} events have a kind without a line builder")
    return built["line"]


def stamp_events(events: pl.DataFrame, rng: np.random.Generator, sort_by: list[str]) -> pl.DataFrame:
    """Put events in a fixed order, then give each a message id and a millisecond timestamp.

    Args:
        events: rows with an epoch-seconds column `ts`.
        rng: the seeded generator.
        sort_by: columns that, after `ts`, make the order total.

    Returns:
        The events with `message_id`, `ts_ms` and `month` (`YYYY-MM`) added, sorted by time.
    """
    events = events.sort(["ts", *sort_by])
    events = events.with_columns(
        message_id=uuid4_strings(rng, events.height, "message_id"),
        ts_ms=pl.col("ts") * 1000 + pl.Series(rng.integers(0, 1000, size=events.height)),
    )
    return events.with_columns(month=pl.from_epoch("ts_ms", time_unit="ms").dt.strftime("%Y-%m")).sort(
        "ts_ms", "message_id"
    )


def write_monthly(
    events: pl.DataFrame, folder: Path, to_lines: Callable[[pl.DataFrame], pl.Series]
) -> list[Path]:
    """Write events as JSON lines into `folder/YYYY-MM.jsonl`, one file per month, in time order.

    Lines are built a month at a time, so memory follows the busiest month, not the whole window.

    Args:
        events: stamped events (see `stamp_events`).
        folder: the target folder (created if needed).
        to_lines: turns a month of events into their JSON lines, in the same row order.

    Returns:
        The files written, in month order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for month in sorted(events["month"].unique().to_list()):
        path = folder / f"{month}.jsonl"
        part = events.filter(pl.col("month") == month).sort("ts_ms", "message_id")
        # A single unquoted column written without a header is exactly one JSON document per line.
        to_lines(part).to_frame("line").write_csv(path, include_header=False, quote_style="never")
        written.append(path)
    return written
