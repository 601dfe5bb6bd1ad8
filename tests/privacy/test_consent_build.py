"""Building profiles.consent from fields, events and a consent file: latest wins, across sources."""

import os
import subprocess
import sys
from datetime import datetime

import pytest

from privacy.consent import is_permitted
from privacy.consent_build import build_consent, check_consent_settings, consent_summary
from tests.privacy.conftest import staged_company, with_consent, write_company
from warehouse.config import ConfigError, load_config
from warehouse.connection import connect
from warehouse.source_checks import check_sources


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    con, config = staged_company(tmp_path_factory.mktemp("company"))
    yield con, config
    con.close()


@pytest.fixture(scope="module")
def built(company):
    con, config = company
    build = build_consent(con, config)
    rows = con.sql(
        "SELECT profile_id, channel, purpose, status, source, record_id, recorded_at FROM profiles.consent"
    ).fetchall()
    return build, {(r[0], r[1], r[2]): r[3:] for r in rows}


def test_every_statement_lands_on_its_profile_and_the_latest_wins(built):
    _, rows = built
    assert rows == {
        # Ann: lead opt-out (1 Mar), contact opt-out (1 Apr), then Subscribed (1 May).
        ("pA", "email", "marketing"): ("opted_in", "email_events", "m2", datetime(2025, 5, 1)),
        ("pA", "sms", "marketing"): ("opted_in", "crm_contacts", "C2", datetime(2025, 4, 1)),
        # Bob: DoNotCall with no LastModifiedDate is dated by CreatedDate.
        ("pB", "phone", "any"): ("opted_out", "crm_leads", "L2", datetime(2025, 1, 2, 10)),
        ("pB", "any", "profiling"): (
            "opted_out",
            "preference_centre",
            "preferences.csv:2",
            datetime(2025, 2, 1),
        ),
        ("pB", "sms", "marketing"): (
            "opted_out",
            "preference_centre",
            "preferences.csv:6",
            datetime(2025, 3, 1),
        ),
        # Cid: a field read from a JSON lines people source.
        ("pC", "any", "profiling"): ("opted_out", "web_signups", "S1", datetime(2025, 3, 3)),
        # Dee: unsubscribed on 1 April, opted in again on 1 June.
        ("pD", "email", "marketing"): (
            "opted_in",
            "preference_centre",
            "preferences.csv:1",
            datetime(2025, 6, 1),
        ),
        ("pD", "sms", "marketing"): ("opted_out", "crm_contacts", "C1", datetime(2025, 1, 5, 10)),
        # Eve: opt-out and opt-in at the same moment: the opt-out wins.
        ("pE", "email", "marketing"): ("opted_out", "crm_leads", "L4", datetime(2025, 2, 1)),
        ("pE", "sms", "marketing"): (
            "opted_out",
            "preference_centre",
            "preferences.csv:6",
            datetime(2025, 3, 1),
        ),
    }


def test_the_read_side_sees_what_was_built(company, built):
    con, _ = company
    assert is_permitted(con, "pA", purpose="marketing", channel="email")
    assert not is_permitted(con, "pB", purpose="marketing", channel="phone")
    assert not is_permitted(con, "pB", purpose="support", channel="phone")
    assert is_permitted(con, "pB", purpose="marketing", channel="email")
    assert not is_permitted(con, "pB", purpose="profiling", channel=None)
    assert not is_permitted(con, "pC", purpose="profiling", channel=None)
    assert is_permitted(con, "pD", purpose="marketing", channel="email")
    assert not is_permitted(con, "pE", purpose="marketing", channel="email")
    assert is_permitted(con, "pZ", purpose="marketing", channel="email")


