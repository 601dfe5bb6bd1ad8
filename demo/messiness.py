"""The ways real source data disagrees with the truth: typos, nicknames, formats, case, gaps.

Each function takes a numpy object array (missing values are `None`) and returns a new one with a
share of the values disturbed. Only the chosen rows are touched in Python, so the cost follows the
rate, not the row count.
"""

from dataclasses import dataclass

import numpy as np
import polars as pl

from demo.arrays import strings
from demo.pools import NICKNAMES


@dataclass(frozen=True)
class MessRates:
    """How often each kind of mess happens; the defaults resemble a tidy but real company."""

    name_typo: float = 0.025
    nickname: float = 0.3  # of records typed by the person themself, when their name has a short form
    case_noise: float = 0.04
    whitespace: float = 0.03
    email_change: float = 0.06  # of people, once during the window
    phone_change: float = 0.06
    old_email_on_order: float = 0.15  # of order lines after a change, still typed with the old email
    crm_updated_on_change: float = 0.5  # chance the CRM contact picked up a changed email or phone
    shared_household: float = 0.22  # of shoppers, living with another shopper
    shared_landline: float = 0.35  # of multi-person households, giving one home phone everywhere
    switchboard_phone: float = 0.4  # of leads, giving the company switchboard instead of a direct line
    common_name: float = 0.006  # of people, forced onto a handful of very common full names
    missing_phone: float = 0.25
    missing_birthdate: float = 0.3
    address_variant: float = 0.3  # St/Street, upper case, ZIP+4, full state names
    duplicate_contact: float = 0.03  # of shopper contacts, entered a second time by a service agent


_KEYBOARD = {
    "a": "sq",
    "b": "vn",
    "c": "xv",
    "d": "sf",
    "e": "wr",
    "f": "dg",
    "g": "fh",
    "h": "gj",
    "i": "uo",
    "j": "hk",
    "k": "jl",
    "l": "k",
    "m": "n",
    "n": "bm",
    "o": "ip",
    "p": "o",
    "q": "w",
    "r": "et",
    "s": "ad",
    "t": "ry",
    "u": "yi",
    "v": "cb",
    "w": "qe",
    "x": "zc",
    "y": "tu",
    "z": "x",
}
_STREET_ABBREVIATIONS = {
    "Street": "St",
    "Avenue": "Ave",
    "Road": "Rd",
    "Drive": "Dr",
    "Lane": "Ln",
    "Court": "Ct",
    "Boulevard": "Blvd",
    "Place": "Pl",
    "Square": "Sq",
    "Terrace": "Ter",
    "Parkway": "Pkwy",
    "Highway": "Hwy",
    "Circle": "Cir",
    "Trail": "Trl",
    "Mountain": "Mtn",
    "Crossing": "Xing",
}


