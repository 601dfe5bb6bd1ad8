"""The two entry points: the warehouse stage and `kindred resolve` on files."""

import polars as pl
import pytest

from identity_resolution.resolve import resolve_identities, resolve_records
from tests.identity_resolution.conftest import CASES, EVENTS, ORDERS, PEOPLE, truth_of, ts, write_staging
from warehouse.connection import connect, read_table, table_exists

EXPECTED_COLUMNS = {
    "identity.links": [
        "source_l",
        "record_id_l",
        "source_r",
        "record_id_r",
        "rule",
        "match_probability",
        "explanation",
        "evidence_at",
    ],
    "identity.record_xref": ["source", "record_id", "profile_id", "resolved_at"],
    "profiles.unified_profile": [
        "profile_id",
        "first_name",
        "last_name",
        "full_name",
        "email",
        "phone",
        "date_of_birth",
        "gender",
        "street_number",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postcode",
        "country",
        "company",
        "job_title",
        "loyalty_id",
        "n_records",
        "n_sources",
        "sources",
        "first_seen",
        "last_seen",
        "updated_at",
    ],
    "profiles.contact_points": [
        "profile_id",
        "kind",
        "value",
        "source",
        "record_id",
        "last_seen",
        "is_primary",
    ],
    "profiles.attribute_provenance": [
        "profile_id",
        "attribute",
        "value",
        "source",
        "record_id",
        "observed_at",
        "rule",
    ],
}


def grouping(xref: pl.DataFrame, column: str = "profile_id") -> set[frozenset[tuple[str, str]]]:
    return {
        frozenset(map(tuple, g))
        for g in xref.group_by(column).agg(pl.concat_list("source", "record_id"))["source"].to_list()
    }


def test_round_trip_on_a_small_company(warehouse):
    summary = resolve_identities(warehouse)
    truth = truth_of(PEOPLE + EVENTS + ORDERS + CASES)
    xref = read_table(warehouse, "identity.record_xref")
    assert xref.height == len(truth) == summary.records
    assert xref.select("source", "record_id").is_unique().all()
    predicted = grouping(xref)
    expected = grouping(
        pl.DataFrame(
            {
                "source": [s for s, _ in truth],
                "record_id": [r for _, r in truth],
                "person": list(truth.values()),
            }
        ),
        "person",
    )
    assert predicted == expected
    assert summary.profiles == len(set(truth.values()))
    assert summary.merge_rate == pytest.approx(1 - summary.profiles / summary.records)
    for table, columns in EXPECTED_COLUMNS.items():
        assert read_table(warehouse, table).columns[: len(columns)] == columns
    records = read_table(warehouse, "identity.person_records")
    assert records.columns[:3] == ["source", "record_id", "id_namespace"]
    assert {"first_seen", "last_seen"} <= set(records.columns)
    assert set(summary.links_by_rule) >= {
        "identify_call",
        "same_id_namespace",
        "email",
        "phone",
        "loyalty_id",
    }


def test_rerun_with_one_new_record_keeps_existing_ids(warehouse):
    resolve_identities(warehouse)
    before = read_table(warehouse, "identity.record_xref")
    write_staging(
        warehouse,
        "cases",
        [
            *CASES,
            dict(
                source="helpdesk",
                case_id="k2",
                customer_id="hd-10",
                opened_at=ts("2024-07-01"),
                email="bob.smith@example.com",
                first_name="Bobby",
                last_name="Smith",
            ),
        ],
    )
    resolve_identities(warehouse)
    after = read_table(warehouse, "identity.record_xref")
    joined = before.join(after, on=["source", "record_id"], suffix="_after")
    assert joined.height == before.height
    assert (joined["profile_id"] == joined["profile_id_after"]).all()
    new = after.filter(pl.col("record_id") == "hd-10")["profile_id"][0]
    assert new == after.filter(pl.col("record_id") == "C1")["profile_id"][0]


def test_empty_and_missing_staging_tables():
    con = connect(":memory:")
    summary = resolve_identities(con)
    assert (summary.records, summary.profiles) == (0, 0)
    assert all(table_exists(con, t) for t in EXPECTED_COLUMNS)
    write_staging(con, "people", [])
    assert resolve_identities(con).records == 0