def test_the_build_reports_what_it_found_and_ignored(built):
    build, rows = built
    summary = consent_summary(build)
    assert summary["dagster/row_count"] == len(rows) == 10
    assert summary["profiles_with_consent"] == 5
    # L1, L4, C2 (email opt-outs), L2 (DoNotCall), C1 and C2 (texts), S1 (profiling).
    assert summary["statements"] == {"fields": 7, "events": 2, "file": 6}
    assert summary["ignored_values"] == {"crm_leads.HasOptedOutOfEmail": 1}  # "maybe"
    assert summary["statements_unmatched"] == 1  # nobody@example.com
    assert summary["ambiguous_opt_ins_ignored"] == 1  # the opt-in by Bob's and Eve's shared phone
    assert summary["opted_out"]["sms/marketing"] == 3
    assert summary["opted_in"]["email/marketing"] == 2
    # Rows in = statements + rows quarantined.
    assert summary["file_rows"] == 10 == build.file.statements + summary["file_rows_quarantined"]
    assert summary["file_quarantine_reasons"] == {
        "no usable identifier": 1,
        "unknown channel": 1,
        "unknown source": 1,
        "unparseable recorded_at": 1,
    }


def test_bad_consent_file_rows_are_quarantined_with_their_reasons(company, built):
    con, _ = company
    rows = con.sql(
        "SELECT _row_number, reason, raw_content FROM quarantine.preference_centre ORDER BY _row_number"
    ).fetchall()
    assert [r[0] for r in rows] == [4, 5, 9, 10]
    reasons = {r[0]: r[1] for r in rows}
    assert reasons[4] == "unknown channel 'fax' (column channel); unknown status 'pending' (column status)"
    assert reasons[5] == "no usable identifier (no record id, valid email or phone)"
    assert reasons[9] == "unknown source 'crm_other' for record X9"
    assert reasons[10] == "unparseable recorded_at (column recorded_at): yesterday"
    assert '"channel":"fax"' in rows[0][2]


def test_a_rebuild_gives_the_same_rows_and_no_duplicates(company, built):
    con, config = company
    _, rows = built
    build_consent(con, config)
    again = con.sql("SELECT profile_id, channel, purpose, status FROM profiles.consent").fetchall()
    assert {(r[0], r[1], r[2]): r[3] for r in again} == {k: v[0] for k, v in rows.items()}
    assert con.sql("SELECT count(*) FROM quarantine.preference_centre").fetchall()[0][0] == 4


def test_false_says_nothing_unless_configured(company):
    con, config = company
    only_fields = with_consent(
        config,
        "consent: {fields: [{column: HasOptedOutOfEmail, channel: email, false_means: opposite}]}",
    )
    build_consent(con, only_fields)
    rows = dict(con.sql("SELECT profile_id, status FROM profiles.consent WHERE channel = 'email'").fetchall())
    # Bob's and Dee's false now state an opt-in; Ann's later contact (1 April) still says true.
    assert rows == {"pA": "opted_out", "pB": "opted_in", "pD": "opted_in", "pE": "opted_out"}
    build_consent(con, config)


def test_without_consent_settings_the_table_is_empty(company):
    con, config = company
    build = build_consent(con, with_consent(config, ""))
    assert build.rows == 0
    assert con.sql("SELECT count(*) FROM profiles.consent").fetchall()[0][0] == 0
    assert is_permitted(con, "pB", purpose="profiling", channel=None)
    build_consent(con, config)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "consent: {fields: {email: HasOptedOutOfEmial}}",
            r"consent.fields\[0\] \(column HasOptedOutOfEmial\): no people source has a column HasOptedOutOfEmial",
        ),
        (
            "consent: {fields: [{column: DoNotCall, channel: phone, sources: [crm_contacts]}]}",
            r"consent.fields\[0\] \(column DoNotCall\): source crm_contacts has no column DoNotCall",
        ),
        (
            "consent: {fields: [{column: prefs.noProfile, purpose: profiling, sources: [web_signups]}]}",
            r"consent.fields\[0\] \(column prefs.noProfile\): source web_signups has no column",
        ),
        ("consent: {file: {path: nowhere/*.csv}}", r"consent.file.path: no file matches nowhere/\*.csv"),
        ("consent: {file: {path: leads.csv}}", r"consent.file: .*leads.csv has no column channel"),
        (
            "consent: {file: {path: preferences.csv, columns: {status: State}}}",
            r"consent.file: .*preferences.csv has no column State",
        ),
    ],
)
def test_settings_the_data_cannot_satisfy_fail_naming_the_setting_and_write_nothing(
    company, section, message
):
    con, config = company
    build_consent(con, config)
    before = con.sql("SELECT * FROM profiles.consent ORDER BY ALL").fetchall()
    with pytest.raises(ConfigError, match=message):
        build_consent(con, with_consent(config, section))
    assert con.sql("SELECT * FROM profiles.consent ORDER BY ALL").fetchall() == before
    assert con.sql("SELECT count(*) FROM quarantine.preference_centre").fetchall()[0][0] == 4


