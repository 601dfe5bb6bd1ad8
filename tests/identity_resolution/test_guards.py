"""Each guardrail, with the case that motivated it: two different people are never merged."""

import polars as pl
import pytest

from identity_resolution.clustering import guarded_clusters
from identity_resolution.deterministic import ContactGuard, contact_links
from identity_resolution.guards import BlockedValues, Guardrails, blank_blocked_values, pair_conflicts
from identity_resolution.options import MatchOptions
from identity_resolution.resolve import resolve_records


def records(rows: list[dict]) -> pl.DataFrame:
    from identity_resolution.normalise import normalise_people

    frame = pl.DataFrame(rows, infer_schema_length=None)
    return normalise_people(frame)


def conflicts(rows: list[tuple[dict, dict]], guards: Guardrails | None = None) -> list[str | None]:
    recs = records([side for pair in rows for side in pair])
    pairs = pl.DataFrame({"_l": list(range(0, len(rows) * 2, 2)), "_r": list(range(1, len(rows) * 2, 2))})
    return pair_conflicts(pairs, recs, guards or Guardrails()).to_list()


def people_file(rows: list[dict]) -> dict[str, pl.DataFrame]:
    return {
        "people": pl.DataFrame(
            [{"id": str(i), **row} for i, row in enumerate(rows)], infer_schema_length=None
        )
    }


def profiles(rows: list[dict], **options) -> list[str]:
    return resolve_records(people_file(rows), "id", {}, MatchOptions(**options))["profile_id"].to_list()


def test_father_and_daughter_on_one_landline_stay_two_people():
    # Chris/Christina is a nickname pair, so the names alone could be one person; the dates of
    # birth 35 years apart say two. The shared landline must not merge them.
    rows = [
        dict(first_name="Chris", last_name="Lee", date_of_birth="1960-01-02", phone="(415) 555-0123"),
        dict(first_name="Christina", last_name="Lee", date_of_birth="1995-03-04", phone="415.555.0123"),
    ]
    ids = profiles(rows)
    assert ids[0] != ids[1]
    # Without a date of birth on one side, the nickname pair on one phone is one person.
    rows[1]["date_of_birth"] = None
    ids = profiles(rows)
    assert ids[0] == ids[1]


def test_date_of_birth_typos_are_not_conflicts():
    assert conflicts(
        [
            (dict(date_of_birth="1985-04-12"), dict(date_of_birth="1985-04-21")),  # neighbours swapped
            (dict(date_of_birth="1985-04-12"), dict(date_of_birth="1985-12-04")),  # day and month swapped
            (dict(date_of_birth="1985-04-12"), dict(date_of_birth="1986-04-13")),  # two typos
            (dict(date_of_birth="1960-01-02"), dict(date_of_birth="1995-03-04")),
        ]
    ) == [None, None, None, "dates of birth differ"]
    strict = Guardrails(date_of_birth_max_edits=1)
    assert conflicts([(dict(date_of_birth="1985-04-12"), dict(date_of_birth="1986-04-13"))], strict) == [
        "dates of birth differ"
    ]


def test_different_national_ids_forbid_a_link_whatever_else_agrees():
    same = dict(first_name="Maria", last_name="Lopez", date_of_birth="1970-05-05", email="maria@example.org")
    assert conflicts(
        [
            ({**same, "national_id": "123-45-6780"}, {**same, "national_id": "987-65-4321"}),
            ({**same, "national_id": "123-45-6780"}, {**same, "national_id": "123-45-6708"}),  # a typo
        ]
    ) == ["national ids differ", None]
    ids = profiles(
        [
            {**same, "national_id": "123-45-6780"},
            {**same, "national_id": "987-65-4321"},
            {**same, "national_id": None},
        ]
    )
    assert ids[0] != ids[1]


