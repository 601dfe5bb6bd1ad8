"""The contract's test: a person in every layer of a real run, forgotten, leaves no trace under
KINDRED_HOME (tables, Parquet, the DuckDB file's bytes, MLflow, Dagster's storage, the serving
publication, the audit log of a read of her grounding) nor in the PostgreSQL mirror after the next
sync, and does not come back when the same landing files are loaded again.

The demo company is generated (seeded); one person with records in most sources and no
household is picked, and their last name is replaced in the landing files by "Quillfeather",
which no one else carries, so that zero hits for the name means something.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest

from privacy.audit import ACCESS_LOG, read_audit
from privacy.erasure_files import Hit, search_home
from serving.publish import current_publication
from tests.activation.crm_mirror import PASSWORD, Target, new_target
from tests.end_to_end.conftest import KindredRun, demo_folder, kindred

pytestmark = pytest.mark.slow

PLANTED = "Quillfeather"


@dataclass
class Planted:
    email: str
    needles: list[str]  # her planted name, emails and phones as every source wrote them


def plant(demo: Path) -> Planted:
    """Pick a person whose last name appears only in their own rows, and rename them everywhere."""
    people = pl.read_csv(demo / "ground_truth" / "people.csv", infer_schema=False)
    records = pl.read_csv(demo / "ground_truth" / "records.csv", infer_schema=False)
    households = people.group_by("household_id").len()
    files = [p for p in sorted(demo.rglob("*")) if p.is_file() and "ground_truth" not in p.parts]
    lines = [(path, line) for path in files for line in path.read_text().splitlines()]
    sources_per_person = records.group_by("person_id").agg(pl.col("source").n_unique().alias("sources"))
    candidates = (
        people.join(sources_per_person, on="person_id")
        .join(households, on="household_id", how="left")
        .filter(
            (pl.col("sources") >= 6)
            & pl.col("household_id").is_not_null()
            & (pl.col("len") == 1)
            & pl.col("lead_id").is_null()
            & (pl.col("last_name").str.len_chars() >= 5)
        )
        .sort("person_id")
    )
    for person in candidates.iter_rows(named=True):
        ids = set(records.filter(pl.col("person_id") == person["person_id"])["record_id"].to_list())
        name = re.compile(re.escape(person["last_name"]), re.IGNORECASE)
        with_name = [line for _, line in lines if name.search(line)]
        if with_name and all(any(i in line for i in ids) for line in with_name):
            break
    else:
        raise AssertionError("no person in the demo has a last name only their own rows carry")

    def rename(match: re.Match) -> str:
        found = match.group(0)
        return PLANTED.upper() if found.isupper() else PLANTED.lower() if found.islower() else PLANTED

    for path in files:
        text = path.read_text()
        if name.search(text):
            path.write_text(name.sub(rename, text))
    emails = {e for e in (person["email"], person["email_changed_to"]) if e}
    phones = {p for p in (person["mobile_phone"], person["mobile_changed_to"], person["home_phone"]) if p}
    renamed = {name.sub(rename, e) for e in emails}
    return Planted(
        email=name.sub(rename, person["email"]), needles=[PLANTED, *sorted(renamed), *sorted(phones)]
    )


def written_phones(run: KindredRun, email: str) -> list[str]:
    """Her phones as every staged row and CRM export wrote them (formats differ per source)."""
    rows = run.sql(
        """SELECT DISTINCT p.phone FROM (
             SELECT source, record_id, phone FROM staging.people UNION ALL SELECT source, record_id, phone FROM staging.orders
             UNION ALL SELECT source, record_id, phone FROM staging.events UNION ALL SELECT source, record_id, phone FROM staging.cases) p
           JOIN identity.record_xref x USING (source, record_id)
           WHERE p.phone IS NOT NULL AND x.profile_id IN (
             SELECT profile_id FROM profiles.contact_points WHERE kind = 'email' AND value = ?)""",
        [email.lower()],
    )  # fmt: skip
    points = run.sql(
        "SELECT DISTINCT c.value FROM profiles.contact_points c WHERE c.kind = 'phone' AND c.profile_id IN "
        "(SELECT profile_id FROM profiles.contact_points WHERE kind = 'email' AND value = ?)",
        [email.lower()],
    )
    return sorted({r[0] for r in rows} | {r[0] for r in points})


def reload_everything(run: KindredRun) -> None:
    """Load every landing file again as a new version, as a re-delivery would."""
    script = (
        "from warehouse.config import load_config\nfrom warehouse.connection import open_warehouse\n"
        "from warehouse.ingest import ingest_sources\n"
        "with open_warehouse() as con:\n    ingest_sources(con, load_config('kindred.yaml'), full_refresh=True)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KINDRED_", "DAGSTER_"))}
    subprocess.run(
        [sys.executable, "-c", script], cwd=run.folder, env={**env, "KINDRED_HOME": str(run.home)}, check=True
    )


def mirror_hits(target: Target, needles: list[str]) -> list[tuple[str, str]]:
    """(mirror table, needle) for every needle found in any row of any table of the mirror's schema."""
    hits = []
    for (table,) in target.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'kindred'"
    ):
        text = "\n".join(row[0] for row in target.query(f'SELECT t::text FROM kindred."{table}" t')).lower()
        hits += [(table, needle) for needle in needles if needle.lower() in text]
    return hits


