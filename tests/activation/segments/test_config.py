"""`segments:` in kindred.yaml: the shape is checked at load, errors name the segment and the place."""

import pytest

from tests.activation.segments.conftest import segments_config
from warehouse.config import ConfigError
from warehouse.segment_config import RelativeDate, SegmentGroup, SegmentRule

CONTRACT_EXAMPLE = """
segments:
  - name: at_risk_spenders     # [a-z][a-z0-9_]*
    description: Likely to churn, spent over 500 in the last year
    purpose: marketing         # whose consent applies on export
    channel: email             # people who opted out of this channel are left out of exports
    where:                     # all / any / not, nested; leaves: {field, op, value}
      all:
        - {field: churn_risk, op: ">=", value: 0.5}
        - {field: country, op: in, value: [United States, Canada]}
    columns: [profile_id, first_name, email, churn_risk]     # what an export holds
"""


def test_the_contract_example_loads(tmp_path):
    (segment,) = segments_config(tmp_path, CONTRACT_EXAMPLE).segments
    assert segment.name == "at_risk_spenders"
    assert (segment.purpose, segment.channel) == ("marketing", "email")
    assert segment.where == SegmentGroup(
        combine="all",
        conditions=(
            SegmentRule(field="churn_risk", op=">=", value=0.5),
            SegmentRule(field="country", op="in", value=["United States", "Canada"]),
        ),
    )
    assert segment.columns == ["profile_id", "first_name", "email", "churn_risk"]
    # The definition can be shown back as it was written.
    assert segment.where.document() == {
        "all": [
            {"field": "churn_risk", "op": ">=", "value": 0.5},
            {"field": "country", "op": "in", "value": ["United States", "Canada"]},
        ]
    }


def test_defaults_and_relative_dates(tmp_path):
    config = segments_config(
        tmp_path,
        """
segments:
  - name: lapsed
    purpose: marketing
    where: {not: {field: last_seen, op: ">=", value: {days_ago: 90}}}
""",
    )
    (segment,) = config.segments
    assert segment.channel is None and segment.columns == ["profile_id"] and segment.description == ""
    assert segment.where.conditions[0].value == RelativeDate(days_ago=90)
    assert segment.where.document() == {"not": {"field": "last_seen", "op": ">=", "value": {"days_ago": 90}}}


def test_a_config_without_segments_has_none(tmp_path):
    assert segments_config(tmp_path, "").segments == []


def leaf(text: str) -> str:
    return f"""
segments:
  - name: seg
    purpose: marketing
    where: {text}
"""


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            '{field: churn_risk, op: "=>", value: 1}',
            r"where: field 'churn_risk': unknown operator '=>'; use one of =",
        ),
        ("{field: country, op: in, value: []}", r"field 'country': in takes a non-empty list of values"),
        ("{field: country, op: in, value: US}", r"field 'country': in takes a non-empty list"),
        (
            "{field: churn_risk, op: between, value: [1]}",
            r"field 'churn_risk': between takes a list of two values",
        ),
        ("{field: churn_risk, op: between, value: 1}", r"between takes a list of two values"),
        ("{field: email, op: is null, value: x}", r"field 'email': is null takes no value"),
        ("{field: email, op: '='}", r"field 'email': = needs a value \(for an empty field use op: is null\)"),
        ("{field: email, op: contains, value: ''}", r"field 'email': contains takes a non-empty text value"),
        (
            "{field: churn_risk, op: '>', value: .nan}",
            r"field 'churn_risk': value nan is not a finite number",
        ),
        (
            "{field: churn_risk, op: '>', value: {hours_ago: 3}}",
            r"value \{'hours_ago': 3\} is not a single number",
        ),
        ("{field: last_seen, op: '>', value: {days_ago: -3}}", r"days_ago must be a whole number of days"),
        (
            "{field: last_seen, op: '=', value: {days_ago: 3}}",
            r"field 'last_seen': value .* is not a single number",
        ),
        ("{field: country, op: in, value: [[US]]}", r"value \['US'\] is not a single number"),
        ("{field: country, op: '=', value: US, extra: 1}", r"a condition has the keys field, op and value"),
        ("{op: '=', value: US}", r"a condition has the keys field, op and value"),
        ("{all: []}", r"where: all takes a non-empty list of conditions"),
        ("{any: {field: x, op: is null}}", r"any takes a non-empty list"),
        ("{not: [{field: x, op: is null}]}", r"not takes one condition \(wrap several in all or any\)"),
        (
            "{all: [{field: x, op: is null}], any: [{field: y, op: is null}]}",
            r"all must be alone in its mapping",
        ),
        ("[{field: x, op: is null}]", r"expected a condition"),
        (
            "{all: [{field: x, op: is null}, {any: [{field: y, op: '~'}]}]}",
            r"where: all\[1\].any\[0\]: field 'y': unknown operator '~'",
        ),
    ],
)
def test_a_bad_shape_names_the_segment_and_where(tmp_path, where, message):
    with pytest.raises(
        ConfigError,
        match=r"kindred.yaml: segments\[0\] \('seg'\)\.where: .*" + message.removeprefix("where: "),
    ):
        segments_config(tmp_path, leaf(where))


