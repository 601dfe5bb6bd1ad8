"""The Splink model: prior parameters on tiny inputs, a seeded trained model on larger ones."""

import json
import logging
import random

import polars as pl

from identity_resolution.clustering import cluster_records
from identity_resolution.deterministic import ContactGuard, contact_links
from identity_resolution.metrics import pairwise_metrics
from identity_resolution.normalise import normalise_people
from identity_resolution.probabilistic import fit_model, matchable_records, score_pairs


def records(rows: list[dict]) -> pl.DataFrame:
    return normalise_people(pl.DataFrame(rows, infer_schema_length=None))


def splink_links(recs: pl.DataFrame, **fit) -> tuple[pl.DataFrame, object]:
    """Fit and score; the links as `source_l, record_id_l, source_r, record_id_r, explanation`."""
    matchable = matchable_records(recs)
    model = fit_model(matchable, **fit)
    scored = score_pairs(matchable, model, match_threshold=0.9)
    keys = recs.select("source", "record_id").with_row_index("_row")
    links = (
        scored.join(
            keys.rename({"_row": "unique_id_l", "source": "source_l", "record_id": "record_id_l"}),
            on="unique_id_l",
        )
        .join(
            keys.rename({"_row": "unique_id_r", "source": "source_r", "record_id": "record_id_r"}),
            on="unique_id_r",
        )
        .sort("unique_id_l", "unique_id_r")
    )
    return links, model


def test_priors_link_a_nickname_and_typo_but_not_a_namesake():
    recs = records(
        [
            dict(
                source="crm",
                record_id="1",
                first_name="Katherine",
                last_name="Jones",
                date_of_birth="1980-02-03",
                city="Austin",
                postcode="78701",
            ),
            dict(
                source="shop",
                record_id="2",
                first_name="Kate",
                last_name="Jnoes",
                date_of_birth="02/03/1980",
                city="Austin",
                postcode="78701-1234",
            ),
            dict(
                source="shop",
                record_id="3",
                first_name="Kate",
                last_name="Jones",
                date_of_birth="1975-09-09",
                city="Boston",
                postcode="02134",
            ),
        ]
    )
    links, model = splink_links(recs)
    assert not model.trained and "fewer than 1000 to train on" in model.how
    assert links.select("record_id_l", "record_id_r").rows() == [("1", "2")]
    explanation = json.loads(links["explanation"][0])
    levels = {f["field"]: f["level"] for f in explanation["fields"]}
    assert levels["first_name"] == "nickname"
    assert levels["date_of_birth"] == "exact" and levels["location"] == "same postcode and city"
    assert explanation["match_weight"] > 0
    weights = [f["weight"] for f in explanation["fields"]]
    assert weights == sorted(weights, reverse=True)


FIRST = [
    "Robert",
    "William",
    "Elizabeth",
    "Margaret",
    "James",
    "Patricia",
    "Michael",
    "Susan",
    "David",
    "Linda",
    "Thomas",
    "Karen",
    "Daniel",
    "Nancy",
    "Steven",
    "Laura",
]
LAST = [
    "Garcia",
    "Nguyen",
    "Okafor",
    "Schmidt",
    "Rossi",
    "Kowalski",
    "Haddad",
    "Tanaka",
    "Murphy",
    "Larsen",
    "Dubois",
    "Silva",
    "Novak",
    "Fischer",
    "Moreau",
    "Bianchi",
    "Jensen",
    "Costa",
]


