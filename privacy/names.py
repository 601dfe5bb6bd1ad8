"""Finding people's names in text without an NLP model (Presidio's PERSON needs one).

Three signs of a name, from strongest to weakest:

- a title or an introduction in front (`Mrs Alvarez`, `my name is Priya Natarajan`, `Regards, Tom
  Becker`), score 0.7;
- a given name followed by a family name, both in Faker's name lists of ten locales (`John
  Smith`), score 0.7;
- a given name from the lists that is not an everyday word (`April`, `Will`), followed by a
  capitalised word that could be a family name (`Priya Raman`), score 0.5.

Names written in lower case, or alone without any of these signs, are not found; the person's own
names are (`privacy.known`), whatever their form.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterable

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from privacy.recognizers import CAPITALISED_WORD, PERSON, RegexRecognizer


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NAME_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "pt_BR", "nl_NL", "en_IN", "pl_PL")
# Given names that are everyday words in support text; a name recognised by them alone would mask
# "April sale" or "Will you call". They still count when the next word is a known family name.
_COMMON_WORD_NAMES = _words(
    """
    April August June May Will Mark Bill Grant Rose Joy Faith Hope Guy Drew Amber Art Chance Sunny
    Page Case Austin Jordan Paris Florence Victoria Georgia Virginia Carolina Dakota Sky River
    Summer Autumn Winter Holly Ivy Crystal Ruby Pearl Jade Royal Price Sale Bay Else Ole Job Sage
    Max Gay Dean
    """
)
# Capitalised words that follow a given name without being a family name.
_NOT_FAMILY_NAMES = _words(
    """
    Street Road Avenue Lane Drive Team Support Service Services Order Orders Account Card Please
    Thanks Thank Hello Hi Dear Monday Tuesday Wednesday Thursday Friday Saturday Sunday January
    February March October November December Store Shop Sale Delivery Customer Club Points Gift
    Return Refund The And For With From Day Week Month Year Morning Evening Office Center Centre
    Park Group Inc Ltd LLC GmbH
    """
)
_WORD = CAPITALISED_WORD
_TITLE = (
    r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Madam|Madame|Mme|Mlle|Herr|Frau|Sr|Sra|Srta|Sig|Signora|Signor)"
)
_TITLED_NAME = re.compile(rf"\b{_TITLE}\.?\s+((?:[A-Z]\.\s*)?{_WORD}(?:\s+{_WORD}){{0,2}})")
_INTRODUCED_NAME = re.compile(
    r"(?i:\bmy name is|\bname\s*[:=]|\bsigned,?|\bregards,|\bsincerely,|\bcheers,|\bcontact person\s*:?|"
    r"\battn\.?:?|\battention:?|\bask for|\bspoke (?:to|with)|\bcustomer\s*:)"
    rf"\s+({_WORD}(?:\s+{_WORD}){{0,2}})"
)
_SELF_INTRODUCTION = re.compile(rf"(?i:\bi am|\bi'm|\bthis is|\bit's)\s+({_WORD})(?:\s+({_WORD}))?")
_NAME_PAIR = re.compile(rf"\b({_WORD})\s+(?:([A-Z])\.\s+)?({_WORD})")


class PersonNameRecognizer(RegexRecognizer):
    """Names without an NLP model: after a title or an introduction, or a known given name + family name.

    Scores: a title or an introduction 0.7 (`Mrs Alvarez`, `my name is Priya Natarajan`); a given
    name and a family name both in Faker's lists 0.7 (`Will Smith`); a given name from the lists
    (not an everyday word) and a capitalised word that could be a family name 0.5.
    """

    def __init__(self) -> None:
        super().__init__(supported_entities=[PERSON], name="PersonNameRecognizer")

    def analyze(  # noqa: D102
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        given, family = name_lists()
        found = [self._result(PERSON, m.start(1), m.end(1), 0.7) for m in _TITLED_NAME.finditer(text)]
        found += [self._result(PERSON, m.start(1), m.end(1), 0.7) for m in _INTRODUCED_NAME.finditer(text)]
        for m in _SELF_INTRODUCTION.finditer(text):
            if m.group(1) in given and m.group(1) not in _COMMON_WORD_NAMES:
                end = m.end(2) if m.group(2) and m.group(2) not in _NOT_FAMILY_NAMES else m.end(1)
                found.append(self._result(PERSON, m.start(1), end, 0.7))
        for m in _pairs(text):
            first, last = m.group(1), m.group(3)
            if first not in given or last in _NOT_FAMILY_NAMES:
                continue
            if last in family:
                found.append(self._result(PERSON, m.start(1), m.end(3), 0.7))
            elif first not in _COMMON_WORD_NAMES:
                found.append(self._result(PERSON, m.start(1), m.end(3), 0.5))
        return EntityRecognizer.remove_duplicates(found)


def _pairs(text: str) -> Iterable[re.Match[str]]:
    """Every pair of capitalised words, overlapping ones included (`Dear Anna Berg` gives both pairs)."""
    position = 0
    while True:
        match = _NAME_PAIR.search(text, position)
        if match is None:
            return
        yield match
        position = match.start(3) if match.group(2) is None else match.start(2)


@functools.cache
def name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """Given names and family names from Faker's person providers of ten locales."""
    given: set[str] = set()
    family: set[str] = set()
    for locale in _NAME_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attribute, target in (
            ("first_names", given),
            ("first_names_male", given),
            ("first_names_female", given),
            ("last_names", family),
        ):
            values = getattr(provider, attribute, ())
            target.update(v for v in values if isinstance(v, str) and len(v) >= 2)
    return frozenset(given), frozenset(family)
