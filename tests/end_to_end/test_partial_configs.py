"""A user's own config with only some source kinds runs what applies and says what it skipped."""

import json
import re

import polars as pl
import pytest

from tests.end_to_end.conftest import demo_folder, kindred

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_folder(tmp_path_factory.mktemp("partial"), people=500)


def only_orders(demo, tmp_path, columns: str, drop: tuple[str, ...] = ()):
    folder = tmp_path / "shop"
    folder.mkdir()
    orders = pl.read_csv(demo / "data" / "demo" / "orders" / "shop_orders.csv", infer_schema=False)
    orders.drop(drop).write_csv(folder / "orders.csv")
    (folder / "kindred.yaml").write_text(f"""
sources:
  - name: orders
    kind: orders
    path: orders.csv
    columns: {{{columns}}}
""")
    return folder


def test_orders_alone_skips_lead_scoring_and_says_why(demo, tmp_path):
    folder = only_orders(
        demo,
        tmp_path,
        "customer_id: account_id, ordered_at: created_at, amount: line_amount, "
        "product_category: product_category, email: customer_email",
    )
    run = kindred(folder, tmp_path / "home", "run")
    assert run.returncode == 0, run.output
    assert "skipped scores/lead_score" in run.output
    assert run.sql("SELECT count(*) FROM scores.predictions WHERE model = 'churn_risk'")[0][0] > 0
    assert run.sql("SELECT count(*) FROM scores.predictions WHERE model = 'lead_score'")[0][0] == 0
    assert run.sql("SELECT count(*) FROM crm.record_scores")[0][0] == 0


def test_orders_without_categories_skip_next_best_offer(demo, tmp_path):
    # Columns named like canonical fields map by themselves: drop the category to really lack it.
    folder = only_orders(
        demo,
        tmp_path,
        "customer_id: account_id, ordered_at: created_at, amount: line_amount",
        drop=("product_category",),
    )
    run = kindred(folder, tmp_path / "home", "run")
    assert run.returncode == 0, run.output
    assert "skipped scores/next_best_offer" in run.output
    assert run.sql("SELECT count(*) FROM scores.offers")[0][0] == 0


def test_as_of_limits_what_the_run_sees(demo, tmp_path):
    run = kindred(demo, tmp_path / "home", "run", "--as-of", "2026-06-30")
    assert run.returncode == 0, run.output
    assert run.sql("SELECT DISTINCT as_of::DATE::VARCHAR FROM scores.predictions") == [("2026-06-30",)]
    assert run.sql("SELECT DISTINCT as_of::DATE::VARCHAR FROM features.profile_features") == [("2026-06-30",)]
    # Grounding describes the same moment and shows nothing that happened on or after it.
    contexts = [json.loads(c) for (c,) in run.sql("SELECT context FROM crm.grounding")]
    assert contexts and {c["as_of"] for c in contexts} == {"2026-06-30T00:00:00Z"}
    scores = [s for c in contexts for s in c["scores"].values() if s]
    assert scores and {s["as_of"] for s in scores} == {"2026-06-30"}
    described = json.dumps(
        [{k: v for k, v in c.items() if k not in ("as_of", "generated_at", "scores")} for c in contexts]
    )
    assert max(re.findall(r"20\d\d-\d\d-\d\d", described)) < "2026-06-30"


def test_a_broken_config_fails_clearly_and_writes_nothing(tmp_path):
    (tmp_path / "kindred.yaml").write_text("sources:\n  - {name: shop, kind: orders, path: missing/*.csv}\n")
    run = kindred(tmp_path, tmp_path / "home", "run")
    assert run.returncode != 0
    assert "source 'shop': no file matches path 'missing/*.csv'" in run.output
    assert not (tmp_path / "home" / "warehouse.duckdb").exists()


def test_a_bad_as_of_is_refused(demo, tmp_path):
    run = kindred(demo, tmp_path / "home", "run", "--as-of", "30/06/2026")
    assert run.returncode != 0
    assert "--as-of must be a date like" in run.output
