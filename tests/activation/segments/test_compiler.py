"""Segment definitions compile to queries that find exactly the right people, or fail naming the field."""

from datetime import date, datetime

import pytest

from activation.segments import SegmentError, build_profile_fields, compile_segment, load_catalog
from activation.segments.fields import FEATURE, OFFER, PROFILE, SCORE, field_kind
from tests.activation.segments.conftest import AS_OF
from warehouse.connection import connect
from warehouse.segment_config import SegmentConfig


def segment(where: dict, **settings) -> SegmentConfig:
    return SegmentConfig.model_validate({"name": "test", "purpose": "marketing", "where": where, **settings})


def members(con, where: dict) -> set[str]:
    compiled = compile_segment(segment(where), load_catalog(con))
    return {row[0] for row in con.execute(compiled.sql, compiled.params).fetchall()}


def rule(field: str, op: str, value=None) -> dict:
    return {"field": field, "op": op} | ({} if value is None else {"value": value})


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (rule("country", "=", "Canada"), {"p2", "p5"}),
        # A comparison with an empty field is false: p3 (no country) is not "not Canada".
        (rule("country", "!=", "Canada"), {"p1", "p4"}),
        (rule("churn_risk", "<", 0.5), {"p2"}),
        (rule("churn_risk", "<=", 0.5), {"p2", "p5"}),
        (rule("churn_risk", ">", 0.5), {"p1", "p4"}),
        (rule("churn_risk", ">=", 0.55), {"p1", "p4"}),
        (rule("churn_risk_1_99", "between", [50, 55]), {"p4", "p5"}),
        (rule("country", "in", ["US", "United States"]), {"p1", "p4"}),
        (rule("country", "not in", ["US", "United States"]), {"p2", "p5"}),
        (rule("orders_365d", "in", [0, 4]), {"p1", "p4"}),
        (rule("email", "is null"), {"p3"}),
        (rule("revenue_365d", "is null"), {"p3"}),
        (rule("lead_score", "is not null"), {"p3"}),
        # Text search ignores case; `.` and `@` are plain characters.
        (rule("email", "contains", "@EXAMPLE.com"), {"p1", "p4", "p5"}),
        # On a list, contains means "has this element".
        (rule("sources", "contains", "web_events"), {"p1", "p4", "p5"}),
        (rule("unsubscribed", "=", True), {"p2"}),
        (rule("unsubscribed", "!=", True), {"p1", "p4"}),
        (rule("best_offer", "=", "Books"), {"p2"}),
        (rule("title_seniority", "in", ["director", "vp"]), {"p1", "p4"}),
    ],
)
def test_each_operator(con, where, expected):
    assert members(con, where) == expected


def test_only_the_newest_features_scores_and_offers_count(con):
    # The older run had everyone at revenue 5000, churn 0.99, offer "Old Offer", seniority c_level.
    assert members(con, rule("revenue_365d", ">", 1000)) == set()
    assert members(con, rule("churn_risk", ">", 0.9)) == set()
    assert members(con, rule("best_offer", "=", "Old Offer")) == set()
    assert members(con, rule("title_seniority", "=", "c_level")) == set()
    # p1's best offer is its rank 1, not rank 2.
    assert members(con, rule("best_offer", "=", "Outdoor Gear")) == {"p1"}


def test_nesting_all_any_not(con):
    where = {
        "all": [
            rule("churn_risk", ">=", 0.5),
            {"any": [rule("country", "=", "Canada"), {"not": rule("revenue_365d", ">", 100)}]},
        ]
    }
    assert members(con, where) == {"p4", "p5"}


def test_not_of_an_empty_field_is_true(con):
    # p3 has no country: `country = Canada` is false for them, so `not` of it is true.
    assert members(con, {"not": rule("country", "=", "Canada")}) == {"p1", "p3", "p4"}
    assert members(con, {"not": {"any": [rule("country", "=", "Canada"), rule("country", "=", "US")]}}) == {
        "p1",
        "p3",
    }


def test_relative_dates_count_back_from_the_as_of(con):
    assert load_catalog(con).as_of == AS_OF
    assert members(con, rule("last_seen", ">=", {"days_ago": 30})) == {"p1", "p5"}
    assert members(con, rule("last_seen", "<", {"days_ago": 60})) == {"p2"}
    assert members(con, rule("last_seen", "between", [{"days_ago": 60}, {"days_ago": 30}])) == {"p4"}
    # The run's as-of overrides the features' one: 100 days later, everyone seen is lapsed.
    later = compile_segment(
        segment(rule("last_seen", "<", {"days_ago": 60})), load_catalog(con, as_of=date(2026, 9, 9))
    )
    assert {r[0] for r in con.execute(later.sql, later.params).fetchall()} == {"p1", "p2", "p4", "p5"}


def test_absolute_dates_as_text_or_yaml_dates(con):
    assert members(con, rule("last_seen", ">=", "2026-05-01")) == {"p1", "p5"}
    assert members(con, rule("last_seen", ">=", date(2026, 5, 1))) == {"p1", "p5"}
    assert members(con, rule("last_seen", "<", "2026-04-22T01:00:00+02:00")) == {
        "p2"
    }  # 23:00 UTC the day before
    assert members(con, rule("last_seen", "between", [datetime(2026, 4, 1), "2026-04-30"])) == {"p4"}