def test_nesting_and_size_are_bounded(tmp_path):
    deep = "{field: x, op: is null}"
    for _ in range(12):
        deep = f"{{not: {deep}}}"
    with pytest.raises(ConfigError, match="conditions nest deeper than 12 levels"):
        segments_config(tmp_path, leaf(deep))
    many = "{any: [" + ", ".join("{field: x, op: is null}" for _ in range(501)) + "]}"
    with pytest.raises(ConfigError, match="more than 500 conditions"):
        segments_config(tmp_path, leaf(many))


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        (
            "{name: At-Risk, purpose: marketing, where: {field: x, op: is null}}",
            r"segments\[0\] \('At-Risk'\)\.name",
        ),
        (
            "{name: membership, purpose: marketing, where: {field: x, op: is null}}",
            r"'membership' names a table of the segments schema",
        ),
        ("{name: s, purpose: Marketing, where: {field: x, op: is null}}", r"segments\[0\] \('s'\)\.purpose"),
        (
            "{name: s, purpose: marketing, channel: 'e-mail', where: {field: x, op: is null}}",
            r"\('s'\)\.channel",
        ),
        ("{name: s, purpose: marketing}", r"\('s'\)\.where: Field required"),
        ("{name: s, purpose: marketing, where: {field: x, op: is null}, columns: []}", r"\('s'\)\.columns"),
        (
            "{name: s, purpose: marketing, where: {field: x, op: is null}, columns: [email, email]}",
            r"columns repeat email",
        ),
        (
            "{name: s, purpose: marketing, where: {field: x, op: is null}, color: red}",
            r"\('s'\)\.color: Extra inputs",
        ),
    ],
)
def test_bad_segment_settings_are_named(tmp_path, segment, message):
    with pytest.raises(ConfigError, match=message):
        segments_config(tmp_path, f"segments:\n  - {segment}\n")


def test_segment_names_are_unique(tmp_path):
    text = "segments:\n" + "  - {name: s, purpose: marketing, where: {field: x, op: is null}}\n" * 2
    with pytest.raises(ConfigError, match="segment names must be unique; repeated: s"):
        segments_config(tmp_path, text)


def test_purpose_and_channel_are_words_of_the_consent_vocabulary(tmp_path):
    segment = "segments:\n  - {{name: s, purpose: {purpose}, channel: {channel}, where: {{field: x, op: is null}}}}\n"
    with pytest.raises(
        ConfigError, match=r"segments\[0\] \('s'\)\.channel: 'e_mail' is not a consent channel; known: email"
    ):
        segments_config(tmp_path, segment.format(purpose="marketing", channel="e_mail"))
    with pytest.raises(
        ConfigError, match=r"\('s'\)\.purpose: 'marketting' is not a consent purpose; known: marketing"
    ):
        segments_config(tmp_path, segment.format(purpose="marketting", channel="email"))
    # A channel the consent section adds is a channel segments can use.
    config = segments_config(
        tmp_path,
        "consent: {channels: [email, whatsapp]}\n" + segment.format(purpose="marketing", channel="whatsapp"),
    )
    assert config.segments[0].channel == "whatsapp"
