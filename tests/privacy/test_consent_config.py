"""The `consent:` section of kindred.yaml: short and rich forms, and errors that name the setting."""

import pytest

from warehouse.config import ConfigError, load_config

SOURCES = """
sources:
  - {name: crm, kind: people, path: p.csv}
  - {name: esp, kind: events, path: e.jsonl}
"""


def load(tmp_path, text):
    path = tmp_path / "kindred.yaml"
    path.write_text(SOURCES + text)
    return load_config(path)


def test_the_contract_short_form_reads_as_marketing_opt_outs(tmp_path):
    consent = load(
        tmp_path,
        """
consent:
  fields: {email: HasOptedOutOfEmail, phone: DoNotCall}
  events: {Unsubscribed: email}
""",
    ).consent
    assert [(f.column, f.channel, f.purpose, f.true_means, f.false_means) for f in consent.fields] == [
        ("HasOptedOutOfEmail", "email", "marketing", "opted_out", "nothing"),
        ("DoNotCall", "phone", "marketing", "opted_out", "nothing"),
    ]
    event = consent.events["Unsubscribed"]
    assert (event.channel, event.purpose, event.status, event.sources) == (
        "email",
        "marketing",
        "opted_out",
        None,
    )
    assert consent.file is None and consent.opt_in_required == {}
    mixed = load(
        tmp_path, "consent: {fields: {email: HasOptedOutOfEmail, phone: {column: DoNotCall, purpose: any}}}"
    )
    assert [(f.column, f.channel, f.purpose) for f in mixed.consent.fields] == [
        ("HasOptedOutOfEmail", "email", "marketing"),
        ("DoNotCall", "phone", "any"),
    ]


def test_rich_forms_and_opt_in_regimes(tmp_path):
    consent = load(
        tmp_path,
        """
consent:
  channels: [email, sms, phone, post, whatsapp]
  fields:
    - {column: DoNotCall, channel: phone, purpose: any}
    - {column: HasOptedOutProfiling, purpose: profiling}
  events:
    Subscribed: {channel: email, status: opted_in, sources: [esp]}
    WhatsApp Opted Out: whatsapp
  file: {path: prefs.csv, name: preference_centre, columns: {recorded_at: ChangedAt, email: Email}}
  opt_in_required: {marketing: [email, sms], profiling: any}
""",
    ).consent
    assert consent.fields[1].channel == "any" and consent.fields[1].purpose == "profiling"
    assert consent.events["WhatsApp Opted Out"].channel == "whatsapp"
    assert consent.file.column("recorded_at") == "ChangedAt" and consent.file.column("status") == "status"
    assert consent.opt_in_needed("marketing", "email")
    assert not consent.opt_in_needed("marketing", "post")
    assert not consent.opt_in_needed("marketing", None)
    assert consent.opt_in_needed("profiling", None)
    assert consent.opt_in_needed("profiling", "post")
    listed = load(tmp_path, "consent: {opt_in_required: [marketing]}").consent
    assert listed.opt_in_needed("marketing", "post") and not listed.opt_in_needed("profiling", None)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "consent: {fields: {emial: HasOptedOutOfEmail}}",
            r"consent.fields: column HasOptedOutOfEmail: 'emial' is not a consent channel; known: email, sms",
        ),
        (
            "consent: {fields: [{column: X, purpose: profilling}]}",
            r"consent.fields: column X: 'profilling' is not a consent purpose",
        ),
        (
            "consent: {events: {Unsubscribed: Email}}",
            r"consent.events: event 'Unsubscribed': 'Email' is not a consent channel",
        ),
        (
            "consent: {events: {Subscribed: {channel: email, status: subscribed}}}",
            r"consent.events.Subscribed.status",
        ),
        (
            "consent: {opt_in_required: {marketing: [fax]}}",
            r"consent.opt_in_required: purpose marketing: 'fax'",
        ),
        ("consent: {channels: [email, SMS]}", r"consent.channels: 'SMS': expected lower-case words"),
        ("consent: {channels: [email, any]}", r"consent.channels: 'any'"),
        ("consent: {fields: [{column: X, channel: email, colour: red}]}", r"consent.fields.*colour"),
        (
            "consent: {file: {path: p.csv, columns: {when: T}}}",
            r"consent.file.columns: when: not a consent file field",
        ),
        ("consent: {file: {path: p.csv, name: crm}}", r"consent.file.name: 'crm' is already a source name"),
        (
            "consent: {events: {Unsubscribed: {channel: email, sources: [crm]}}}",
            r"consent.events \(Unsubscribed\): 'crm' is not a source of kind events",
        ),
        (
            "consent: {fields: [{column: X, sources: [esp]}]}",
            r"consent.fields \(X\): 'esp' is not a source of kind people",
        ),
        (
            "models: {next_best_offer: {channels: [email, pigeon]}}",
            r"models.next_best_offer.channels: 'pigeon' is not a consent channel",
        ),
    ],
)
def test_bad_settings_fail_naming_the_setting(tmp_path, section, message):
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, section)
