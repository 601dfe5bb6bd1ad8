"""The whole graph on a small generated company: every contract table, MLflow, Dagster, re-runs."""

import json
import re

import duckdb
import mlflow
import polars as pl
import pytest

from activation.generation import generate
from identity_resolution.metrics import pairwise_metrics
from privacy.audit import AuditLog
from privacy.callers import Caller
from privacy.consent import reachable_condition
from tests.end_to_end.conftest import kindred
from tests.openai_stand_in import StandInLlm
from warehouse.config import load_config

pytestmark = pytest.mark.slow


def test_run_succeeds_and_prints_the_summary(demo_run):
    assert demo_run.returncode == 0, demo_run.output
    for phrase in ("records per source", "merge rate", "models on a time-based holdout", "crm.record_scores"):
        assert phrase in demo_run.output


def test_contract_tables_have_rows(demo_run):
    for table in (
        "identity.record_xref",
        "profiles.unified_profile",
        "scores.predictions",
        "scores.offers",
        "crm.record_scores",
        "crm.grounding",
        "features.profile_features",
        "identity.links",
    ):
        assert demo_run.sql(f"SELECT count(*) FROM {table}")[0][0] > 0, table
    models = dict(demo_run.sql("SELECT model, count(*) FROM scores.predictions GROUP BY model"))
    assert set(models) == {"lead_score", "churn_risk"}
    assert demo_run.sql("SELECT min(score), max(score) FROM scores.predictions")[0] >= (0.0,)
    assert demo_run.sql("SELECT max(score) FROM scores.predictions")[0][0] <= 1.0


def test_one_crm_row_per_lead_and_contact(demo_run):
    people = demo_run.sql("SELECT count(*) FROM staging.people WHERE crm_object IS NOT NULL")[0][0]
    rows, distinct = demo_run.sql(
        "SELECT count(*), count(DISTINCT (source, crm_object, crm_record_id)) FROM crm.record_scores"
    )[0]
    assert rows == distinct == people
    contacts_with_lead_score = demo_run.sql(
        "SELECT count(*) FROM crm.record_scores WHERE crm_object = 'Contact' AND lead_score IS NOT NULL"
    )[0][0]
    assert contacts_with_lead_score == 0


def test_grounding_is_masked(demo_run):
    emails = {r[0].lower() for r in demo_run.sql("SELECT email FROM staging.people WHERE email IS NOT NULL")}
    contexts = [json.loads(r[0]) for r in demo_run.sql("SELECT context FROM crm.grounding")]
    text = json.dumps(contexts).lower()
    assert not [e for e in emails if e in text]
    # The demo's case texts carry the customers' phones and emails: none survives.
    phones = {r[0] for r in demo_run.sql("SELECT value FROM profiles.contact_points WHERE kind = 'phone'")}
    digits = re.sub(r"\D", "", text)
    assert not [p for p in phones if len(p) >= 11 and p[-10:-2] in digits]
    assert all(c["provenance"]["record"]["source_row"] for c in contexts)


def test_generate_with_the_demo_templates_sends_nothing_personal(demo_run, tmp_path):
    lead, contact = (
        demo_run.sql(
            "SELECT crm_record_id FROM crm.grounding WHERE crm_object = ? AND context LIKE '%\"cases\":[{%' LIMIT 1",
            [crm_object],
        )[0][0]
        for crm_object in ("Lead", "Contact")
    )
    config = tmp_path / "kindred.yaml"
    with StandInLlm() as llm:
        text = (
            (demo_run.folder / "kindred.yaml").read_text().replace("http://127.0.0.1:11434/v1", llm.base_url)
        )
        config.write_text(text.replace("path: data/demo", f"path: {demo_run.folder}/data/demo"))
        # The command as a user runs it, then the library the API calls, on the real demo data.
        run = kindred(
            demo_run.folder,
            demo_run.home,
            "generate",
            "follow_up_email",
            "Lead",
            lead,
            "--config",
            str(config),
        )
        assert run.returncode == 0, run.output
        with duckdb.connect(str(demo_run.home / "warehouse.duckdb"), read_only=True) as con:
            note = generate(
                con,
                "retention_note",
                "Contact",
                contact,
                caller=Caller("rep", "reader", "api"),
                config=load_config(config),
                audit=AuditLog(demo_run.home),
            )
    assert "Dear " in run.output and "<PERSON_" not in run.output
    assert note.answer.startswith("Dear <PERSON_1> <PERSON_2>")
    sent = llm.raw_requests()
    for record_id in (lead, contact):
        names = demo_run.sql(
            "SELECT first_name, last_name, email FROM staging.people WHERE record_id = ?", [record_id]
        )[0]
        assert [v for v in names if v and v in sent] == [], record_id
    # The view the run made reads the audit files when queried: the two calls made since show up.
    assert demo_run.sql("SELECT template FROM audit.llm_calls ORDER BY logged_at") == [
        ("follow_up_email",),
        ("retention_note",),
    ]


