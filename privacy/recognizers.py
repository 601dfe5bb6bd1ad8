"""Kindred's own Presidio recognizers, for what Presidio's pattern set misses offline.

Presidio finds cards, IBANs, emails, phones, IP addresses, URLs and SSNs by pattern, but without
an NLP model it finds no names or addresses, and it rejects well-known sample SSNs on purpose
(`123-45-6789` passes unmasked). A masking layer must err the other way, so Kindred adds:

- `MaskingSsnRecognizer`: Presidio's SSN patterns without the sample-number exemption;
- `AnchoredNumberRecognizer`: a number or date right after words that say what it is (`SSN`,
  `passport no`, `date of birth`, `loyalty number`, ...);
- `StreetAddressRecognizer`: street addresses in English, German, French, Spanish, Italian and
  Dutch forms, PO boxes, UK postcodes and US `ST 12345` state-and-ZIP pairs;
- `privacy.names.PersonNameRecognizer`: names after titles and introductions, and given + family
  names from Faker's name lists;
- `PhoneLikeRecognizer`: runs of 9 to 15 digits with light separators that are not dates, for
  national formats of regions not searched.

Regular expressions here are case-sensitive unless marked: names and street names start with a
capital letter, which is most of what tells them from ordinary words.
"""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, LocalRecognizer, Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import UkPostcodeRecognizer, UsSsnRecognizer

PERSON = "PERSON"
STREET_ADDRESS = "STREET_ADDRESS"
DATE_OF_BIRTH = "DATE_OF_BIRTH"
NATIONAL_ID = "NATIONAL_ID"
PERSON_ID = "PERSON_ID"
PHONE_NUMBER = "PHONE_NUMBER"
US_SSN = "US_SSN"

