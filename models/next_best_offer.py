"""Next best offer: which values of the offer field (product categories by default) each person buys next.

A LightGBM binary model on (person, offer) pairs: population at cut-off T is everyone with at least
one order naming an offer before T; candidates are their own recent offers plus the most popular
ones (`feature_store.offer_affinity`); label = the person bought that offer in [T, T + horizon).
Offers are ranked by the model's probability and the top k kept. Evaluation: hit rate, recall and
reciprocal rank at k among people who bought anything in the holdout window, next to the baseline
"each person's own most-bought offers, then the globally popular ones". The champion gate compares
reciprocal rank: the hit rate at k is 1 for every model once k covers all offers (ten product
categories and top_k 10, say).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import date, datetime

import duckdb
import numpy as np
import polars as pl
from sklearn.pipeline import Pipeline

from feature_store.definitions import NEXT_BEST_OFFER
from feature_store.fact_sources import OFFER_ORDERS
from feature_store.materialise import features_for_scoring
from feature_store.offer_affinity import offer_candidates
from feature_store.point_in_time import feature_description, feature_type, training_set
from feature_store.sources import CATALOG, check_offer_field, source_sql
from models import registry
from models.compiled_trees import positive_probability
from models.consent_filter import may_profile, reachable_for_offers
from models.estimator import LGBM_PARAMS, fit_pipeline
from models.evaluation import buyer_outcomes, keep_top_k, ranking_figures, ranking_values
from models.explanations import feature_importance
from models.model_card import CardFacts
from models.model_input import model_input
from models.model_run import ModelRun
from models.offer_catalog import eligible_offers, write_catalog
from models.offer_history import population, purchases_after
from models.promotion import Holdout
from models.score_tables import write_offers
from models.timing import step
from models.training_run import begin_run, plan_cutoffs, register_and_gate, training_window
from warehouse.consent_config import ConsentConfig
from warehouse.offer_config import OfferConfig

log = logging.getLogger(__name__)

MODEL = "next_best_offer"
MIN_POSITIVE_PAIRS = 5
MAX_TRAINING_PAIRS = 1_000_000
# Most candidate pairs are not bought; learning needs only so many of them per purchase.
NEGATIVES_PER_POSITIVE = 10
BASELINE = "own most-bought offers, then globally popular"
# With a catalog the offer itself is a feature, so the model can learn an offer's own base rate (an
# offer few people take twice); on the demo it neither helped nor hurt (docs/models.md).
OFFER_ID = "offer_id"


def _description(feature: str) -> str:
    return "Which catalog offer the pair is about." if feature == OFFER_ID else feature_description(feature)


def _n_popular(k: int) -> int:
    return max(3 * k, 20)


def _labelled_pairs(
    con: duckdb.DuckDBPyConnection,
    spine: pl.DataFrame,
    bought: pl.DataFrame,
    offer_field: str,
    n_popular: int,
) -> pl.DataFrame:
    pairs = offer_candidates(con, spine, offer_field=offer_field, n_popular=n_popular)
    return pairs.join(
        bought.with_columns(label=pl.lit(1, pl.Int32)), on=["profile_id", "as_of", "offer_id"], how="left"
    ).with_columns(pl.col("label").fill_null(0))


def _training_sample(pairs: pl.DataFrame) -> pl.DataFrame:
    """Every bought pair, up to NEGATIVES_PER_POSITIVE unbought ones per bought one, at most
    MAX_TRAINING_PAIRS rows. Dropping negatives at random shifts the probabilities, not their order."""
    positives = pairs.filter(pl.col("label") == 1)
    negatives = pairs.filter(pl.col("label") == 0)
    keep = min(
        negatives.height,
        NEGATIVES_PER_POSITIVE * positives.height,
        max(MAX_TRAINING_PAIRS - positives.height, 0),
    )
    if keep < negatives.height:
        negatives = negatives.sample(n=keep, seed=7)
    if positives.height > MAX_TRAINING_PAIRS:
        positives = positives.sample(n=MAX_TRAINING_PAIRS, seed=7)
    return pl.concat([positives, negatives]).sort("as_of", "profile_id", "offer_id")


def _rank_with(model: Pipeline, frame: pl.DataFrame, k: int) -> pl.DataFrame:
    scored = frame.select("profile_id", "offer_id").with_columns(
        score=pl.Series(positive_probability(model, frame), dtype=pl.Float64)
    )
    return keep_top_k(scored, k)


def _baseline_ranking(frame: pl.DataFrame, k: int) -> pl.DataFrame:
    return keep_top_k(
        frame.select(
            "profile_id",
            "offer_id",
            pl.col("offer_purchases_365d").cast(pl.Float64).alias("own"),
            pl.col("offer_buyers_share_90d").fill_null(0.0).alias("popular"),
        ),
        k,
        by=["own", "popular"],
    )


def train_and_score(
    con: duckdb.DuckDBPyConnection,
    *,
    as_of: date | datetime | None = None,
    horizon_days: int = 90,
    offer_field: str = "product_category",
    top_k: int = 10,
    lgbm_params: dict | None = None,
    channels: Sequence[str] = ("email",),
    consent: ConsentConfig | None = None,
    catalog: Sequence[OfferConfig] = (),
) -> ModelRun:
    """Train, evaluate and register the offer ranker, then write everyone's top offers as of as_of.

    Args:
        con: warehouse connection holding `staging.*` and `identity.record_xref`.
        as_of: the run sees facts strictly before it; None means midnight after the latest fact.
        horizon_days: an offer counts as bought next when bought within this many days.
        offer_field: the orders column whose values are the offers (`product_category`, `product_id`).
        top_k: offers kept per person (the config's `top_k`).
        lgbm_params: LightGBM parameters overriding the defaults.
        channels: the channels offers go out on; offers are kept only for people who may receive
            marketing on at least one of them.
        consent: the `consent:` settings; people who may not be profiled are neither learnt from
            nor given offers (None: the defaults).
        catalog: the offer catalog; when given, its offers are ranked instead of the values of
            `offer_field` (saved to `scores.offer_catalog`), the model also learns each offer's own
            appeal (`offer_id` as a feature), and offers are kept only where eligible as of as_of
            (`models.offer_catalog`).

    Returns:
        The run's outcome (metrics `hr_at_1`, `hr_at_3`, `hr_at_<k>`, `recall_at_<k>`, `mrr_at_<k>`);
        `skipped` says why when there is too little data.

    Raises:
        ValueError: for an offer field the feature store cannot rank, or non-positive settings.
    """
    check_offer_field(offer_field)
    if top_k <= 0:
        raise ValueError(f"top_k must be a positive number of offers, got {top_k}")
    write_catalog(con, catalog, channels)
    offer_field = CATALOG if catalog else offer_field
    run = begin_run(con, MODEL, as_of, horizon_days)
    if run.skipped:
        return run
    orders = source_sql(con, OFFER_ORDERS, offer_field)
    history_start = con.sql(f"SELECT min(ts) FROM ({orders})").fetchall()[0][0]
    if history_start is None:
        run.skipped = (
            "no offers: no order line of a profile is covered by a catalog offer, and no catalog offer's event was seen"
            if catalog
            else f"no offers: no order linked to a profile has a {offer_field} value"
        )
        return run
    cutoffs, holdout_at = plan_cutoffs(run, history_start, "orders")
    if run.skipped:
        return run

    k = top_k
    spine, _ = may_profile(con, population(con, [*cutoffs, holdout_at], offer_field), consent)
    bought = purchases_after(con, spine, horizon_days, offer_field)
    pairs = _labelled_pairs(con, spine, bought, offer_field, _n_popular(k))
    train_pairs = _training_sample(pairs.filter(pl.col("as_of") != holdout_at))
    holdout_pairs = pairs.filter(pl.col("as_of") == holdout_at)
    positives = int(train_pairs["label"].sum())
    if positives < MIN_POSITIVE_PAIRS:
        run.skipped = (
            f"too few repeat purchases to learn from: {positives} (person, offer) pairs bought in the "
            f"training windows; need at least {MIN_POSITIVE_PAIRS}"
        )
        return run
    holdout_bought = bought.filter(pl.col("as_of") == holdout_at)
    if holdout_bought.height == 0 or holdout_pairs.height == 0:
        run.skipped = (
            f"nobody in the population bought an offer in the holdout window after {holdout_at.date()}"
        )
        return run

    started = time.perf_counter()
    frame = training_set(
        con, pl.concat([train_pairs, holdout_pairs]), NEXT_BEST_OFFER, offer_field=offer_field
    )
    log.info(
        "%s: features of %d (person, offer) pairs in %.1f s",
        MODEL,
        frame.height,
        time.perf_counter() - started,
    )
    train = frame.filter(pl.col("as_of") != holdout_at)
    holdout = frame.filter(pl.col("as_of") == holdout_at)
    features = list(NEXT_BEST_OFFER.features) + ([OFFER_ID] if offer_field == CATALOG else [])
    categorical = [f for f in features if f == OFFER_ID or feature_type(f) == "categorical"]
    run.n_train, run.n_holdout = train.height, holdout.height

    started = time.perf_counter()
    evaluated = fit_pipeline(
        model_input(train, features, categorical),
        train["label"].to_numpy(),
        categorical,
        calibrate=False,
        params=lgbm_params,
    )
    truth = holdout_bought.select("profile_id", "offer_id")
    primary = f"mrr_at_{k}"

    def reciprocal_ranks(ranking: pl.DataFrame) -> np.ndarray:
        return ranking_values(buyer_outcomes(ranking, truth), k)[primary]

    ours = buyer_outcomes(_rank_with(evaluated, holdout, k), truth)
    theirs = buyer_outcomes(_baseline_ranking(holdout, k), truth)
    run.figures = ranking_figures(ours, k)
    run.baseline = BASELINE
    run.baseline_figures = ranking_figures(theirs, k)
    run.n_train_positive = int(train["label"].sum())
    run.n_holdout_positive = ours.height
    pair_scores = evaluated.predict_proba(model_input(holdout, features, categorical))[:, 1]

    refit = pl.concat([train, _training_sample(holdout)])
    final = fit_pipeline(
        model_input(refit, features, categorical),
        refit["label"].to_numpy(),
        categorical,
        calibrate=False,
        params=lgbm_params,
    )
    log.info("%s: evaluated and refitted in %.1f s", MODEL, time.perf_counter() - started)
    register_and_gate(
        con,
        run,
        final,
        holdout=Holdout(
            description=f"cutoff={holdout_at.isoformat()} horizon_days={horizon_days} offer_field={offer_field} top_k={k}",
            metric=primary,
            statistic="mean",
            units=ours["profile_id"].to_numpy(),
            labels=np.ones(ours.height, dtype=int),
            candidate=ranking_values(ours, k)[primary],
            baseline=ranking_values(theirs, k)[primary],
            baseline_name=BASELINE,
        ),
        evaluate=lambda model: reciprocal_ranks(_rank_with(model, holdout, k)),
        card=CardFacts(
            model=MODEL,
            question=f"Which {'catalog offers' if catalog else f'{offer_field} values'} will this customer buy in the {horizon_days} days after the "
            f"scoring date? The top {k} are kept per customer. Figures are over the people who bought "
            "anything in the holdout window; the deciles below rank (person, offer) pairs by the model's score.",
            training=training_window(cutoffs, holdout_at, horizon_days),
            holdout=f"people with an order before {holdout_at.date()} who bought in the {horizon_days} days after "
            f"it ({ours.height:,} buyers, {holdout.height:,} candidate pairs)",
            n_train=run.n_train,
            n_train_positive=run.n_train_positive,
            n_holdout=run.n_holdout,
            n_holdout_positive=int(holdout["label"].sum()),
            figures=run.figures,
            baseline=BASELINE,
            baseline_figures=run.baseline_figures,
            labels=holdout["label"].to_numpy(),
            scores=pair_scores,
            baseline_scores=None,
            probability=False,
            features=[(name, share, _description(name)) for name, share in feature_importance(final)],
            settings={
                "feature service": NEXT_BEST_OFFER.name,
                "LightGBM": {**LGBM_PARAMS, **(lgbm_params or {})},
                "training pairs": f"every bought pair, up to {NEGATIVES_PER_POSITIVE} unbought ones per bought one",
            },
        ),
        input_example=model_input(holdout, features, categorical).head(5),
        params={
            **(lgbm_params or {}),
            "offer_field": offer_field,
            "catalog": ",".join(offer.id for offer in catalog),
            "top_k": k,
            "candidates": "every catalog offer"
            if catalog
            else f"own offers (365 d bought, 90 d viewed) + top {_n_popular(k)} popular",
            "negatives_per_positive": NEGATIVES_PER_POSITIVE,
            "training_cutoffs": ",".join(c.date().isoformat() for c in cutoffs),
            "holdout_cutoff": holdout_at.date().isoformat(),
            "feature_service": NEXT_BEST_OFFER.name,
            "features": ",".join(features),
        },
        tags={"feature_service": NEXT_BEST_OFFER.name, "offer_field": offer_field},
    )

    if registry.champion(MODEL) is None:
        log.warning("%s: no version has beaten its baseline yet; no offers written", MODEL)
        return run
    run.n_scored, run.scored_with, run.withheld_for_consent = score_offers(
        con,
        run.as_of,
        offer_field=offer_field,
        top_k=k,
        channels=channels,
        consent=consent,
        left_out=run.offers_left_out,
    )
    return run


def score_offers(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    *,
    offer_field: str,
    top_k: int,
    channels: Sequence[str] = ("email",),
    consent: ConsentConfig | None = None,
    seconds: dict[str, float] | None = None,
    left_out: dict[str, int] | None = None,
) -> tuple[int, str, int]:
    """Rank offers for everyone in the population at as_of with the champion; write `scores.offers`.

    Left out (consent): people who may not be profiled, and people who may not receive marketing
    on any of `channels`. With a catalog (`offer_field` = `CATALOG`), each (person, offer) pair
    must pass the offer's eligibility as of as_of instead, its channels included.

    Args:
        con: warehouse connection.
        as_of: features use facts strictly before it.
        offer_field: the orders column that names an offer, or `CATALOG`.
        top_k: offers kept per person.
        channels: the channels offers go out on (without a catalog).
        consent: the `consent:` settings (None: the defaults).
        seconds: when given, filled with the seconds spent on `features`, `scoring` (ranking)
            and `writes`.
        left_out: when given, filled with the (person, offer) pairs each catalog eligibility rule
            left out (with a catalog only).

    Returns:
        (people given offers, the champion version that ranked them, people left out for consent).
    """
    model, version = registry.load_champion(MODEL)
    with step(seconds, "features"):
        spine, objected = may_profile(con, population(con, [as_of], offer_field), consent)
        if offer_field == CATALOG:
            pairs = offer_candidates(con, spine, offer_field=offer_field, n_popular=0)
            pairs, rules, unreachable = eligible_offers(con, pairs, as_of=as_of, consent=consent)
            if left_out is not None:
                left_out.update(rules)
        else:
            spine, unreachable = reachable_for_offers(con, spine, channels=channels, consent=consent)
            pairs = offer_candidates(con, spine, offer_field=offer_field, n_popular=_n_popular(top_k))
        frame = features_for_scoring(con, pairs, NEXT_BEST_OFFER, offer_field=offer_field)
    with step(seconds, "scoring"):
        ranked = _rank_with(model, frame, top_k)
    with step(seconds, "writes"):
        offers = ranked.select(
            "profile_id",
            pl.col("rank").cast(pl.Int32),
            "offer_id",
            "score",
            model_version=pl.lit(version),
            as_of=pl.lit(as_of).cast(pl.Datetime("us")),
        )
        write_offers(con, offers)
    return ranked["profile_id"].n_unique(), version, objected + unreachable