def left_of_her(home: Path, texts: list[str], crm_ids: set[str]) -> list[Hit]:
    """Every place under the home holding one of the texts, but one that must hold her CRM record ids:
    the change feed's `delete` rows (keys only) that tell CRM syncs to delete the records downstream."""

    def the_delete_rows(hit: Hit) -> bool:
        in_feed = hit.how in ("bytes", "table crm.record_scores_changes")
        return texts[hit.text_index] in crm_ids and hit.path == home / "warehouse.duckdb" and in_feed

    return [hit for hit in search_home(home, texts) if not the_delete_rows(hit)]


@dataclass
class Story:
    planted: Planted
    needles: list[str]
    keys: list[str]  # her profile ids and CRM record ids
    read: KindredRun  # `kindred grounding` of her CRM record (audited)
    published: Path  # the run's serving publication
    mirror_before: list
    mirror_after: list
    layers: dict[str, int]  # her rows per layer after the first run
    before: list  # search hits after the first run
    mlflow_and_dagster_before: list
    first: KindredRun
    forget: KindredRun
    after_forget: list
    receipt: dict
    second: KindredRun
    after_second: list


@pytest.fixture(scope="module")
def story(tmp_path_factory, postgres_server) -> Story:
    folder = demo_folder(tmp_path_factory.mktemp("forget"), people=500)
    planted = plant(folder / "data" / "demo")
    home = folder / "home"
    first = kindred(folder, home, "run")
    assert first.returncode == 0, first.output
    needles = sorted({*planted.needles, *written_phones(first, planted.email)})
    layers = {
        table: first.sql(
            f"SELECT count(*) FROM {table} WHERE profile_id IN "
            "(SELECT profile_id FROM profiles.contact_points WHERE value = ?)",
            [planted.email.lower()],
        )[0][0]
        for table in ("profiles.unified_profile", "features.profile_features", "scores.predictions", "scores.offers",
                      "crm.record_scores", "crm.grounding", "crm.record_scores_changes")
    }  # fmt: skip
    keys = [
        key
        for (profile_id,) in first.sql(
            "SELECT DISTINCT profile_id FROM profiles.contact_points WHERE value = ?", [planted.email.lower()]
        )
        for key in [profile_id] + [row[0] for row in first.sql(
            "SELECT crm_record_id FROM crm.record_scores WHERE profile_id = ?", [profile_id])]
    ]  # fmt: skip
    (crm_record,) = first.sql(
        "SELECT crm_object, crm_record_id FROM crm.record_scores WHERE profile_id = ?", [keys[0]]
    )
    crm_ids = {
        r[0]
        for r in first.sql(
            "SELECT crm_record_id FROM crm.record_scores WHERE list_contains(?, profile_id)", [keys]
        )
    }
    read = kindred(folder, home, "grounding", *crm_record)
    target = new_target(postgres_server)
    sync = ("crm", "sync", "--target", target.url, "--segments")
    synced = kindred(folder, home, *sync, env={"PGPASSWORD": PASSWORD})
    assert synced.returncode == 0, synced.output
    mirror_before = mirror_hits(target, needles + keys)
    # Her ids too: the audit log names her by them alone.
    before = search_home(home, needles + keys)
    kept = [h for h in before if h.text_index < len(needles) and (h.path.is_relative_to(home / "dagster")
            or h.path.name == "mlflow.db" or h.path.is_relative_to(home / "mlartifacts"))]  # fmt: skip
    published = current_publication(home)
    forget = kindred(
        folder, home, "forget", "--email", planted.email.upper(), "--yes", "--reason", "ticket 981"
    )
    after_forget = left_of_her(home, needles + keys, crm_ids)
    synced = kindred(folder, home, *sync, env={"PGPASSWORD": PASSWORD})
    assert synced.returncode == 0, synced.output
    mirror_after = mirror_hits(target, needles + keys)
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        cursor = con.execute("SELECT * FROM privacy.erasure_receipts")
        names = [d[0] for d in cursor.description]
        (receipt,) = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    reload_everything(first)
    second = kindred(folder, home, "run")
    return Story(
        planted=planted,
        needles=needles,
        keys=keys,
        read=read,
        published=published,
        mirror_before=mirror_before,
        mirror_after=mirror_after,
        layers=layers,
        before=before,
        mlflow_and_dagster_before=kept,
        first=first,
        forget=forget,
        after_forget=after_forget,
        receipt=receipt,
        second=second,
        after_second=left_of_her(home, needles + keys, crm_ids),
    )


