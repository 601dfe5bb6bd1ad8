"""`kindred forget` on a small real warehouse: every layer, every way of naming the person, the
ledger, the receipt, the change feed, exports, arrivals after the erasure, and interruptions."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from privacy.audit import ACCESS_LOG, read_audit
from privacy.erasure import ErasureRequestError, finish_pending, forget, plan_erasure
from privacy.erasure_files import search_home
from privacy.erasure_receipts import read_receipts
from privacy.suppression_check import ERASED_ON_REQUEST
from serving.publish import current_publication, serving_folder
from tests.privacy.erasure_support import (
    BOB_EMAIL,
    CONTACT,
    EMAIL,
    EVENTS,
    NEEDLES,
    build_home,
    copy_home,
    profile_of,
)
from warehouse.config import KindredConfig, load_config
from warehouse.connection import open_warehouse
from warehouse.ingest import ingest_sources
from warehouse.quarantine import account_rows
from warehouse.raw_store import raw_root
from warehouse.staging import build_staging, stage_window

REPO = Path(__file__).resolve().parents[2]


@dataclass
class World:
    home: Path
    database: Path
    config: KindredConfig
    landing: Path

    def sql(self, query: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.database), read_only=True) as con:
            return con.execute(query, params or []).fetchall()


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("erasure")
    build_home(root / "landing", root / "home")
    return root


@pytest.fixture
def world(template, tmp_path, monkeypatch) -> World:
    home = tmp_path / "home"
    copy_home(template / "home", home)
    monkeypatch.setenv("KINDRED_HOME", str(home))
    monkeypatch.delenv("KINDRED_SUPPRESSION_SALT", raising=False)
    landing = template / "landing"
    return World(home, home / "warehouse.duckdb", load_config(landing / "kindred.yaml"), landing)


def tables_state(database: Path) -> dict[str, list]:
    with duckdb.connect(str(database), read_only=True) as con:
        names = con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables ORDER BY 1"
        ).fetchall()
        return {n: sorted(map(str, con.execute(f"SELECT * FROM {n}").fetchall())) for (n,) in names}


def bytes_hits(home: Path, needles: list[str]) -> list[str]:
    """An independent check of the files' raw bytes, beside `search_home`."""
    found = []
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            found += [f"{path.name}: {n}" for n in needles if n.lower().encode() in data]
    return found


def ledger_balanced(world: World) -> bool:
    with open_warehouse(world.database) as con:
        return all(
            e["balanced"]
            for k in ("people", "events", "orders", "cases")
            for e in account_rows(con, world.config, k)
        )


def test_every_way_of_naming_her_finds_the_same_person(world):
    with open_warehouse(world.database) as con:
        profile = profile_of(con, "crm_contacts", CONTACT)
        for kind, value in (
            ("email", "  Zephyrine.Q@EXAMPLE.org "),
            ("phone", "+1 415-555-0134"),
            ("profile", profile),
            ("crm", f"Contact:{CONTACT}"),
        ):
            person = plan_erasure(con, world.config, kind, value).person
            assert person.profiles == {profile}, kind
            assert person.records == {
                ("crm_contacts", CONTACT),
                ("support_cases", CONTACT),
                ("web_events", "acc_77"),
                ("web_events", "anon-1"),
                ("shop_orders", "acc_77"),
            }, kind
            assert person.emails == {EMAIL} and "+14155550134" in person.phones, kind


def test_forget_removes_her_from_every_layer_and_nothing_of_anyone_else(world):
    assert search_home(world.home, NEEDLES), "the search must see her before the erasure"
    bob_before = world.sql("SELECT count(*) FROM staging.events WHERE user_id = 'acc_88'")[0][0]
    with open_warehouse(world.database) as con:
        bob = profile_of(con, "crm_contacts", "003B")

    outcome = forget(world.database, world.config, "email", EMAIL, reason="ticket 4711")

    assert outcome.receipt is not None and outcome.receipt.status == "finished"
    assert search_home(world.home, NEEDLES) == []
    assert bytes_hits(world.home, NEEDLES) == []
    for table in (
        "identity.record_xref",
        "profiles.unified_profile",
        "features.profile_features",
        "scores.predictions",
        "scores.offers",
        "crm.record_scores",
        "crm.grounding",
        "segments.membership",
        "segments.membership_history",
    ):
        assert world.sql(f"SELECT DISTINCT profile_id FROM {table} WHERE profile_id IS NOT NULL") == [
            (bob,)
        ], table
    assert world.sql("SELECT record_id_a FROM identity.overrides") == [("003B",)]
    assert world.sql("SELECT what FROM audit.access_log") == [("grounding of crm_contacts:003B",)]
    assert world.sql("SELECT count(*) FROM staging.events WHERE user_id = 'acc_88'")[0][0] == bob_before
    assert world.sql("SELECT count(*) FROM quarantine.web_events")[0][0] == 0  # her broken line
    assert world.sql("SELECT count(*) FROM quarantine.shop_orders")[0][0] == 0  # her unreadable order
    assert ledger_balanced(world)
    erased = dict(world.sql("SELECT source, sum(erased_rows) FROM raw._manifest GROUP BY 1"))
    assert erased == {"crm_contacts": 1, "web_events": 4, "shop_orders": 3, "support_cases": 1}
    exported = duckdb.sql(
        f"SELECT crm_record_id FROM read_parquet('{world.home}/exports/crm/*/record_scores.parquet')"
    ).fetchall()
    assert exported == [("003B",)]
    segment = duckdb.sql(f"SELECT profile_id FROM read_csv('{world.home}/exports/segment.csv')").fetchall()
    assert segment == [(bob,)]
    assert world.sql("PRAGMA database_size")[0][5] == 0  # free blocks: the file was written afresh
    assert not (world.home / "warehouse.duckdb.wal").exists()


