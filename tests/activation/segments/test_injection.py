"""Hostile definitions: nothing in kindred.yaml can change the SQL a segment runs.

Field names are refused unless they are plain names of the warehouse's own columns; values are
only ever parameters, so a value full of SQL is data that matches (or not) like any other.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activation.segments import SegmentError, compile_segment, load_catalog
from activation.segments.compiler import compile_export
from tests.activation.segments.conftest import HOSTILE_NAME, build_warehouse, segments_config
from warehouse.config import ConfigError
from warehouse.connection import connect
from warehouse.segment_config import SEGMENT_MAX_LIST_VALUES, SegmentConfig

SQL_VALUES = [
    "x' OR '1'='1",
    "'; DROP TABLE profiles.unified_profile; --",
    "Canada' --",
    "*/ OR 1=1 /*",
    "/* comment */ Canada",
    "Canada; SELECT * FROM profiles.consent",
    "%",
    "_",
    "\\",
    '" OR ""="',
    "$1",
    "?",
    "Canada\x00",
    "(SELECT max(profile_id) FROM profiles.unified_profile)",
    HOSTILE_NAME,
]


def segment(where: dict, **settings) -> SegmentConfig:
    return SegmentConfig.model_validate(
        {"name": "hostile", "purpose": "marketing", "where": where, **settings}
    )


def members(con, where: dict) -> set[str]:
    compiled = compile_segment(segment(where), load_catalog(con))
    return {row[0] for row in con.execute(compiled.sql, compiled.params).fetchall()}


def tables(con) -> list[tuple]:
    return con.sql("SELECT table_schema, table_name FROM information_schema.tables ORDER BY ALL").fetchall()


@pytest.mark.parametrize(
    "field",
    [
        "email; DROP TABLE profiles.unified_profile",
        "email--",
        "email /* */",
        "lower(email)",
        "(SELECT 1)",
        "first name",
        "\u0435mail",  # a Cyrillic е in place of the Latin e
        "emai\u217c",  # a small Roman numeral fifty that looks like l
        '"email"',
        "profile.email",
        "EMAIL",
        "email\n",
        "",
        "a" * 64,
    ],
)
def test_field_names_that_are_not_plain_names_are_refused_at_load(tmp_path, field):
    # JSON is YAML: the name arrives exactly as written here, escapes and all.
    text = f"segments:\n  - name: s\n    purpose: marketing\n    where: {{field: {json.dumps(field)}, op: is null}}\n"
    with pytest.raises(ConfigError, match=r"segments\[0\] \('s'\)\.where: field .*not a field name"):
        segments_config(tmp_path, text)


@pytest.mark.parametrize(
    "field", ["pg_sleep", "as_of", "information_schema", "sqlite_master", "duckdb_tables", "model"]
)
def test_plain_names_that_are_not_columns_are_unknown_fields(con, field):
    with pytest.raises(SegmentError, match=f"segment 'hostile', field '{field}': unknown field"):
        members(con, {"field": field, "op": "is null"})


def test_export_columns_are_checked_like_fields(con, tmp_path):
    with pytest.raises(ConfigError, match=r"columns: .*'lower\(email\)' is not a field name"):
        segments_config(
            tmp_path,
            "segments:\n  - {name: s, purpose: marketing, where: {field: email, op: is null}, "
            "columns: [profile_id, 'lower(email)']}\n",
        )
    with pytest.raises(SegmentError, match="segment 'hostile', column 'password': unknown field"):
        compile_export(segment({"field": "email", "op": "is null"}, columns=["password"]), load_catalog(con))


@pytest.mark.parametrize("value", SQL_VALUES)
def test_a_value_full_of_sql_is_only_data(con, value):
    before = tables(con)
    for op, where in [
        ("=", {"field": "country", "op": "=", "value": value}),
        ("!=", {"field": "country", "op": "!=", "value": value}),
        ("in", {"field": "country", "op": "in", "value": [value, "Canada"]}),
        ("contains", {"field": "email", "op": "contains", "value": value}),
    ]:
        compiled = compile_segment(segment(where), load_catalog(con))
        assert value not in compiled.sql or value in ("%", "_", "?", "\\"), (op, compiled.sql)
        found = {row[0] for row in con.execute(compiled.sql, compiled.params).fetchall()}
        expected = {
            "=": set(),
            "!=": {"p1", "p2", "p4", "p5"},
            "in": {"p2", "p5"},
            "contains": set(),
        }[op]
        assert found == expected, (op, value)
    assert tables(con) == before
    assert con.sql("SELECT count(*) FROM profiles.unified_profile").fetchall()[0][0] == 5


def test_the_person_whose_name_is_sql_is_found_by_it_exactly(con):
    assert members(con, {"field": "first_name", "op": "=", "value": HOSTILE_NAME}) == {"p4"}
    assert members(con, {"field": "first_name", "op": "contains", "value": "drop table"}) == {"p4"}
    # contains is no LIKE pattern: % and _ are plain characters.
    assert members(con, {"field": "email", "op": "contains", "value": "%"}) == set()
    assert members(con, {"field": "email", "op": "contains", "value": "jane_"}) == set()


def test_a_huge_list_is_bounded_and_a_long_one_is_still_parameters(con, tmp_path):
    values = [f"x' OR '{n}'='{n}" for n in range(SEGMENT_MAX_LIST_VALUES - 1)] + ["Canada"]
    compiled = compile_segment(segment({"field": "country", "op": "in", "value": values}), load_catalog(con))
    assert len(compiled.params) == SEGMENT_MAX_LIST_VALUES and "OR '1'" not in compiled.sql
    assert {r[0] for r in con.execute(compiled.sql, compiled.params).fetchall()} == {"p2", "p5"}
    too_many = "[" + ", ".join(str(n) for n in range(SEGMENT_MAX_LIST_VALUES + 1)) + "]"
    with pytest.raises(ConfigError, match=r"field 'orders_365d': in lists 10,001 values; at most 10,000"):
        segments_config(
            tmp_path,
            f"segments:\n  - {{name: s, purpose: marketing, where: {{field: orders_365d, op: in, value: {too_many}}}}}\n",
        )


@pytest.mark.parametrize("name", ["s; DROP TABLE x", "s--", "S", "s s", "\u0455egment", "1s"])
def test_segment_names_purposes_and_channels_are_plain_words(tmp_path, name):
    for setting in ("name", "purpose", "channel"):
        values = {"name": "s", "purpose": "marketing", "channel": "email", setting: name}
        text = (
            f"segments:\n  - name: {json.dumps(values['name'])}\n    purpose: {json.dumps(values['purpose'])}\n"
            f"    channel: {json.dumps(values['channel'])}\n    where: {{field: email, op: is null}}\n"
        )
        with pytest.raises(ConfigError, match=rf"segments\[0\].*\.{setting}: String should match pattern"):
            segments_config(tmp_path, text)


@pytest.fixture(scope="module")
def catalog(con):
    return load_catalog(con)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(max_size=40), other=st.text(max_size=40))
def test_the_sql_is_the_same_whatever_the_value(con, catalog, value, other):
    """Values never reach the SQL text: any two values give the same query, and match as data."""
    first = compile_segment(segment({"field": "first_name", "op": "=", "value": value}), catalog)
    second = compile_segment(segment({"field": "first_name", "op": "=", "value": other}), catalog)
    assert first.sql == second.sql
    assert first.params == [value]
    names = {r[0] for r in con.execute("SELECT first_name FROM profiles.unified_profile").fetchall()}
    found = {r[0] for r in con.execute(first.sql, first.params).fetchall()}
    assert bool(found) == (value in names)


def test_the_warehouse_is_intact_after_every_hostile_run(tmp_path):
    """The whole list, through refresh and export, against a file: tables and rows unchanged."""
    from activation.segments.export import export_segment, read_export
    from activation.segments.membership import refresh_segment

    with connect(tmp_path / "w.duckdb") as con:
        build_warehouse(con)
        before = tables(con)
        hostile = segment(
            {
                "any": [
                    {"field": "first_name", "op": "in", "value": SQL_VALUES},
                    {"field": "country", "op": "=", "value": SQL_VALUES[1]},
                ]
            },
            columns=["profile_id", "first_name"],
        )
        refresh = refresh_segment(con, hostile)
        exported = read_export(con, export_segment(con, hostile))
        assert refresh.size == 1 and exported["first_name"].to_list() == [HOSTILE_NAME]
        after = tables(con)
        assert [t for t in after if t not in before] == [
            ("segments", "evaluations"),
            ("segments", "membership"),
            ("segments", "membership_history"),
        ]
        assert [t for t in before if t not in after] == []
        assert con.sql("SELECT count(*) FROM profiles.unified_profile").fetchall()[0][0] == 5