def test_junior_and_senior_sharing_an_email_stay_two_people():
    rows = [
        dict(first_name="John", last_name="King Jr.", email="kings@example.net", city="Austin"),
        dict(first_name="John", last_name="King Sr.", email="kings@example.net", city="Austin"),
        dict(first_name="John", last_name="King", email="kings@example.net", city="Austin"),
    ]
    assert conflicts([(rows[0], rows[1]), (rows[0], rows[2])]) == ["generational suffixes differ", None]
    ids = profiles(rows)
    assert ids[0] != ids[1]


@pytest.mark.parametrize(
    ("short", "long"),
    [
        ("Chris", "Christina"),
        ("Sam", "Samantha"),
        ("Pat", "Patricia"),
        ("Sandra", "Alexandra"),
        ("Ali", "Alice"),
    ],
)
def test_nickname_pairs_stay_apart_when_other_evidence_says_two_people(short, long):
    home = dict(
        last_name="Reyes",
        phone="(312) 555-0188",
        street_number="9",
        address_line1="Elm Street",
        city="Chicago",
    )
    rows = [
        dict(first_name=short, date_of_birth="1961-06-01", **home),
        dict(first_name=long, date_of_birth="1993-11-20", **home),
    ]
    # The names may be one person's (no given-name conflict): only the dates of birth separate them.
    assert conflicts([(rows[0], rows[1])], Guardrails(dates_of_birth=False)) == [None]
    ids = profiles(rows)
    assert ids[0] != ids[1]


def test_given_names_that_are_nicknames_of_neither_conflict():
    assert conflicts(
        [
            (dict(first_name="Ana"), dict(first_name="Marco")),
            (dict(first_name="Bob"), dict(first_name="Robert")),
            (dict(first_name="Jon"), dict(first_name="John")),
            (dict(first_name="J"), dict(first_name="John")),
            (dict(first_name="Mary Ann"), dict(first_name="Ann")),
            (dict(first_name="Tom"), dict(first_name="Rhomas")),  # a nickname of a typo
            (dict(first_name="Lee", last_name="Wong"), dict(first_name="Wong", last_name="Lee")),
            (dict(first_name="Ana"), dict(first_name=None)),
            (dict(first_name="W J"), dict(first_name="Willie")),  # initials of the first word
            (dict(first_name="Bob James"), dict(first_name="Robert")),
            (dict(first_name="Gwilym"), dict(first_name="William")),  # one name in Welsh
        ]
    ) == ["given names differ", *[None] * 10]
    # A household at one address with one landline: different first names are two people.
    home = dict(
        last_name="Rivera",
        street_number="12",
        address_line1="Oak Street",
        city="Austin",
        phone="(512) 555-0142",
    )
    ids = profiles(
        [dict(first_name="Ana", **home), dict(first_name="Marco", **home), dict(first_name="Ana", **home)]
    )
    assert ids[0] == ids[2] != ids[1]


def test_blocked_values_link_nobody():
    rows = [
        dict(
            first_name="Ann",
            last_name="Lee",
            email="test@example.com",
            phone="000-000-0000",
            national_id="123456789",
        ),
        dict(
            first_name="Ann",
            last_name="Lee",
            email="TEST@example.com",
            phone="0000000000",
            national_id="123-45-6789",
        ),
        dict(first_name="Ann", last_name="Lee", email="info@shop.example", phone="(646) 555-0100"),
    ]
    blanked, counts = blank_blocked_values(records(rows), BlockedValues(email=("info@shop.example",)))
    assert counts == {"email_norm": 3, "phone_norm": 2, "national_id_norm": 2}
    assert blanked["email_norm"].null_count() == 3 and blanked["email_local"].null_count() == 3
    assert blanked["phone_norm"].to_list() == [None, None, "+16465550100"]
    kept, _ = blank_blocked_values(records(rows), BlockedValues(use_defaults=False))
    assert kept["email_norm"].null_count() == 0


def test_a_shared_switchboard_links_nobody():
    rows = [
        dict(first_name=n, last_name=s, phone="(212) 555-0000")
        for n, s in [("Alice", "Ng"), ("Omar", "Haddad"), ("Li", "Wei"), ("Maria", "Lopez")]
    ]
    assert len(set(profiles(rows))) == 4