def test_the_serving_copy_is_published_anew_and_her_audit_rows_are_blanked(world):
    published = current_publication(world.home)
    assert {h.path for h in search_home(world.home, NEEDLES)} >= {published}
    with open_warehouse(world.database) as con:
        plan = plan_erasure(con, world.config, "email", EMAIL)
    assert plan.scope.served >= 4 and plan.summary()["rows"]["serving"] == plan.scope.served

    receipt = forget(world.database, world.config, "email", EMAIL).receipt

    republished = current_publication(world.home)
    assert republished != published and not published.exists()
    assert sorted(serving_folder(world.home).iterdir()) == [
        serving_folder(world.home) / "CURRENT",
        republished,
    ]
    with duckdb.connect(str(republished), read_only=True) as con:
        assert con.sql("SELECT crm_record_id FROM crm.record_scores").fetchall() == [("003B",)]
        assert con.sql("SELECT count(*) FROM staging.people").fetchall() == [(1,)]
    assert receipt.removed["serving"] == plan.scope.served and receipt.removed["audit.access_log"] == 1
    (stored,) = read_receipts_of(world)
    assert stored.removed == receipt.removed
    rows = read_audit(ACCESS_LOG, world.home).sort("crm_record_id", nulls_last=True)
    assert rows["crm_record_id"].to_list() == ["003B", None] and rows["erased"].to_list() == [None, True]
    assert rows["profile_id"][1] is None and rows["crm_object"].to_list() == ["Contact", "Contact"]


def test_the_change_feed_gets_a_delete_with_keys_only_and_loses_her_older_rows(world):
    forget(world.database, world.config, "crm", f"Contact:{CONTACT}")
    rows = world.sql(
        "SELECT change, source, profile_id, churn_risk, updated_at IS NOT NULL FROM crm.record_scores_changes "
        "WHERE crm_record_id = ?",
        [CONTACT],
    )
    assert rows == [("delete", "crm_contacts", None, None, True)]
    assert world.sql("SELECT count(*) FROM crm.record_scores_changes WHERE crm_record_id = '003B'")[0][0] == 2


def test_the_receipt_holds_counts_and_hashes_but_no_personal_data(world):
    with open_warehouse(world.database) as con:
        profile = profile_of(con, "crm_contacts", CONTACT)
    receipt = forget(world.database, world.config, "phone", "415 555 0134", reason="ticket 4711").receipt
    stored = world.sql("SELECT * EXCLUDE (identifier_hashes) FROM privacy.erasure_receipts")
    text = json.dumps([list(map(str, row)) for row in stored]).lower()
    for secret in [*NEEDLES, profile, CONTACT, "acc_77", "anon-1", "555-0134", "zephyrine"]:
        assert secret.lower() not in text, secret
    # The hashes are hex digests, nothing else (one may hold "003a" by chance: hex digits).
    (hashes,) = world.sql("SELECT identifier_hashes FROM privacy.erasure_receipts")[0]
    assert all(re.fullmatch("[0-9a-f]{64}", h) for h in hashes) and hashes
    assert receipt.identified_by == "phone" and receipt.reason == "ticket 4711"
    assert receipt.profiles == 1 and receipt.records == 5
    assert receipt.removed["profiles.unified_profile"] == 1 and receipt.removed["raw.web_events"] == 4
    suppressed = world.sql(
        "SELECT identifier_hash FROM privacy.suppression WHERE receipt_id = ?", [receipt.receipt_id]
    )
    assert sorted(h for (h,) in suppressed) == receipt.identifier_hashes
    assert {k for (k,) in world.sql("SELECT DISTINCT kind FROM privacy.suppression")} == {
        "email",
        "phone",
        "record",
        "crm",
    }