def _chosen(values: np.ndarray, rate: float | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of non-missing values picked with probability `rate` (a scalar or one per value)."""
    picked = rng.random(len(values)) < rate
    present = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    return np.flatnonzero(picked & present)


def typos(values: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Introduce one keyboard slip (swap, drop, double or neighbour key) into a share of the values.

    Args:
        values: strings, `None` for missing.
        rate: share of values to disturb.
        rng: the seeded generator.

    Returns:
        A copy with the typos applied.
    """
    out = values.copy()
    for i in _chosen(values, rate, rng).tolist():
        word = out[i]
        if len(word) < 4:
            continue
        pos = int(rng.integers(1, len(word) - 1))
        kind = int(rng.integers(0, 4))
        if kind == 0:
            word = word[:pos] + word[pos + 1] + word[pos] + word[pos + 2 :]
        elif kind == 1:
            word = word[:pos] + word[pos + 1 :]
        elif kind == 2:
            word = word[:pos] + word[pos] + word[pos:]
        else:
            neighbours = _KEYBOARD.get(word[pos].lower(), "e")
            word = word[:pos] + neighbours[int(rng.integers(0, len(neighbours)))] + word[pos + 1 :]
        out[i] = word
    return out


def nicknames(first_names: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Replace a share of formal first names by a usual short form (Robert -> Bob).

    Args:
        first_names: strings, `None` for missing.
        rate: share of the names that have a short form to replace.
        rng: the seeded generator.

    Returns:
        A copy with the short forms applied.
    """
    out = first_names.copy()
    for i in _chosen(first_names, rate, rng).tolist():
        forms = NICKNAMES.get(out[i])
        if forms:
            out[i] = forms[int(rng.integers(0, len(forms)))]
    return out


def case_noise(values: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Write a share of the values in upper or lower case, as legacy systems and hurried typists do.

    Args:
        values: strings, `None` for missing.
        rate: share of values to disturb.
        rng: the seeded generator.

    Returns:
        A copy with the case changed.
    """
    out = values.copy()
    for i in _chosen(values, rate, rng).tolist():
        out[i] = out[i].upper() if rng.random() < 0.6 else out[i].lower()
    return out


def stray_whitespace(values: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Add leading, trailing or doubled inner spaces to a share of the values.

    Args:
        values: strings, `None` for missing.
        rate: share of values to disturb.
        rng: the seeded generator.

    Returns:
        A copy with the whitespace added.
    """
    out = values.copy()
    for i in _chosen(values, rate, rng).tolist():
        kind = int(rng.integers(0, 3))
        out[i] = (
            f" {out[i]}" if kind == 0 else f"{out[i]}  " if kind == 1 else out[i].replace(" ", "  ", 1) + " "
        )
    return out


def blank(values: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Drop a share of the values, as optional form fields and partial syncs do.

    Args:
        values: any objects, `None` for missing.
        rate: share of values to drop.
        rng: the seeded generator.

    Returns:
        A copy with the dropped values set to `None`.
    """
    out = values.copy()
    out[rng.random(len(values)) < rate] = None
    return out


PHONE_STYLES = (
    "(415) 555-0101",
    "+1 415 555 0101",
    "415.555.0101",
    "415-555-0101",
    "4155550101",
    "+14155550101",
    "1-415-555-0101",
)


def format_phones(
    digits: np.ndarray,
    rng: np.random.Generator | None,
    weights: np.ndarray | None = None,
    styles: np.ndarray | None = None,
) -> np.ndarray:
    """Write ten-digit US numbers in the formats people and systems use, one drawn per value.

    Args:
        digits: ten-digit strings, `None` for missing.
        rng: the seeded generator (unused, and may be None, when `styles` is given).
        weights: probability per style in `PHONE_STYLES`; uniform when omitted.
        styles: a fixed style index per value (a system that always writes the same way); when
            given, nothing is drawn.

    Returns:
        A numpy object array of formatted numbers (`None` stays `None`).
    """
    n = len(digits)
    s = strings("d", digits)
    area, exchange, line = s.str.slice(0, 3), s.str.slice(3, 3), s.str.slice(6, 4)
    frame = pl.DataFrame({"a": area, "e": exchange, "l": line})
    written = frame.select(
        pl.format("({}) {}-{}", "a", "e", "l").alias("0"),
        pl.format("+1 {} {} {}", "a", "e", "l").alias("1"),
        pl.format("{}.{}.{}", "a", "e", "l").alias("2"),
        pl.format("{}-{}-{}", "a", "e", "l").alias("3"),
        pl.concat_str("a", "e", "l").alias("4"),
        pl.format("+1{}{}{}", "a", "e", "l").alias("5"),
        pl.format("1-{}-{}-{}", "a", "e", "l").alias("6"),
    ).to_numpy()
    p = np.full(len(PHONE_STYLES), 1 / len(PHONE_STYLES)) if weights is None else weights / weights.sum()
    choice = rng.choice(len(PHONE_STYLES), size=n, p=p) if styles is None else styles
    out = written[np.arange(n), choice].astype(object)
    out[s.is_null().to_numpy()] = None
    return out


def street_variants(lines: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Abbreviate or expand street suffixes and shout a share of address lines (`Oak Street` -> `OAK ST`).

    Args:
        lines: address lines, `None` for missing.
        rate: share of lines to vary.
        rng: the seeded generator.

    Returns:
        A copy with the variants applied.
    """
    out = lines.copy()
    for i in _chosen(lines, rate, rng).tolist():
        words = out[i].split(" ")
        words = [_STREET_ABBREVIATIONS.get(w, w) for w in words]
        line = " ".join(words)
        roll = rng.random()
        if roll < 0.3:
            line = line.upper()
        elif roll < 0.45:
            line = line + "."
        out[i] = line
    return out


def state_variants(
    states: np.ndarray, names: dict[str, str], rate: float, rng: np.random.Generator
) -> np.ndarray:
    """Spell out a share of two-letter state codes (`CA` -> `California`).

    Args:
        states: two-letter codes, `None` for missing.
        names: code -> full name.
        rate: share of values to spell out.
        rng: the seeded generator.

    Returns:
        A copy with the variants applied.
    """
    out = states.copy()
    for i in _chosen(states, rate, rng).tolist():
        out[i] = names.get(out[i], out[i])
    return out


def zip_plus_four(postcodes: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Extend a share of five-digit ZIP codes to ZIP+4.

    Args:
        postcodes: five-digit strings, `None` for missing.
        rate: share of values to extend.
        rng: the seeded generator.

    Returns:
        A copy with the variants applied.
    """
    out = postcodes.copy()
    for i in _chosen(postcodes, rate, rng).tolist():
        out[i] = f"{out[i]}-{int(rng.integers(1, 10_000)):04d}"
    return out


def email_variants(emails: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Capitalise a share of email addresses the way autocorrect and people do (`John.Smith@Gmail.com`).

    Args:
        emails: addresses, `None` for missing.
        rate: share of values to vary.
        rng: the seeded generator.

    Returns:
        A copy with the variants applied.
    """
    out = emails.copy()
    for i in _chosen(emails, rate, rng).tolist():
        local, _, domain = out[i].partition("@")
        if rng.random() < 0.5:
            out[i] = ".".join(part.capitalize() for part in local.split(".")) + "@" + domain.capitalize()
        else:
            out[i] = out[i].upper()
    return out
