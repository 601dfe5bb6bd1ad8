"""The sources disagree the way real ones do, yet keep enough evidence to be linked."""

import re
from difflib import SequenceMatcher

import numpy as np
import phonenumbers
import polars as pl

from demo.messiness import PHONE_STYLES, format_phones, nicknames, typos
from demo.pools import NICKNAMES
from tests.demo.conftest import event_lines, read_csv
from tests.demo.evidence import oracle_recall


def _shape(phone: str) -> str:
    return re.sub(r"\d", "9", phone)


def test_phone_numbers_come_in_several_formats_that_all_parse(demo):
    phones = pl.concat(
        [
            read_csv(demo.out, "crm/contacts.csv")["Phone"],
            read_csv(demo.out, "crm/leads.csv")["Phone"],
            read_csv(demo.out, "orders/shop_orders.csv")["billing_phone"],
        ]
    ).drop_nulls()
    shapes = {_shape(p) for p in phones.to_list()}
    assert {"(999) 999-9999", "+9 999 999 9999", "999.999.9999"} <= shapes
    assert len(shapes) >= 5
    for phone in phones.sample(300, seed=1).to_list():
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone, "US")), phone


def test_names_carry_nicknames_typos_case_and_whitespace(demo, truth, people):
    contacts = (
        read_csv(demo.out, "crm/contacts.csv")
        .join(truth.filter(pl.col("source") == "crm_contacts"), left_on="Id", right_on="record_id")
        .join(people.select("person_id", true_first="first_name", true_last="last_name"), on="person_id")
    )
    leads = (
        read_csv(demo.out, "crm/leads.csv")
        .join(truth.filter(pl.col("source") == "crm_leads"), left_on="Id", right_on="record_id")
        .join(people.select("person_id", true_first="first_name", true_last="last_name"), on="person_id")
    )
    rows = pl.concat(
        [
            contacts.select("FirstName", "LastName", "true_first", "true_last"),
            leads.select("FirstName", "LastName", "true_first", "true_last"),
        ]
    )
    pairs = rows.select("FirstName", "true_first").iter_rows()
    assert any(first.strip() in NICKNAMES.get(true, ()) for first, true in pairs)
    assert (
        rows.filter(pl.col("LastName").str.strip_chars() == pl.col("true_last").str.to_uppercase()).height > 0
    )
    assert rows.filter(pl.col("FirstName") != pl.col("FirstName").str.strip_chars()).height > 0
    typo = rows.filter(
        pl.col("LastName").str.strip_chars().str.to_lowercase() != pl.col("true_last").str.to_lowercase()
    )
    assert typo.height > 0
    assert all(
        SequenceMatcher(None, a.strip().lower(), b.lower()).ratio() > 0.7
        for a, b in typo.select("LastName", "true_last").iter_rows()
    )


def test_people_change_email_and_old_addresses_linger(demo, people):
    changed = people.filter(pl.col("email_changed_to").is_not_null())
    assert 0.02 < changed.height / people.height < 0.12
    recipients = {c["userId"] for c in event_lines(demo.out, "email")}
    both = changed.filter(
        pl.col("email").is_in(list(recipients)) & pl.col("email_changed_to").is_in(list(recipients))
    )
    assert both.height > 0, "the provider mailed some people at the old and then the new address"
    shop_emails = set(read_csv(demo.out, "orders/shop_orders.csv")["customer_email"].str.to_lowercase())
    assert (
        changed.filter(
            pl.col("email").is_in(list(shop_emails)) & pl.col("email_changed_to").is_in(list(shop_emails))
        ).height
        > 0
    )


def test_households_switchboards_and_common_names_are_shared(demo, truth, people):
    address = (
        people.filter(pl.col("segment") == "shopper")
        .group_by("address_line1", "postcode")
        .agg(n=pl.col("person_id").n_unique())
    )
    assert address.filter(pl.col("n") >= 2).height > 10
    leads = read_csv(demo.out, "crm/leads.csv").with_columns(
        digits=pl.col("Phone").str.replace_all(r"\D", "").str.slice(-10)
    )
    shared = leads.drop_nulls("digits").group_by("digits").agg(n=pl.col("Id").n_unique())
    assert shared.filter(pl.col("n") >= 2).height > 0, "colleagues give the same switchboard number"
    names = people.group_by("first_name", "last_name").agg(n=pl.len())
    assert names.filter(pl.col("n") >= 2).height > 0


def test_values_go_missing_without_breaking_keys(demo):
    contacts = read_csv(demo.out, "crm/contacts.csv")
    for column in ("Phone", "Birthdate", "MailingStreet", "Web_Account_Id__c"):
        missing = contacts[column].null_count() / contacts.height
        assert 0.01 < missing < 0.9, column
    assert contacts["Id"].null_count() == 0
    cases = read_csv(demo.out, "crm/cases.csv")
    assert cases["ContactId"].null_count() == 0
    pii = cases.filter(pl.col("Description").str.contains(r"@|\(\d{3}\) |\d{3}[.-]\d{3}[.-]\d{4}|\+1"))
    assert 0.05 < pii.height / cases.height < 0.5, "some customers write their phone or email into the case"


def test_undecidable_records_are_a_small_minority(demo):
    oracle = oracle_recall(demo.out)
    assert oracle["recall"] >= 0.97
    assert oracle["people_split"] < 0.08


def test_format_phones_keeps_the_digits_in_every_style():
    rng = np.random.default_rng(0)
    digits = np.array(["4155550101", None, "2125550199"], dtype=object)
    for style in range(len(PHONE_STYLES)):
        out = format_phones(digits, rng, styles=np.full(3, style))
        assert out[1] is None
        assert re.sub(r"\D", "", out[0])[-10:] == "4155550101"
        assert _shape(out[2]) == _shape(PHONE_STYLES[style])


def test_typos_and_nicknames_touch_only_the_chosen_share():
    rng = np.random.default_rng(1)
    names = np.array(["Robert"] * 2000 + [None] * 10, dtype=object)
    short = nicknames(names, 0.3, rng)
    changed = sum(1 for a, b in zip(names, short, strict=True) if a != b)
    assert 450 < changed < 750
    assert set(short[:2000]) <= {"Robert", *NICKNAMES["Robert"]}
    assert all(v is None for v in short[2000:])
    slipped = typos(np.array(["Johnson"] * 1000, dtype=object), 0.1, np.random.default_rng(2))
    edited = [s for s in slipped if s != "Johnson"]
    assert 50 < len(edited) < 150
    assert all(SequenceMatcher(None, s, "Johnson").ratio() > 0.75 for s in edited)
