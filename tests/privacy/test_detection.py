"""PII detection: the hostile corpus, the reported leaks, the person's own values, and what is left alone."""

from __future__ import annotations

import pytest

from privacy.detection import PiiDetector, resolve_overlaps
from privacy.known import KnownPii
from privacy.masking import DisplayStyle, Masker
from tests.privacy.pii_corpus import BENIGN, CORPUS


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector()


def _uncovered(text: str, value: str, findings) -> str:
    """The letters and digits of `value` in `text` that no finding covers."""
    start = text.index(value)
    covered = {i for f in findings for i in range(f.start, f.end)}
    return "".join(
        text[i] for i in range(start, start + len(value)) if text[i].isalnum() and i not in covered
    )


@pytest.mark.parametrize(("text", "values"), CORPUS, ids=[text[:40] for text, _ in CORPUS])
def test_every_value_of_the_corpus_is_found(detector, text, values):
    findings = detector.find(text)
    for kind, value in values:
        assert _uncovered(text, value, findings) == "", (
            kind,
            value,
            [(f.kind, text[f.start : f.end]) for f in findings],
        )


@pytest.mark.parametrize("text", BENIGN)
def test_texts_without_personal_data_are_left_alone(detector, text):
    assert detector.find(text) == []


def test_the_reported_leaks_are_masked(detector):
    # Both passed the regex scrubber unmasked; the SSN is a published sample Presidio exempts,
    # and was taken for a date.
    card = detector.find("Card 4111 1111 1111 1111")
    assert [(f.kind, f.start, f.end) for f in card] == [("card", 5, 24)]
    ssn = detector.find("SSN 123-45-6789")
    assert [(f.kind, f.start, f.end) for f in ssn] == [("ssn", 4, 15)]
    masked = Masker(DisplayStyle(), detector=detector).text("Card 4111 1111 1111 1111 and SSN 123-45-6789")
    assert masked == "Card ****-****-****-1111 and SSN [SSN]"


def test_a_url_is_only_personal_when_it_carries_personal_data(detector):
    assert detector.find("See https://shop.example.com/returns for the policy") == []
    text = "See https://shop.example.com/orders?customer_id=88213 for the order"
    assert [(f.kind, text[f.start : f.end]) for f in detector.find(text)] == [
        ("url", "https://shop.example.com/orders?customer_id=88213")
    ]


def _known() -> KnownPii:
    known = KnownPii()
    known.add("name", "José", part="first")
    known.add("name", "Núñez", part="last")
    known.add("name", "Will", part="first")
    known.add("email", "jose.nunez@example.com")
    known.add("phone", "+1 415 555 0101")
    known.add("address", "12 Main Street")
    known.add("date_of_birth", "1985-04-12")
    known.add("identifier", "LOY-884422")
    known.add("national_id", "AB 12 34 56 C")
    return known


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Mr NUNEZ called", "name", "NUNEZ"),
        ("jose said hi", "name", None),  # a first name in lower case is an ordinary word
        ("José wrote", "name", "José"),
        ("Jose wrote", "name", "Jose"),
        ("Write to JOSE.NUNEZ@EXAMPLE.COM", "email", "JOSE.NUNEZ@EXAMPLE.COM"),
        ("call 415/555/0101", "phone", "415/555/0101"),
        ("call 001 415 555 0101 x12", "phone", "001 415 555 0101 x12"),
        ("lives at 12 main st. now", "address", "12 main st."),
        ("born 04/12/1985", "date_of_birth", "04/12/1985"),
        ("born April 12, 1985", "date_of_birth", "April 12, 1985"),
        ("card LOY-884422 lost", "identifier", "LOY-884422"),
        ("NI AB123456C on file", "national_id", "AB123456C"),
        ("NI AB 12 34 56 C on file", "national_id", "AB 12 34 56 C"),
        ("will you call?", "name", None),
    ],
)
def test_the_persons_own_values_are_found_in_any_formatting(detector, text, kind, value):
    findings = detector.find(text, _known().matcher())
    found = [(f.kind, text[f.start : f.end]) for f in findings if f.known]
    assert found == ([(kind, value)] if value else [])


def test_own_names_join_into_the_person_and_strangers_stay_strangers(detector):
    known = KnownPii()
    known.add("name", "Jane", part="first")
    known.add("name", "Doe", part="last")
    text = "Jane Doe said her brother John Doe will call"
    findings = detector.find(text, known.matcher())
    assert [(text[f.start : f.end], f.known, f.detail) for f in findings] == [
        ("Jane Doe", True, "full"),
        ("John Doe", False, None),
    ]
    masked = Masker(DisplayStyle(), known=known, detector=detector).text(text)
    assert masked == "Jane D. said her brother J. D. will call"


def test_full_names_of_any_source_are_split_into_first_and_last():
    known = KnownPii()
    known.add("name", "CHERRY, STEPHANIE")
    known.add("name", "S. Cherry")
    assert known.name_parts["CHERRY"] == "last"
    assert known.name_parts["STEPHANIE"] == "first"
    assert known.name_parts["Cherry"] == "last"
    assert "S." not in known.name_parts


def test_overlaps_across_kinds_keep_the_stronger_finding(detector):
    text = "Pay 4111 1111 1111 1111 now"
    findings = detector.find(text)
    assert len(findings) == 1 and findings[0].kind == "card"
    assert resolve_overlaps([]) == []


def test_a_family_name_that_is_a_word_is_only_masked_as_a_name():
    # Seen on the demo company: customers named Price and Weeks turned "the price shown" into
    # "the P. shown" and "two weeks ago" into "two W. ago".
    known = KnownPii()
    known.add("name", "Price", part="last")
    known.add("name", "Weeks", part="last")
    masker = Masker(DisplayStyle(), known=known)
    assert masker.text("I was charged more than the price shown, two weeks ago") == (
        "I was charged more than the price shown, two weeks ago"
    )
    assert masker.text("Mrs PRICE and Mr Weeks called") == "Mrs P. and Mr W. called"


def test_a_record_id_that_is_an_email_is_masked_as_an_email():
    # An email service's events are keyed by the address: the record id is an email, not an id.
    known = KnownPii()
    known.add("identifier", "kim@example.net")
    assert known.of("email") == ["kim@example.net"] and known.of("identifier") == []
    assert Masker(DisplayStyle(), known=known).text("reply to kim@example.net") == "reply to k***@example.net"