def test_a_reason_that_names_her_is_refused_and_nothing_changes(world):
    before = tables_state(world.database)
    with pytest.raises(ErasureRequestError, match="--reason contains a name"):
        forget(world.database, world.config, "email", EMAIL, reason="Zephyrine Quillfeather wrote in")
    assert tables_state(world.database) == before


def test_an_unknown_person_changes_nothing(world):
    before = tables_state(world.database)
    outcome = forget(world.database, world.config, "email", "nobody@nowhere.test")
    assert outcome.nothing_found and outcome.already_erased == []
    assert tables_state(world.database) == before
    assert not (world.home / "suppression.salt").exists()
    with pytest.raises(ErasureRequestError, match="not an email address"):
        forget(world.database, world.config, "email", "no-at-sign")
    with pytest.raises(ErasureRequestError, match="expected OBJECT:ID"):
        forget(world.database, world.config, "crm", "003A")


def test_forgetting_again_says_she_was_erased_before(world):
    first = forget(world.database, world.config, "email", EMAIL).receipt
    again = forget(world.database, world.config, "email", EMAIL.upper())
    assert again.nothing_found and again.already_erased == [first.receipt_id]


def test_her_rows_arriving_again_are_quarantined_without_content(world):
    forget(world.database, world.config, "email", EMAIL)
    with open_warehouse(world.database) as con:
        loaded = ingest_sources(con, world.config, full_refresh=True)
        build_staging(con, world.config)
        quarantined = con.execute(
            "SELECT source, count(*), count(raw_content) FROM ("
            "SELECT * FROM quarantine.web_events UNION ALL SELECT * FROM quarantine.shop_orders "
            "UNION ALL SELECT * FROM quarantine.crm_contacts UNION ALL SELECT * FROM quarantine.support_cases) "
            "WHERE reason = ? GROUP BY 1 ORDER BY 1",
            [ERASED_ON_REQUEST],
        ).fetchall()
        bob = con.execute("SELECT count(*) FROM staging.people WHERE email = ?", [BOB_EMAIL]).fetchall()[0][0]
    assert loaded["web_events"] == len(EVENTS) + 1
    # Every row of hers, the unreadable ones too (her broken JSON line, her order without a date).
    assert quarantined == [
        ("crm_contacts", 1, 0),
        ("shop_orders", 3, 0),
        ("support_cases", 1, 0),
        ("web_events", 4, 0),
    ]
    assert bob == 1
    assert ledger_balanced(world)
    assert world.sql("SELECT count(*) FROM privacy.erasure_cleanup")[0][0] > 0
    finish_pending(world.database)
    assert world.sql("SELECT count(*) FROM privacy.erasure_cleanup")[0][0] == 0
    assert search_home(world.home, NEEDLES) == []
    assert bytes_hits(world.home, NEEDLES) == []


def test_daily_restaging_sets_her_new_events_aside(world):
    forget(world.database, world.config, "profile", _profile(world))
    day = world.landing / "events" / "2025-01.jsonl"
    original = day.read_text()
    try:
        day.write_text(
            original
            + json.dumps({"messageId": "m20", "type": "track", "event": "Cart Viewed", "userId": "acc_77", "timestamp": "2025-01-05T10:00:00Z"})
            + "\n"
            + json.dumps({"messageId": "m21", "type": "track", "event": "Cart Viewed", "userId": "acc_88", "timestamp": "2025-01-05T11:00:00Z"})
            + "\n"
        )  # fmt: skip
        with open_warehouse(world.database) as con:
            ingest_sources(con, world.config)
            stage_window(con, world.config, date(2025, 1, 5), date(2025, 1, 6), kinds=["events"])
            staged = {r[0] for r in con.execute("SELECT message_id FROM staging.events").fetchall()}
            erased = con.execute(
                "SELECT count(*) FROM quarantine.web_events WHERE reason = ? AND raw_content IS NULL",
                [ERASED_ON_REQUEST],
            ).fetchall()[0][0]
        assert "m21" in staged and "m20" not in staged and "m1" not in staged
        assert erased >= 1
        assert ledger_balanced(world)
    finally:
        day.write_text(original)


def _profile(world: World) -> str:
    with open_warehouse(world.database) as con:
        return profile_of(con, "crm_contacts", CONTACT)


CHILD = """
import sys, time
from privacy import erasure
from warehouse.config import load_config

point, database, config = sys.argv[1:4]

def pause(function):
    def wrapped(*args, **kwargs):
        print("MIDWAY", flush=True)
        time.sleep(120)
        return function(*args, **kwargs)
    return wrapped

if point == "prepared":
    erasure.warehouse_tables = pause(erasure.warehouse_tables)
elif point == "committed":  # before the serving tables are published anew
    erasure.republish = pause(erasure.republish)
from pathlib import Path
erasure.forget(Path(database), load_config(config), "email", sys.argv[4])
print("DONE", flush=True)
"""


