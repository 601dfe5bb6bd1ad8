"""Generation as a whole: determinism, the summary, the layout and bad arguments."""

import hashlib
from pathlib import Path

import pytest

from demo.generate import generate_demo_data


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path):
    first = generate_demo_data(tmp_path / "a", people=200, seed=3)
    second = generate_demo_data(tmp_path / "b", people=200, seed=3)
    other = generate_demo_data(tmp_path / "c", people=200, seed=4)
    assert _digests(first.out) == _digests(second.out)
    assert first.rows == second.rows
    differing = {k for k, v in _digests(first.out).items() if _digests(other.out).get(k) != v}
    assert "crm/leads.csv" in differing and "ground_truth/records.csv" in differing


def test_summary_counts_match_the_files(demo):
    lines = {}
    for relative in demo.files:
        text = (demo.out / relative).read_text(encoding="utf-8")
        lines[relative] = text.count("\n") - (1 if relative.suffix == ".csv" else 0)
    by_folder = {
        "web_events": "events/web",
        "app_events": "events/app",
        "email_events": "events/email",
        "shop_orders": "orders/shop_orders.csv",
        "store_orders": "orders/store_orders.csv",
        "crm_leads": "crm/leads.csv",
        "crm_contacts": "crm/contacts.csv",
        "support_cases": "crm/cases.csv",
    }
    for source, prefix in by_folder.items():
        written = sum(n for p, n in lines.items() if str(p).startswith(prefix))
        assert written == demo.rows[source] > 0, source
    assert demo.people == 1500
    assert all(demo.records[s] > 0 for s in by_folder)
    described = demo.describe()
    assert "support_cases" in described and "1,500 people" in described


def test_layout_has_monthly_event_files_over_the_whole_window(demo):
    months = [f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13)][:22]
    for folder in ("web", "app", "email"):
        found = sorted(p.stem for p in (demo.out / "events" / folder).glob("*.jsonl"))
        assert found == months, folder
    for relative in (
        "orders/shop_orders.csv",
        "orders/store_orders.csv",
        "crm/leads.csv",
        "crm/contacts.csv",
        "crm/cases.csv",
        "ground_truth/records.csv",
        "ground_truth/people.csv",
    ):
        assert (demo.out / relative).is_file(), relative


def test_regenerating_replaces_old_files_and_keeps_unrelated_ones(tmp_path):
    out = tmp_path / "demo"
    generate_demo_data(out, people=300, seed=1)
    stale = out / "events" / "web" / "2019-01.jsonl"
    stale.write_text("{}\n", encoding="utf-8")
    keep = out / "README.txt"
    keep.write_text("mine", encoding="utf-8")
    generate_demo_data(out, people=120, seed=1)
    assert not stale.exists()
    assert keep.read_text(encoding="utf-8") == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".demo-")]


def test_too_few_people_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 50"):
        generate_demo_data(tmp_path / "x", people=10)
    assert not (tmp_path / "x" / "crm").exists()
