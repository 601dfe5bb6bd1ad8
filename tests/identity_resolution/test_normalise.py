"""Each normaliser on the variants real sources produce."""

import polars as pl
import pytest

from identity_resolution.email_phone_keys import email_series, normalise_email, normalise_phone, phone_series
from identity_resolution.normalise import (
    normalise_date_of_birth,
    normalise_loyalty_id,
    normalise_name,
    normalise_people,
    normalise_postcode,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ann.Lee@Example.COM ", "ann.lee@example.com"),
        ("mailto:bob@example.org", "bob@example.org"),
        ("not an email", None),
        ("bob@", None),
        ("a@@b.com", None),
        ("", None),
        (None, None),
    ],
)
def test_email(raw, expected):
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "(415) 555-0101",
        "+1 415 555 0101",
        "415.555.0101",
        "415-555-0101",
        "4155550101",
        "+14155550101",
        "1-415-555-0101",
        "001-415-555-0101",
        "415-555-0101 x123",
    ],
)
def test_phone_formats_agree(raw):
    assert normalise_phone(raw, "US") == "+14155550101"


def test_phone_region_and_rejects():
    assert normalise_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalise_phone("+44 20 7946 0958", "US") == "+442079460958"
    assert normalise_phone("555-0101", "US") is None  # no area code: ambiguous
    assert normalise_phone("call me", "US") is None
    assert normalise_phone(None) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  José  O'Neil ", "jose oneil"),
        ("MARY-ANN", "mary ann"),
        ("Zoë", "zoe"),
        ("   ", None),
        ("N/A", None),
    ],
)
def test_name(raw, expected):
    assert normalise_name(raw) == expected


def test_nicknames_are_evidence_both_ways_never_one_canonical_name():
    names = [
        "Chris",
        "Christina",
        "Christopher",
        "Sam",
        "Samantha",
        "Sandra",
        "Alexandra",
        "Ali",
        "Alice",
        "Bob",
    ]
    out = normalise_people(pl.DataFrame({"first_name": names})).to_dicts()
    by_name = {row["first_name"]: row for row in out}
    # No name is replaced: Christina stays christina, Chris stays chris.
    assert [row["first_name_norm"] for row in out] == [n.lower() for n in names]
    assert "first_name_canonical" not in out[0]
    # Chris may stand for Christina or Christopher; Christina's family includes Chris.
    assert {"christina", "christopher"} <= set(by_name["Chris"]["first_name_aliases"])
    assert "chris" in by_name["Christina"]["first_name_family"]
    assert "sam" in by_name["Samantha"]["first_name_family"] and "sam" in by_name["Sam"]["first_name_family"]
    assert (
        by_name["Bob"]["first_name_aliases"][0] == "bob" and "robert" in by_name["Bob"]["first_name_aliases"]
    )
    # One step in the table, not two: Christina and Christopher are not one family through Chris.
    assert "christopher" not in by_name["Christina"]["first_name_family"]


@pytest.mark.parametrize(
    ("last_name", "full_name", "suffix"),
    [
        ("King Jr.", None, "jr"),
        ("Ford", "Henry Ford II", "ii"),
        ("Smith, Sr", None, "sr"),
        ("Junior", None, None),
    ],
)
def test_generational_suffix_is_kept_apart_from_the_name(last_name, full_name, suffix):
    out = normalise_people(pl.DataFrame({"last_name": [last_name], "full_name": [full_name]})).row(
        0, named=True
    )
    assert out["name_suffix"] == suffix


def test_soundex_keys_names_that_sound_alike():
    out = normalise_people(
        pl.DataFrame(
            {"first_name": ["Robert", "Rupert", "Tymczak"], "last_name": ["Smith", "Smyth", "Pfister"]}
        )
    )
    assert out["first_name_soundex"].to_list() == ["R163", "R163", "T522"]
    assert out["last_name_soundex"].to_list() == ["S530", "S530", "P236"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sw1a 2aa", "SW1A2AA"),
        ("94107-1234", "94107"),
        ("941071234", "94107"),
        (" 02134 ", "02134"),
        ("-", None),
    ],
)
def test_postcode(raw, expected):
    assert normalise_postcode(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1985-04-12", "1985-04-12"),
        ("1985-04-12T00:00:00Z", "1985-04-12"),
        ("1985/04/12", "1985-04-12"),
        ("19850412", "1985-04-12"),
        ("04/12/1985", "1985-04-12"),  # month first by default
        ("13/04/1985", "1985-04-13"),  # only day-first is a valid reading
        ("12.04.1985", "1985-04-12"),
        ("April 12, 1985", "1985-04-12"),
        ("12 Apr 1985", "1985-04-12"),
        ("1985-02-30", "1985-02-30"),  # not a calendar date: kept as text, a typo of a real one
        ("1985-13", None),
        ("2999-01-01", None),
        ("soon", None),
    ],
)
def test_date_of_birth(raw, expected):
    assert normalise_date_of_birth(raw) == expected


def test_date_of_birth_day_first():
    assert normalise_date_of_birth("04/12/1985", day_first=True) == "1985-12-04"


def test_loyalty_id():
    assert normalise_loyalty_id(" loy-0042 ") == "LOY0042"
    assert normalise_loyalty_id("---") is None


def test_normalise_people_fills_names_from_full_name_and_keeps_columns():
    frame = pl.DataFrame(
        {
            "record_id": ["1", "2"],
            "full_name": ["Dr. Mary Ann Jones", None],
            "first_name": [None, "Bob"],
            "last_name": [None, "Smith Jr."],
            "email": [None, "Bob+News@EX.com"],
            "street_number": [None, "12"],
            "address_line1": [None, "North Main Street"],
        }
    )
    out = normalise_people(frame).to_dicts()
    assert out[0]["first_name_norm"] == "mary" and out[0]["last_name_norm"] == "jones"
    assert out[0]["full_name_norm"] == "mary ann jones"
    assert out[1]["first_name_norm"] == "bob" and out[1]["last_name_norm"] == "smith"
    assert out[1]["name_suffix"] == "jr"
    assert {"bob", "robert"} <= set(out[1]["first_name_aliases"])
    assert out[1]["email_norm"] == "bob+news@ex.com" and out[1]["email_local"] == "bob"
    assert out[1]["address_norm"] == "12 n main st"
    assert out[0]["record_id"] == "1"  # input columns survive


def test_vectorised_emails_and_phones_agree_with_the_parsers():
    emails = [
        "  Ann.Lee@Example.COM ",
        "mailto:bob@example.org",
        "x..y@a.com",
        "jo@münchen.de",
        "a@b",
        "o'brien@x.ie",
    ]
    assert email_series(pl.Series(emails)).to_list() == [normalise_email(e) for e in emails]
    phones = [
        "(415) 555-0101",
        "1-173-170-8818",
        "10920942870",
        "+44 20 7946 0958",
        "001-415-555-0101",
        "1-800-FLOWERS",
        "555-0101",
        None,
    ]
    for region in ("US", "GB"):
        expected = [normalise_phone(p, region) if p else None for p in phones]
        assert phone_series(pl.Series(phones), region).to_list() == expected