def killed_erasure(world: World, point: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, point, str(world.database), str(world.landing / "kindred.yaml"), EMAIL],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout.readline().strip() == "MIDWAY", child.stderr.read()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)


def test_an_erasure_killed_before_its_commit_leaves_the_warehouse_as_before(world):
    before = tables_state(world.database)
    killed_erasure(world, "prepared")
    assert tables_state(world.database) == before
    assert ledger_balanced(world)
    outcome = forget(world.database, world.config, "email", EMAIL)
    assert outcome.receipt.status == "finished"
    assert search_home(world.home, NEEDLES) == []
    with open_warehouse(world.database) as con:
        on_disk = {p.name for p in (raw_root(con) / "web_events").iterdir()}
        referenced = con.execute(
            "SELECT count(*) FROM raw._manifest WHERE source = 'web_events' AND status = 'loaded'"
        ).fetchall()[0][0]
    assert len(on_disk) == referenced  # the killed run's new parts were removed, not kept beside


def test_an_erasure_killed_after_its_commit_is_finished_by_the_next_forget(world):
    killed_erasure(world, "committed")
    pending = [r for r in read_receipts_of(world) if r.status == "removed"]
    assert len(pending) == 1
    assert plan_erasure_found(world) is False  # her rows are gone already
    outcome = forget(world.database, world.config, "email", EMAIL)
    assert outcome.resumed == [pending[0].receipt_id]
    assert outcome.already_erased == [pending[0].receipt_id]
    assert [r.status for r in read_receipts_of(world)] == ["finished"]
    assert search_home(world.home, NEEDLES) == []
    assert bytes_hits(world.home, NEEDLES) == []


def test_the_end_of_a_run_finishes_an_erasure_killed_before_it_published_anew(world):
    published = current_publication(world.home)
    with duckdb.connect(str(published), read_only=True) as con:
        (tables,) = con.sql("SELECT tables FROM serving.publication").fetchall()[0]
    killed_erasure(world, "committed")
    assert current_publication(world.home) == published  # still serving her
    (pending,) = read_receipts_of(world)
    assert pending.status == "removed"
    assert finish_pending(world.database) == [pending.receipt_id]  # as the run's upkeep calls it
    republished = current_publication(world.home)
    assert republished != published and not published.exists()
    with duckdb.connect(str(republished), read_only=True) as con:
        assert con.sql("SELECT tables FROM serving.publication").fetchall()[0][0] == tables
    assert [r.status for r in read_receipts_of(world)] == ["finished"]
    assert search_home(world.home, NEEDLES) == []


def read_receipts_of(world: World):
    with duckdb.connect(str(world.database), read_only=True) as con:
        return read_receipts(con)


def plan_erasure_found(world: World) -> bool:
    with open_warehouse(world.database) as con:
        return plan_erasure(con, world.config, "email", EMAIL).person.found


def test_the_command_shows_a_masked_plan_asks_and_prints_the_receipt(world):
    from typer.testing import CliRunner

    from pipelines.cli import app

    runner = CliRunner()
    config = str(world.landing / "kindred.yaml")
    both = runner.invoke(app, ["forget", "--email", EMAIL, "--phone", "4155550134", "--config", config])
    assert both.exit_code == 1 and "exactly one of" in both.output
    unknown = runner.invoke(app, ["forget", "--email", "nobody@nowhere.test", "--yes", "--config", config])
    assert unknown.exit_code == 1 and "no record carries this email" in unknown.output
    unasked = runner.invoke(app, ["forget", "--email", EMAIL, "--config", config])
    assert unasked.exit_code == 1 and "pass --yes" in unasked.output
    assert world.sql("SELECT count(*) FROM staging.people WHERE record_id = ?", [CONTACT])[0][0] == 1
    done = runner.invoke(
        app, ["forget", "--email", EMAIL, "--yes", "--reason", "ticket 7", "--config", config]
    )
    assert done.exit_code == 0, done.output
    assert "z***@example.org" in done.output and "Z******** Q***********" in done.output
    assert "erasure receipt er-" in done.output and "finished" in done.output
    assert not [n for n in NEEDLES if n.lower() in done.output.lower()]
    listed = runner.invoke(app, ["erasure", "receipts"])
    assert listed.exit_code == 0 and "ticket 7" in listed.output
    check = runner.invoke(app, ["erasure", "check", *NEEDLES])
    assert check.exit_code == 0 and f"none of the {len(NEEDLES)} text(s)" in check.output
    found = runner.invoke(app, ["erasure", "check", BOB_EMAIL])
    assert found.exit_code == 1 and "text 1 found" in found.output
