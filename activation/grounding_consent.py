"""The consent section of a grounding document, and which contact points it may offer.

The document says, per channel, whether the person may be sent marketing and whether they may
be contacted at all, and whether they may be profiled (`privacy.consent`). The emails of a person
who opted out of email for every purpose, and the phones of one who opted out of calls or texts
for every purpose, are left out of `profile.emails` / `profile.phones` (they are still used to
scrub free text). An opt-out of marketing alone keeps the contact points: service contact remains
allowed, and the consent section tells the copilot not to market.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from privacy.consent import ANY, Use, permitted_profiles
from warehouse.consent_config import ConsentConfig

# Which channels' full opt-out withholds each kind of contact point: a phone number serves calls
# and texts, and the copilot cannot tell which use a rep will make of it.
CONTACT_POINT_CHANNELS = {"emails": ("email",), "phones": ("phone", "sms")}


def consent_permissions(
    con: duckdb.DuckDBPyConnection, profile_ids: Iterable[str | None], consent: ConsentConfig | None
) -> dict[str | None, dict]:
    """The consent section of each profile's grounding document.

    Args:
        con: warehouse connection (reads `profiles.consent`).
        profile_ids: the profiles (None: a record without one, which gets the defaults).
        consent: the `consent:` settings; None for the defaults.

    Returns:
        profile id -> `{"profiling": bool, "channels": {channel: {"marketing": bool, "contact": bool}}}`:
        `marketing` whether marketing may be sent on the channel (under the configured opt-in
        regime), `contact` whether the person may be contacted on it at all (no opt-out of every
        purpose), `profiling` whether they may be profiled.
    """
    settings = consent or ConsentConfig()
    uses = {"profiling": Use("profiling", None, settings.opt_in_needed("profiling", None))}
    for channel in settings.channels:
        uses[f"{channel}/marketing"] = Use("marketing", channel, settings.opt_in_needed("marketing", channel))
        uses[f"{channel}/contact"] = Use(ANY, channel)
    return {
        profile: {
            "profiling": bool(allowed["profiling"]),
            "channels": {
                channel: {
                    "marketing": bool(allowed[f"{channel}/marketing"]),
                    "contact": bool(allowed[f"{channel}/contact"]),
                }
                for channel in settings.channels
            },
        }
        for profile, allowed in permitted_profiles(con, profile_ids, uses).items()
    }


def offered(values: list[str], kind: str, consent: dict | None) -> list[str]:
    """The contact points of one kind the document may offer.

    Args:
        values: the person's emails or phones.
        kind: `emails` or `phones`.
        consent: the person's consent section (`consent_permissions`), or None (nothing withheld).

    Returns:
        `values`, or nothing when the person opted out entirely of a channel they serve.
    """
    if consent is None:
        return values
    channels = consent["channels"]
    if any(not channels[c]["contact"] for c in CONTACT_POINT_CHANNELS[kind] if c in channels):
        return []
    return values