# A capitalised word as names and street names are written: `Alvarez`, `O'Brien`, `McDonald`, `Müller-Lüdenscheidt`.
CAPITALISED_WORD = r"(?:Mc|Mac|O['’]|D['’])?[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿß'’]+(?:-[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿß'’]+)?"
_WORD = CAPITALISED_WORD
_STREET_TYPES_EN = (
    r"Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Square|Sq|"
    r"Terrace|Terr|Way|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Trail|Trl|Crescent|Cres|Close|Gardens|Grove|"
    r"Row|Mews|Walk|Hill|Park|Plaza|Alley|Loop|Run|Pike|Path"
)
_DIRECTION = r"(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)"
_UNIT = r"(?:,?\s*(?i:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm|#)\.?\s*#?[\w-]{1,6})"
_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|"
    "OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR"
)
_ADDRESS_PATTERNS = [
    # 1600 Pennsylvania Ave NW, Apt 4; 221B Baker Street; 12-14 High St.
    rf"\b\d{{1,5}}[A-Za-z]?(?:-\d{{1,5}})?,?\s+(?:{_WORD}\s+){{0,4}}(?i:{_STREET_TYPES_EN})\b\.?"
    rf"(?:\s+{_DIRECTION}\b)?{_UNIT}?",
    # Flat 3, 12 High Street is matched from the number; Flat 3 alone is not an address.
    # Hauptstraße 5a; Berliner Str. 12; Am Lindenweg 3
    r"\b[A-ZÄÖÜ][a-zäöüß]+(?:[- ][A-ZÄÖÜ][a-zäöüß]+)*"
    r"(?i:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|steig|pfad)\s+\d{1,4}(?:\s?[a-zA-Z]\b)?",
    r"\b[A-ZÄÖÜ][a-zäöüß]+ (?:Straße|Strasse|Str\.|Weg|Gasse|Platz|Allee|Ring|Damm)\s+\d{1,4}(?:\s?[a-zA-Z]\b)?",
    # 12 rue de la Paix; 3 bis, avenue Victor Hugo
    r"\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?i:rue|avenue|av\.|boulevard|bd|place|chemin|allée|allee|impasse|quai|"
    r"route|cours|square)\s+(?:(?i:de la|de l'|du|des|de|d'|la|le|les)\s*)?"
    r"[A-ZÀ-Ý][\w'’-]*(?:\s+[A-ZÀ-Ý][\w'’-]*){0,3}",
    # Calle Mayor 5; Via Roma, 10; Plaza de España nº 3
    r"\b(?:Calle|C/|Avenida|Avda\.?|Plaza|Paseo|Carrer|Rua|Via|Viale|Piazza|Corso|Largo)\s+"
    r"(?:(?i:de la|del|de|della|dei|delle|do|da|dos)\s+)?[A-ZÀ-Ý][\w'’-]*(?:\s+[A-ZÀ-Ý][\w'’-]*){0,3},?\s*"
    r"(?:n[º°o.]?\s*)?\d{1,4}\b",
    # Keizersgracht 123; Stationsstraat 4
    r"\b[A-Z][a-z]+(?:straat|laan|weg|plein|gracht|kade|dijk|singel)\s+\d{1,4}(?:\s?[a-zA-Z]\b)?",
    # PO Box 1234; P.O. Box 55
    r"\b(?i:p\.?\s?o\.?\s?box|post office box)\s+\d{1,6}\b",
    # ..., Austin, TX 78701-1234
    rf"\b(?:{_US_STATES})\s+\d{{5}}(?:-\d{{4}})?\b",
]
_ANCHORED = [
    (
        US_SSN,
        r"(?i:\bssn|\bsocial security(?:\s+(?:number|no\.?|#))?)\s*(?:#|no\.?|number)?\s*[:=]?\s*"
        r"(\d{3}[- .]?\d{2}[- .]?\d{4})\b",
    ),
    (
        NATIONAL_ID,
        r"(?i:\bnational insurance(?:\s+number)?|\bni number|\bnino|\bpassport(?:\s+(?:number|no\.?))?|"
        r"\bid card(?:\s+(?:number|no\.?))?|\bpersonalausweis(?:nummer)?|\btax id|\btin|\bdni|\bnie|\bbsn|"
        r"\bcodice fiscale|\bpps(?:\s+number)?|\bsin|\bsteuer-?id)\s*(?:#|no\.?|number)?\s*[:=]?\s*"
        r"([A-Z0-9](?:[A-Z0-9 -]{4,18}[A-Z0-9]))\b",
    ),
    (
        DATE_OF_BIRTH,
        r"(?i:\bdob|\bd\.o\.b\.|\bdate of birth|\bborn(?:\s+on)?|\bbirthday(?:\s+is)?|\bbirth date|"
        r"\bgeboren(?:\s+am)?|\bné(?:e)? le)\s*[:=]?\s*"
        r"(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2}\s+(?i:[a-zé]{3,9})\.?\s+\d{4}|(?i:[a-z]{3,9})\.?\s+\d{1,2},?\s+\d{4})",
    ),
    (
        PERSON_ID,
        r"(?i:\bloyalty(?:\s+card)?\s+(?:number|no\.?|#|id)|\bmember(?:ship)?\s+(?:number|no\.?|#|id)|"
        r"\bcustomer\s+(?:number|no\.?|#|id)|\baccount\s+(?:number|no\.?|#|id)|\bclient\s+(?:number|no\.?|id))\s*"
        r"[:=]?\s*([A-Z0-9][A-Z0-9-]{3,24})\b",
    ),
]
_PHONE_LIKE = re.compile(
    r"(?<![\w+*])(?:\+|\b00)?\(?\d(?:[\s().\-/]{0,2}\d){6,16}(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?(?!\w)",
    re.IGNORECASE,
)
_EXTENSION = re.compile(r"\s*(?:x|ext\.?|extension)\s*\d{1,6}\s*$", re.IGNORECASE)
_DATE_LIKE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}")
_TIME_LIKE = re.compile(r"\d{1,2}:\d{2}")
_ID_PREFIX = re.compile(r"(?:[A-Za-z]-|#\s?)$")