def test_a_household_loyalty_card_links_only_records_that_agree_on_the_person():
    recs = records(
        [
            dict(source="store", record_id="1", first_name="Priya", last_name="Patel", loyalty_id="LOY-42"),
            dict(source="store", record_id="2", first_name="Raj", last_name="Patel", loyalty_id="LOY-42"),
            dict(source="crm", record_id="3", first_name="Priya", last_name="Patel", loyalty_id="loy 42"),
            dict(source="store", record_id="4", loyalty_id="LOY42"),  # no name, on a shared card: stays out
        ]
    ).sort("source", "record_id")
    links = contact_links(recs, "loyalty_id_norm", "loyalty_id", ContactGuard())
    assert links.select("record_id_l", "record_id_r").rows() == [("3", "1")]


def test_a_chain_through_a_record_without_a_date_of_birth_is_broken_at_its_weakest_link():
    recs = records(
        [
            dict(first_name="Chris", last_name="Lee", date_of_birth="1960-01-02"),
            dict(first_name="Chris", last_name="Lee", date_of_birth=None),
            dict(first_name="Christina", last_name="Lee", date_of_birth="1995-03-04"),
        ]
    ).with_columns(pl.lit("s").alias("source"), pl.Series("record_id", ["a", "b", "c"]))
    links = pl.DataFrame(
        {"_l": [0, 1], "_r": [1, 2], "_strength": [9.0, 3.0]},
        schema={"_l": pl.UInt32, "_r": pl.UInt32, "_strength": pl.Float64},
    )
    clusters, left_out = guarded_clusters(
        recs, links, lambda pairs: pair_conflicts(pairs, recs, Guardrails()), max_cluster_size=100
    )
    assert (
        clusters["cluster"].to_list()[0]
        == clusters["cluster"].to_list()[1]
        != clusters["cluster"].to_list()[2]
    )
    assert left_out.rows() == [(1, 2, "would join records that conflict")]


def test_a_cluster_above_the_maximum_size_is_split_at_its_weakest_links():
    n = 12
    recs = pl.DataFrame({"source": ["s"] * n, "record_id": [f"{i:02d}" for i in range(n)]})
    # A chain 0-1-...-11; the link 5-6 is the weakest.
    strengths = [10.0] * (n - 1)
    strengths[5] = 1.0
    links = pl.DataFrame(
        {"_l": list(range(n - 1)), "_r": list(range(1, n)), "_strength": strengths},
        schema={"_l": pl.UInt32, "_r": pl.UInt32, "_strength": pl.Float64},
    )
    clusters, left_out = guarded_clusters(
        recs,
        links,
        lambda pairs: pl.Series("conflict", [None] * pairs.height, dtype=pl.Utf8),
        max_cluster_size=6,
    )
    assert clusters.group_by("cluster").len()["len"].sort().to_list() == [6, 6]
    assert left_out.select("_l", "_r").rows() == [(5, 6)]
    assert left_out["reason"][0] == "cluster would pass the maximum size of 6"


def test_an_office_line_needs_the_surname_too_an_email_survives_a_change_of_name():
    recs = records(
        [
            dict(
                source="crm", record_id="1", first_name="Jonathan", last_name="Anderson", phone="636-689-6095"
            ),
            dict(
                source="crm", record_id="2", first_name="Jonathan", last_name="Davila", phone="+16366896095"
            ),
            dict(
                source="crm",
                record_id="3",
                first_name="Maria",
                last_name="Lopez",
                email="maria.l@example.org",
            ),
            dict(
                source="crm",
                record_id="4",
                first_name="Maria",
                last_name="Garcia",
                email="maria.l@example.org",
            ),
        ]
    )
    assert contact_links(recs, "phone_norm", "phone", ContactGuard()).height == 0
    email = contact_links(recs, "email_norm", "email", ContactGuard())
    assert email.select("record_id_l", "record_id_r").rows() == [("3", "4")]
