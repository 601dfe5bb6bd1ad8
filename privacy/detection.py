"""Finding personal data in text: Presidio's recognizers, Kindred's, and the person's own values.

`PiiDetector.find(text, known)` returns non-overlapping `Finding`s, each with a kind (`email`,
`phone`, `name`, `address`, `card`, `ssn`, `iban`, `ip_address`, `url`, `national_id`,
`date_of_birth`, `identifier`), a span and a score. Sources, strongest first:

1. the person's own values (`privacy.known.KnownMatcher`, score 1.0): names, emails, phones,
   addresses, ids and dates of birth from every source Kindred has for them;
2. Presidio's pattern recognizers, offline (`no_op` NLP engine): Luhn-checked cards, IBANs with
   their checksum, emails, phones of the configured regions, IP addresses, URLs, UK national
   insurance numbers and SSNs (without Presidio's sample-number exemption);
3. Kindred's recognizers (`privacy.recognizers`): street addresses, names after titles and
   introductions or from name lists, numbers anchored by words such as `SSN` or `date of birth`,
   and a digit-run safety net for phones in unsearched formats.

A URL is only reported when it carries personal data (an address, a finding, or query keys
such as `email=`); a bare `https://shop.example.com/returns` is not personal. Overlapping
findings of one kind are joined (`John` + `Doe` -> `John Doe`); across kinds the higher score
wins. Generic results depend on the text alone and are cached, so a text seen for many people
(a standard case subject) is analysed once per process.

The Presidio engine is slow to build (seconds), so it is built once per process and region set.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlsplit

from privacy.known_matcher import KnownFinding, KnownMatcher

log = logging.getLogger(__name__)

ENTITY_KINDS = {
    "CREDIT_CARD": "card",
    "US_SSN": "ssn",
    "IBAN_CODE": "iban",
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "IP_ADDRESS": "ip_address",
    "URL": "url",
    "UK_NINO": "national_id",
    "PERSON": "name",
    "STREET_ADDRESS": "address",
    "DATE_OF_BIRTH": "date_of_birth",
    "NATIONAL_ID": "national_id",
    "PERSON_ID": "identifier",
}
FINDING_KINDS = tuple(dict.fromkeys(ENTITY_KINDS.values()))
DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "CA", "AU", "BR", "MX")
DEFAULT_THRESHOLD = 0.4
_DIGIT_ENTITIES = [
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "PHONE_NUMBER",
    "IP_ADDRESS",
    "UK_NINO",
    "STREET_ADDRESS",
    "DATE_OF_BIRTH",
    "NATIONAL_ID",
    "PERSON_ID",
]
# Query keys that make a URL personal: it carries who the person is.
_PERSONAL_KEYS = re.compile(
    r"(?i)^(?:e?mail|email_?address|name|first_?name|last_?name|full_?name|phone|tel|mobile|user(?:_?id|name)?|"
    r"uid|customer(?:_?id)?|account(?:_?id)?|member(?:_?id)?|contact(?:_?id)?|token|dob|birth_?date|address|"
    r"street|zip|postcode|ssn)$"
)
# Kindred's email pattern: also takes reserved and intranet domains (`.example`, `.local`) and IP
# literals, which Presidio's public-suffix check refuses; a masking layer must not.
_EMAIL = r"(?<![\w.%+*-])[\w.%+*-]+@(?:[\w-]+(?:\.[\w-]+)+|\[[0-9A-Fa-f:.]+\]|[\w-]{2,}(?![\w.]))"
_EMAIL_PATTERN = re.compile(_EMAIL)
_CACHE_SIZE = 65_536


@dataclass(frozen=True)
class Finding:
    """Personal data found in a text.

    Attributes:
        kind: what it is (one of `FINDING_KINDS`).
        start: first character.
        end: one past the last character.
        score: confidence 0..1 (1.0 for the person's own values).
        recognizer: which recognizer found it (`known` for the person's own values).
        detail: for names, `first`, `last` or `full` when they are the person's own, else None.
    """

    kind: str
    start: int
    end: int
    score: float
    recognizer: str
    detail: str | None = None

    @property
    def known(self) -> bool:
        """Whether this is one of the person's own values."""
        return self.recognizer == "known"


class PiiDetector:
    """Finds personal data in text (see the module docstring).

    Args:
        phone_regions: regions whose national phone formats are searched for.
        threshold: findings scoring below it are ignored.

    Example:
        >>> detector = PiiDetector()
        >>> [(f.kind, "Card 4111 1111 1111 1111"[f.start:f.end]) for f in detector.find("Card 4111 1111 1111 1111")]
        [('card', '4111 1111 1111 1111')]
    """

    def __init__(
        self,
        *,
        phone_regions: tuple[str, ...] | list[str] = DEFAULT_PHONE_REGIONS,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        self.phone_regions = tuple(dict.fromkeys(phone_regions))
        self.threshold = threshold

    @classmethod
    def from_config(cls, config) -> PiiDetector:
        """The detector a loaded kindred.yaml describes (`privacy:` and the identity phone region).

        Args:
            config: a `warehouse.config.KindredConfig`, or None for the defaults.

        Returns:
            The detector.
        """
        if config is None:
            return cls()
        region = config.identity.default_phone_region
        regions = (region, *config.privacy.phone_regions)
        return cls(phone_regions=regions, threshold=config.privacy.detection_threshold)

    def find(
        self, text: str | None, known: KnownMatcher | None = None, *, generic: bool = True
    ) -> list[Finding]:
        """Personal data in `text`, as non-overlapping findings in text order.

        Args:
            text: any text.
            known: the person's own values, when the text is about a known person.
            generic: also run the pattern recognizers (False: only the person's own values and
                email addresses, for identifiers such as order numbers, where any long number
                would otherwise read as a phone).

        Returns:
            The findings, sorted by position.
        """
        if not text:
            return []
        found: list[Finding] = []
        if known is not None:
            found += [_from_known(k) for k in known.find(text)]
        if generic:
            found += _generic_findings(text, self.phone_regions, self.threshold)
        elif "@" in text:
            found += [
                Finding("email", m.start(), m.end(), 1.0, "KindredEmailRecognizer")
                for m in _EMAIL_PATTERN.finditer(text)
            ]
        if len(found) <= 1 and not any(f.kind == "url" for f in found):
            return found
        return resolve_overlaps(_personal_urls(text, found))

    def warm_up(self) -> None:
        """Build the Presidio engine now (it takes seconds) rather than on the first text."""
        _engine(self.phone_regions)


def _from_known(finding: KnownFinding) -> Finding:
    return Finding(finding.kind, finding.start, finding.end, 1.0, "known", finding.detail)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _generic_findings(text: str, regions: tuple[str, ...], threshold: float) -> tuple[Finding, ...]:
    entities = _entities_for(text)
    results = _engine(regions).analyze(text, language="en", entities=entities, score_threshold=threshold)
    return tuple(
        Finding(
            ENTITY_KINDS[r.entity_type],
            r.start,
            r.end,
            float(r.score),
            (r.recognition_metadata or {}).get("recognizer_name", "presidio"),
        )
        for r in results
        if r.entity_type in ENTITY_KINDS
    )


def _entities_for(text: str) -> list[str]:
    """The entities worth asking for: most need a digit, an `@` or a URL marker to be present."""
    entities = ["PERSON"]
    if any(c.isdigit() for c in text):
        entities += _DIGIT_ENTITIES
    if "@" in text:
        entities.append("EMAIL_ADDRESS")
    if "@" in text or "://" in text or "www." in text.lower() or "?" in text:
        entities.append("URL")
    return entities


@functools.cache
def _engine(regions: tuple[str, ...]):
    """Presidio's analyzer with Kindred's recognizers, offline; built once per process and region set."""
    import tldextract

    # Without this the first URL or email check fetches the public suffix list from the network.
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UkNinoRecognizer,
        UrlRecognizer,
    )

    from privacy.names import PersonNameRecognizer
    from privacy.recognizers import (
        AnchoredNumberRecognizer,
        MaskingSsnRecognizer,
        PhoneLikeRecognizer,
        StreetAddressRecognizer,
        masking_postcode_recognizer,
    )

    for name in ("presidio-analyzer", "presidio_analyzer"):
        logging.getLogger(name).setLevel(logging.ERROR)
    nlp_engine = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "none"}]}
    ).create_engine()
    registry = RecognizerRegistry(
        recognizers=[
            CreditCardRecognizer(),
            MaskingSsnRecognizer(),
            IbanRecognizer(),
            PatternRecognizer(
                supported_entity="EMAIL_ADDRESS",
                patterns=[Pattern("Email, any domain", _EMAIL, 1.0)],
                name="KindredEmailRecognizer",
            ),
            PhoneRecognizer(supported_regions=regions),
            IpRecognizer(),
            UrlRecognizer(),
            UkNinoRecognizer(),
            masking_postcode_recognizer(),
            StreetAddressRecognizer(),
            AnchoredNumberRecognizer(),
            PersonNameRecognizer(),
            PhoneLikeRecognizer(),
        ],
        supported_languages=["en"],
    )
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
    log.info("PII detection engine built (phone regions %s)", ", ".join(regions))
    return engine