@pytest.mark.parametrize("loaded", [False, True])
def test_the_settings_are_checked_against_the_files_before_a_run_writes(tmp_path, loaded):
    folder = tmp_path / "company"
    # The JSON lines source could hold any field (checked when consent is built); the CSVs cannot.
    section = (
        "consent: {fields: {email: HasOptedOutOfEmail, phone: {column: DoNotCal, sources: [crm_leads]}}}"
    )
    con, config = (
        staged_company(folder) if loaded else (connect(":memory:"), load_config(write_company(folder)))
    )
    try:
        # Good settings pass, from new files' headers or from the manifest of loaded ones.
        check_consent_settings(con, config, check_sources(con, config))
        bad = with_consent(config, section)
        with pytest.raises(
            ConfigError,
            match=r"consent.fields\[1\] \(column DoNotCal\): source crm_leads has no column DoNotCal",
        ):
            check_consent_settings(con, bad, check_sources(con, bad))
        missing = with_consent(config, "consent: {file: {path: gone.csv}}")
        with pytest.raises(ConfigError, match="consent.file.path: no file matches gone.csv"):
            check_consent_settings(con, missing, check_sources(con, missing))
    finally:
        con.close()


def test_kindred_run_refuses_a_consent_column_no_file_has_before_writing(tmp_path):
    config = write_company(
        tmp_path / "company",
        "consent: {fields: [{column: HasOptedOutOfEmial, sources: [crm_leads, crm_contacts]}]}",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KINDRED_", "DAGSTER_"))}
    env["KINDRED_HOME"] = str(tmp_path / "home")
    process = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode != 0
    assert "consent.fields[0] (column HasOptedOutOfEmial): source crm_leads has no column" in process.stderr
    assert not (tmp_path / "home" / "warehouse.duckdb").exists()


def test_a_glob_reads_every_consent_file_it_matches(company, tmp_path):
    con, config = company
    folder = config.base_dir / "exports" / "2025"
    folder.mkdir(parents=True, exist_ok=True)
    header, *rows = (config.base_dir / "preferences.csv").read_text().splitlines()
    (folder / "part-1.csv").write_text("\n".join([header, *rows[:5]]) + "\n")
    (folder / "part-2.csv").write_text("\n".join([header, *rows[5:]]) + "\n")
    split = with_consent(config, "consent: {file: {path: 'exports/**/*.csv', name: preference_centre}}")
    build = build_consent(con, split)
    assert [f.name for f in build.file.files] == ["part-1.csv", "part-2.csv"]
    assert build.file.rows == 10 and build.file.statements == 6
    rows = dict(
        con.sql(
            "SELECT channel || '/' || purpose, record_id FROM profiles.consent WHERE profile_id = 'pB'"
        ).fetchall()
    )
    assert rows["any/profiling"] == "part-1.csv:2" and rows["sms/marketing"] == "part-2.csv:1"
    build_consent(con, config)