def test_resolve_records_links_across_files_in_input_order():
    crm = pl.DataFrame(
        {
            "Id": ["c1", "c2", "c3"],
            "First": ["Robert", "Jane", "Omar"],
            "Surname": ["Smith", "Doe", "Haddad"],
            "Email": ["bob.smith@example.com", "jane@example.org", None],
            "Born": ["1980-02-03", "1990-10-01", "1975-05-05"],
        }
    )
    shop = pl.DataFrame(
        {
            "Id": ["s9", "s1"],
            "First": ["Bob", "Omar"],
            "Surname": ["Smith", "Hadad"],
            "Email": ["BOB.SMITH@example.com ", None],
            "Born": ["02/03/1980", "1975-05-05"],
        }
    )
    mapping = {"first_name": "First", "last_name": "Surname", "email": "Email", "date_of_birth": "Born"}
    out = resolve_records({"crm": crm, "shop": shop}, "Id", mapping)
    assert out.columns == ["source", "record_id", "profile_id"]
    assert out.select("source", "record_id").rows() == [
        ("crm", "c1"),
        ("crm", "c2"),
        ("crm", "c3"),
        ("shop", "s9"),
        ("shop", "s1"),
    ]
    ids = dict(zip(out["record_id"], out["profile_id"], strict=True))
    assert ids["c1"] == ids["s9"]
    assert ids["c3"] == ids["s1"]
    assert len({ids["c1"], ids["c2"], ids["c3"]}) == 3


def test_resolve_records_uses_canonical_column_names_without_mapping():
    people = pl.DataFrame({"id": ["1", "2"], "email": ["a@x.com", "A@X.com"], "first_name": ["Al", "Al"]})
    out = resolve_records({"people": people}, "id", {})
    assert out["profile_id"].n_unique() == 1


@pytest.mark.parametrize(
    ("frames", "mapping", "message"),
    [
        ({"crm": pl.DataFrame({"Id": ["1"]})}, {"surname": "Id"}, "unknown canonical attribute 'surname'"),
        ({"crm": pl.DataFrame({"Key": ["1"]})}, {}, "crm: id column 'Id' not found"),
        ({"crm": pl.DataFrame({"Id": ["1", "2", "1"]})}, {}, "crm: duplicate id '1' in column 'Id'"),
        ({"crm": pl.DataFrame({"Id": ["1", None]})}, {}, "crm: row 2 has no value in id column 'Id'"),
        (
            {"crm": pl.DataFrame({"Id": ["1"]})},
            {"email": "Mail"},
            "mapped column 'Mail' is in none of the input files",
        ),
    ],
)
def test_resolve_records_rejects_bad_input_naming_the_problem(frames, mapping, message):
    with pytest.raises(ValueError, match=message):
        resolve_records(frames, "Id", mapping)


def test_resolve_records_names_the_file_with_a_missing_id_column():
    good = pl.DataFrame({"Id": ["1"]})
    bad = pl.DataFrame({"ID": ["2"]})
    with pytest.raises(ValueError, match="^shop: id column 'Id' not found"):
        resolve_records({"crm": good, "shop": bad}, "Id", {})


def test_files_read_straight_give_the_records_staging_would():
    from identity_resolution.records import person_records, records_from_people
    from identity_resolution.resolve import _people_frame
    from warehouse.connection import quote_table
    from warehouse.staging import staging_columns

    crm = pl.DataFrame(
        {
            "Id": ["c2", "c1"],
            "First": [" Jane ", "Robert"],
            "Last": ["Doe", ""],
            "Mail": ["JANE@example.org", None],
            "Born": ["02/03/1980", "1990-10-01"],
            "Phone": ["(415) 555-0101", "+44 20 7946 0958"],
        }
    )
    people = _people_frame(
        {"crm": crm, "shop": crm.with_columns(pl.col("Id") + "s")},
        "Id",
        {
            "first_name": "First",
            "last_name": "Last",
            "email": "Mail",
            "date_of_birth": "Born",
            "phone": "Phone",
        },
    )
    con = connect(":memory:")
    con.register(
        "people", people.with_columns(pl.lit(None, dtype=pl.Datetime("us")).alias("created_at")).to_arrow()
    )
    known = [c for c in staging_columns("people") if c in people.columns or c == "created_at"]
    con.execute(f"CREATE TABLE {quote_table('staging.people')} AS SELECT {', '.join(known)} FROM people")
    staged = person_records(con, day_first=True)
    assert records_from_people(people, day_first=True).equals(staged)
    assert staged.height == 4
