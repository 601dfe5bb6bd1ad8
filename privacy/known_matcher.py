"""Finding one person's known values in text, in any formatting (see `privacy.known`).

Most texts hold none of a person's values, so each kind of value first looks for a cheap needle
(the value in lower case, a phone's digits, a date's year), and its regular expression is only
compiled when a text holds one.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from privacy.display import phone_digits
from privacy.known import NAME_PARTS, KnownPii

_SEPARATORS = r"[\s().\-/]{0,3}"
_NON_DIGITS = re.compile(r"\D+")
_STREET_WORDS = {
    "street": ("street", "st", "str"),
    "avenue": ("avenue", "ave", "av"),
    "road": ("road", "rd"),
    "drive": ("drive", "dr"),
    "lane": ("lane", "ln"),
    "boulevard": ("boulevard", "blvd"),
    "court": ("court", "ct"),
    "place": ("place", "pl"),
    "square": ("square", "sq"),
    "terrace": ("terrace", "terr", "ter"),
    "parkway": ("parkway", "pkwy"),
    "highway": ("highway", "hwy"),
    "circle": ("circle", "cir"),
    "crescent": ("crescent", "cres"),
    "apartment": ("apartment", "apt"),
    "suite": ("suite", "ste"),
    "north": ("north", "n"),
    "south": ("south", "s"),
    "east": ("east", "e"),
    "west": ("west", "w"),
    "straße": ("straße", "strasse", "str"),
}
_STREET_ALIASES = {alias: canonical for canonical, aliases in _STREET_WORDS.items() for alias in aliases}
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass(frozen=True)
class KnownFinding:
    """One of the person's own values found in a text: kind, span, and for names which part."""

    kind: str
    start: int
    end: int
    detail: str | None = None


class KnownMatcher:
    """Finds one person's known values in texts (see the module docstring for the forms found).

    Most texts hold none of a person's values, so each kind of value first looks for a cheap
    needle (the value in lower case, a phone's digits, a date's year) and its regular expression
    is compiled only when a text holds one: building a matcher costs next to nothing.

    Args:
        known: the person's values.
        region: the region for phone numbers written without a country code.
    """

    def __init__(self, known: KnownPii, *, region: str = "US") -> None:
        self.known = known
        self.region = region
        self._probes = _probes(known, region)

    def find(self, text: str) -> list[KnownFinding]:
        """Every occurrence of the person's values in `text` (overlaps are left to the caller)."""
        forms: dict[str, str] = {}
        found: list[KnownFinding] = []
        for probe in self._probes:
            form = forms.get(probe.form)
            if form is None:
                form = forms[probe.form] = _form(text, probe.form)
            if any(needle in form for needle in probe.needles):
                found += probe.finder()(text)
        return found


@dataclass
class _Probe:
    """One kind of known value: needles to look for in a form of the text, and how to find the values."""

    form: str  # `lower`, `folded` (accents dropped, lower case), `digits` or `alnum` (letters and digits)
    needles: tuple[str, ...]
    build: Callable[[], Callable[[str], list[KnownFinding]]]
    _finder: Callable[[str], list[KnownFinding]] | None = None

    def finder(self) -> Callable[[str], list[KnownFinding]]:
        if self._finder is None:
            self._finder = self.build()
        return self._finder


def _form(text: str, form: str) -> str:
    if form == "digits":
        return _NON_DIGITS.sub("", text)
    if form == "alnum":
        return _alphanumeric(text)
    if form == "folded":
        return fold_accents(text).lower()
    return text.lower()


