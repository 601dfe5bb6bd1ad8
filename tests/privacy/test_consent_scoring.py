"""Consent in the models: an objection to profiling means no scores and no offers, and no learning
from the person; offers only for people reachable for marketing on the offer's channels."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from feature_store import point_in_time
from models import binary_model, churn_risk, lead_score, next_best_offer
from models.next_best_offer import score_offers
from tests.models.conftest import prepare_home
from tests.models.synthetic import END, build_shop
from warehouse.connection import connect, read_table
from warehouse.consent_config import ConsentConfig

OBJECTORS = {f"c{i}" for i in range(10)} | {f"l{i}" for i in range(10)}
DO_NOT_CONTACT = "c30"  # (any, any): every purpose, profiling included
NO_EMAIL = {f"c{i}" for i in range(10, 30)}
OPTED_IN = "c40"
FAST = {"n_estimators": 40}


def _consent_rows() -> list[tuple]:
    at = datetime(2024, 1, 1)
    rows = [(p, "any", "profiling", "opted_out", "prefs", p, at) for p in sorted(OBJECTORS)]
    rows += [(p, "email", "marketing", "opted_out", "esp", p, at) for p in sorted(NO_EMAIL)]
    rows += [
        (DO_NOT_CONTACT, "any", "any", "opted_out", "crm", DO_NOT_CONTACT, at),
        (OPTED_IN, "email", "marketing", "opted_in", "prefs", OPTED_IN, at),
    ]
    return rows


@pytest.fixture(scope="module")
def scored(tmp_path_factory, mlflow_template):
    """The three models trained and scored once on the synthetic shop, with consent recorded."""
    home = prepare_home(tmp_path_factory.mktemp("consent_models"), mlflow_template)
    learnt_from: set[str] = set()
    real_training_set = point_in_time.training_set

    def recording_training_set(con, spine, *args, **kwargs):
        learnt_from.update(spine["profile_id"].to_list())
        return real_training_set(con, spine, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KINDRED_HOME", str(home))
        con = connect(":memory:")
        build_shop(con, customers=160, leads=160)
        con.execute(
            "CREATE TABLE profiles.consent (profile_id VARCHAR, channel VARCHAR, purpose VARCHAR, status VARCHAR, "
            "source VARCHAR, record_id VARCHAR, recorded_at TIMESTAMP)"
        )
        con.executemany("INSERT INTO profiles.consent VALUES (?, ?, ?, ?, ?, ?, ?)", _consent_rows())
        patch.setattr(binary_model, "training_set", recording_training_set)
        patch.setattr(next_best_offer, "training_set", recording_training_set)
        runs = {
            "churn_risk": churn_risk.train_and_score(con, horizon_days=60, lgbm_params=FAST),
            "lead_score": lead_score.train_and_score(con, horizon_days=60, lgbm_params=FAST),
            "next_best_offer": next_best_offer.train_and_score(
                con, horizon_days=60, top_k=2, lgbm_params=FAST, channels=["email"]
            ),
        }
        snapshot = {
            "predictions": read_table(con, "scores.predictions"),
            "offers": read_table(con, "scores.offers"),
        }
    return con, runs, snapshot, learnt_from, home


def _active_customers(con) -> set[str]:
    """Churn risk's population at END before consent: customers who bought in its lookback."""
    return set(churn_risk.SPEC.population(con, [END], 0)["profile_id"])


@pytest.fixture
def models_home(scored, monkeypatch):
    monkeypatch.setenv("KINDRED_HOME", str(scored[4]))
    return scored


def test_people_who_object_to_profiling_get_no_scores_and_no_offers(scored):
    _, runs, snapshot, _, _ = scored
    for run in runs.values():
        assert run.skipped is None, run.skipped
    barred = OBJECTORS | {DO_NOT_CONTACT}
    predictions, offers = snapshot["predictions"], snapshot["offers"]
    assert not set(predictions["profile_id"]) & barred
    assert not set(offers["profile_id"]) & barred
    # The others are scored as before: active customers get churn risk, open leads a lead score.
    churn = set(predictions.filter(pl.col("model") == "churn_risk")["profile_id"])
    active = _active_customers(scored[0])
    assert active & NO_EMAIL and active & barred
    assert churn == active - barred
    assert runs["churn_risk"].withheld_for_consent == len(active & barred)
    assert runs["churn_risk"].n_scored == len(churn)
    assert runs["lead_score"].withheld_for_consent > 0


def test_the_models_never_learn_from_people_who_objected(scored):
    _, _, _, learnt_from, _ = scored
    assert learnt_from, "the training sets were not seen"
    assert not learnt_from & (OBJECTORS | {DO_NOT_CONTACT})
    assert NO_EMAIL & learnt_from  # an email opt-out is no objection to profiling


def test_no_email_offer_to_people_who_opted_out_of_email_marketing(scored):
    _, runs, snapshot, _, _ = scored
    offered = set(snapshot["offers"]["profile_id"])
    assert offered and not offered & NO_EMAIL
    assert OPTED_IN in offered
    assert runs["next_best_offer"].withheld_for_consent == len(
        OBJECTORS & {f"c{i}" for i in range(160)}
    ) + 1 + len(NO_EMAIL)


def test_offers_reach_people_on_any_of_the_offers_channels(models_home):
    con = models_home[0]
    offered, _, withheld = score_offers(
        con, END, offer_field="product_category", top_k=2, channels=["email", "sms"]
    )
    people = set(read_table(con, "scores.offers")["profile_id"])
    assert people >= NO_EMAIL  # reachable by text
    assert not people & (OBJECTORS | {DO_NOT_CONTACT})
    assert offered == len(people) and withheld == 11


def test_where_email_marketing_needs_an_opt_in_only_those_who_gave_one_get_offers(models_home):
    con = models_home[0]
    regime = ConsentConfig(opt_in_required={"marketing": ["email"]})
    score_offers(con, END, offer_field="product_category", top_k=2, channels=["email"], consent=regime)
    assert set(read_table(con, "scores.offers")["profile_id"]) == {OPTED_IN}


def test_where_profiling_needs_an_opt_in_nobody_without_one_is_scored(models_home):
    con = models_home[0]
    regime = ConsentConfig(opt_in_required={"profiling": ["any"]})
    scored_now, _, withheld = binary_model.score_population(
        con, churn_risk.SPEC, END, regime, horizon_days=60
    )
    assert scored_now == 0 and withheld == len(_active_customers(con)) > 0
    assert read_table(con, "scores.predictions").filter(pl.col("model") == "churn_risk").height == 0