def test_identity_matches_the_ground_truth(demo_run):
    truth = pl.read_csv(
        demo_run.folder / "data" / "demo" / "ground_truth" / "records.csv", infer_schema=False
    )
    xref = pl.DataFrame(
        demo_run.sql("SELECT source, record_id, profile_id FROM identity.record_xref"),
        schema=["source", "record_id", "profile_id"],
        orient="row",
    )
    joined = truth.join(xref, on=["source", "record_id"], how="left")
    assert joined["profile_id"].null_count() == 0
    scores = pairwise_metrics(joined, predicted="profile_id", truth="person_id")
    assert scores.f1 >= 0.95, scores


def test_models_are_registered_with_a_champion(demo_run):
    # A client of its own: the registry address another test left process-wide must not count.
    uri = f"sqlite:///{demo_run.home / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name in ("lead_score", "churn_risk", "next_best_offer"):
        assert str(client.get_model_version_by_alias(name, "champion").version) == "1"


def test_consent_is_recorded_from_every_source_and_enforced_where_data_leaves(demo_run):
    sources = {r[0] for r in demo_run.sql("SELECT DISTINCT source FROM profiles.consent")}
    assert sources == {"crm_leads", "crm_contacts", "email_events", "preference_centre"}
    objectors = {
        r[0]
        for r in demo_run.sql(
            "SELECT profile_id FROM profiles.consent WHERE channel = 'any' AND purpose IN ('profiling', 'any') "
            "AND status = 'opted_out'"
        )
    }
    assert objectors
    scored = {
        r[0]
        for r in demo_run.sql(
            "SELECT profile_id FROM scores.predictions UNION SELECT profile_id FROM scores.offers"
        )
    }
    assert not objectors & scored
    crm_scored = demo_run.sql(
        "SELECT count(*) FROM crm.record_scores WHERE list_contains(?, profile_id) "
        "AND (lead_score IS NOT NULL OR churn_risk IS NOT NULL OR best_offer IS NOT NULL)",
        [sorted(objectors)],
    )[0][0]
    assert crm_scored == 0
    # Every offer goes only to people who may receive marketing on one of that offer's channels
    # (the demo catalog has email-only offers and email-or-SMS ones).
    with duckdb.connect(str(demo_run.home / "warehouse.duckdb"), read_only=True) as con:
        by_channels: dict[tuple, list[str]] = {}
        for offer_id, channels in con.sql("SELECT offer_id, channels FROM scores.offer_catalog").fetchall():
            by_channels.setdefault(tuple(channels), []).append(offer_id)
        assert ("email",) in by_channels
        for channels, offers in by_channels.items():
            reachable, params = reachable_condition(
                con, "o.profile_id", purpose="marketing", channels=channels
            )
            unreachable = con.sql(
                f"SELECT count(*) FROM scores.offers o WHERE list_contains(?, o.offer_id) AND NOT ({reachable})",
                params=[offers, *params],
            ).fetchall()
            assert unreachable[0][0] == 0, channels
    do_not_call = demo_run.sql(
        "SELECT g.context FROM crm.grounding g JOIN profiles.consent c USING (profile_id) "
        "WHERE c.channel = 'phone' AND c.purpose = 'any' AND c.status = 'opted_out'"
    )
    assert do_not_call
    for (context,) in do_not_call:
        document = json.loads(context)
        assert document["profile"]["phones"] == []
        assert document["consent"]["channels"]["phone"] == {"marketing": False, "contact": False}


