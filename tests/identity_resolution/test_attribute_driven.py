"""Matching built from the attributes a file has: from names only to everything.

Includes the two files users reported: names and dates of birth only (pairwise F1 was 0.006,
because blocking and training waited for emails and phones) and 1,200 such records (the run
stopped with `math domain error` when EM drove a level's m to zero).
"""

import logging

import polars as pl
import pytest

from benchmarks.identity_data import _phone_text, _with_duplicates, names_and_dates_of_birth
from identity_resolution.metrics import pairwise_metrics
from identity_resolution.resolve import resolve_records


def scored(frame: pl.DataFrame, mapping: dict | None = None):
    out = resolve_records({"file": frame.drop("person_id")}, "id", mapping or {})
    joined = out.join(frame.select("id", "person_id"), left_on="record_id", right_on="id")
    return pairwise_metrics(joined, "profile_id", "person_id")


def test_names_and_dates_of_birth_only(caplog):
    people = names_and_dates_of_birth(4000, 0.1, seed=8)
    with caplog.at_level(logging.INFO, logger="identity_resolution"):
        metrics = scored(people)
    assert metrics.f1 >= 0.9 and metrics.precision >= 0.98, metrics
    messages = " ".join(r.message for r in caplog.records)
    assert "m by EM" in messages and "prior parameters only" not in messages


def test_twelve_hundred_names_and_dates_of_birth_train_without_a_math_domain_error():
    people = names_and_dates_of_birth(1200, 0.1, seed=3)
    metrics = scored(people)
    assert metrics.f1 >= 0.85, metrics


@pytest.fixture(scope="module")
def everything():
    import numpy as np

    rng = np.random.default_rng(21)
    frame = _with_duplicates(1500, 0.2, rng)
    return frame.with_columns(
        pl.int_range(pl.len()).cast(pl.Utf8).alias("id"),
        _phone_text(pl.col("phone_digits"), pl.lit(1)).alias("phone"),
        pl.col("street").alias("address_line1"),
    )


@pytest.mark.parametrize(
    "attributes",
    [
        ("first_name", "last_name", "email"),
        ("first_name", "last_name", "phone"),
        ("first_name", "last_name", "street_number", "address_line1", "city", "postcode"),
        (
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "phone",
            "street_number",
            "address_line1",
            "city",
            "postcode",
            "national_id",
        ),
    ],
    ids=["names+email", "names+phone", "names+address", "everything"],
)
def test_names_plus_one_strong_attribute_give_sensible_results(everything, attributes):
    metrics = scored(everything.select("id", "person_id", *attributes))
    assert metrics.precision >= 0.97 and metrics.recall >= 0.7, metrics


def test_names_only_never_merge_people_with_different_names(everything):
    metrics = scored(everything.select("id", "person_id", "first_name", "last_name"))
    assert metrics.precision >= 0.5, metrics  # namesakes can merge; different names must not
    out = resolve_records({"file": everything.select("id", "first_name", "last_name")}, "id", {})
    names = out.join(everything.select("id", "first_name", "last_name"), left_on="record_id", right_on="id")
    per_profile = names.group_by("profile_id").agg(
        pl.col("last_name").drop_nulls().str.to_lowercase().n_unique()
    )
    assert per_profile["last_name"].max() <= 2  # a typo at most, never a different family