class MaskingSsnRecognizer(UsSsnRecognizer):
    """Presidio's SSN recognizer that masks sample numbers too.

    Presidio rejects `123-45-6789` and the other published sample numbers so as not to report
    test data; someone who writes `SSN 123-45-6789` into a case still means a social security
    number, and masking it costs nothing. Structural rules (one kind of separator, no all-zero
    group) still apply.
    """

    def invalidate_result(self, pattern_text: str) -> bool:  # noqa: D102
        separators = {c for c in pattern_text if c in ".- "}
        if len(separators) > 1:
            return True
        digits = "".join(c for c in pattern_text if c.isdigit())
        if len(set(digits)) == 1:
            return True
        return digits[3:5] == "00" or digits[5:] == "0000" or digits[:3] in ("000", "666")


def masking_postcode_recognizer() -> UkPostcodeRecognizer:
    """Presidio's UK postcode pattern, reported as a street address at a score that counts.

    Presidio scores a bare postcode 0.1 (it wants context words, which need an NLP model); for
    masking a postcode is part of an address whatever surrounds it.
    """
    pattern = UkPostcodeRecognizer.PATTERNS[0]
    return UkPostcodeRecognizer(
        patterns=[Pattern(pattern.name, pattern.regex, 0.6)], supported_entity=STREET_ADDRESS
    )


class RegexRecognizer(LocalRecognizer):
    """A recognizer over compiled expressions, each reporting one entity at one score."""

    SCORE = 0.6

    def load(self) -> None:  # noqa: D102
        pass

    def _result(self, entity: str, start: int, end: int, score: float | None = None) -> RecognizerResult:
        return RecognizerResult(
            entity_type=entity,
            start=start,
            end=end,
            score=self.SCORE if score is None else score,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


class StreetAddressRecognizer(RegexRecognizer):
    """Street addresses, PO boxes and US state-and-ZIP pairs in several countries' forms."""

    def __init__(self) -> None:
        self._patterns = [re.compile(p) for p in _ADDRESS_PATTERNS]
        super().__init__(supported_entities=[STREET_ADDRESS], name="StreetAddressRecognizer")

    def analyze(  # noqa: D102
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not any(c.isdigit() for c in text):
            return []
        found = [
            self._result(STREET_ADDRESS, m.start(), m.end())
            for pattern in self._patterns
            for m in pattern.finditer(text)
        ]
        return EntityRecognizer.remove_duplicates(found)


class AnchoredNumberRecognizer(RegexRecognizer):
    """A number or date right after words naming it: `SSN: ...`, `passport no ...`, `DOB ...`."""

    SCORE = 0.85

    def __init__(self) -> None:
        self._patterns = [(entity, re.compile(p)) for entity, p in _ANCHORED]
        super().__init__(
            supported_entities=sorted({e for e, _ in _ANCHORED}), name="AnchoredNumberRecognizer"
        )

    def analyze(  # noqa: D102
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not any(c.isdigit() for c in text):
            return []
        return [
            self._result(entity, m.start(1), m.end(1))
            for entity, pattern in self._patterns
            if entity in entities
            for m in pattern.finditer(text)
            if any(c.isdigit() for c in m.group(1))
        ]


class PhoneLikeRecognizer(RegexRecognizer):
    """9 to 15 digits with light separators that are not a date: a phone in a format not searched.

    A safety net under Presidio's phone recognizer, which only knows the national formats of the
    regions it searches. A long order number in free text is masked too: the price of the net.
    """

    SCORE = 0.4

    def __init__(self) -> None:
        super().__init__(supported_entities=[PHONE_NUMBER], name="PhoneLikeRecognizer")

    def analyze(  # noqa: D102
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        found = []
        for m in _PHONE_LIKE.finditer(text):
            if _ID_PREFIX.search(text, 0, m.start()):
                continue  # INV-2024-00012, order #123456789: a reference, not a phone
            candidate = m.group(0)
            digits = re.sub(r"\D", "", _EXTENSION.sub("", candidate))
            if (
                9 <= len(digits) <= 15
                and not _DATE_LIKE.search(candidate)
                and not _TIME_LIKE.search(candidate)
            ):
                found.append(self._result(PHONE_NUMBER, m.start(), m.end()))
        return found