def test_the_profiling_objections_of_the_ground_truth_reach_their_profiles(demo_run):
    demo = demo_run.folder / "data" / "demo"
    truth = pl.read_csv(demo / "ground_truth" / "consent.csv", infer_schema=False)
    final = (
        truth.filter(pl.col("purpose") == "profiling")
        .sort("recorded_at")
        .group_by("person_id")
        .agg(pl.col("status").last())
        .filter(pl.col("status") == "opted_out")
    )
    records = pl.read_csv(demo / "ground_truth" / "records.csv", infer_schema=False)
    xref = pl.DataFrame(
        demo_run.sql("SELECT source, record_id, profile_id FROM identity.record_xref"),
        schema=["source", "record_id", "profile_id"],
        orient="row",
    )
    profiles = (
        final.join(records, on="person_id").join(xref, on=["source", "record_id"])["profile_id"].unique()
    )
    objecting = {
        r[0]
        for r in demo_run.sql(
            "SELECT profile_id FROM profiles.consent WHERE channel = 'any' AND purpose = 'profiling' AND status = 'opted_out'"
        )
    }
    assert final.height > 0
    # The preference centre knows people by email: an address Kindred never saw cannot be matched.
    assert len(set(profiles) & objecting) >= 0.8 * final.height


def test_the_run_is_recorded_in_the_dagster_instance(demo_run):
    assert any((demo_run.home / "dagster").rglob("*.db")), "no Dagster storage under KINDRED_HOME/dagster"


def test_rerun_is_idempotent_and_keeps_profile_ids(demo_run):
    before = demo_run.sql("SELECT source, record_id, profile_id FROM identity.record_xref ORDER BY 1, 2")
    counts_before = demo_run.sql(
        "SELECT (SELECT count(*) FROM staging.events), (SELECT count(*) FROM crm.record_scores)"
    )
    again = kindred(demo_run.folder, demo_run.home, "run")
    assert again.returncode == 0, again.output
    assert (
        demo_run.sql("SELECT source, record_id, profile_id FROM identity.record_xref ORDER BY 1, 2") == before
    )
    assert (
        demo_run.sql("SELECT (SELECT count(*) FROM staging.events), (SELECT count(*) FROM crm.record_scores)")
        == counts_before
    )


def test_full_run_leaves_out_the_daily_partitions(demo_run):
    assert "events_daily" not in demo_run.output
    assert "staging_tables" in demo_run.output


def test_backfill_restages_days_in_one_dagster_run(demo_run):
    events_before = demo_run.sql("SELECT count(*) FROM staging.events")[0][0]
    run = kindred(demo_run.folder, demo_run.home, "backfill", "--from", "2026-06-01", "--to", "2026-06-03")
    assert run.returncode == 0, run.output
    assert "Dagster run" in run.output
    assert demo_run.sql("SELECT count(*) FROM staging.events")[0][0] == events_before
    refused = kindred(demo_run.folder, demo_run.home, "backfill", "--from", "June", "--to", "2026-06-03")
    assert refused.returncode != 0
    assert "--from and --to must be dates" in refused.output


def test_demo_segments_are_built_and_export_with_consent(demo_run, tmp_path):
    latest = dict(
        demo_run.sql(
            "SELECT segment, size FROM segments.evaluations "
            "QUALIFY row_number() OVER (PARTITION BY segment ORDER BY evaluated_at DESC) = 1"
        )
    )
    assert set(latest) == {"at_risk_spenders", "hot_leads", "lapsed_web_visitors"}
    members = dict(demo_run.sql("SELECT segment, count(*) FROM segments.membership GROUP BY segment"))
    assert {s: members.get(s, 0) for s in latest} == latest
    # The history accounts for every current member: entries minus exits.
    net = dict(
        demo_run.sql(
            "SELECT segment, count(*) FILTER (WHERE change = 'entered') - count(*) FILTER (WHERE change = 'exited') "
            "FROM segments.membership_history GROUP BY segment"
        )
    )
    assert {s: net.get(s, 0) for s in latest} == latest
    largest = max(latest, key=latest.get)
    assert latest[largest] > 0
    out = tmp_path / f"{largest}.csv"
    export = kindred(demo_run.folder, demo_run.home, "segments", "export", largest, "--out", str(out))
    assert export.returncode == 0, export.output
    frame = pl.read_csv(out, infer_schema=False)
    assert frame.columns[0] == "profile_id" and frame.height <= latest[largest]
    assert f"wrote {frame.height:,} people of segment '{largest}'" in export.output
    assert f"of {latest[largest]:,} members left out for consent" in export.output