def _personal_urls(text: str, found: list[Finding]) -> list[Finding]:
    """Keep a URL finding only when the URL carries personal data; such a URL then covers all it holds."""
    others = [f for f in found if f.kind != "url"]
    kept = list(others)
    for url in (f for f in found if f.kind == "url"):
        value = text[url.start : url.end]
        inside = [o for o in others if o.start < url.end and url.start < o.end]
        if inside or "@" in value or _has_personal_keys(value):
            kept.append(replace(url, score=1.0))
    return kept


def _has_personal_keys(url: str) -> bool:
    query = urlsplit(url if "://" in url else f"//{url}").query
    return any(_PERSONAL_KEYS.match(key) for key, _ in parse_qsl(query, keep_blank_values=True))


def resolve_overlaps(found: list[Finding]) -> list[Finding]:
    """Non-overlapping findings: one kind's overlapping spans joined, then the best across kinds kept.

    Args:
        found: findings, possibly overlapping.

    Returns:
        Findings that do not overlap, by position. Across kinds, the higher score wins, then the
        longer span.
    """
    joined: list[Finding] = []
    for kind in dict.fromkeys(f.kind for f in found):
        joined += _join_kind(sorted((f for f in found if f.kind == kind), key=lambda f: (f.start, -f.end)))
    chosen: list[Finding] = []
    for candidate in sorted(joined, key=lambda f: (-f.score, -(f.end - f.start), f.start)):
        if all(candidate.end <= c.start or c.end <= candidate.start for c in chosen):
            chosen.append(candidate)
    return sorted(chosen, key=lambda f: f.start)