def synthetic_people(n_people: int, seed: int) -> pl.DataFrame:
    """People with two or three records each, some with typos, nicknames and missing fields."""
    rng = random.Random(seed)
    nick = {
        "Robert": "Bob",
        "William": "Bill",
        "Elizabeth": "Liz",
        "Margaret": "Peggy",
        "James": "Jim",
        "Patricia": "Pat",
        "Michael": "Mike",
        "Susan": "Sue",
        "David": "Dave",
        "Thomas": "Tom",
        "Daniel": "Dan",
        "Steven": "Steve",
    }
    rows = []
    for p in range(n_people):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        dob = f"{rng.randint(1950, 2000)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        email = f"{first.lower()}.{last.lower()}{rng.randint(1, 999)}@example.com"
        zipcode = f"{rng.randint(10000, 99999)}"
        for r in range(rng.choice([2, 2, 3])):
            f = nick.get(first, first) if rng.random() < 0.3 else first
            surname = last if rng.random() > 0.1 else last[:2] + last[3:]
            rows.append(
                dict(
                    source=f"s{r}",
                    record_id=f"{p}-{r}",
                    person=str(p),
                    first_name=f,
                    last_name=surname,
                    date_of_birth=dob if rng.random() > 0.3 else None,
                    email=email if rng.random() > 0.4 else None,
                    postcode=zipcode if rng.random() > 0.2 else None,
                )
            )
    return pl.DataFrame(rows)


def test_trained_model_is_accurate_and_repeatable():
    people = synthetic_people(150, seed=7)
    recs = normalise_people(people)
    first, model = splink_links(recs, min_records_to_train=100, u_max_pairs=1e5)
    second, again = splink_links(recs, min_records_to_train=100, u_max_pairs=1e5)
    assert model.trained and model.settings == again.settings
    assert first.equals(second)
    clusters = cluster_records(recs, first).join(
        people.select("source", "record_id", "person"), on=["source", "record_id"]
    )
    assert pairwise_metrics(clusters, "cluster", "person").f1 > 0.9


def test_m_is_seeded_from_rule_links_then_trained_by_em(caplog):
    people = synthetic_people(400, seed=3)
    recs = normalise_people(people)
    rule_links = contact_links(recs, "email_norm", "email", ContactGuard())
    with caplog.at_level(logging.INFO, logger="identity_resolution"):
        links, model = splink_links(recs, rule_links=rule_links, min_records_to_train=100, u_max_pairs=1e5)
    assert "seeded from" in model.how and "m by EM" in model.how
    assert any("m seeded from" in r.message for r in caplog.records)
    both = pl.concat(
        [
            rule_links.select("source_l", "record_id_l", "source_r", "record_id_r"),
            links.select("source_l", "record_id_l", "source_r", "record_id_r"),
        ]
    )
    clusters = cluster_records(recs, both).join(
        people.select("source", "record_id", "person"), on=["source", "record_id"]
    )
    assert pairwise_metrics(clusters, "cluster", "person").f1 > 0.9


def test_on_customer_data_a_pair_with_nothing_but_the_name_to_compare_needs_a_higher_threshold():
    # Two Kevin Grays: a web customer with a date of birth and an email, and a store customer
    # known only by the name on a till receipt. Nothing but the name can be compared, so the
    # name's weight alone must carry the pair past NAME_ONLY_THRESHOLD.
    from identity_resolution.probabilistic import (
        NAME_ONLY_THRESHOLD,
        default_name_only_threshold,
        other_evidence,
    )

    settings = {
        "comparisons": [
            {"output_column_name": name}
            for name in ("first_name", "last_name", "gender", "date_of_birth", "email")
        ]
    }
    scored = pl.DataFrame(
        {
            # names only; a date of birth that differs (evidence, against); an email that agrees
            "mw_first_name": [5.0, 5.0, 5.0],
            "mw_last_name": [6.0, 6.0, 6.0],
            "mw_gender": [0.3, 0.3, 0.3],
            "mw_date_of_birth": [0.0, -7.5, 0.0],
            "mw_email": [0.0, 0.0, 9.1],
        }
    )
    assert scored.select(other_evidence(scored, settings)).to_series().to_list() == [False, True, True]
    # Customer data (many rule links) has the rule; a register of names and dates of birth,
    # where a name with a missing date of birth is the usual duplicate, does not.
    assert default_name_only_threshold(5000) == NAME_ONLY_THRESHOLD > 0.9
    assert default_name_only_threshold(0) is None
