"""The demo's consent: CRM checkboxes, email unsubscribes, the preference centre, and its truth."""

from pathlib import Path

import polars as pl
import pytest

from tests.demo.conftest import event_lines, read_csv
from warehouse.config import load_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def preferences(demo) -> pl.DataFrame:
    return read_csv(demo.out, "consent/preferences.csv")


@pytest.fixture(scope="module")
def consent_truth(demo) -> pl.DataFrame:
    return read_csv(demo.out, "ground_truth/consent.csv")


def test_crm_exports_carry_salesforce_consent_checkboxes(demo):
    for relative in ("crm/leads.csv", "crm/contacts.csv"):
        table = read_csv(demo.out, relative)
        for column in ("HasOptedOutOfEmail", "DoNotCall"):
            assert set(table[column]) == {"true", "false"}, (relative, column)
            assert 0 < (table[column] == "true").mean() < 0.2, (relative, column)


def test_crm_email_opt_outs_are_people_the_newsletter_never_mails(demo, truth, consent_truth):
    # The newsletter's own unsubscribes stay in the email provider: a CRM email opt-out is
    # someone sales was told not to email, who is not on the list.
    flagged = set(
        consent_truth.filter(
            pl.col("source").is_in(["crm_leads", "crm_contacts"]) & (pl.col("channel") == "email")
        )["person_id"]
    )
    mailed = set(truth.filter(pl.col("source") == "email_events")["person_id"])
    assert flagged and not flagged & mailed


def test_unsubscribes_come_from_the_email_provider_and_some_people_return(demo, consent_truth):
    unsubscribed = [c for c in event_lines(demo.out, "email") if c.get("event") == "Unsubscribed"]
    statements = consent_truth.filter(
        (pl.col("channel") == "email")
        & (pl.col("purpose") == "marketing")
        & pl.col("recorded_at").is_not_null()
    )
    assert statements.filter(pl.col("source") == "email_events").height == len(unsubscribed) > 0
    latest = (
        statements.sort("recorded_at")
        .group_by("person_id")
        .agg(pl.col("status").last().alias("last"), (pl.col("source") == "email_events").any().alias("left"))
    )
    returned = latest.filter(pl.col("left") & (pl.col("last") == "opted_in"))
    stayed_out = latest.filter(pl.col("left") & (pl.col("last") == "opted_out"))
    assert returned.height > 5 and stayed_out.height > returned.height


def test_the_preference_centre_records_objections_opt_ins_and_pending_sign_ups(preferences, consent_truth):
    assert preferences.columns == ["PreferenceId", "Email", "Channel", "Purpose", "Status", "UpdatedAt"]
    assert preferences["PreferenceId"].n_unique() == preferences.height
    kinds = set(preferences.select("Channel", "Purpose", "Status").unique().iter_rows())
    assert kinds == {
        ("email", "marketing", "opted_in"),
        ("email", "marketing", "pending"),
        ("any", "profiling", "opted_out"),
        ("any", "profiling", "opted_in"),
        ("sms", "marketing", "opted_out"),
    }
    assert preferences["UpdatedAt"].sort().to_list() == preferences["UpdatedAt"].to_list()
    # Pending sign-ups are no statement: the truth leaves them out.
    centre = consent_truth.filter(pl.col("source") == "preference_centre")
    assert centre.height == preferences.filter(pl.col("Status") != "pending").height
    objections = centre.filter(pl.col("purpose") == "profiling").sort("recorded_at")
    withdrawn = (
        objections.group_by("person_id").agg(pl.col("status").last()).filter(pl.col("status") == "opted_in")
    )
    assert objections.filter(pl.col("status") == "opted_out").height > withdrawn.height > 0


def test_the_demo_config_maps_every_consent_column_to_the_files(demo):
    config = load_config(REPO / "kindred.yaml")
    headers = {name: set(read_csv(demo.out, f"crm/{name}.csv").columns) for name in ("leads", "contacts")}
    for field in config.consent.fields:
        assert all(field.column in h for h in headers.values()), field.column
    assert set(config.consent.events) == {"Unsubscribed"}
    setting = config.consent.file
    assert setting.path == "data/demo/consent/preferences.csv"
    columns = set(read_csv(demo.out, "consent/preferences.csv").columns)
    assert {
        setting.column(f) for f in ("id", "email", "channel", "purpose", "status", "recorded_at")
    } == columns