def _join_kind(spans: list[Finding]) -> list[Finding]:
    """Overlapping findings of one kind as one finding over their union."""
    out: list[Finding] = []
    group: list[Finding] = []
    for finding in spans:
        if group and finding.start >= max(g.end for g in group):
            out.append(_union(group))
            group = []
        group.append(finding)
    if group:
        out.append(_union(group))
    return out


def _union(group: list[Finding]) -> Finding:
    if len(group) == 1:
        return group[0]
    start, end = min(g.start for g in group), max(g.end for g in group)
    best = max(group, key=lambda g: (g.score, g.end - g.start))
    known = [g for g in group if g.known]
    if known and any(k.start == start and k.end == end for k in known):
        # A known value covers the whole union: keep what it says (the person's first name...).
        whole = next(k for k in known if k.start == start and k.end == end)
        return replace(whole, score=max(g.score for g in group))
    # Known parts joined with the rest: still the person's own only if the known parts cover it
    # all but the spaces between them (`Jane` + `Doe` -> `Jane Doe`).
    if known and _covers(known, start, end):
        return Finding(group[0].kind, start, end, 1.0, "known", "full" if group[0].kind == "name" else None)
    generic = max((g for g in group if not g.known), key=lambda g: (g.score, g.end - g.start), default=best)
    return Finding(best.kind, start, end, max(g.score for g in group), generic.recognizer, None)


def _covers(parts: list[Finding], start: int, end: int) -> bool:
    cursor = start
    for part in sorted(parts, key=lambda p: p.start):
        if part.start - cursor > 1:
            return False
        cursor = max(cursor, part.end)
    return end - cursor <= 0
