"""Consent in scoring: who may be scored at all, and who may be sent an offer.

Scores and offers are profiling: a person who objected to profiling (or, where profiling needs
an opt-in, did not opt in) is left out of the populations the models learn from and of the ones
they score, so they get no row in `scores.predictions` or `scores.offers`, and nothing about
them reaches `crm.record_scores` or grounding. Offers are marketing on top: they are kept only
for people who may receive marketing on at least one of the channels the offer goes out on.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

import duckdb
import polars as pl

from feature_store.identity_as_of import person_sql
from privacy.consent import permitted_condition, reachable_condition
from warehouse.consent_config import ConsentConfig

log = logging.getLogger(__name__)

PROFILING = "profiling"
MARKETING = "marketing"


def may_profile(
    con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, consent: ConsentConfig | None
) -> tuple[pl.DataFrame, int]:
    """The rows of `frame` whose profile may be profiled (scored, or learnt from).

    Args:
        con: warehouse connection (reads `profiles.consent`).
        frame: any frame with a `profile_id` column.
        consent: the `consent:` settings (None: the defaults, where profiling needs no opt-in).

    Returns:
        The kept rows, in their order, and how many distinct profiles were left out.
    """
    condition, params = permitted_condition(
        con,
        "candidate.person",
        purpose=PROFILING,
        channel=None,
        opt_in_required=(consent or ConsentConfig()).opt_in_needed(PROFILING, None),
    )
    return _keep(con, frame, condition, params)


def reachable_for_offers(
    con: duckdb.DuckDBPyConnection,
    frame: pl.DataFrame,
    *,
    channels: Sequence[str],
    consent: ConsentConfig | None,
) -> tuple[pl.DataFrame, int]:
    """The rows of `frame` whose profile may receive marketing on at least one of `channels`.

    Today every offer goes out on the next best offer model's configured channels; an offer
    catalog with channels per offer calls this once per offer with that offer's channels.

    Args:
        con: warehouse connection (reads `profiles.consent`).
        frame: offers (or anything) with a `profile_id` column.
        channels: the channels the offers can be delivered on, e.g. `["email"]`.
        consent: the `consent:` settings (None: the defaults, no opt-in regime).

    Returns:
        The kept rows, in their order, and how many distinct profiles were left out.
    """
    settings = consent or ConsentConfig()
    condition, params = reachable_condition(
        con,
        "candidate.person",
        purpose=MARKETING,
        channels=channels,
        opt_in_channels=[c for c in channels if settings.opt_in_needed(MARKETING, c)],
    )
    return _keep(con, frame, condition, params)


def _keep(
    con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, condition: str, params: list
) -> tuple[pl.DataFrame, int]:
    # A part of a profile not yet linked at a past cut-off (`<profile_id>#...`) is the same
    # person: their consent, known today, decides.
    candidates = frame.select(pl.col("profile_id").unique().drop_nulls())
    view = f"_consent_candidates_{uuid.uuid4().hex}"
    con.register(view, candidates.to_arrow())
    try:
        kept = con.sql(
            f"SELECT candidate.profile_id FROM (SELECT profile_id, {person_sql('profile_id')} AS person "
            f"FROM {view}) AS candidate WHERE {condition}",
            params=params,
        ).pl()["profile_id"]
    finally:
        con.unregister(view)
    withheld = candidates.height - kept.len()
    if withheld:
        log.info("consent: %d of %d profiles left out", withheld, candidates.height)
    return frame.filter(pl.col("profile_id").is_in(kept.implode())), withheld
