"""The offer catalog in kindred.yaml: a bad offer is refused with the offer and the setting named."""

from datetime import date

import pytest

from warehouse.config import ConfigError, load_config

SOURCES = "sources:\n  - {name: shop, kind: orders, path: o.csv}\n"


def _catalog(tmp_path, offers: str, extra: str = ""):
    path = tmp_path / "kindred.yaml"
    path.write_text(SOURCES + "models:\n  next_best_offer:\n    catalog:\n" + offers + extra)
    return load_config(path)


def test_a_catalog_loads_with_product_and_non_product_offers(tmp_path):
    config = _catalog(
        tmp_path,
        "      - {id: trail, name: Trail kit, covers: {categories: [Footwear]}, starts: 2025-01-01, ends: 2025-06-30,"
        " eligibility: {not_bought_within_days: 30}}\n"
        "      - {id: care_plan, name: Care plan, taken: {event: Care Plan Purchased}, channels: [email, sms]}\n",
    )
    trail, plan = config.models.next_best_offer.catalog
    assert (trail.is_product, trail.ends, trail.eligibility.not_bought_within_days) == (
        True,
        date(2025, 6, 30),
        30,
    )
    assert (plan.is_product, plan.channels_or(["email"]), plan.active) == (False, ["email", "sms"], True)
    assert trail.channels_or(["email"]) == ["email"]


def test_without_a_catalog_every_category_stays_an_offer(tmp_path):
    path = tmp_path / "kindred.yaml"
    path.write_text(SOURCES)
    settings = load_config(path).models.next_best_offer
    assert (settings.catalog, settings.offer_field) == ([], "product_category")


@pytest.mark.parametrize(
    ("offers", "message"),
    [
        # An offer that says nothing of what taking it means could never be learnt or offered.
        (
            "      - {id: vague, name: Something}\n",
            r"kindred.yaml: models.next_best_offer.catalog\[0\] \('Something'\): offer 'vague' says neither "
            r"what it covers nor how it is taken",
        ),
        # A window that ends before it starts is a typo in a date, never an offer nobody should get.
        (
            "      - {id: spring, name: Spring, covers: {categories: [A]}, starts: 2025-05-01, ends: 2025-04-01}\n",
            r"catalog\[0\] \('Spring'\): offer 'spring': ends \(2025-04-01\) is before starts \(2025-05-01\)",
        ),
        (
            "      - {id: a, name: A, covers: {categories: [A]}}\n      - {id: a, name: B, covers: {categories: [B]}}\n",
            r"models.next_best_offer.catalog: .*offer ids must be unique; repeated: a",
        ),
        # A misspelt key would silently drop the rule it meant to set.
        (
            "      - {id: a, name: A, covers: {categories: [A]}, eligibility: {not_bought_within: 30}}\n",
            r"catalog\[0\] \('A'\).eligibility.not_bought_within: Extra inputs are not permitted",
        ),
        (
            "      - {id: Bad Id, name: A, covers: {categories: [A]}}\n",
            r"catalog\[0\] \('A'\).id: String should match pattern",
        ),
        (
            "      - {id: a, name: A, covers: {categories: [A]}, eligibility: {not_bought_within_days: 0}}\n",
            r"catalog\[0\] \('A'\).eligibility.not_bought_within_days: Input should be greater than or equal to 1",
        ),
        (
            "      - {id: a, name: A, covers: {product_ids: ['']}}\n",
            r"catalog\[0\] \('A'\).covers.product_ids: holds an empty value",
        ),
    ],
)
def test_bad_offers_are_named(tmp_path, offers, message):
    with pytest.raises(ConfigError, match=message):
        _catalog(tmp_path, offers)


def test_an_offer_channel_must_be_a_consent_channel(tmp_path):
    # An offer sent on a misspelt channel would match no opt-out: nobody's refusal would count.
    with pytest.raises(
        ConfigError,
        match=r"models.next_best_offer.catalog\[0\] \('plan'\).channels: 'e-mail' is not a consent channel",
    ):
        _catalog(tmp_path, "      - {id: plan, name: Plan, taken: {event: X}, channels: [e-mail]}\n")