def _probes(known: KnownPii, region: str) -> list[_Probe]:
    probes: list[_Probe] = []
    literal = [(kind, v) for kind in ("email", "identifier") for v in known.of(kind)]
    if literal:
        probes.append(
            _Probe(
                "lower",
                tuple(" ".join(v.lower().split()) for _, v in literal),
                lambda: _finds(_alternation(literal, flags=re.IGNORECASE)),
            )
        )
    for part, names, pattern in _name_patterns(known):
        probes.append(
            _Probe("folded", names, lambda pattern=pattern, part=part: _name_finds(pattern(), part))
        )
    for value in known.of("national_id"):
        chars = _alphanumeric(value)
        if len(chars) >= 5:
            probes.append(
                _Probe(
                    "alnum", (chars,), lambda chars=chars: _kind_finds(_spread_pattern(chars), "national_id")
                )
            )
    for kind, cores, pattern in _phone_patterns(known, region):
        probes.append(
            _Probe("digits", cores, lambda kind=kind, pattern=pattern: _kind_finds(pattern(), kind))
        )
    for address in known.of("address"):
        probes.append(
            _Probe(
                "lower",
                (_address_needle(address),),
                lambda a=address: _kind_finds(re.compile(_address_pattern(a), re.IGNORECASE), "address"),
            )
        )
    dates = [("date_of_birth", f) for v in known.of("date_of_birth") for f in _date_forms(v)]
    if dates:
        years = tuple({d[1][-4:] if d[1][-4:].isdigit() else d[1][:4] for d in dates})
        probes.append(_Probe("lower", years, lambda: _finds(_alternation(dates))))
    return probes


def _finds(alternation: _Alternation | None) -> Callable[[str], list[KnownFinding]]:
    return lambda text: _matches(alternation, text) if alternation is not None else []


def _name_finds(pattern: re.Pattern[str], part: str) -> Callable[[str], list[KnownFinding]]:
    return lambda text: [
        KnownFinding("name", m.start(), m.end(), part) for m in pattern.finditer(fold_accents(text))
    ]


def _kind_finds(pattern: re.Pattern[str], kind: str) -> Callable[[str], list[KnownFinding]]:
    return lambda text: [KnownFinding(kind, m.start(), m.end()) for m in pattern.finditer(text)]


def _address_needle(address: str) -> str:
    """The address's most telling word in lower case (the street's name, not `St` or the number)."""
    tokens = [t for t in re.split(r"[\s,.]+", address.lower()) if t and t not in _STREET_ALIASES]
    words = [t for t in tokens if not t.isdigit()] or tokens or [address.lower()]
    return max(words, key=len)


@dataclass(frozen=True)
class _Alternation:
    pattern: re.Pattern[str]
    kinds: dict[str, str]


def _alternation(values: list[tuple[str, str]], *, flags: int = 0) -> _Alternation | None:
    """One expression matching any of the values as whole words, longest first; None when empty."""
    if not values:
        return None
    ordered = sorted(set(values), key=lambda kv: (-len(kv[1]), kv[1]))
    kinds = {f"k{i}": kind for i, (kind, _) in enumerate(ordered)}
    body = "|".join(f"(?P<k{i}>{_spaced(value)})" for i, (_, value) in enumerate(ordered))
    return _Alternation(re.compile(rf"(?<![\w@.+-])(?:{body})(?![\w@-]|\.\w)", flags), kinds)


def _matches(alternation: _Alternation, text: str) -> list[KnownFinding]:
    return [
        KnownFinding(alternation.kinds[m.lastgroup or ""], m.start(), m.end())
        for m in alternation.pattern.finditer(text)
    ]


def _spaced(value: str) -> str:
    """A value as a pattern whose spaces match any run of whitespace."""
    return r"\s+".join(re.escape(part) for part in value.split())


def _name_patterns(known: KnownPii) -> list[tuple[str, tuple[str, ...], Callable[[], re.Pattern[str]]]]:
    """Per name part: the folded lower-case names as needles, and the expression finding them."""
    by_part: dict[str, list[str]] = {}
    for name in known.of("name"):
        by_part.setdefault(known.name_parts.get(name, "full"), []).append(fold_accents(name))
    patterns = []
    for part in NAME_PARTS:
        names = sorted(set(by_part.get(part, ())), key=lambda n: (-len(n), n))
        if names:
            needles = tuple(" ".join(n.lower().split()) for n in names)
            patterns.append((part, needles, functools.partial(_name_pattern, tuple(names), part)))
    return patterns