def test_values_are_parameters_and_the_sql_names_only_known_columns(con):
    compiled = compile_segment(
        segment({"all": [rule("country", "in", ["Canada", "US"]), rule("churn_risk", ">=", 0.5)]}),
        load_catalog(con),
    )
    assert compiled.params == ["Canada", "US", 0.5]
    assert compiled.sql.count("?") == 3
    assert "Canada" not in compiled.sql and "0.5" not in compiled.sql
    assert set(compiled.fields) == {"profile_id", "country", "churn_risk"}
    # One table, the run's profile fields; nothing else is read.
    assert "FROM segments.profile_fields AS profile WHERE" in compiled.sql
    assert "scores." not in compiled.sql and "JOIN" not in compiled.sql


def test_the_catalog_holds_profile_columns_features_scores_and_the_offer(con):
    catalog = load_catalog(con)
    assert catalog.get("country").origin == PROFILE
    assert catalog.get("revenue_365d").origin == FEATURE
    assert catalog.get("churn_risk_1_99").origin == SCORE
    assert catalog.get("best_offer").origin == OFFER
    assert catalog.get("sources").kind == "text list"
    assert catalog.get("last_seen").kind == "timestamp"
    assert catalog.get("as_of") is None  # the features table's bookkeeping is not a field
    assert [field_kind(t) for t in ("DECIMAL(18,3)", "UBIGINT", "TIMESTAMP WITH TIME ZONE", "JSON")] == [
        "number",
        "number",
        "timestamp",
        "other",
    ]


def test_scores_and_offers_before_any_model_ran():
    with connect(":memory:") as con:
        con.execute("CREATE TABLE profiles.unified_profile (profile_id VARCHAR, country VARCHAR)")
        con.execute("INSERT INTO profiles.unified_profile VALUES ('p1', 'US')")
        assert build_profile_fields(con) == 1
        assert members(con, rule("churn_risk", "is null")) == {"p1"}
        assert members(con, rule("best_offer", "=", "Books")) == set()
        with pytest.raises(SegmentError, match="field 'revenue_365d': unknown field"):
            members(con, rule("revenue_365d", ">", 1))


def test_no_profiles_or_no_profile_fields_yet():
    with connect(":memory:") as con:
        with pytest.raises(SegmentError, match=r"profiles.unified_profile does not exist yet"):
            build_profile_fields(con)
        with pytest.raises(SegmentError, match=r"segment 'test': segments.profile_fields does not exist yet"):
            members(con, rule("country", "=", "US"))


def test_profile_fields_hold_one_row_per_profile_with_every_field(con):
    fields = con.sql("SELECT * FROM segments.profile_fields ORDER BY profile_id").pl()
    assert fields["profile_id"].to_list() == ["p1", "p2", "p3", "p4", "p5"]
    assert fields.columns[:3] == ["profile_id", "first_name", "email"]
    assert {
        "lead_score",
        "lead_score_1_99",
        "churn_risk",
        "churn_risk_1_99",
        "best_offer",
        "revenue_365d",
    } <= set(fields.columns)
    assert "as_of" not in fields.columns
    assert fields.row(0, named=True)["churn_risk_1_99"] == 80
    assert fields.row(2, named=True)["lead_score"] == 0.07


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            rule("churn_rsk", ">", 0.5),
            r"segment 'test', field 'churn_rsk': unknown field; did you mean churn_risk",
        ),
        (rule("churn_risk", ">", "high"), r"field 'churn_risk': is a number, but the value 'high' is text"),
        (rule("churn_risk", "=", True), r"field 'churn_risk': is a number, but the value True is true/false"),
        (rule("country", "=", 10001), r"field 'country': is text, but the value 10001 is a number; quote it"),
        (rule("country", "in", ["US", 1]), r"field 'country': is text, but the value 1 is a number"),
        (
            rule("unsubscribed", "=", "yes"),
            r"field 'unsubscribed': is true/false, but the value 'yes' is text",
        ),
        (rule("last_seen", ">", "last week"), r"field 'last_seen': is a date, but 'last week' is not a date"),
        (
            rule("churn_risk", ">", {"days_ago": 3}),
            r"field 'churn_risk': is a number; \{days_ago: N\} applies to dates only",
        ),
        (rule("country", ">", "M"), r"field 'country': is text: operator '>' applies to numbers, dates"),
        (
            rule("churn_risk", "contains", "5"),
            r"field 'churn_risk': is a number: operator 'contains' applies to text",
        ),
        (rule("sources", "=", "web_events"), r"field 'sources': is a list of text: operator '=' applies to"),
        (
            rule("unsubscribed", "in", [True]),
            r"field 'unsubscribed': is true/false: operator 'in' applies to numbers, text",
        ),
        (
            rule("churn_risk", "between", [0.9, 0.1]),
            r"field 'churn_risk': between: the low end 0.9 is above the high end 0.1",
        ),
        (
            rule("last_seen", "between", [{"days_ago": 10}, {"days_ago": 20}]),
            r"field 'last_seen': between: the low end .* is above the high end",
        ),
    ],
)
def test_a_bad_definition_names_the_segment_and_the_field(con, where, message):
    with pytest.raises(SegmentError, match=message):
        members(con, where)
