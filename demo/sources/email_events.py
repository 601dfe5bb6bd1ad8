"""Source `email_events`: the email service provider's engagement events, as Segment track calls.

The provider knows people only by their email address, so `userId` is the recipient's address
(an old one before a person changed it) and `context.traits.email` repeats it.
"""

from pathlib import Path

import numpy as np
import polars as pl

from demo.campaigns import EmailActivity
from demo.identifiers import uuid4_strings
from demo.sources.segment import (
    assemble,
    encode_head,
    encode_object,
    iso_timestamp,
    stamp_events,
    write_monthly,
)
from demo.sources.written import WrittenSource, distinct_records
from demo.timeline import T1

NAME = "email_events"
ESP_NAME = "Mailstream"
ESP_VERSION = "2.3.0"
EVENTS = {
    "delivered_at": "Email Delivered",
    "opened_at": "Email Opened",
    "clicked_at": "Email Link Clicked",
    "unsubscribed_at": "Unsubscribed",
}


def write_email_events(
    out: Path, email: EmailActivity, people: pl.DataFrame, rng: np.random.Generator
) -> WrittenSource:
    """Write the email engagement events under `out/events/email/YYYY-MM.jsonl`.

    Args:
        out: the demo data folder.
        email: campaigns and sends.
        people: the population (names the provider holds for half of its subscribers).
        rng: the seeded generator.

    Returns:
        The files, the row count and the records (recipient address with the person).
    """
    sends = email.sends.with_columns(email_id=uuid4_strings(rng, email.sends.height, "email_id"))
    parts = []
    for code, (column, event) in enumerate(EVENTS.items()):
        parts.append(
            sends.filter(pl.col(column).is_between(0, T1)).select(
                "pidx",
                "campaign_idx",
                "email",
                "email_id",
                "link_url",
                ts=pl.col(column),
                kind=pl.lit(code),
                event=pl.lit(event),
            )
        )
    events = stamp_events(pl.concat(parts), rng, ["pidx", "campaign_idx", "kind"])
    named = pl.Series(rng.random(people.height) < 0.5)
    names = people.select("pidx", "first_name", "last_name").filter(named)
    events = events.join(names, on="pidx", how="left", maintain_order="left")
    campaigns = email.campaigns.with_columns(
        list_id=pl.when(pl.col("audience") == "b2b")
        .then(pl.lit("list_b2b_updates"))
        .otherwise(pl.lit("list_newsletter"))
    )
    line = assemble(
        encode_head(
            [
                pl.col("message_id").alias("messageId"),
                pl.lit("track").alias("type"),
                pl.col("event"),
                pl.col("email").alias("userId"),
                iso_timestamp("ts_ms").alias("timestamp"),
            ]
        ),
        {
            "properties": encode_object(
                pl.struct(
                    "campaign_id",
                    "campaign_name",
                    "email_id",
                    pl.col("subject").alias("email_subject"),
                    pl.when(pl.col("kind") == 2).then("link_url").alias("link_url"),
                    pl.when(pl.col("kind") == 3).then("list_id").alias("list_id"),
                )
            ),
            "context": encode_object(
                pl.struct(
                    pl.struct(pl.lit(ESP_NAME).alias("name"), pl.lit(ESP_VERSION).alias("version")).alias(
                        "integration"
                    ),
                    pl.struct(
                        pl.lit("mailstream-segment").alias("name"), pl.lit(ESP_VERSION).alias("version")
                    ).alias("library"),
                    pl.struct(
                        "email",
                        pl.col("first_name").alias("firstName"),
                        pl.col("last_name").alias("lastName"),
                    ).alias("traits"),
                )
            ),
        },
    )

    def to_lines(part: pl.DataFrame) -> pl.Series:
        enriched = part.join(
            campaigns.select("campaign_idx", "campaign_id", "campaign_name", "subject", "list_id"),
            on="campaign_idx",
            how="left",
            maintain_order="left",
        )
        return enriched.select(line).to_series()

    files = write_monthly(events, out / "events" / "email", to_lines)
    return WrittenSource(
        NAME, files, events.height, distinct_records(events.select(record_id="email", pidx="pidx"))
    )