def _name_pattern(names: tuple[str, ...], part: str) -> re.Pattern[str]:
    # As written, capitalised or in capitals only: `Price` the person, not "the price shown";
    # `Will` the person, not "will you call".
    forms = {form for n in names for form in (n, _capitalised(n), n.upper())}
    body = "|".join(_spaced(f) for f in sorted(forms, key=lambda n: (-len(n), n)))
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)")


def _capitalised(name: str) -> str:
    """Each word with a capital first letter, the rest as written (`mcdonald` -> `Mcdonald`, `McDonald` stays)."""
    return " ".join(w[:1].upper() + w[1:] for w in name.split())


def _phone_patterns(
    known: KnownPii, region: str
) -> list[tuple[str, tuple[str, ...], Callable[[], re.Pattern[str]]]]:
    """The phones' core digits as needles, and the expression finding them."""
    cores: list[str] = []
    for value in known.of("phone"):
        core = phone_digits(value, region).lstrip("0")
        if len(core) >= 6 and core not in cores:
            cores.append(core)
    return [("phone", tuple(cores), functools.partial(_phone_pattern, tuple(cores)))] if cores else []


def _phone_pattern(cores: tuple[str, ...]) -> re.Pattern[str]:
    body = "|".join(_SEPARATORS.join(core) for core in sorted(cores, key=lambda c: (-len(c), c)))
    # A country code or trunk zero in front and an extension behind belong to the number.
    prefix = r"(?:(?:\+|\b00)\d{1,3}[\s().\-/]{0,3})?(?:\(?0[\s().\-/]{0,2})?\(?"
    suffix = r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?"
    return re.compile(rf"(?<![\d+]){prefix}(?:{body}){suffix}(?!\d)", re.IGNORECASE)


def _spread_pattern(chars: str) -> re.Pattern[str]:
    """An id's letters and digits with any light separators between them (`AB 12 34 56 C`, `AB123456C`)."""
    return re.compile(
        r"(?<![A-Za-z0-9])" + r"[\s.\-/]{0,2}".join(re.escape(c) for c in chars) + r"(?![A-Za-z0-9])",
        re.IGNORECASE,
    )


def _alphanumeric(value: str) -> str:
    return "".join(c for c in value.lower() if c.isalnum())


def _address_pattern(address: str) -> str:
    """An address as tokens with any separators between them and the usual abbreviations."""
    tokens = [t for t in re.split(r"[\s,.]+", address) if t]
    parts = []
    for token in tokens:
        canonical = _STREET_ALIASES.get(token.lower())
        if canonical:
            aliases = sorted(_STREET_WORDS[canonical], key=len, reverse=True)
            parts.append("(?:" + "|".join(re.escape(a) for a in aliases) + r")\.?")
        else:
            parts.append(re.escape(token))
    separator = r"[\s,.]+" if len(tokens) > 1 and all(len(t) > 1 for t in tokens) else r"[\s,.]*"
    return r"(?<!\w)" + separator.join(parts) + r"(?!\w)"


def _date_forms(value: str) -> list[str]:
    """A date of birth as people write it: ISO, 04/12/1985, 12.04.1985, April 12, 1985, 12 April 1985."""
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return [value]
    month = _MONTHS[day.month - 1]
    d, m, y = day.day, day.month, day.year
    forms = {
        day.isoformat(),
        f"{m:02d}/{d:02d}/{y}",
        f"{m}/{d}/{y}",
        f"{d:02d}/{m:02d}/{y}",
        f"{d}/{m}/{y}",
        f"{d:02d}.{m:02d}.{y}",
        f"{d}.{m}.{y}",
        f"{d:02d}-{m:02d}-{y}",
        f"{month} {d}, {y}",
        f"{month[:3]} {d}, {y}",
        f"{d} {month} {y}",
        f"{d} {month[:3]} {y}",
    }
    return sorted(forms)


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped if len(stripped) == 1 else char


def fold_accents(text: str) -> str:
    """`text` with accents dropped character by character, so positions stay the same (`José` -> `Jose`)."""
    if text.isascii():
        return text
    return "".join(_fold_char(c) for c in text)