def test_she_is_in_every_layer_before_and_the_search_sees_her(story):
    assert all(n >= 1 for n in story.layers.values()), story.layers
    places = {h.how.split(" ")[0] for h in story.before}
    assert {"bytes", "table", "parquet"} <= places
    assert any(h.path.name == "warehouse.duckdb" and h.how == "bytes" for h in story.before)


def test_the_serving_copy_and_the_audit_log_hold_her_before(story):
    assert story.read.returncode == 0, story.read.output
    home = story.first.home
    assert story.published.parent == home / "serving"
    texts = story.needles + story.keys

    def found_in(where) -> set[str]:
        return {texts[h.text_index] for h in story.before if where(h)}

    served = found_in(lambda h: h.path == story.published and h.how.startswith("table"))
    assert {PLANTED, story.planted.email, story.keys[0]} <= served
    audited = found_in(lambda h: h.path.is_relative_to(home / "audit") and h.path.suffix == ".jsonl")
    assert set(story.keys[:2]) <= audited  # the read of her grounding: her profile and CRM record


def test_mlflow_and_dagster_hold_no_personal_data(story):
    assert story.mlflow_and_dagster_before == []
    examples = list((story.first.home / "mlartifacts").rglob("input_example.json"))
    assert examples
    for path in examples:
        rows = json.loads(path.read_text().replace("NaN", "null"))["data"]
        assert all(value is None for row in rows for value in row), path


def test_forget_erases_her_without_printing_her_data(story):
    assert story.forget.returncode == 0, story.forget.output
    assert "erasure receipt" in story.forget.output and "finished" in story.forget.output
    output = story.forget.output.lower()
    assert not [n for n in story.needles if n.lower() in output]


def test_nothing_of_her_is_left_anywhere_under_kindred_home(story):
    assert story.after_forget == []


def test_her_audit_row_is_kept_blanked_and_the_serving_copy_is_new(story):
    home = story.first.home
    assert not story.published.exists()
    assert sorted(p.name for p in (home / "serving").iterdir()) == ["CURRENT", current_publication(home).name]
    (row,) = read_audit(ACCESS_LOG, home).filter(pl.col("resource") == "grounding").iter_rows(named=True)
    assert row["erased"] is True and row["outcome"] == "ok" and row["crm_object"] == "Contact"
    assert row["crm_record_id"] is None and row["profile_id"] is None
    removed = json.loads(story.receipt["removed"])
    assert removed["audit.access_log"] == 1 and removed["serving"] >= 10


def test_the_next_sync_takes_her_out_of_the_postgresql_mirror(story):
    assert {table for table, _ in story.mirror_before} >= {"record_scores", "grounding"}
    assert story.mirror_after == []


def test_the_receipt_counts_rows_and_holds_no_personal_data(story):
    receipt = story.receipt
    assert (
        receipt["status"] == "finished"
        and receipt["identified_by"] == "email"
        and receipt["reason"] == "ticket 981"
    )
    removed = json.loads(receipt["removed"])
    for place in (
        "profiles.unified_profile",
        "identity.record_xref",
        "crm.record_scores",
        "raw.crm_contacts",
    ):
        assert removed.get(place, 0) >= 1, place
    text = json.dumps({k: str(v) for k, v in receipt.items()}).lower()
    assert not [n for n in story.needles if n.lower() in text]


def test_loading_the_same_files_again_does_not_bring_her_back(story):
    assert story.second.returncode == 0, story.second.output
    assert story.after_second == []
    removed = json.loads(story.receipt["removed"])
    raw_erased = sum(n for place, n in removed.items() if place.startswith("raw."))
    quarantined = 0
    for (source,) in story.second.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'quarantine'"
    ):
        rows = story.second.sql(
            f"SELECT count(*), count(raw_content) FROM quarantine.{source} WHERE reason = 'erased on request'"
        )[0]
        assert rows[1] == 0, source
        quarantined += rows[0]
    assert quarantined == raw_erased
    assert "check failed" not in story.second.output  # the row ledger balances, among other checks
